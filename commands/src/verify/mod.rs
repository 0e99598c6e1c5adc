//! `verify`: prove a locked stack on this machine, layer by layer (docs/verify.md).
//!
//! 1. driver ([`driver`]): libcuda loads, the driver meets the lock's floor,
//!    the devices are listed;
//! 2. kernel ([`kernel`]): NVRTC compiles saxpy for the device, the driver
//!    loads it, it runs and the numbers are right;
//! 3. gpu_code ([`gpu_code`]): the lock's rule says which of the wheel's
//!    images each device uses (the cell applies the same rule); that image
//!    is compiled with NVRTC and loaded, so "no kernel image is available"
//!    shows up here instead of inside MXNet;
//! 4. libraries ([`libraries`]): every soname the wheel needs resolves like
//!    the dynamic loader (plus the preload dirs the setup uses) and dlopens;
//!    cuDNN reports the locked version;
//! 5. python ([`python`]): `import mxnet`, `num_gpus() > 0`, one op on `mx.gpu()`.
//!
//! The device layers run whenever the driver lists devices, also when the
//! driver layer failed on the lock's floor: a kernel that runs is a fact
//! either way. Never panics on a machine without a driver or GPU: each layer
//! runs under `catch_unwind`, and libcuda's presence is checked first.

mod driver;
mod gpu_code;
mod kernel;
mod libraries;
mod python;

pub use python::{import_with_lock, mismatch_text};

use crate::db::Db;
use crate::exit;
use crate::host::cuda::{self, Device, DriverError, DriverInfo};
use crate::host::nvrtc;
use crate::lock::{Lock, LockedTarget};
use serde::Serialize;
use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// JSON schema version of [`Report`].
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Layer {
    /// `driver`, `kernel`, `gpu_code`, `libraries`, `python`.
    pub name: &'static str,
    pub status: Status,
    /// Wall time of the layer in milliseconds.
    pub ms: f64,
    /// One line: why it passed, failed or was skipped.
    pub reason: String,
    /// What was checked, one line each.
    pub details: Vec<String>,
    /// Machine-readable facts of the layer (paths, versions, timings).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub data: serde_json::Map<String, serde_json::Value>,
}

impl Layer {
    pub(crate) fn new(name: &'static str) -> Self {
        Layer {
            name,
            status: Status::Pass,
            ms: 0.0,
            reason: String::new(),
            details: vec![],
            data: serde_json::Map::new(),
        }
    }
    pub(crate) fn skip(name: &'static str, reason: impl Into<String>) -> Self {
        Layer {
            status: Status::Skip,
            reason: reason.into(),
            ..Layer::new(name)
        }
    }
    pub(crate) fn fail(mut self, reason: impl Into<String>) -> Self {
        self.status = Status::Fail;
        self.reason = reason.into();
        self
    }
    pub(crate) fn set(&mut self, k: &str, v: impl Serialize) {
        self.data
            .insert(k.into(), serde_json::to_value(v).unwrap_or_default());
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub lock: String,
    pub target: String,
    pub target_index: usize,
    pub mxnet: String,
    /// Set when there is no driver or no GPU (the device layers were skipped).
    pub no_device: Option<String>,
    pub layers: Vec<Layer>,
    pub exit_code: u8,
    pub elapsed_ms: f64,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Interpreter for the python layer (default python3 on PATH).
    pub python: Option<PathBuf>,
    /// Extra directory holding the lock's redistributables (default:
    /// `$GPU_ENV_HOME`, `/content/gpu-env-redist`, `~/.cache/gpu-env-redist`,
    /// each `/<lock sha256[:16]>`, as the emitted setup cell installs them).
    pub redist_dir: Option<PathBuf>,
    /// Per external command (ldconfig, python); zero: 120 s for python, 10 s otherwise.
    pub timeout: Duration,
    /// Directories searched for NVRTC before the defaults (tests, odd installs).
    pub nvrtc_dirs: Vec<PathBuf>,
    /// Skip the python layer.
    pub no_python: bool,
    /// The lock as the user named it (`--lock`), for the commands verify
    /// prints; None: the default lock.
    pub lock_path: Option<PathBuf>,
    /// The config's setup cell as shown, for the advice (None: default).
    pub cell: Option<PathBuf>,
}

fn ms(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1e5).round() / 100.0
}

