//! `cargo xtask check` on a temporary repo whose outputs were written by
//! `cargo xtask resolve --target colab`, against a copy of the test
//! compat-db (tests/fixtures/emit/db): clean passes; an edited lock, a stale
//! cell, a changed constraint and a changed compat-db each fail with what
//! changed; a corrupted lock fails with exit 2 and is left untouched.

use gpu_env_tests::{colab_repo, run, xtask, ColabRepo, COLAB_MANIFEST};
use std::path::Path;

type Repo = ColabRepo;

fn repo() -> Repo {
    colab_repo(xtask!())
}

fn check(r: &Repo) -> (i32, String, String) {
    let mut c = xtask!();
    c.current_dir(&r.root).arg("--db").arg(&r.db).arg("check");
    run(c)
}

fn edit(p: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(p).unwrap();
    assert!(text.contains(from), "{} lacks {from}", p.display());
    std::fs::write(p, text.replacen(from, to, 1)).unwrap();
}

const NVTX_SHA: &str = "979f5b2aef5da164c5c53c64c85c3dfa61b8b4704f4f963bb568bf98fa8472e8";
const OTHER_SHA: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[test]
fn clean_repo_passes() {
    let r = repo();
    let (code, out, err) = check(&r);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("check: OK"), "{out}");
    // Also from a subdirectory (the config is discovered upwards).
    let sub = r.root.join("colab");
    let mut c = xtask!();
    c.current_dir(&sub).arg("--db").arg(&r.db).arg("check");
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}{err}");
}

/// A passed check is recorded in gpu-env's cache with every file it
/// compared; the next check with the same inputs answers from file hashes,
/// and any change after it (a generated file, the lock, compat-db, the
/// config) is still found.
#[test]
fn a_passed_check_is_recorded_and_changes_after_it_still_fail() {
    let r = repo();
    let cache = tempfile::tempdir().unwrap();
    let check = |r: &Repo| {
        let mut c = xtask!();
        c.env("GPU_ENV_CACHE_DIR", cache.path());
        c.current_dir(&r.root).arg("--db").arg(&r.db).arg("check");
        run(c)
    };
    let (code, first, err) = check(&r);
    assert_eq!(code, 0, "{first}{err}");
    let records: Vec<_> = std::fs::read_dir(cache.path().join("check"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    for f in [
        "gpu-env.lock",
        "colab/setup_cell.py",
        "colab/gpu-env-setup.ipynb",
        "pylock.toml",
    ] {
        assert!(
            records[0].contains(&format!("{}", r.root.join(f).display())),
            "{f}: {}",
            records[0]
        );
    }
    // The second check answers from the record (its verdict line, marked
    // here to tell it from a full check's).
    let record = std::fs::read_dir(cache.path().join("check"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let marked = records[0].replace("\nok check: OK", "\nok check: OK (recorded)");
    std::fs::write(&record, &marked).unwrap();
    let (code, again, err) = check(&r);
    assert_eq!(code, 0, "{err}");
    assert!(again.starts_with("check: OK (recorded)"), "{again}");
    // A generated file edited after a pass.
    let cell = r.root.join("colab/setup_cell.py");
    let text = std::fs::read_to_string(&cell).unwrap();
    std::fs::write(
        &cell,
        text.replace("mx = _gpu_env_main", "mx2 = _gpu_env_main"),
    )
    .unwrap();
    let (code, _, err) = check(&r);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("stale: colab/setup_cell.py does not match the lock"),
        "{err}"
    );
    std::fs::write(&cell, &text).unwrap();
    assert_eq!(check(&r).0, 0);
    // compat-db changed after a pass.
    edit(
        &r.db.join("redist/nvidia-nvtx-cu11.toml"),
        NVTX_SHA,
        OTHER_SHA,
    );
    let (code, _, err) = check(&r);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("compat-db changed"), "{err}");
    edit(
        &r.db.join("redist/nvidia-nvtx-cu11.toml"),
        OTHER_SHA,
        NVTX_SHA,
    );
    assert_eq!(check(&r).0, 0);
    // The config changed after a pass.
    std::fs::write(
        r.root.join("Cargo.toml"),
        format!("{COLAB_MANIFEST}constraints = {{ mxnet = \">=1.9\" }}\n"),
    )
    .unwrap();
    let (code, _, err) = check(&r);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("constraints.mxnet"), "{err}");
}

#[test]
fn edited_lock_fails_with_field_diff() {
    let r = repo();
    edit(&r.root.join("gpu-env.lock"), NVTX_SHA, OTHER_SHA);
    let (code, out, err) = check(&r);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("drift: target `colab` resolves differently now"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "package[nvidia-nvtx-cu11].sha256: \"{OTHER_SHA}\" -> \"{NVTX_SHA}\""
        )),
        "{err}"
    );
    // The generated files name the old lock hash: stale.
    assert!(
        err.contains("stale: colab/setup_cell.py does not match the lock"),
        "{err}"
    );
    assert!(
        err.contains("stale: requirements-gpu.txt does not match the lock"),
        "{err}"
    );
    assert!(err.contains("run `cargo xtask resolve`"), "{err}");
}

