//! Hostile input (issue 13): every reproducer of the fault matrix ends in a
//! clear error or a correct result, never a panic, an unbounded allocation,
//! a hang or lost data. One test per defect (D1 .. D23); the bounds of the
//! probe, zip reader and sysroot reads also have unit tests beside them.

use gpu_env::config::Loaded;
use gpu_env::job;
use gpu_env::lock::{Lock, LockError};
use gpu_env_tests::{copy_dir, fixtures, hang_guard, run, xtask};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn fixture_lock() -> Lock {
    Lock::read(&fixtures().join("emit/colab-cu112.lock")).unwrap()
}

fn fixture_lock_text() -> String {
    std::fs::read_to_string(fixtures().join("emit/colab-cu112.lock")).unwrap()
}

fn loaded(root: &Path) -> Loaded {
    Loaded {
        root: root.to_path_buf(),
        manifest: Some(root.join("Cargo.toml")),
        ..Default::default()
    }
}

/// The five outputs of a resolve into `root`, rendered from the fixture lock.
fn outputs(root: &Path) -> Vec<(PathBuf, String)> {
    let db = gpu_env::db::Db::embedded().unwrap();
    let l = loaded(root);
    job::rendered_outputs(&db, &l, &root.join("gpu-env.lock"), &fixture_lock()).unwrap()
}

fn db_check(dir: &Path) -> (i32, String, String) {
    let mut c = xtask!();
    c.args(["db", "check", "--db"]).arg(dir);
    run(c)
}

fn fixture_db() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    copy_dir(&fixtures().join("emit/db"), &db);
    (tmp, db)
}

fn edit(path: &Path, from: &str, to: &str) {
    let t = std::fs::read_to_string(path).unwrap();
    assert!(t.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, t.replacen(from, to, 1)).unwrap();
}

// ---- data loss ----

#[test]
fn d6_output_may_not_name_the_manifest_another_output_or_leave_the_repo() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let db = gpu_env::db::Db::embedded().unwrap();
    let lock = fixture_lock();
    let try_with = |f: &dyn Fn(&mut gpu_env::config::Outputs)| {
        let mut l = loaded(root);
        f(&mut l.config.output);
        let lock_path = l.path(&l.config.output.lock);
        job::rendered_outputs(&db, &l, &lock_path, &lock).map(|_| ())
    };
    let e = try_with(&|o| o.pylock = "Cargo.toml".into()).unwrap_err();
    assert!(
        e.to_string().contains("would replace a Cargo manifest"),
        "{e}"
    );
    let e = try_with(&|o| o.requirements = "gpu-env.lock".into()).unwrap_err();
    assert!(e.to_string().contains("name the same file"), "{e}");
    let e = try_with(&|o| o.requirements = "./sub/../gpu-env.lock".into()).unwrap_err();
    assert!(e.to_string().contains("name the same file"), "{e}");
    let e = try_with(&|o| o.colab_cell = "../outside.py".into()).unwrap_err();
    assert!(e.to_string().contains("outside the repo root"), "{e}");
    let e = try_with(&|o| o.notebook = "".into()).unwrap_err();
    assert!(e.to_string().contains("names no file"), "{e}");
    // The explicit opt-in.
    try_with(&|o| {
        o.colab_cell = "../outside.py".into();
        o.allow_outside_repo = true;
    })
    .unwrap();
}

#[test]
fn d6_config_pylock_cargo_toml_through_the_cli_leaves_the_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = "[workspace]\n\n[workspace.metadata.gpu-env]\ntargets = [\"colab\"]\n[workspace.metadata.gpu-env.output]\npylock = \"Cargo.toml\"\n";
    std::fs::write(tmp.path().join("Cargo.toml"), manifest).unwrap();
    let mut c = xtask!();
    c.current_dir(tmp.path())
        .args(["resolve", "--target", "colab", "--offline"]);
    let (code, out, err) = run(c);
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("would replace a Cargo manifest"), "{err}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("Cargo.toml")).unwrap(),
        manifest
    );
    assert!(!tmp.path().join("gpu-env.lock").exists());
}