/// Run `f`, turning a panic into a failed layer; time it.
fn timed(name: &'static str, f: impl FnOnce() -> Layer) -> Layer {
    let t = Instant::now();
    let mut l = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(l) => l,
        Err(p) => Layer::new(name).fail(format!(
            "internal error (panic): {}",
            crate::host::panic_message(p.as_ref())
        )),
    };
    l.ms = ms(t);
    l
}

/// What the layers share: the locked target, the interpreter, NVRTC (found
/// once for the kernel and gpu_code layers) and the limits.
struct Ctx<'a> {
    lock: &'a Lock,
    index: usize,
    t: &'a LockedTarget,
    db: &'a Db,
    opts: &'a Options,
    python: Option<PathBuf>,
    site: Vec<PathBuf>,
    /// Per external command other than python (ldconfig, site query).
    short_timeout: Duration,
    py_timeout: Duration,
    nvrtc_dirs: Vec<PathBuf>,
    nvrtc: OnceCell<Result<nvrtc::Nvrtc, nvrtc::NvrtcNotFound>>,
}

impl<'a> Ctx<'a> {
    fn new(lock: &'a Lock, index: usize, db: &'a Db, opts: &'a Options) -> Self {
        let or = |d: u64| {
            if opts.timeout.is_zero() {
                Duration::from_secs(d)
            } else {
                opts.timeout
            }
        };
        let short_timeout = or(10);
        let python = crate::host::python_or_path(opts.python.as_deref());
        let site = python
            .as_ref()
            .and_then(|p| crate::host::python::site_packages(p, short_timeout).ok())
            .unwrap_or_default();
        let env = crate::probe::Env::new(&crate::probe::ProbeOptions::default());
        let tk_dirs: Vec<PathBuf> = crate::probe::toolkit::candidates(&env)
            .into_iter()
            .flat_map(|t| t.lib_dirs)
            .collect();
        let mut nvrtc_dirs = opts.nvrtc_dirs.clone();
        nvrtc_dirs.extend(nvrtc::search_dirs(&tk_dirs, &site));
        Ctx {
            lock,
            index,
            t: &lock.target[index],
            db,
            opts,
            python,
            site,
            short_timeout,
            py_timeout: or(120),
            nvrtc_dirs,
            nvrtc: OnceCell::new(),
        }
    }

    fn nvrtc(&self) -> &Result<nvrtc::Nvrtc, nvrtc::NvrtcNotFound> {
        self.nvrtc
            .get_or_init(|| nvrtc::Nvrtc::find(&self.nvrtc_dirs))
    }
}

/// The devices to run on, or why there are none.
fn devices(driver: &Result<DriverInfo, DriverError>) -> Result<Vec<Device>, DriverError> {
    match driver {
        Ok(info) => info.usable_devices().map(<[Device]>::to_vec),
        Err(e) => Err(e.clone()),
    }
}

