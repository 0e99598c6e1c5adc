//! `cargo xtask e2e --case d2l`: a local CPU lock with d2l 1.0.3 as a
//! companion (docs/companions.md), installed into a fresh venv by
//! `cargo xtask install`, then the book's concise linear regression
//! (scripts/companions/check_d2l.py: `d2l.SyntheticRegressionData`,
//! `d2l.LinearRegression(lr=0.03)`, `d2l.Trainer(max_epochs=3).fit`,
//! MPLBACKEND=Agg) must learn weights within 0.5 of the true ones
//! (untrained they are 2, 3.4 and 4.2 away). Then `check` must find the
//! lock current. The venv's Python is `--python` (e.g. pyenv's 3.13.0);
//! its version must have a measured set in compat-db/companions/d2l.toml.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The check the measurements ran, shared with the e2e.
const CHECK: &str = include_str!("../../scripts/companions/check_d2l.py");

fn run(cmd: &mut Command, what: &str) -> Result<(i32, String, f64), String> {
    let t = Instant::now();
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("GPU_ENV_") {
            cmd.env_remove(&k);
        }
    }
    let o = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    outln!("  $ {what}  ({:.1} s)", t.elapsed().as_secs_f64());
    for line in text.lines() {
        outln!("    | {line}");
    }
    Ok((
        o.status.code().unwrap_or(-1),
        text,
        t.elapsed().as_secs_f64(),
    ))
}

pub(crate) fn case_d2l(root: &Path, python: &str, f: &mut Vec<String>) -> Result<(), String> {
    let dir = root.join("d2l");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // A repo of its own whose config asks for the companion.
    let manifest = "[workspace]\n\n[workspace.metadata.gpu-env]\ntargets = [\"local\"]\ncompanions = [\"d2l==1.0.3\"]\n";
    std::fs::write(dir.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("check_d2l.py"), CHECK).map_err(|e| e.to_string())?;
    let venv = dir.join("venv");
    let (code, _, _) = run(
        Command::new(python).args(["-m", "venv"]).arg(&venv),
        &format!("{python} -m venv venv"),
    )?;
    if code != 0 {
        return Err(format!("{python} -m venv failed"));
    }
    let py: PathBuf = venv.join("bin/python");
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let xtask = |args: &[&str]| {
        let mut c = Command::new(&me);
        c.args(args).current_dir(&dir);
        c
    };
    let py_s = py.to_string_lossy().into_owned();
    let (code, text, _) = run(
        &mut xtask(&["resolve", "--no-gpu", "--python", &py_s]),
        "cargo xtask resolve --no-gpu --python venv/bin/python  (companions = [\"d2l==1.0.3\"])",
    )?;
    check(code == 0, "resolve locks the stack with d2l 1.0.3", f);
    check(
        text.contains("companion     d2l 1.0.3")
            && text.contains("override    numpy (==1.23.5) ->"),
        "resolve shows the companion and the numpy override",
        f,
    );
    if code != 0 {
        return Ok(());
    }
    let (code, text, secs) = run(
        &mut xtask(&["install", "--python", &py_s]),
        "cargo xtask install --python venv/bin/python",
    )?;
    check(
        code == 0 && text.contains("installed"),
        &format!("install puts the lock with d2l into the venv ({secs:.0} s)"),
        f,
    );
    let (code, text, secs) = run(
        Command::new(&py)
            .arg("check_d2l.py")
            .current_dir(&dir)
            .env("MPLBACKEND", "Agg"),
        "MPLBACKEND=Agg venv/bin/python check_d2l.py  (no shims passed: the install hook applies them)",
    )?;
    // d2l's progress board clears the terminal line first (`ESC[2K`).
    let line = text
        .lines()
        .rev()
        .find_map(|l| l.find("{\"ok\"").map(|i| &l[i..]))
        .unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
    let close = v["ok"] == serde_json::Value::Bool(true);
    check(
        code == 0 && close && v["d2l"] == "1.0.3",
        &format!(
            "d2l 1.0.3 trains the book's linear regression: w error {}, b error {} ({secs:.0} s)",
            v["w_error"], v["b_error"]
        ),
        f,
    );
    let (code, _, _) = run(&mut xtask(&["check"]), "cargo xtask check")?;
    check(
        code == 0,
        "check: the lock with its companion is current",
        f,
    );
    Ok(())
}

/// Print one end-to-end check and record it when it failed.
pub(crate) fn check(ok: bool, what: &str, failures: &mut Vec<String>) {
    outln!("    [{}] {what}", if ok { "ok" } else { "FAIL" });
    if !ok {
        failures.push(what.to_string());
    }
}
