//! Argument handling of the real binary: `--python` values that are no
//! interpreter are refused up front with exit 2 (a version gets advice:
//! `--python-version` for resolve, an interpreter path for doctor and
//! verify), `verify` finds the lock the way `resolve` writes it (the
//! config's `output.lock`, `--lock`, `--manifest-path`), and usage and
//! shared options read the same in every command.

use gpu_env_tests::{fixtures, run, xtask};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A directory to use as PATH: holds only what a test puts there.
fn bin_dir(tmp: &Path, exes: &[&str]) -> PathBuf {
    let bin = tmp.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for e in exes {
        let p = bin.join(e);
        std::fs::write(&p, "#!/bin/sh\nexit 1\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn cmd(path: &Path, args: &[&str]) -> Command {
    let mut c = xtask!();
    c.env("PATH", path).args(args);
    c
}

fn usage_error(c: Command) -> String {
    let (code, out, err) = run(c);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.is_empty(), "nothing on stdout for a usage error: {out}");
    err
}

#[test]
fn resolve_python_version_suggests_python_version_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = bin_dir(tmp.path(), &[]);
    let err = usage_error(cmd(
        &bin,
        &["resolve", "--dry-run", "--offline", "--python", "3.8"],
    ));
    assert!(err.contains("--python 3.8:"), "{err}");
    assert!(err.contains("--python-version 3.8"), "{err}");
    assert!(!err.contains("unsatisfiable"), "{err}");
    assert!(!err.contains("constraint"), "{err}");
    // Same for probe, which also takes --python-version.
    let err = usage_error(cmd(&bin, &["probe", "--python", "py3.11"]));
    assert!(err.contains("--python-version 3.11"), "{err}");
}

#[test]
fn resolve_python_version_names_interpreter_on_path() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = bin_dir(tmp.path(), &["python3.12"]);
    let err = usage_error(cmd(&bin, &["resolve", "--dry-run", "--python", "3.12.1"]));
    assert!(err.contains("--python-version 3.12.1"), "{err}");
    assert!(
        err.contains(&format!("--python {}", bin.join("python3.12").display())),
        "{err}"
    );
}

#[test]
fn doctor_python_version_suggests_interpreter_path() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = bin_dir(tmp.path(), &[]);
    let err = usage_error(cmd(&bin, &["doctor", "--python", "3.8"]));
    assert!(err.contains("--python 3.8:"), "{err}");
    assert!(err.contains("--python /path/to/python3.8"), "{err}");
    assert!(!err.contains("--python-version"), "{err}");
    // Not the old `3.8: 3.8: not found`.
    assert!(!err.contains("3.8: 3.8"), "{err}");

    let bin = bin_dir(tmp.path(), &["python3.8"]);
    let err = usage_error(cmd(&bin, &["doctor", "--json", "--python", "3.8"]));
    assert!(
        err.contains(&format!("--python {}", bin.join("python3.8").display())),
        "{err}"
    );
}

#[test]
fn verify_python_version_suggests_interpreter_path() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = bin_dir(tmp.path(), &[]);
    let lock = fixtures().join("verify/cu112-t4.lock");
    let mut c = cmd(&bin, &["verify", "--python", "3.8", "--lock"]);
    c.arg(&lock);
    let err = usage_error(c);
    assert!(err.contains("--python 3.8:"), "{err}");
    assert!(err.contains("--python /path/to/python3.8"), "{err}");
    assert!(!err.contains("--python-version"), "{err}");
}

#[test]
fn non_executable_python_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = bin_dir(tmp.path(), &[]);
    let file = tmp.path().join("python-notes.txt");
    std::fs::write(&file, "not a program\n").unwrap();
    let lock = fixtures().join("verify/cu112-t4.lock");
    for args in [
        vec!["resolve", "--dry-run", "--python"],
        vec!["doctor", "--python"],
        vec!["probe", "--python"],
        vec![
            "verify",
            "--no-python",
            "--lock",
            lock.to_str().unwrap(),
            "--python",
        ],
    ] {
        let mut c = cmd(&bin, &args);
        c.arg(&file);
        let err = usage_error(c);
        assert!(
            err.contains(&format!("{} is not an executable file", file.display())),
            "{args:?}: {err}"
        );
        assert!(err.contains("no execute permission"), "{args:?}: {err}");
    }
    // A missing path and an unknown bare name are named too.
    let err = usage_error(cmd(&bin, &["doctor", "--python", "./no/such/python"]));
    assert!(
        err.contains("--python ./no/such/python: no such file"),
        "{err}"
    );
    let err = usage_error(cmd(&bin, &["doctor", "--python", "pythonZ"]));
    assert!(
        err.contains("no executable named `pythonZ` on PATH"),
        "{err}"
    );
}