/// Verify target `index` of `lock` on this machine.
pub fn verify(lock: &Lock, lock_path: &str, index: usize, db: &Db, opts: &Options) -> Report {
    let start = Instant::now();
    let cx = Ctx::new(lock, index, db, opts);
    let mut info = Err(DriverError::NoLibrary);
    let mut layers = vec![timed("driver", || {
        info = cuda::query();
        driver::layer(cx.t, &info)
    })];
    let devices = devices(&info);
    // No driver, or a driver without GPUs: what exit status 3 reports.
    let no_device = match &devices {
        Err(e) if e.no_driver() || *e == DriverError::NoDevice => Some(e.to_string()),
        _ => None,
    };
    match &devices {
        Ok(d) => {
            layers.push(timed("kernel", || kernel::layer(&cx, d)));
            layers.push(timed("gpu_code", || gpu_code::layer(&cx, d)));
        }
        Err(e) => {
            let why = |what: &str| format!("{what}: {e}");
            layers.push(Layer::skip("kernel", why("no device to run a kernel on")));
            layers.push(Layer::skip(
                "gpu_code",
                why("no device to load the wheel's code on"),
            ));
        }
    }
    let no_driver = matches!(&devices, Err(e) if e.no_driver());
    layers.push(timed("libraries", || libraries::layer(&cx, no_driver)));
    let gpu_build = cx.t.mxnet.cuda.is_some();
    layers.push(match &devices {
        _ if opts.no_python => Layer::skip("python", "--no-python"),
        Err(e) if gpu_build => Layer::skip("python", format!("mx.gpu() needs a GPU: {e}")),
        _ => timed("python", || python::layer(&cx)),
    });
    let any_fail = layers.iter().any(|l| l.status == Status::Fail);
    // A CPU build needs no device: its verdict is the other layers'.
    let exit_code = if no_device.is_some() && gpu_build {
        exit::NO_DEVICE
    } else if any_fail {
        exit::NO
    } else {
        exit::OK
    };
    let t = cx.t;
    Report {
        schema: SCHEMA,
        lock: lock_path.to_string(),
        target: t.name.clone(),
        target_index: index,
        mxnet: format!(
            "{} {} ({})",
            t.mxnet.package, t.mxnet.version, t.mxnet.filename
        ),
        no_device,
        layers,
        exit_code,
        elapsed_ms: ms(start),
    }
}

/// Where the emitted setup installs the lock's `redist` packages.
pub fn redist_dirs(lock: &Lock, explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(d) = explicit {
        return vec![d.to_path_buf()];
    }
    let short: String = lock.hash().chars().take(16).collect();
    let mut bases = Vec::new();
    if let Ok(h) = std::env::var("GPU_ENV_HOME") {
        if !h.is_empty() {
            bases.push(PathBuf::from(h));
        }
    }
    // The cell's install bases, in its order (emit/cell.py `_gpu_env_base`).
    bases.push(PathBuf::from("/content/gpu-env-redist"));
    bases.push(PathBuf::from("/kaggle/working/gpu-env-redist"));
    if let Ok(h) = std::env::var("HOME") {
        bases.push(PathBuf::from(h).join(".cache/gpu-env-redist"));
    }
    bases
        .into_iter()
        .map(|b| b.join(&short))
        .filter(|d| d.is_dir())
        .collect()
}

/// The lock's redist directory as the cell and `install` made it: the
/// first of [`redist_dirs`] that exists, else where the cell would put it.
pub fn redist_dir(lock: &Lock, explicit: Option<&Path>) -> PathBuf {
    let dirs = redist_dirs(lock, explicit);
    dirs.iter()
        .find(|d| d.is_dir())
        .or(dirs.first())
        .cloned()
        .unwrap_or_default()
}

/// Human rendering, one block per layer.
pub fn render(r: &Report) -> String {
    let mut s = format!(
        "verify {} target {} [{}]: {}\n",
        r.lock, r.target_index, r.target, r.mxnet
    );
    for l in &r.layers {
        s.push_str(&format!(
            "{:<4} {:<9} {:>9.1} ms  {}\n",
            l.status, l.name, l.ms, l.reason
        ));
        for d in &l.details {
            s.push_str(&format!("       {d}\n"));
        }
    }
    if let Some(n) = &r.no_device {
        s.push_str(&format!("no device: {n}\n"));
    }
    s.push_str(&format!(
        "exit {} ({})\n",
        r.exit_code,
        match r.exit_code {
            exit::OK => "every layer passed",
            exit::NO => "a layer failed",
            exit::NO_DEVICE => "no NVIDIA driver or GPU: device layers skipped",
            _ => "error",
        }
    ));
    s
}