#[test]
fn d2_partial_newer_lock_is_not_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let x = tmp.path().join("x");
    let (now, newer) = (gpu_env::lock::FORMAT, gpu_env::lock::FORMAT + 1);
    let text = fixture_lock_text().replacen(
        &format!("\nformat = {now}\n"),
        &format!("\nformat = {newer}\n"),
        1,
    );
    assert!(text.contains(&format!("\nformat = {newer}\n")));
    std::fs::write(&x, &text[..3000]).unwrap();
    let e = Lock::check_overwritable(&x).unwrap_err();
    assert!(
        matches!(e, LockError::Newer { found, .. } if found == newer),
        "{e}"
    );
    // Through the CLI: refused, the file untouched.
    let mut c = xtask!();
    c.current_dir(tmp.path())
        .args(["resolve", "--target", "colab", "--offline", "--lock"])
        .arg(&x);
    let (code, out, err) = run(c);
    assert_ne!(code, 0, "{out}{err}");
    assert_eq!(std::fs::read_to_string(&x).unwrap(), &text[..3000]);
}

#[test]
fn d19_a_file_that_is_no_lock_is_not_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let notes = tmp.path().join("notes.txt");
    std::fs::write(&notes, "my notes\n").unwrap();
    let e = Lock::check_overwritable(&notes).unwrap_err();
    assert!(e.to_string().contains("not a gpu-env lock"), "{e}");
    let mut c = xtask!();
    c.current_dir(tmp.path())
        .args(["resolve", "--target", "colab", "--offline", "--lock"])
        .arg(&notes);
    let (code, _, err) = run(c);
    assert_ne!(code, 0);
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");
    // A whole lock of this format is replaced.
    std::fs::write(&notes, fixture_lock_text()).unwrap();
    Lock::check_overwritable(&notes).unwrap();
    // A generated file other than the lock that is not gpu-env's is kept.
    let root = tmp.path().join("repo");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("requirements-gpu.txt"), "numpy==1.0\n").unwrap();
    let e = job::write_outputs(&outputs(&root)).unwrap_err();
    assert!(e.to_string().contains("not generated by gpu-env"), "{e}");
    assert!(!root.join("gpu-env.lock").exists());
}

#[test]
fn d7_a_failed_write_leaves_the_old_set() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let outs = outputs(root);
    job::write_outputs(&outs).unwrap();
    let before: Vec<Vec<u8>> = outs
        .iter()
        .map(|(p, _)| std::fs::read(p).unwrap())
        .collect();
    // The cell's directory cannot be written (a file where it should be:
    // as a read-only directory would, also for root).
    let mut changed = outs.clone();
    for (_, t) in changed.iter_mut() {
        t.push_str("\n# changed\n");
    }
    let colab = root.join("colab");
    std::fs::rename(&colab, root.join("colab.saved")).unwrap();
    std::fs::write(&colab, "not a directory").unwrap();
    let cell = changed
        .iter()
        .position(|(p, _)| p.starts_with(&colab))
        .unwrap();
    // Point only the cell and notebook into the blocked place.
    assert!(job::write_outputs(&changed).is_err());
    std::fs::remove_file(&colab).unwrap();
    std::fs::rename(root.join("colab.saved"), &colab).unwrap();
    for (i, (p, _)) in outs.iter().enumerate() {
        assert_eq!(
            std::fs::read(p).unwrap(),
            before[i],
            "{} changed (cell at {cell})",
            p.display()
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".gpu-env-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn d17_stale_temps_of_a_killed_run_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("colab")).unwrap();
    for stale in [
        ".gpu-env-4242-0.tmp",
        ".gpu-env-4242-1.bak.tmp",
        ".gpu-env-AbC123",
    ] {
        std::fs::write(root.join(stale), "half").unwrap();
        std::fs::write(root.join("colab").join(stale), "half").unwrap();
    }
    std::fs::write(root.join(".gpu-env-keep.txt"), "mine").unwrap();
    job::write_outputs(&outputs(root)).unwrap();
    for d in [root.to_path_buf(), root.join("colab")] {
        let names: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".gpu-env-"))
            .collect();
        let want: Vec<String> = if d == root {
            vec![".gpu-env-keep.txt".into()]
        } else {
            vec![]
        };
        assert_eq!(names, want, "{}", d.display());
    }
}

