//! One lock contract: on the same environment the setup cell says OK if and
//! only if `verify`'s Python layer passes if and only if `doctor` reports no
//! error. Proven on a CPU lock (tests/fixtures/emit/colab-cpu.lock: mxnet
//! 1.9.1 with numpy 1.26.4 and the `numpy.bool` shim) in a real venv the
//! cell sets up from PyPI (about 70 MB, downloaded by pip); GPU-only parts
//! are not involved.

use gpu_env::config::Loaded;
use gpu_env::lock::Lock;
use gpu_env_tests::{fixtures, run, xtask};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    py: PathBuf,
    lock: PathBuf,
    cell: PathBuf,
}

fn setup() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let lock = dir.join("gpu-env.lock");
    std::fs::copy(fixtures().join("emit/colab-cpu.lock"), &lock).unwrap();
    let parsed = Lock::read(&lock).unwrap();
    let loaded = Loaded {
        root: dir.clone(),
        ..Default::default()
    };
    let db = gpu_env::db::Db::embedded().unwrap();
    for (p, text) in gpu_env::emit::render_colab(&db, &loaded, &lock, &parsed).unwrap() {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let st = Command::new("python3")
        .args(["-m", "venv"])
        .arg(dir.join("venv"))
        .status()
        .unwrap();
    assert!(st.success(), "python3 -m venv");
    let py = dir.join("venv/bin/python");
    // Colab ships requests; MXNet imports it.
    pip(&py, &["requests"]);
    let cell = loaded.path(&loaded.config.output.colab_cell);
    Env {
        _tmp: tmp,
        dir,
        py,
        lock,
        cell,
    }
}

fn pip(py: &Path, args: &[&str]) {
    let st = Command::new(py)
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .args(args)
        .status()
        .unwrap();
    assert!(st.success(), "pip install {args:?}");
}

fn with_env(mut c: Command, e: &Env) -> Command {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("GPU_ENV_") {
            c.env_remove(&k);
        }
    }
    c.current_dir(&e.dir)
        .env("GPU_ENV_HOME", e.dir.join("home"));
    c
}

/// (cell OK, verify's python layer passed, doctor found no error), with
/// the three outputs for messages.
fn verdicts(e: &Env) -> (bool, bool, bool, String) {
    let mut cell = Command::new(&e.py);
    cell.arg(&e.cell);
    let (_, c_out, c_err) = run(with_env(cell, e));
    let (verify_ok, doctor_ok, judged) = judges(e);
    let text = format!("cell:\n{c_out}{c_err}\n{judged}");
    let cell_ok = c_out.contains("gpu-env: OK mxnet 1.9.1");
    (cell_ok, verify_ok, doctor_ok, text)
}

/// Verify and doctor alone (the cell would repair the environment).
fn judges(e: &Env) -> (bool, bool, String) {
    let mut verify = xtask!();
    verify
        .args(["verify", "--lock"])
        .arg(&e.lock)
        .arg("--python")
        .arg(&e.py);
    let (v_code, v_out, v_err) = run(with_env(verify, e));
    let mut doctor = xtask!();
    doctor
        .args(["doctor", "--lock"])
        .arg(&e.lock)
        .arg("--python")
        .arg(&e.py);
    let (d_code, d_out, d_err) = run(with_env(doctor, e));
    let text = format!("verify:\n{v_out}{v_err}\ndoctor:\n{d_out}{d_err}");
    (
        v_code == 0 && v_out.contains("PASS python"),
        d_code == 0 && !d_out.contains("ERROR"),
        text,
    )
}

#[test]
fn cell_verify_and_doctor_agree_on_a_cpu_lock() {
    let e = setup();
    // Set up by the cell: all three say yes.
    let (cell, verify, doctor, text) = verdicts(&e);
    assert!(cell && verify && doctor, "{text}");
    assert!(
        text.contains("the lock's shim fixes it: numpy.bool = bool"),
        "{text}"
    );
    // A numpy the lock does not pin: both judges say no, with the same words.
    pip(&e.py, &["numpy==1.25.2"]);
    let (verify, doctor, text) = judges(&e);
    assert!(!verify && !doctor, "{text}");
    assert_eq!(
        text.matches("numpy 1.25.2 is installed; the lock has 1.26.4")
            .count(),
        2,
        "{text}"
    );
    // The cell repairs it; then all three say yes again.
    let (cell, verify, doctor, text) = verdicts(&e);
    assert!(cell && verify && doctor, "{text}");
}

/// A local CPU lock installs into a fresh venv with one command, and a plain
/// `python -c "import mxnet"` works there with no other step; doctor then
/// reports no error. (This machine has CPython 3.11 only; the lock is made
/// for the interpreter at hand.)
#[test]
fn local_cpu_lock_installs_with_one_command() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
    let st = Command::new("python3")
        .args(["-m", "venv"])
        .arg(dir.join("venv"))
        .status()
        .unwrap();
    assert!(st.success(), "python3 -m venv");
    let py = dir.join("venv/bin/python");
    let cmd = |args: &[&str]| {
        let mut c = xtask!();
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("GPU_ENV_") {
                c.env_remove(&k);
            }
        }
        c.current_dir(dir).args(args);
        run(c)
    };
    let py_s = py.to_string_lossy().into_owned();
    let (code, out, err) = cmd(&[
        "resolve",
        "--offline",
        "--target",
        "local",
        "--no-gpu",
        "--python",
        &py_s,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = cmd(&["install", "--python", &py_s]);
    assert_eq!(code, 0, "{out}{err}");
    let o = Command::new(&py)
        .args([
            "-c",
            "import mxnet; print(mxnet.nd.ones((2,3)).sum().asscalar())",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{text}");
    assert!(text.contains("6.0"), "{text}");
    let (code, out, err) = cmd(&["doctor", "--python", &py_s]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("ERROR"), "{out}");
}
