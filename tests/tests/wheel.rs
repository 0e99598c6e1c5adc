//! The `gpu-env` program of the PyPI wheel (resolver/pyproject.toml): the
//! product CLI under its own name, a glibc floor no higher than the notebook
//! runtimes' (read from compat-db's profiles and from the binary's ELF
//! symbol versions), and, opt-in, the wheel itself: built from source by
//! maturin from PyPI, installed into a fresh venv and run, and the
//! `language: python` pre-commit hook under real pre-commit.
//!
//! The opt-in tests do a release build (minutes) and fetch maturin,
//! pre-commit and setuptools from PyPI; CI runs them by name:
//! `cargo test -p gpu-env-tests --test wheel -- --ignored`.

use gpu_env::binary::{elf, zip::ZipArchive};
use gpu_env_tests::{cached_venv, run, workspace_root, xtask, COLAB_MANIFEST};
use std::path::{Path, PathBuf};
use std::process::Command;

fn gpu_env() -> Command {
    gpu_env_tests::xtask_at(env!("CARGO_BIN_EXE_gpu-env-bin"))
}

/// The lowest glibc of the Colab and Kaggle runtime profiles that state one.
fn notebook_glibc_floor() -> (u32, u32) {
    let db = gpu_env::db::Db::open(None).unwrap();
    db.runtimes
        .iter()
        .filter(|(_, r)| gpu_env::target::is_notebook_kind(&r.kind))
        .filter_map(|(_, r)| gpu_env::validate::parse_glibc(r.glibc.as_deref()?))
        .min()
        .expect("compat-db states the glibc of some notebook runtime")
}

#[test]
fn usage_and_advice_name_the_program_as_called() {
    let (code, out, _) = run({
        let mut c = gpu_env();
        c.arg("--help");
        c
    });
    assert_eq!(code, 0);
    assert!(out.contains("Usage: gpu-env [OPTIONS] <COMMAND>"), "{out}");
    assert!(out.contains("setup "), "{out}");
    let (_, version, _) = run({
        let mut c = gpu_env();
        c.arg("--version");
        c
    });
    assert_eq!(
        version.trim(),
        format!("gpu-env {}", env!("CARGO_PKG_VERSION"))
    );
    // The same library advice, worded for how each program is called.
    let dir = tempfile::tempdir().unwrap();
    for (mut c, name) in [(gpu_env(), "gpu-env"), (xtask!(), "cargo xtask")] {
        c.current_dir(dir.path()).arg("verify");
        let (code, _, err) = run(c);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(&format!("run `{name} resolve` first")),
            "{name}: {err}"
        );
        if name == "gpu-env" {
            assert!(!err.contains("cargo xtask"), "{err}");
        }
    }
}

#[test]
fn binary_runs_on_the_notebook_runtimes_glibc() {
    let floor = notebook_glibc_floor();
    let bytes = std::fs::read(env!("CARGO_BIN_EXE_gpu-env-bin")).unwrap();
    let needed = elf::read_elf(&bytes)
        .unwrap()
        .newest_glibc()
        .expect("links glibc");
    assert!(
        needed <= floor,
        "the gpu-env binary needs GLIBC_{}.{}, newer than the notebook runtimes' {}.{}",
        needed.0,
        needed.1,
        floor.0,
        floor.1
    );
}

/// The hook's package pins the wheel of this very release, so a hook `rev:`
/// pins gpu-env's code and compat-db.
#[test]
fn pre_commit_package_pins_this_release() {
    let text = std::fs::read_to_string(workspace_root().join("pyproject.toml")).unwrap();
    let doc: toml::Value = toml::from_str(&text).unwrap();
    let project = &doc["project"];
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(project["version"].as_str(), Some(version));
    let deps: Vec<&str> = project["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d.as_str())
        .collect();
    assert_eq!(deps, [format!("gpu-env=={version}")]);
}

/// The wheel, built once per test run with maturin from PyPI (a release
/// build into target/wheels), and the lines maturin printed.
fn wheel() -> &'static Path {
    static WHEEL: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    WHEEL.get_or_init(|| {
        let venv = cached_venv("gpu-env-test-wheel", "maturin", &["maturin>=1.5,<2"]);
        let out = workspace_root().join("target/wheels");
        let _ = std::fs::remove_dir_all(&out);
        let st = Command::new(venv.join("bin/maturin"))
            .current_dir(workspace_root())
            .args([
                "build",
                "--release",
                "--locked",
                "-m",
                "resolver/Cargo.toml",
                "--out",
            ])
            .arg(&out)
            .status()
            .unwrap();
        assert!(st.success(), "maturin build failed");
        let wheels: Vec<PathBuf> = std::fs::read_dir(&out)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "whl"))
            .collect();
        assert_eq!(wheels.len(), 1, "{wheels:?}");
        wheels.into_iter().next().unwrap()
    })
}

/// A fresh venv with the wheel installed (no index: nothing else comes in).
fn installed(dir: &Path) -> PathBuf {
    let venv = dir.join("venv");
    let st = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(st.success());
    let st = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "--no-index", "--disable-pip-version-check"])
        .arg(wheel())
        .status()
        .unwrap();
    assert!(st.success(), "pip install {}", wheel().display());
    venv.join("bin/gpu-env")
}