#[test]
fn d18_concurrent_writers_leave_one_runs_set() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let base = outputs(&root);
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let mut mine = base.clone();
            for (_, t) in mine.iter_mut() {
                t.push_str(&format!("\n# writer {i}\n"));
            }
            std::thread::spawn(move || {
                for _ in 0..5 {
                    job::write_outputs(&mine).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let tags: Vec<String> = base
        .iter()
        .map(|(p, _)| {
            let t = std::fs::read_to_string(p).unwrap();
            t.lines().last().unwrap().to_string()
        })
        .collect();
    assert!(tags.iter().all(|t| *t == tags[0]), "mixed set: {tags:?}");
}

#[test]
fn d1_modes_follow_the_umask_or_the_replaced_file() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let outs = outputs(root);
    job::write_outputs(&outs).unwrap();
    // New files: 0666 less the umask (the test process's, 022 or 002).
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let m = mode(&outs[0].0);
    assert!(m == 0o644 || m == 0o664, "{m:o}");
    // A replaced file keeps its mode.
    std::fs::set_permissions(&outs[1].0, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::set_permissions(&outs[0].0, std::fs::Permissions::from_mode(0o664)).unwrap();
    job::write_outputs(&outs).unwrap();
    assert_eq!(mode(&outs[1].0), 0o640);
    assert_eq!(mode(&outs[0].0), 0o664);
}

// ---- bounds ----

/// A one-member zip whose member declares `size` and holds `data` as one
/// stored deflate block (method 8).
fn zip_with(declared: u32, data: &[u8]) -> Vec<u8> {
    let mut deflate = vec![0x01];
    deflate.extend((data.len() as u16).to_le_bytes());
    deflate.extend((!(data.len() as u16)).to_le_bytes());
    deflate.extend(data);
    let name = b"mxnet/libmxnet.so";
    let mut crc = 0xFFFF_FFFFu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    let crc = !crc;
    let mut z = Vec::new();
    z.extend(0x0403_4b50u32.to_le_bytes());
    z.extend([20, 0, 0, 0, 8, 0, 0, 0, 0, 0]);
    z.extend(crc.to_le_bytes());
    z.extend((deflate.len() as u32).to_le_bytes());
    z.extend(declared.to_le_bytes());
    z.extend((name.len() as u16).to_le_bytes());
    z.extend(0u16.to_le_bytes());
    z.extend(name);
    z.extend(&deflate);
    let cd = z.len() as u32;
    z.extend(0x0201_4b50u32.to_le_bytes());
    z.extend([20, 0, 20, 0, 0, 0, 8, 0, 0, 0, 0, 0]);
    z.extend(crc.to_le_bytes());
    z.extend((deflate.len() as u32).to_le_bytes());
    z.extend(declared.to_le_bytes());
    z.extend((name.len() as u16).to_le_bytes());
    z.extend([0u8; 12]);
    z.extend(0u32.to_le_bytes());
    z.extend(name);
    let cd_size = z.len() as u32 - cd;
    z.extend(0x0605_4b50u32.to_le_bytes());
    z.extend([0, 0, 0, 0, 1, 0, 1, 0]);
    z.extend(cd_size.to_le_bytes());
    z.extend(cd.to_le_bytes());
    z.extend(0u16.to_le_bytes());
    z
}

#[test]
fn d11_d14_zip_members_are_bounded() {
    use gpu_env::binary::zip::{ZipArchive, ZipError};
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("x.whl");
    // A tiny file declaring almost 4 GiB: refused before any allocation.
    std::fs::write(&p, zip_with(0xFFFF_FFF0, b"tiny")).unwrap();
    let mut z = ZipArchive::open(&p).unwrap();
    let e = z.read(&z.entries()[0].clone()).unwrap_err();
    assert!(matches!(e, ZipError::TooLarge { .. }), "{e}");
    // A member inflating past its declared size stops there.
    std::fs::write(&p, zip_with(10, &[b'a'; 5000])).unwrap();
    let mut z = ZipArchive::open(&p).unwrap();
    let e = z.read(&z.entries()[0].clone()).unwrap_err();
    assert!(e.to_string().contains("inflated to more than 10"), "{e}");
    // The honest member reads.
    std::fs::write(&p, zip_with(5000, &[b'a'; 5000])).unwrap();
    let mut z = ZipArchive::open(&p).unwrap();
    assert_eq!(z.read(&z.entries()[0].clone()).unwrap().len(), 5000);
}

#[test]
fn d12_pypi_that_never_answers_is_a_timely_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Accept and hold connections, never answering.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let client = gpu_env::pypi::Client::with_base(format!("http://{addr}"))
        .with_json_timeout(Duration::from_millis(500));
    // A hang guard, not a speed assert: without the JSON time limit this
    // call never returns (3 tries of 0.5 s take about 2.5 s).
    let r = hang_guard(
        "PyPI JSON request to a server that never answers",
        Duration::from_secs(120),
        move || client.project("mxnet"),
    );
    // The outcome: the client's network error for the project URL, ending
    // in the time-out (not an HTTP status, a JSON error or a panic).
    match r {
        Err(gpu_env::pypi::PypiError::Network { url, message }) => {
            assert_eq!(url, format!("http://{addr}/pypi/mxnet/json"));
            assert!(message.contains("timed out"), "{message}");
        }
        other => panic!("expected a network time-out error, got {other:?}"),
    }
}

// ---- wrong answers from bad input ----

#[test]
fn d5_huge_compute_capability_is_a_clear_error() {
    for gpu in ["999999999.9", "sm_99999999999", "100.0"] {
        let mut c = xtask!();
        c.args([
            "resolve",
            "--target",
            "colab",
            "--offline",
            "--dry-run",
            "--gpu",
            gpu,
        ]);
        let (code, out, err) = run(c);
        assert_eq!(code, 2, "{gpu}: {out}{err}");
        assert!(
            !err.contains("panicked") && !out.contains("sm_1410065407"),
            "{err}"
        );
        assert!(err.contains("is not a GPU"), "{err}");
    }
    let mut c = xtask!();
    c.args([
        "resolve",
        "--target",
        "colab:491894674.7",
        "--offline",
        "--dry-run",
    ]);
    let (code, _, err) = run(c);
    assert_ne!(code, 0);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn d13_a_newline_in_a_value_never_becomes_a_requirements_line() {
    let mut lock = fixture_lock();
    let t = &mut lock.target[0];
    t.package[0].name = "numpy\n--index-url https://evil.example/simple".into();
    let e = gpu_env::lock::try_requirements(&"0".repeat(64), t, None).unwrap_err();
    assert!(e.to_string().contains("package name"), "{e}");
    assert!(gpu_env::lock::try_pylock(&"0".repeat(64), t, None).is_err());
    let text = gpu_env::lock::requirements(&"0".repeat(64), t, None);
    assert!(text.lines().all(|l| l.starts_with('#')), "{text}");
    let mut lock2 = fixture_lock();
    lock2.target[0].name = "colab\n-r evil.txt".into();
    let text = gpu_env::lock::requirements(&"0".repeat(64), &lock2.target[0], None);
    assert!(!text.lines().any(|l| l.starts_with("-r")), "{text}");
    // Read from disk: refused with the lock's path.
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("gpu-env.lock");
    std::fs::write(&p, lock.render()).unwrap();
    let e = Lock::read(&p).unwrap_err();
    assert!(e.to_string().contains("gpu-env.lock"), "{e}");
}

#[test]
fn d13_db_check_refuses_a_newline_in_a_redist_package_with_a_position() {
    let (_t, db) = fixture_db();
    edit(
        &db.join("redist/nvidia-cublas-cu11.toml"),
        "package = \"nvidia-cublas-cu11\"",
        "package = \"nvidia-cublas-cu11\\n--index-url https://evil.example/simple\"",
    );
    let (code, out, err) = db_check(&db);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("redist/nvidia-cublas-cu11.toml:1:") && err.contains("PEP 508 package name"),
        "{err}"
    );
}

#[test]
fn d3_duplicate_runtime_names_fail_db_check() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    copy_dir(&gpu_env_tests::workspace_root().join("compat-db"), &db);
    let rt = std::fs::read_dir(db.join("runtimes"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::copy(&rt, db.join("runtimes/zz-copy.toml")).unwrap();
    let (code, _, err) = db_check(&db);
    assert_ne!(code, 0);
    assert!(
        err.contains("runtimes/zz-copy.toml:") && err.contains("is also used by"),
        "{err}"
    );
}

#[test]
fn d4_duplicate_wheel_filenames_fail_db_check() {
    let (_t, db) = fixture_db();
    let w = db.join("wheels/mxnet/mxnet-cu112-1.9.1.toml");
    let text = std::fs::read_to_string(&w).unwrap();
    let at = text.find("[[wheel]]").unwrap();
    let dup = text[at..].replacen(
        &text[at..].split("sha256 = \"").nth(1).unwrap()[..64],
        &"f".repeat(64),
        1,
    );
    std::fs::write(&w, format!("{text}\n{dup}")).unwrap();
    let (code, _, err) = db_check(&db);
    assert_ne!(code, 0);
    assert!(err.contains("is also recorded at"), "{err}");
}

#[test]
fn d15_non_utf8_is_reported_with_a_position_and_the_rest_checked() {
    let (_t, db) = fixture_db();
    let mut bytes = std::fs::read(db.join("gpus.toml")).unwrap();
    let nl = bytes.iter().position(|b| *b == b'\n').unwrap();
    bytes.insert(nl + 1, 0xff);
    std::fs::write(db.join("gpus.toml"), bytes).unwrap();
    edit(
        &db.join("redist/nvidia-cublas-cu11.toml"),
        "sha256 = \"6",
        "sha256 = \"X",
    );
    let (code, _, err) = db_check(&db);
    assert_ne!(code, 0);
    assert!(err.contains("gpus.toml:2:1: not UTF-8"), "{err}");
    assert!(
        err.contains("nvidia-cublas-cu11.toml:"),
        "other diagnostics too: {err}"
    );
}

#[test]
fn d16_an_empty_directory_is_no_compat_db() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, err) = db_check(tmp.path());
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("cuda.toml") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn d20_control_characters_in_a_target_are_escaped() {
    let mut c = xtask!();
    c.args([
        "resolve",
        "--target",
        "colab\u{1b}[31mRED",
        "--offline",
        "--dry-run",
    ]);
    let (code, out, err) = run(c);
    assert_ne!(code, 0);
    assert!(
        !err.contains('\u{1b}') && !out.contains('\u{1b}'),
        "{err:?}"
    );
    assert!(err.contains("\\u{1b}[31mRED"), "{err}");
}

#[test]
fn d21_override_values_use_the_facts_parsers() {
    let mut c = xtask!();
    c.env("GPU_ENV_OVERRIDE_CUDNN", "8.garbage.x").args([
        "resolve",
        "--target",
        "colab",
        "--offline",
        "--dry-run",
    ]);
    let (code, _, err) = run(c);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("GPU_ENV_OVERRIDE_CUDNN") && err.contains("8.garbage.x"),
        "{err}"
    );
}

