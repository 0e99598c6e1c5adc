//! `cargo xtask e2e`: opt-in end-to-end tests of the generated Colab cell in
//! real venvs on this machine (downloads about 2 GB from PyPI; needs
//! python3 with venv). Not run by CI.
//!
//! - `cu112`: mxnet-cu112 1.9.1 + the nvidia-*-cu11 redists: the cell
//!   installs them (redists into their own --target dir), preloads every CUDA
//!   library and `import mxnet` stops only at `libcuda.so.1` (no driver here).
//! - `cpu`: the CPU `mxnet` 1.9.1 wheel with numpy 1.26.4: without the shim
//!   `import mxnet` fails; the cell's shim makes it pass, the check runs on
//!   the CPU, a second run in the same kernel is fast, and a kernel that
//!   already imported torch is refused.

use crate::cli::{EXIT_ERROR, EXIT_NO};
use gpu_env::config::Loaded;
use gpu_env::lock::Lock;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

const CU112_LOCK: &str = include_str!("../../tests/fixtures/emit/colab-cu112.lock");
const CPU_LOCK: &str = include_str!("../../tests/fixtures/emit/colab-cpu.lock");

#[derive(clap::Args, Debug, Clone, Default)]
pub struct Args {
    /// Run only these cases (cu112, cpu); default: all.
    #[arg(long = "case", value_name = "CASE")]
    pub cases: Vec<String>,
    /// Work directory (default: target/gpu-env-e2e in this workspace).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Python used to create the venvs.
    #[arg(long, default_value = "python3")]
    pub python: String,
}

struct Out {
    code: i32,
    text: String,
    secs: f64,
}

fn run_py(py: &Path, args: &[&str], home: &Path, cwd: &Path) -> Out {
    let t = Instant::now();
    let out = Command::new(py)
        .args(args)
        .current_dir(cwd)
        .env("GPU_ENV_ALLOW_NON_COLAB", "1")
        .env("GPU_ENV_HOME", home)
        .env("PYTHONUNBUFFERED", "1")
        .env_remove("GPU_ENV_LOADED")
        .output();
    match out {
        Ok(o) => Out {
            code: o.status.code().unwrap_or(-1),
            text: format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            secs: t.elapsed().as_secs_f64(),
        },
        Err(e) => Out {
            code: -1,
            text: format!("cannot run {}: {e}", py.display()),
            secs: 0.0,
        },
    }
}

fn show(label: &str, o: &Out) {
    println!("--- {label}: exit {} in {:.1} s", o.code, o.secs);
    for l in o.text.lines() {
        println!("    {l}");
    }
}

struct Case {
    dir: PathBuf,
    venv_py: PathBuf,
    home: PathBuf,
    cell: PathBuf,
}

fn prepare(root: &Path, name: &str, lock_text: &str, python: &str) -> Result<Case, String> {
    let dir = root.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let lock = Lock::parse(name, lock_text).map_err(|e| e.to_string())?;
    let loaded = Loaded {
        root: dir.clone(),
        ..Default::default()
    };
    let db = gpu_env::db::Db::embedded().map_err(|e| e.to_string())?;
    let outputs = gpu_env::emit::render_colab(&db, &loaded, &dir.join("gpu-env.lock"), &lock)
        .map_err(|e| e.to_string())?;
    for (p, text) in &outputs {
        gpu_env::fsutil::write_atomic(p, text.as_bytes()).map_err(|e| e.to_string())?;
    }
    let cell = loaded.path(&loaded.config.output.colab_cell);
    let venv = dir.join("venv");
    let st = Command::new(python)
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .map_err(|e| format!("{python} -m venv: {e}"))?;
    if !st.success() {
        return Err(format!("{python} -m venv {} failed", venv.display()));
    }
    // Colab ships `requests` (an mxnet Requires-Dist the lock leaves to the
    // runtime); a bare venv does not.
    let st = Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "requests",
        ])
        .status()
        .map_err(|e| format!("pip install requests: {e}"))?;
    if !st.success() {
        return Err("pip install requests (as preinstalled on Colab) failed".into());
    }
    println!(
        "case {name}: lock sha256 {}, cell {}",
        lock.hash(),
        cell.display()
    );
    Ok(Case {
        venv_py: venv.join("bin/python"),
        home: dir.join("home"),
        dir,
        cell,
    })
}

fn check(ok: bool, what: &str, failures: &mut Vec<String>) {
    println!("    [{}] {what}", if ok { "ok" } else { "FAIL" });
    if !ok {
        failures.push(what.to_string());
    }
}