#[test]
fn a_lock_from_an_older_gpu_env_is_stale_with_the_command_that_rewrites_it() {
    let r = repo();
    edit(&r.root.join("gpu-env.lock"), "format = 4\n", "format = 3\n");
    let (code, out, err) = check(&r);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("check: stale: "), "{err}");
    assert!(err.contains("run `cargo xtask resolve`"), "{err}");
    assert!(!err.contains("corrupted"), "{err}");
}

#[test]
fn hand_formatted_lock_is_stale() {
    let r = repo();
    edit(
        &r.root.join("gpu-env.lock"),
        "format = 4\n",
        "format = 4 # edited\n",
    );
    let (code, out, err) = check(&r);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("stale: gpu-env.lock is not as `cargo xtask resolve` writes it"),
        "{err}"
    );
}

#[test]
fn stale_cell_and_notebook_fail() {
    let r = repo();
    let cell = r.root.join("colab/setup_cell.py");
    let text = std::fs::read_to_string(&cell).unwrap();
    std::fs::write(
        &cell,
        text.replace("mx = _gpu_env_main", "mx2 = _gpu_env_main"),
    )
    .unwrap();
    std::fs::remove_file(r.root.join("colab/gpu-env-setup.ipynb")).unwrap();
    let (code, out, err) = check(&r);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("stale: colab/setup_cell.py does not match the lock"),
        "{err}"
    );
    assert!(
        err.contains("stale: colab/gpu-env-setup.ipynb is missing"),
        "{err}"
    );
    assert!(!err.contains("drift"), "{err}");
}

#[test]
fn changed_config_constraint_fails() {
    let r = repo();
    std::fs::write(
        r.root.join("Cargo.toml"),
        format!("{COLAB_MANIFEST}constraints = {{ mxnet = \">=1.9\" }}\n"),
    )
    .unwrap();
    let (code, out, err) = check(&r);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("constraints.mxnet: (absent) -> \">=1.9\""),
        "{err}"
    );
    // A constraint nothing satisfies.
    std::fs::write(
        r.root.join("Cargo.toml"),
        format!("{COLAB_MANIFEST}constraints = {{ mxnet = \"<1.9\" }}\n"),
    )
    .unwrap();
    let (code, _, err) = check(&r);
    assert_eq!(code, 1);
    assert!(
        err.contains("drift: target `colab` is unsatisfiable"),
        "{err}"
    );
    // Targets changed in the config.
    std::fs::write(
        r.root.join("Cargo.toml"),
        COLAB_MANIFEST.replace("[\"colab\"]", "[\"colab\", \"colab:T4\"]"),
    )
    .unwrap();
    let (code, _, err) = check(&r);
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "config changed: gpu-env.lock locks targets [colab] but the config asks for [colab, colab:T4]"
        ),
        "{err}"
    );
}