#[test]
fn d22_no_gpu_false_keeps_the_gpu() {
    use gpu_env::target::Overrides;
    for v in ["false", "0", "no", "OFF"] {
        let o = Overrides::default()
            .try_with_env(|k| (k == "GPU_ENV_OVERRIDE_NO_GPU").then(|| v.to_string()))
            .unwrap();
        assert!(o.no_gpu.is_none(), "{v}");
    }
    for v in ["true", "1", "yes"] {
        let o = Overrides::default()
            .try_with_env(|k| (k == "GPU_ENV_OVERRIDE_NO_GPU").then(|| v.to_string()))
            .unwrap();
        assert!(o.no_gpu.is_some(), "{v}");
    }
    let e = Overrides::default()
        .try_with_env(|k| (k == "GPU_ENV_OVERRIDE_NO_GPU").then(|| "maybe".to_string()))
        .unwrap_err();
    assert!(e.to_string().contains("GPU_ENV_OVERRIDE_NO_GPU"), "{e}");
    let mut c = xtask!();
    c.env("GPU_ENV_OVERRIDE_NO_GPU", "false").args([
        "resolve",
        "--target",
        "colab",
        "--offline",
        "--dry-run",
    ]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains(":CPU"), "{out}");
}

#[test]
fn d23_a_non_utf8_override_names_its_variable() {
    use std::os::unix::ffi::OsStrExt;
    let mut c = xtask!();
    c.env(
        "GPU_ENV_OVERRIDE_CUDNN",
        std::ffi::OsStr::from_bytes(b"8.9\xff"),
    )
    .args(["resolve", "--target", "colab", "--offline", "--dry-run"]);
    let (_, _, err) = run(c);
    assert!(
        err.contains("GPU_ENV_OVERRIDE_CUDNN") && err.contains("not UTF-8"),
        "{err}"
    );
}
