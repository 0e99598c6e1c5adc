//! `cargo xtask e2e`: opt-in end-to-end tests of the generated Colab cell in
//! real venvs on this machine (downloads about 2 GB from PyPI; needs
//! python3 with venv). Not run by CI.
//!
//! - `cu112`: mxnet-cu112 1.9.1 + the nvidia-*-cu11 redists, on a replayed
//!   Colab T4 (a fake `nvidia-smi` first on PATH answers from
//!   tests/fixtures/runtimes/colab-t4.smi, so the cell's runtime checks run
//!   for real; no driver, no /proc file): the cell
//!   installs them (redists into their own --target dir), preloads every CUDA
//!   library and `import mxnet` stops only at `libcuda.so.1` (no driver here).
//! - `coexist`: README's main-job lock (`gpu-env.lock`, colab-2026.08:T4) in
//!   a venv holding Colab's CUDA 12 stack as PyPI has it (torch 2.10.0+cu128,
//!   the newest PyPI torch on cu12 wheels, with Colab's nvidia-nccl-cu12
//!   2.28.9 and nvidia-cudnn-cu12 9.19.0.56) and numpy 2.1.3, on the
//!   replayed T4: after the cell, `import torch; torch.randn(3).sum()` works,
//!   the shared sonames are mapped once, from Colab's wheels, `import mxnet`
//!   reached the libcuda.so.1 stop and `pip check` reports nothing about
//!   mxnet. Control: preloading the cu11 NCCL first breaks `import torch`.
//!   Downloads about 4 GB.
//! - `cpu`: the CPU `mxnet` 1.9.1 wheel with numpy 1.26.4: without the shim
//!   `import mxnet` fails; the cell's shim makes it pass, the check runs on
//!   the CPU, a second run in the same kernel is fast, and a kernel that
//!   already imported torch is refused.
//! - `d2l`: a local CPU lock with d2l 1.0.3 (e2e_d2l.rs), installed with
//!   `install`, trains the book's linear regression.

use gpu_env::config::Loaded;
use gpu_env::exit::NO as EXIT_NO;
use gpu_env::lock::Lock;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use crate::e2e_d2l::check;

const CU112_LOCK: &str = include_str!("../../tests/fixtures/emit/colab-cu112.lock");
const CPU_LOCK: &str = include_str!("../../tests/fixtures/emit/colab-cpu.lock");
/// README's main job writes this lock (colab-2026.08:T4).
const MAIN_LOCK: &str = include_str!("../../gpu-env.lock");
/// Colab's CUDA 12 stack as PyPI has it (colab-2026.08 preinstalls torch
/// 2.11.0+cu128 from PyTorch's index; PyPI's 2.11.0 is cu13, so 2.10.0).
const COLAB_CU12: &[&str] = &["torch==2.10.0", "numpy==2.1.3"];
const COLAB_CU12_NODEPS: &[&str] = &["nvidia-nccl-cu12==2.28.9", "nvidia-cudnn-cu12==9.19.0.56"];
/// What `nvidia-smi --query-gpu=name,compute_cap,driver_version` prints on a
/// Colab T4 runtime (leading `#` lines are the fixture's sources).
const T4_SMI: &str = include_str!("../../tests/fixtures/runtimes/colab-t4.smi");

#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct Args {
    /// Run only these cases (cu112, coexist, cpu, d2l); default: all.
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

fn run_py(py: &Path, args: &[&str], c: &Case) -> Out {
    let t = Instant::now();
    let mut cmd = Command::new(py);
    // No GPU_ENV_* from the caller's environment: the cell takes its real
    // path, with only the case's home and sysroot.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("GPU_ENV_") {
            cmd.env_remove(&k);
        }
    }
    cmd.args(args)
        .current_dir(&c.dir)
        .env("GPU_ENV_HOME", &c.home)
        .env("GPU_ENV_SYSROOT", &c.sysroot)
        .env("PYTHONUNBUFFERED", "1");
    if let Some(bin) = &c.fake_smi {
        // The fake nvidia-smi first; a real one further on is shadowed.
        let inherited = std::env::var_os("PATH").unwrap_or_default();
        let dirs = std::iter::once(bin.clone()).chain(std::env::split_paths(&inherited));
        if let Ok(path) = std::env::join_paths(dirs) {
            cmd.env("PATH", path);
        }
    }
    let out = cmd.output();
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

