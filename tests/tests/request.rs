//! The config is the request: a lock made with a target, fact or
//! constraint the config does not give fails `check`, which names each flag
//! and prints the config lines that record it; following those lines
//! literally (write them into Cargo.toml, run `cargo xtask resolve` with no
//! flags) gives a lock that passes. All on the embedded compat-db and the
//! real CLI, no bypass.

use gpu_env_tests::{run, xtask};
use std::path::Path;

fn repo(config: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("Cargo.toml"),
        format!("[workspace]\n\n{config}"),
    )
    .unwrap();
    tmp
}

fn cmd(root: &Path, args: &[&str]) -> (i32, String, String) {
    let mut c = xtask!();
    c.current_dir(root).args(args);
    run(c)
}

/// The lines check prints between "then run `cargo xtask resolve`:" and
/// "or drop it", without their indentation.
fn printed_config_lines(err: &str) -> String {
    let start = err
        .find("then run `cargo xtask resolve`:\n")
        .unwrap_or_else(|| panic!("no config lines in:\n{err}"));
    let rest = &err[start..];
    let body = &rest[rest.find('\n').unwrap() + 1..rest.find("or drop it").unwrap()];
    body.lines()
        .map(|l| l.strip_prefix("    ").expect("indented line"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Resolve with `flags`; check fails naming `typed` (each flag as typed)
/// and `targets_line` when the target list differs; the printed lines,
/// written into the config, make a plain resolve pass check.
fn flags_fail_check_until_recorded(config: &str, flags: &[&str], typed: &[&str]) {
    let r = repo(config);
    let mut args = vec!["resolve", "--offline"];
    args.extend(flags);
    let (code, out, err) = cmd(r.path(), &args);
    assert_eq!(code, 0, "{out}{err}");
    // resolve says so when it writes the lock.
    assert!(err.contains("note: gpu-env.lock "), "{err}");
    let (code, out, err) = cmd(r.path(), &["check"]);
    assert_eq!(
        code, 1,
        "check passed a lock made with {flags:?}:\n{out}{err}"
    );
    assert!(err.contains("not in config: gpu-env.lock") || err.contains("config changed:"));
    for t in typed {
        assert!(err.contains(t), "check does not name `{t}`:\n{err}");
    }
    assert!(
        err.contains("or drop it: run `cargo xtask resolve` with no flags"),
        "{err}"
    );
    // The first way out, followed literally.
    let lines = printed_config_lines(&err);
    std::fs::write(
        r.path().join("Cargo.toml"),
        format!("[workspace]\n\n{lines}"),
    )
    .unwrap();
    let (code, out, err) = cmd(r.path(), &["resolve", "--offline"]);
    assert_eq!(code, 0, "{lines}\n{out}{err}");
    assert!(!err.contains("note: gpu-env.lock"), "{err}");
    let (code, out, err) = cmd(r.path(), &["check"]);
    assert_eq!(code, 0, "config:\n{lines}\n{out}{err}");
}

#[test]
fn another_gpu_and_driver_on_colab_fail_check_with_the_lines_to_add() {
    flags_fail_check_until_recorded(
        "[workspace.metadata.gpu-env]\ntargets = [\"colab\"]\n",
        &["--target", "colab:A100", "--driver", "580.82.07"],
        &[
            "`--driver 580.82.07`",
            "locks targets [colab:A100] but the config asks for [colab]",
        ],
    );
}

#[test]
fn no_gpu_on_a_local_config_fails_check() {
    flags_fail_check_until_recorded(
        "[workspace.metadata.gpu-env]\ntargets = [\"local\"]\n",
        &["--target", "local", "--no-gpu"],
        &["target `local` was locked with `--no-gpu`"],
    );
}

#[test]
fn a_python_version_on_a_notebook_target_fails_check() {
    flags_fail_check_until_recorded(
        "[workspace.metadata.gpu-env]\ntargets = [\"colab\"]\n",
        &["--python-version", "3.12"],
        &["target `colab` was locked with `--python-version 3.12`"],
    );
}

#[test]
fn an_override_variable_fails_check_as_typed() {
    let r = repo("[workspace.metadata.gpu-env]\ntargets = [\"colab\"]\n");
    let mut c = xtask!();
    c.current_dir(r.path())
        .args(["resolve", "--offline"])
        .env("GPU_ENV_OVERRIDE_PYTHON", "3.12");
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = cmd(r.path(), &["check"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("`GPU_ENV_OVERRIDE_PYTHON=3.12`"), "{err}");
    assert!(err.contains("python-version = \"3.12\""), "{err}");
}

#[test]
fn empty_targets_is_an_error_at_its_line() {
    let r = repo("[workspace.metadata.gpu-env]\n# none yet\ntargets = []\n");
    let (code, out, err) = cmd(r.path(), &["resolve", "--offline", "--dry-run"]);
    assert_eq!(code, 2, "{out}{err}");
    let manifest = r.path().join("Cargo.toml");
    assert!(
        err.contains(&format!(
            "{}:5: [workspace.metadata.gpu-env]: targets is empty",
            manifest.display()
        )),
        "{err}"
    );
    assert!(!r.path().join("gpu-env.lock").exists());
}

/// Two local interpreters in one repo: a `[[target]]` table per Python
/// version; both lock, and the lock is the config's answer.
#[test]
fn two_local_interpreters_lock_and_check() {
    let r = repo(
        "[[workspace.metadata.gpu-env.target]]\nspec = \"local\"\npython-version = \"3.11\"\n\n\
         [[workspace.metadata.gpu-env.target]]\nspec = \"local\"\npython-version = \"3.13\"\n",
    );
    let (code, out, err) = cmd(r.path(), &["resolve", "--offline"]);
    assert_eq!(code, 0, "{out}{err}");
    let lock = gpu_env::lock::Lock::read(&r.path().join("gpu-env.lock")).unwrap();
    let pythons: Vec<&str> = lock
        .target
        .iter()
        .filter_map(|t| t.fact_value("python"))
        .collect();
    assert_eq!(pythons, ["3.11", "3.13"]);
    let (code, out, err) = cmd(r.path(), &["check"]);
    assert_eq!(code, 0, "{out}{err}");
}