#[test]
fn changed_db_fails() {
    let r = repo();
    edit(
        &r.db.join("redist/nvidia-nvtx-cu11.toml"),
        NVTX_SHA,
        OTHER_SHA,
    );
    let (code, out, err) = check(&r);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(&format!(
            "package[nvidia-nvtx-cu11].sha256: \"{NVTX_SHA}\" -> \"{OTHER_SHA}\""
        )),
        "{err}"
    );
    assert!(
        !err.contains("stale:"),
        "outputs still match the lock: {err}"
    );
    // An invalid compat-db fails too.
    edit(
        &r.db.join("gpus.toml"),
        "compute_capability = \"7.5\"",
        "compute_capability = 7.5",
    );
    let (code, _, err) = check(&r);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("check: compat-db"), "{err}");
}

#[test]
fn corrupted_lock_fails_and_is_untouched() {
    let r = repo();
    let lock = r.root.join("gpu-env.lock");
    let mut bytes = std::fs::read(&lock).unwrap();
    let n = bytes.len();
    bytes.truncate(n / 2);
    bytes.extend_from_slice(b"\n[[target\xff");
    std::fs::write(&lock, &bytes).unwrap();
    let (code, out, err) = check(&r);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("gpu-env.lock"), "{err}");
    assert!(err.contains("corrupted and was left untouched"), "{err}");
    assert_eq!(std::fs::read(&lock).unwrap(), bytes);
    // A newer format is refused the same way.
    std::fs::write(&lock, "format = 99\n").unwrap();
    let (code, _, err) = check(&r);
    assert_eq!(code, 2);
    assert!(err.contains("newer than this gpu-env understands"), "{err}");
    assert_eq!(std::fs::read(&lock).unwrap(), b"format = 99\n");
}

#[test]
fn missing_lock_with_targets_fails() {
    let r = repo();
    std::fs::remove_file(r.root.join("gpu-env.lock")).unwrap();
    let (code, _, err) = check(&r);
    assert_eq!(code, 1);
    assert!(err.contains("gpu-env.lock is missing"), "{err}");
}

#[test]
fn hostile_lock_value_is_reported() {
    let r = repo();
    edit(
        &r.root.join("gpu-env.lock"),
        "name = \"nvidia-nvtx-cu11\"",
        "name = \"x\\\"); import os; os.system(\\\"id\\\"); (\\\"\"",
    );
    let (code, out, err) = check(&r);
    // Refused when the lock is read (the one validation layer), naming
    // the value; nothing is generated from it.
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        err.contains("package name") && err.contains("is not valid"),
        "{err}"
    );
    let cell = std::fs::read_to_string(r.root.join("colab/setup_cell.py")).unwrap();
    assert!(!cell.contains("os.system"));
}