#[test]
#[ignore = "builds the wheel (release build, maturin from PyPI): cargo test -p gpu-env-tests --test wheel -- --ignored"]
fn wheel_is_manylinux_installs_and_runs() {
    let wheel = wheel();
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    let size = std::fs::metadata(wheel).unwrap().len();
    eprintln!("wheel {name}: {:.1} MB", size as f64 / 1e6);
    let version = env!("CARGO_PKG_VERSION");
    let platform = name
        .strip_prefix(&format!("gpu_env-{version}-py3-none-"))
        .and_then(|p| p.strip_suffix(".whl"))
        .unwrap_or_else(|| panic!("not a py3-none wheel of gpu-env {version}: {name}"));
    let floor = notebook_glibc_floor();
    let tagged = platform
        .split('.')
        .filter(|p| p.ends_with("_x86_64"))
        .filter_map(gpu_env::tags::manylinux_glibc)
        .min()
        .unwrap_or_else(|| panic!("no manylinux x86_64 tag: {name}"));
    assert!(
        tagged <= floor,
        "{name}: tagged for glibc {tagged:?} > {floor:?}"
    );
    let mut zip = ZipArchive::open(wheel).unwrap();
    let entry = zip
        .entries()
        .iter()
        .find(|e| e.name.ends_with(".data/scripts/gpu-env"))
        .cloned()
        .unwrap_or_else(|| panic!("{name}: no gpu-env script"));
    let bin = zip.read(&entry).unwrap();
    let needed = elf::read_elf(&bin)
        .unwrap()
        .newest_glibc()
        .expect("links glibc");
    assert!(
        needed <= tagged,
        "{name}: binary needs {needed:?}, tag says {tagged:?}"
    );
    eprintln!(
        "binary {:.1} MB, needs GLIBC_{}.{}",
        bin.len() as f64 / 1e6,
        needed.0,
        needed.1
    );

    let dir = tempfile::tempdir().unwrap();
    let exe = installed(dir.path());
    let (code, out, err) = run({
        let mut c = Command::new(&exe);
        c.arg("--version");
        c
    });
    assert_eq!(
        (code, out.trim()),
        (0, format!("gpu-env {version}").as_str()),
        "{err}"
    );
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("Cargo.toml"), COLAB_MANIFEST).unwrap();
    for args in [
        &["resolve", "--target", "colab", "--offline"][..],
        &["check"],
    ] {
        let mut c = Command::new(&exe);
        c.current_dir(&repo).args(args);
        let (code, out, err) = run(c);
        assert_eq!(code, 0, "gpu-env {args:?}:\n{out}\n{err}");
    }
    let lock = std::fs::read_to_string(repo.join("gpu-env.lock")).unwrap();
    let ours = std::fs::read_to_string(workspace_root().join("gpu-env.lock")).unwrap();
    assert_eq!(lock, ours, "the wheel resolves this repo's own lock");
}

/// `git args` in `dir`, which must succeed.
fn git(dir: &Path, args: &[&str]) {
    let (code, out, err) = run({
        let mut c = Command::new("git");
        c.current_dir(dir)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args);
        c
    });
    assert_eq!(code, 0, "git {args:?}:\n{out}\n{err}");
}

/// `pre-commit try-repo <this checkout> gpu-env-check-wheel` in `repo`:
/// pre-commit installs this repository's hook package, which takes the
/// gpu-env wheel from `wheels` (PIP_FIND_LINKS) and setuptools from PyPI.
fn pre_commit_hook(pre_commit: &Path, repo: &Path, home: &Path) -> (i32, String) {
    let mut c = Command::new(pre_commit);
    c.current_dir(repo)
        .args(["try-repo"])
        .arg(workspace_root())
        .args(["gpu-env-check-wheel", "--all-files", "--color", "never"])
        .env("PRE_COMMIT_HOME", home)
        .env("PIP_FIND_LINKS", wheel().parent().unwrap())
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
    let (code, out, err) = run(c);
    (code, format!("{out}{err}"))
}

#[test]
#[ignore = "builds the wheel and runs pre-commit from PyPI: cargo test -p gpu-env-tests --test wheel -- --ignored"]
fn pre_commit_hook_passes_and_fails_as_cargo_xtask_check() {
    let pre_commit = cached_venv("gpu-env-test-wheel", "pre-commit", &["pre-commit>=3,<5"])
        .join("bin/pre-commit");
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("Cargo.toml"), COLAB_MANIFEST).unwrap();
    let mut resolve = xtask!();
    resolve
        .current_dir(&repo)
        .args(["resolve", "--target", "colab", "--offline"]);
    assert_eq!(run(resolve).0, 0);
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "lock"]);
    let xtask_check = |repo: &Path| {
        let mut c = xtask!();
        c.current_dir(repo).arg("check");
        run(c)
    };
    let home = dir.path().join("pre-commit-home");
    let (code, out) = pre_commit_hook(&pre_commit, &repo, &home);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Passed"), "{out}");
    assert_eq!(xtask_check(&repo).0, 0);

    // A hand-edited lock: both fail, with the same finding.
    let lock = repo.join("gpu-env.lock");
    let text = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(&lock, text.replacen("mxnet-cu112", "mxnet-cu117", 1)).unwrap();
    let (code, out) = pre_commit_hook(&pre_commit, &repo, &home);
    let (xcode, xout, xerr) = xtask_check(&repo);
    assert_ne!(xcode, 0, "{xout}{xerr}");
    assert_eq!(code, 1, "pre-commit reports a failed hook with 1:\n{out}");
    assert!(out.contains("Failed"), "{out}");
    let first = format!("{xout}{xerr}");
    let first = first
        .lines()
        .next()
        .unwrap()
        .replace("cargo xtask ", "gpu-env ");
    assert!(out.contains(&first), "hook output lacks `{first}`:\n{out}");
}