/// A repo whose config puts the lock at `locks/x.lock`.
fn repo_with_config_lock() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    std::fs::create_dir_all(root.join("locks")).unwrap();
    std::fs::create_dir_all(root.join("sub/dir")).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\n\n[workspace.metadata.gpu-env.output]\nlock = \"locks/x.lock\"\n",
    )
    .unwrap();
    std::fs::copy(
        fixtures().join("verify/cu112-t4.lock"),
        root.join("locks/x.lock"),
    )
    .unwrap();
    (tmp, root)
}

fn verify_json(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let mut c = xtask!();
    c.current_dir(dir)
        .args(["verify", "--json", "--no-python"])
        .args(extra);
    let (code, out, err) = run(c);
    // 0, 1 or 3 depending on this machine's GPU: never an input error.
    assert_ne!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"))
}

#[test]
fn verify_reads_the_configured_lock() {
    let (_tmp, root) = repo_with_config_lock();
    let want = gpu_env::lock::Lock::read(&root.join("locks/x.lock")).unwrap();
    let v = verify_json(&root, &[]);
    assert_eq!(v["lock"], "locks/x.lock", "{v}");
    assert_eq!(v["target"], want.target[0].name.as_str(), "{v}");
    // From a subdirectory the config is found walking up.
    let v = verify_json(&root.join("sub/dir"), &[]);
    assert!(
        v["lock"].as_str().unwrap().ends_with("repo/locks/x.lock"),
        "{v}"
    );
}

#[test]
fn verify_manifest_path_and_lock_flags() {
    let (tmp, root) = repo_with_config_lock();
    // --manifest-path from outside the repo.
    let v = verify_json(tmp.path(), &["--manifest-path", "repo/Cargo.toml"]);
    assert!(
        v["lock"].as_str().unwrap().ends_with("repo/locks/x.lock"),
        "{v}"
    );
    // --lock wins over the config, relative to the current directory.
    std::fs::copy(root.join("locks/x.lock"), root.join("sub/other.lock")).unwrap();
    let v = verify_json(&root.join("sub"), &["--lock", "other.lock"]);
    assert_eq!(v["lock"], "other.lock", "{v}");
}

#[test]
fn verify_missing_configured_lock_is_an_input_error() {
    let (_tmp, root) = repo_with_config_lock();
    std::fs::remove_file(root.join("locks/x.lock")).unwrap();
    // A lock at the default name must not be picked up instead.
    std::fs::copy(
        fixtures().join("verify/cu112-t4.lock"),
        root.join("gpu-env.lock"),
    )
    .unwrap();
    let mut c = xtask!();
    c.current_dir(&root).args(["verify", "--no-python"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("locks/x.lock"), "{err}");
    assert!(err.contains("cargo xtask resolve"), "{err}");
}

#[test]
fn usage_says_cargo_xtask_and_commands_on_one_target_take_target_name() {
    for (command, name_flag) in [
        ("resolve", true),
        ("verify", true),
        ("doctor", true),
        ("install", true),
        ("check", false),
    ] {
        let mut c = xtask!();
        c.args([command, "--help"]);
        let (code, out, err) = run(c);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains(&format!("Usage: cargo xtask {command} ")),
            "{out}"
        );
        assert_eq!(out.contains("--target <"), name_flag, "{command}: {out}");
        assert!(!out.contains("--target-index"), "{out}");
        // Shared options share one help text.
        assert!(out.contains(gpu_env::cli::HELP_DB), "{command}: {out}");
        assert!(out.contains(gpu_env::cli::HELP_LOCK), "{command}: {out}");
    }
}