/// A lock made with overrides records them; `check` re-resolves with
/// exactly those and passes until an input really changes, then names the
/// cause and the command that remakes the lock.
#[test]
fn overrides_are_recorded_and_checked() {
    let r = repo();
    let mut c = xtask!();
    c.current_dir(&r.root)
        .arg("--db")
        .arg(&r.db)
        .args([
            "resolve",
            "--offline",
            "--target",
            "colab",
            "--python-version",
            "3.11.4",
        ])
        .env("GPU_ENV_OVERRIDE_DRIVER", "535.104.05");
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}{err}");
    let lock = std::fs::read_to_string(r.root.join("gpu-env.lock")).unwrap();
    for needle in [
        "format = 4\n",
        "gpu_env = \"",
        "[[target.override]]\nname = \"python\"\nvalue = \"3.11.4\"\nsource = \"override:--python-version\"",
        "[[target.override]]\nname = \"driver\"\nvalue = \"535.104.05\"\nsource = \"override:GPU_ENV_OVERRIDE_DRIVER\"",
    ] {
        assert!(lock.contains(needle), "lock lacks {needle}:\n{lock}");
    }
    // The config asks for none of this: check names both and the config
    // lines that record them.
    let (code, out, err) = check(&r);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("was made with `GPU_ENV_OVERRIDE_DRIVER=535.104.05 --python-version 3.11.4`"),
        "{err}"
    );
    // Recorded in the config, a plain resolve gives a lock check passes,
    // with the facts sourced from the config.
    std::fs::write(
        r.root.join("Cargo.toml"),
        "[workspace]\n\n[[workspace.metadata.gpu-env.target]]\nspec = \"colab\"\n\
         driver = \"535.104.05\"\npython-version = \"3.11.4\"\n",
    )
    .unwrap();
    let mut c = xtask!();
    c.current_dir(&r.root)
        .arg("--db")
        .arg(&r.db)
        .args(["resolve", "--offline"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}{err}");
    let lock = std::fs::read_to_string(r.root.join("gpu-env.lock")).unwrap();
    assert!(
        lock.contains("value = \"535.104.05\"\nsource = \"config:target[0].driver\""),
        "{lock}"
    );
    let (code, out, err) = check(&r);
    assert_eq!(code, 0, "{out}{err}");
    // compat-db changes without changing the resolution: named, with the
    // command that remakes the lock.
    let gpus = r.db.join("gpus.toml");
    let text = std::fs::read_to_string(&gpus).unwrap();
    std::fs::write(&gpus, format!("{text}\n# a comment\n")).unwrap();
    let (code, _, err) = check(&r);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("compat-db changed: gpu-env.lock was resolved against compat-db"),
        "{err}"
    );
    assert!(!err.contains("drift:"), "{err}");
    assert!(
        err.contains(
            "run `cargo xtask resolve` and commit the result (the resolution stays the same"
        ),
        "{err}"
    );
}