/// Write `<dir>/fake-bin/nvidia-smi`, a shell script that prints the data
/// lines of `fixture` (a tests/fixtures/runtimes/*.smi with a compute_cap
/// column) for the query the cell makes, and fails loudly on anything else.
fn fake_nvidia_smi(dir: &Path, fixture: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("fake-bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    let data: String = fixture
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    if data.is_empty() || fixture.lines().any(|l| l.trim() == "# no-compute-cap") {
        return Err("runtime fixture has no `name, compute_cap, driver_version` line".into());
    }
    let data_file = dir.join("nvidia-smi.out");
    std::fs::write(&data_file, data).map_err(|e| format!("{}: {e}", data_file.display()))?;
    let script = format!(
        "#!/bin/sh\n\
         # Fake nvidia-smi written by `cargo xtask e2e`: replays a tests/fixtures/runtimes fixture.\n\
         if [ \"$*\" = \"--query-gpu=name,compute_cap,driver_version --format=csv,noheader\" ]; then\n\
         \x20 cat '{}'; exit 0\n\
         fi\n\
         echo \"fake nvidia-smi: unsupported arguments: $*\" >&2\n\
         exit 9\n",
        data_file.display()
    );
    let exe = bin.join("nvidia-smi");
    std::fs::write(&exe, script).map_err(|e| format!("{}: {e}", exe.display()))?;
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    Ok(bin)
}

fn show(label: &str, o: &Out) {
    outln!("--- {label}: exit {} in {:.1} s", o.code, o.secs);
    for l in o.text.lines() {
        outln!("    {l}");
    }
}

struct Case {
    dir: PathBuf,
    venv_py: PathBuf,
    home: PathBuf,
    /// GPU_ENV_SYSROOT: empty, so no /proc/driver/nvidia/version.
    sysroot: PathBuf,
    /// Directory holding the fake nvidia-smi, put first on PATH.
    fake_smi: Option<PathBuf>,
    cell: PathBuf,
}

fn prepare(
    root: &Path,
    name: &str,
    lock_text: &str,
    smi: Option<&str>,
    python: &str,
) -> Result<Case, String> {
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
    outln!(
        "case {name}: lock sha256 {}, cell {}",
        lock.hash(),
        cell.display()
    );
    let sysroot = dir.join("sysroot");
    std::fs::create_dir_all(&sysroot).map_err(|e| format!("{}: {e}", sysroot.display()))?;
    let fake_smi = smi.map(|s| fake_nvidia_smi(&dir, s)).transpose()?;
    Ok(Case {
        venv_py: venv.join("bin/python"),
        home: dir.join("home"),
        sysroot,
        fake_smi,
        dir,
        cell,
    })
}

fn case_cu112(root: &Path, python: &str, f: &mut Vec<String>) -> Result<(), String> {
    let c = prepare(root, "cu112", CU112_LOCK, Some(T4_SMI), python)?;
    let cell = c.cell.to_string_lossy().into_owned();
    let first = run_py(&c.venv_py, &[&cell], &c);
    show("cu112 first run (install + preload + import)", &first);
    check(
        first
            .text
            .contains("target colab-e2e:T4 fits this runtime (GPU Tesla T4 (7.5)"),
        "the replayed Colab T4 passes the cell's runtime checks",
        f,
    );
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
    let second = run_py(&c.venv_py, &[&cell], &c);
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

fn pip_install(py: &Path, args: &[&str]) -> Result<(), String> {
    let st = Command::new(py)
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .args(args)
        .status()
        .map_err(|e| format!("pip install {}: {e}", args.join(" ")))?;
    st.success()
        .then_some(())
        .ok_or_else(|| format!("pip install {} failed", args.join(" ")))
}

/// Runs the cell, then what a notebook would run next: torch, and a look at
/// which files the shared sonames were mapped from.
const AFTER_CELL: &str = r#"
import sys
try:
    exec(open(sys.argv[1]).read())
except SystemExit as e:
    print("cell ended:", e)
import torch
print("torch", torch.__version__, "randn(3).sum() =", float(torch.randn(3).sum()))
maps = open("/proc/self/maps").read().splitlines()
for so in ("libnccl.so.2", "libcurand.so.10", "libcusolver.so.11", "libnvToolsExt.so.1", "libcudart.so.11.0"):
    print("mapped", so, sorted(set(l.split()[-1] for l in maps if l.endswith("/" + so))))
"#;

/// The old policy: the cu11 NCCL loaded first, then torch.
const CU11_FIRST: &str = r#"
import ctypes, glob, sys
ctypes.CDLL(glob.glob(sys.argv[1] + "/*/nvidia/nccl/lib/libnccl.so.2")[0], mode=ctypes.RTLD_GLOBAL)
import torch
"#;

fn case_coexist(root: &Path, python: &str, f: &mut Vec<String>) -> Result<(), String> {
    let c = prepare(root, "coexist", MAIN_LOCK, Some(T4_SMI), python)?;
    pip_install(&c.venv_py, COLAB_CU12)?;
    pip_install(&c.venv_py, &[&["--no-deps"], COLAB_CU12_NODEPS].concat())?;
    let cell = c.cell.to_string_lossy().into_owned();
    let out = run_py(&c.venv_py, &["-c", AFTER_CELL, &cell], &c);
    show("coexist: the cell, then torch", &out);
    check(
        out.text
            .contains("target colab-2026.08:T4 fits this runtime"),
        "the replayed T4 fits README's main-job lock",
        f,
    );
    check(
        out.text.contains("shared with the runtime: libcurand.so.10 (nvidia-curand-cu12 10.3.9.90), libcusolver.so.11 (nvidia-cusolver-cu12 11.7.3.90), libnvToolsExt.so.1 (nvidia-nvtx-cu12 12.8.90), libnccl.so.2 (nvidia-nccl-cu12 2.28.9)"),
        "curand, cusolver, nvtx and nccl come from the runtime's cu12 wheels",
        f,
    );
    check(
        out.text
            .contains("the NVIDIA driver (libcuda.so.1) is missing"),
        "import mxnet reached the libcuda.so.1 stop",
        f,
    );
    check(
        out.text.contains("randn(3).sum() ="),
        "import torch; torch.randn(3).sum() works after the cell",
        f,
    );
    let nccl = out
        .text
        .lines()
        .find(|l| l.starts_with("mapped libnccl.so.2"));
    check(
        nccl.is_some_and(|l| {
            l.contains("site-packages/nvidia/nccl/lib") && l.matches("libnccl").count() == 2
        }),
        "libnccl.so.2 is mapped once, from Colab's nvidia-nccl-cu12",
        f,
    );
    let pip = run_py(&c.venv_py, &["-m", "pip", "check"], &c);
    show("coexist: pip check", &pip);
    check(
        !pip.text.to_lowercase().contains("mxnet"),
        "pip check reports nothing about mxnet",
        f,
    );
    let home = c.home.to_string_lossy().into_owned();
    let control = run_py(&c.venv_py, &["-c", CU11_FIRST, &home], &c);
    show("coexist control: cu11 NCCL first, then torch", &control);
    check(
        control.code != 0 && control.text.contains("undefined symbol"),
        "control: with the cu11 NCCL loaded first, import torch fails (the policy is needed)",
        f,
    );
    Ok(())
}

fn case_cpu(root: &Path, python: &str, f: &mut Vec<String>) -> Result<(), String> {
    let c = prepare(root, "cpu", CPU_LOCK, None, python)?;
    let cell = c.cell.to_string_lossy().into_owned();
    let first = run_py(&c.venv_py, &[&cell], &c);
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
    let bare = run_py(&c.venv_py, &["-c", "import mxnet"], &c);
    show("cpu control: `import mxnet` without the shim", &bare);
    check(
        bare.code != 0 && bare.text.contains("has no attribute 'bool'"),
        "without the shim, import mxnet fails on numpy 1.26.4 (the shim is needed)",
        f,
    );
    let twice = format!("src = open({cell:?}).read(); exec(src); exec(src)");
    let same = run_py(&c.venv_py, &["-c", &twice], &c);
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
    let guarded = run_py(&c.venv_py, &["-c", &torch], &c);
    show("cpu: kernel that already imported torch", &guarded);
    check(
        guarded.code != 0 && guarded.text.contains("`torch` was imported in this kernel"),
        "refuses a kernel with torch imported, asks for a restart",
        f,
    );
    Ok(())
}

pub(crate) fn run(args: &Args, _db: Option<&Path>) -> gpu_env::cli::CliResult {
    let root = args.dir.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/gpu-env-e2e")
            .to_path_buf()
    });
    let all = ["cu112", "coexist", "cpu", "d2l"];
    for c in &args.cases {
        if !all.contains(&c.as_str()) {
            return Err(format!("unknown case `{c}` (cases: {})", all.join(", ")).into());
        }
    }
    let want = |c: &str| args.cases.is_empty() || args.cases.iter().any(|x| x == c);
    let mut failures = Vec::new();
    let t = Instant::now();
    for name in all.iter().copied().filter(|c| want(c)) {
        let r = match name {
            "cu112" => case_cu112(&root, &args.python, &mut failures),
            "coexist" => case_coexist(&root, &args.python, &mut failures),
            "d2l" => crate::e2e_d2l::case_d2l(&root, &args.python, &mut failures),
            _ => case_cpu(&root, &args.python, &mut failures),
        };
        r.map_err(|e| format!("case {name}: {e}"))?;
    }
    if failures.is_empty() {
        outln!(
            "e2e: all checks passed in {:.0} s",
            t.elapsed().as_secs_f64()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        outln!(
            "e2e: {} check(s) failed: {}",
            failures.len(),
            failures.join("; ")
        );
        Ok(ExitCode::from(EXIT_NO))
    }
}