fn case_cu112(root: &Path, python: &str, f: &mut Vec<String>) -> Result<(), String> {
    let c = prepare(root, "cu112", CU112_LOCK, python)?;
    let cell = c.cell.to_string_lossy().into_owned();
    let first = run_py(&c.venv_py, &[&cell], &c.home, &c.dir);
    show("cu112 first run (install + preload + import)", &first);
    check(
        first.code != 0,
        "import mxnet cannot succeed without a driver",
        f,
    );
    check(
        first.text.contains("installing 12 locked files"),
        "installs the 12 locked files",
        f,
    );
    check(
        first.text.contains("preloaded") && !first.text.contains("cannot load"),
        "every required CUDA library preloaded",
        f,
    );
    check(
        first.text.contains(
            "every locked CUDA library loaded, but the NVIDIA driver (libcuda.so.1) is missing",
        ),
        "import mxnet stops only at libcuda.so.1",
        f,
    );
    let sonames = [
        "libcudart.so.11.0",
        "libnvrtc.so.11.2",
        "libcublas.so.11",
        "libcufft.so.10",
        "libcurand.so.10",
        "libcusolver.so.11",
        "libcudnn.so.8",
        "libnccl.so.2",
        "libnvToolsExt.so.1",
    ];
    let missing: Vec<&str> = sonames
        .iter()
        .copied()
        .filter(|s| first.text.contains(&format!("{s}: cannot open")))
        .collect();
    check(missing.is_empty(), "no CUDA library reported missing", f);
    let site_nvidia = std::fs::read_dir(c.dir.join("venv/lib"))
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.path().join("site-packages/nvidia"));
    check(
        site_nvidia.is_some_and(|p| !p.exists()),
        "redists went to their own --target dir, not site-packages/nvidia",
        f,
    );
    let second = run_py(&c.venv_py, &[&cell], &c.home, &c.dir);
    show("cu112 second run (new process)", &second);
    check(
        second.text.contains("locked files already installed")
            && !second.text.contains("installing"),
        "second run skips the install",
        f,
    );
    check(
        second.text.contains("libcuda.so.1"),
        "second run reaches the same libcuda.so.1 stop",
        f,
    );
    Ok(())
}

fn case_cpu(root: &Path, python: &str, f: &mut Vec<String>) -> Result<(), String> {
    let c = prepare(root, "cpu", CPU_LOCK, python)?;
    let cell = c.cell.to_string_lossy().into_owned();
    let first = run_py(&c.venv_py, &[&cell], &c.home, &c.dir);
    show("cpu first run", &first);
    check(first.code == 0, "cell succeeds", f);
    check(
        first.text.contains("shim: numpy.bool = bool"),
        "numpy shim applied",
        f,
    );
    check(
        first
            .text
            .contains("gpu-env: OK mxnet 1.9.1 (import 1.9.1) works on CPU"),
        "verdict line OK",
        f,
    );
    let bare = run_py(&c.venv_py, &["-c", "import mxnet"], &c.home, &c.dir);
    show("cpu control: `import mxnet` without the shim", &bare);
    check(
        bare.code != 0 && bare.text.contains("has no attribute 'bool'"),
        "without the shim, import mxnet fails on numpy 1.26.4 (the shim is needed)",
        f,
    );
    let twice = format!("src = open({cell:?}).read(); exec(src); exec(src)");
    let same = run_py(&c.venv_py, &["-c", &twice], &c.home, &c.dir);
    show("cpu: two runs in one kernel", &same);
    check(
        same.code == 0
            && same.text.contains("locked files already installed")
            && same.text.contains("already set up in this kernel"),
        "idempotent: second run skips install and import",
        f,
    );
    let torch =
        format!("import sys, types; sys.modules['torch'] = types.ModuleType('torch'); exec(open({cell:?}).read())");
    let guarded = run_py(&c.venv_py, &["-c", &torch], &c.home, &c.dir);
    show("cpu: kernel that already imported torch", &guarded);
    check(
        guarded.code != 0 && guarded.text.contains("`torch` was imported in this kernel"),
        "refuses a kernel with torch imported, asks for a restart",
        f,
    );
    Ok(())
}

pub fn run(args: &Args, _db: Option<&Path>) -> ExitCode {
    let root = args.dir.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/gpu-env-e2e")
            .to_path_buf()
    });
    let all = ["cu112", "cpu"];
    for c in &args.cases {
        if !all.contains(&c.as_str()) {
            eprintln!("error: unknown case `{c}` (cases: {})", all.join(", "));
            return ExitCode::from(EXIT_ERROR);
        }
    }
    let want = |c: &str| args.cases.is_empty() || args.cases.iter().any(|x| x == c);
    let mut failures = Vec::new();
    let t = Instant::now();
    for name in all.iter().copied().filter(|c| want(c)) {
        let r = match name {
            "cu112" => case_cu112(&root, &args.python, &mut failures),
            _ => case_cpu(&root, &args.python, &mut failures),
        };
        if let Err(e) = r {
            eprintln!("error: case {name}: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    }
    if failures.is_empty() {
        println!(
            "e2e: all checks passed in {:.0} s",
            t.elapsed().as_secs_f64()
        );
        ExitCode::SUCCESS
    } else {
        println!(
            "e2e: {} check(s) failed: {}",
            failures.len(),
            failures.join("; ")
        );
        ExitCode::from(EXIT_NO)
    }
}