/// `--target colab --gpu A100` is `colab:A100` everywhere; a GPU the
/// runtime does not offer, or a contradiction, is refused.
#[test]
fn profile_gpu_override_names_the_target() {
    let r = repo();
    let resolve = |args: &[&str]| {
        let mut c = xtask!();
        c.current_dir(&r.root)
            .arg("--db")
            .arg(&r.db)
            .args(["resolve", "--offline"])
            .args(args);
        run(c)
    };
    let gpus = r.db.join("gpus.toml");
    let text = std::fs::read_to_string(&gpus).unwrap();
    let a100 = "\n[[gpu]]\nname = \"NVIDIA A100\"\naliases = [\"A100\"]\ncompute_capability = \"8.0\"\nsource = [\"https://developer.nvidia.com/cuda-gpus\"]\n";
    std::fs::write(&gpus, format!("{text}{a100}")).unwrap();
    let (code, _, err) = resolve(&["--target", "colab", "--gpu", "A100"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("does not offer GPU `A100`; it offers T4"),
        "{err}"
    );
    edit(
        &r.db.join("runtimes/colab-test.toml"),
        "gpus = [\"T4\"]",
        "gpus = [\"T4\", \"A100\"]",
    );
    let (code, out, err) = resolve(&["--target", "colab", "--gpu", "A100"]);
    assert_eq!(code, 0, "{out}{err}");
    let lock = std::fs::read_to_string(r.root.join("gpu-env.lock")).unwrap();
    assert!(lock.contains("name = \"colab-test:A100\""), "{lock}");
    let nb = std::fs::read_to_string(r.root.join("colab/gpu-env-setup.ipynb")).unwrap();
    assert!(nb.contains("\"gpuType\": \"A100\""), "{nb}");
    let (code, _, err) = resolve(&["--target", "colab:T4", "--gpu", "A100"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("names GPU `T4`, and override:--gpu says `A100`"),
        "{err}"
    );
    let (code, _, err) = resolve(&["--target", "colab:T4", "--no-gpu"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("override:--no-gpu asks for no GPU, and GPU `T4` is named"),
        "{err}"
    );
}

/// `--target colab --no-gpu` is Colab's CPU runtime: named so, its notebook
/// asks for no accelerator, and check keeps it (the embedded compat-db has
/// the CPU wheel the test db lacks).
#[test]
fn colab_cpu_runtime_is_named_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::write(root.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
    let mut c = xtask!();
    c.current_dir(root)
        .args(["resolve", "--offline", "--target", "colab", "--no-gpu"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}{err}");
    let lock = std::fs::read_to_string(root.join("gpu-env.lock")).unwrap();
    assert!(lock.contains(":CPU\""), "{lock}");
    let nb = std::fs::read_to_string(root.join("colab/gpu-env-setup.ipynb")).unwrap();
    assert!(nb.contains("\"accelerator\": \"None\""), "{nb}");
    assert!(!nb.contains("gpuType"), "{nb}");
    // Not what the config asks (it names no target: `local`) until recorded.
    let mut c = xtask!();
    c.current_dir(root).arg("check");
    let (code, out, err) = run(c);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("`--target colab --no-gpu`"), "{err}");
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = []\n\n[[workspace.metadata.gpu-env.target]]\nspec = \"colab\"\nno-gpu = true\n",
    )
    .unwrap();
    let mut c = xtask!();
    c.current_dir(root).args(["resolve", "--offline"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}{err}");
    let mut c = xtask!();
    c.current_dir(root).arg("check");
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}{err}");
}

/// `resolve --lock other.lock` writes that lock alone: the repo's
/// requirements, pylock and Colab files belong to the config's lock, and
/// rewriting them from another lock left them disagreeing with it.
#[test]
fn another_lock_is_written_alone_and_the_repo_stays_current() {
    let r = repo();
    let files = [
        "gpu-env.lock",
        "requirements-gpu.txt",
        "pylock.toml",
        "colab/setup_cell.py",
        "colab/gpu-env-setup.ipynb",
    ];
    let read = |f: &str| std::fs::read(r.root.join(f)).unwrap();
    let before: Vec<Vec<u8>> = files.iter().map(|f| read(f)).collect();
    let mut c = xtask!();
    c.current_dir(&r.root).arg("--db").arg(&r.db).args([
        "resolve",
        "--target",
        "colab",
        "--driver",
        "580.95.05",
        "--lock",
        "other.lock",
    ]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("wrote other.lock\n"), "{out}");
    assert!(
        out.contains("(only the lock: the requirements, pylock and Colab files follow gpu-env.lock, the config's lock)"),
        "{out}"
    );
    assert!(!out.contains("wrote requirements-gpu.txt"), "{out}");
    let other = std::fs::read_to_string(r.root.join("other.lock")).unwrap();
    assert!(other.contains("580.95.05"), "{other}");
    for (f, b) in files.iter().zip(&before) {
        assert_eq!(&read(f), b, "{f} changed");
    }
    let (code, out, err) = check(&r);
    assert_eq!(code, 0, "{out}{err}");
    // check --lock other.lock re-resolves it from its own request (not the
    // config's targets), and the command it prints remakes that very lock.
    let check_other = || {
        let mut c = xtask!();
        c.current_dir(&r.root)
            .arg("--db")
            .arg(&r.db)
            .args(["check", "--lock", "other.lock"]);
        run(c)
    };
    let (code, out, err) = check_other();
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(r.root.join("other.lock")).unwrap();
    let db_line = text.lines().find(|l| l.starts_with("db = ")).unwrap();
    std::fs::write(
        r.root.join("other.lock"),
        text.replacen(db_line, &format!("db = \"{}\"", "0".repeat(64)), 1),
    )
    .unwrap();
    let (code, out, err) = check_other();
    assert_eq!(code, 1, "{out}{err}");
    assert!(!err.contains("config changed"), "{err}");
    assert!(
        err.contains(
            "run `cargo xtask resolve --target colab --driver 580.95.05 --lock other.lock`"
        ),
        "{err}"
    );
}
