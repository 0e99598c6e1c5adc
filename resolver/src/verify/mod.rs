//! `verify`: prove a locked stack on this machine, layer by layer (docs/verify.md).
//!
//! 1. driver: libcuda loads, the driver meets the lock's floor, the devices
//!    are the ones the lock was resolved for;
//! 2. kernel: NVRTC compiles saxpy for the device, the driver loads it, it
//!    runs and the numbers are right;
//! 3. gpu_code: the image the locked wheel will use on each device (its SASS
//!    arch, else its PTX) is compiled with NVRTC and loaded, so "no kernel
//!    image is available" shows up here instead of inside MXNet;
//! 4. libraries: every soname the wheel needs resolves like the dynamic
//!    loader (plus the preload dirs the setup uses) and dlopens; cuDNN
//!    reports the locked version;
//! 5. python: `import mxnet`, `num_gpus() > 0`, one op on `mx.gpu()`.
//!
//! Never panics on a machine without a driver or GPU: each layer runs under
//! `catch_unwind`, and libcuda's presence is checked before cudarc is used.

pub mod cuda;
pub mod loader;
pub mod nvrtc;

use crate::db::Db;
use crate::lock::{Lock, LockedTarget};
use crate::solve::gpu_code::{self, GpuCode};
use crate::versions::{CudaVersion, DriverVersion};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// JSON schema version of [`Report`].
pub const SCHEMA: u32 = 1;
/// Every layer that ran passed (skipped layers are allowed only for the
/// python layer when no interpreter has the locked packages).
pub const EXIT_PASS: u8 = 0;
/// A layer failed.
pub const EXIT_FAIL: u8 = 1;
/// Bad arguments, unreadable lock or compat-db.
pub const EXIT_ERROR: u8 = 2;
/// No NVIDIA driver or no GPU: the device layers were skipped.
pub const EXIT_NO_DEVICE: u8 = 3;

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
    fn new(name: &'static str) -> Self {
        Layer {
            name,
            status: Status::Pass,
            ms: 0.0,
            reason: String::new(),
            details: vec![],
            data: serde_json::Map::new(),
        }
    }
    fn skip(name: &'static str, reason: impl Into<String>) -> Self {
        Layer {
            status: Status::Skip,
            reason: reason.into(),
            ..Layer::new(name)
        }
    }
    fn fail(mut self, reason: impl Into<String>) -> Self {
        self.status = Status::Fail;
        self.reason = reason.into();
        self
    }
    fn set(&mut self, k: &str, v: impl Serialize) {
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
}

fn ms(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1e5).round() / 100.0
}

/// Run `f`, turning a panic into a failed layer; time it.
fn timed(name: &'static str, f: impl FnOnce() -> Layer) -> Layer {
    let t = Instant::now();
    let mut l = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(l) => l,
        Err(p) => {
            let m = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Layer::new(name).fail(format!("internal error (panic): {m}"))
        }
    };
    l.ms = ms(t);
    l
}

/// The interpreter's site-packages dirs (purelib, platlib, user site).
pub fn site_packages(python: &Path, timeout: Duration) -> Result<Vec<PathBuf>, String> {
    let script = "import json,sysconfig,site\np=sysconfig.get_paths()\nout=[p[k] for k in ('purelib','platlib') if p.get(k)]\ntry:\n    out.append(site.getusersitepackages())\nexcept Exception:\n    pass\nprint(json.dumps(out))";
    let o = crate::probe::exec::run(python, &["-c", script], &[], timeout)
        .map_err(|e| e.to_string())?;
    let v: Vec<PathBuf> = serde_json::from_str(o.stdout.trim()).map_err(|e| e.to_string())?;
    let mut seen = std::collections::BTreeSet::new();
    Ok(v.into_iter()
        .filter(|p| p.is_dir() && seen.insert(p.clone()))
        .collect())
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

/// What the device layers share.
struct Machine {
    driver: Result<cuda::DriverInfo, cuda::DriverError>,
}

fn python_exe(opts: &Options) -> Option<PathBuf> {
    opts.python
        .clone()
        .or_else(|| crate::probe::exec::which_in("python3", std::env::var("PATH").ok().as_deref()))
}

/// Verify target `index` of `lock` on this machine.
pub fn verify(lock: &Lock, lock_path: &str, index: usize, db: &Db, opts: &Options) -> Report {
    let start = Instant::now();
    let t = &lock.target[index];
    let short_timeout = if opts.timeout.is_zero() {
        Duration::from_secs(10)
    } else {
        opts.timeout
    };
    let py_timeout = if opts.timeout.is_zero() {
        Duration::from_secs(120)
    } else {
        opts.timeout
    };
    let python = python_exe(opts);
    let site = python
        .as_ref()
        .and_then(|p| site_packages(p, short_timeout).ok())
        .unwrap_or_default();

    let mut layers = Vec::new();
    let mut machine = Machine {
        driver: Err(cuda::DriverError::NoLibrary),
    };
    let driver = timed("driver", || layer_driver(t, &mut machine));
    let no_device = match &machine.driver {
        Err(cuda::DriverError::NoLibrary) => Some(cuda::DriverError::NoLibrary.to_string()),
        Err(cuda::DriverError::NotBuilt) => Some(cuda::DriverError::NotBuilt.to_string()),
        Err(cuda::DriverError::Init(e)) if e.contains("NO_DEVICE") => {
            Some(format!("the driver sees no GPU ({e})"))
        }
        Ok(d) if d.devices.is_empty() => Some("the driver sees no GPU".to_string()),
        _ => None,
    };
    layers.push(driver);

    let devices: Vec<cuda::Device> = match (&machine.driver, &no_device) {
        (Ok(d), None) => d.devices.clone(),
        _ => vec![],
    };
    let device_ok = no_device.is_none() && layers[0].status == Status::Pass;
    let skip_why = |what: &str| match &no_device {
        Some(n) => format!("{what}: {n}"),
        None => format!("{what}: the driver layer failed"),
    };

    // NVRTC is found once for the kernel and gpu_code layers.
    let mut nvrtc_dirs = opts.nvrtc_dirs.clone();
    let env = crate::probe::Env::new(&crate::probe::ProbeOptions::default());
    let tk_dirs: Vec<PathBuf> = crate::probe::toolkit::candidates(&env)
        .into_iter()
        .flat_map(|t| t.lib_dirs)
        .collect();
    nvrtc_dirs.extend(nvrtc::search_dirs(&tk_dirs, &site));
    let mut nvrtc_lib: Option<Result<nvrtc::Nvrtc, Vec<String>>> = None;

    if device_ok {
        let n = nvrtc_lib.get_or_insert_with(|| nvrtc::Nvrtc::find(&nvrtc_dirs));
        layers.push(timed("kernel", || layer_kernel(n, &devices)));
        layers.push(timed("gpu_code", || layer_gpu_code(t, n, &devices)));
    } else {
        layers.push(Layer::skip(
            "kernel",
            skip_why("no device to run a kernel on"),
        ));
        layers.push(Layer::skip(
            "gpu_code",
            skip_why("no device to load the wheel's code on"),
        ));
    }
    let mut preload = Vec::new();
    layers.push(timed("libraries", || {
        layer_libraries(
            t,
            lock,
            db,
            &site,
            opts,
            short_timeout,
            no_device.is_some(),
            &mut preload,
        )
    }));
    let redist = redist_dir(lock, opts.redist_dir.as_deref());
    let gpu_build = t.mxnet.cuda.is_some();
    if opts.no_python {
        layers.push(Layer::skip("python", "--no-python"));
    } else if gpu_build && !device_ok {
        layers.push(Layer::skip("python", skip_why("mx.gpu() needs a GPU")));
    } else {
        layers.push(timed("python", || {
            layer_python(t, db, python.as_deref(), &redist, py_timeout)
        }));
    }

    let any_fail = layers.iter().any(|l| l.status == Status::Fail);
    // A CPU build needs no device: its verdict is the other layers'.
    let exit_code = if no_device.is_some() && gpu_build {
        EXIT_NO_DEVICE
    } else if any_fail {
        EXIT_FAIL
    } else {
        EXIT_PASS
    };
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

fn layer_driver(t: &LockedTarget, m: &mut Machine) -> Layer {
    let mut l = Layer::new("driver");
    m.driver = cuda::query();
    let info = match &m.driver {
        Ok(i) => i.clone(),
        Err(cuda::DriverError::NoLibrary) | Err(cuda::DriverError::NotBuilt) => {
            let mut s = Layer::skip("driver", m.driver.as_ref().unwrap_err().to_string());
            if let Some((v, src)) = cuda::driver_version() {
                s.details.push(format!(
                    "kernel module {v} ({src}) but libcuda.so.1 does not load"
                ));
            }
            return s;
        }
        Err(cuda::DriverError::Init(e)) if e.contains("NO_DEVICE") => {
            return Layer::skip("driver", format!("libcuda loads, but {e}"));
        }
        Err(e) => return l.fail(e.to_string()),
    };
    if let Some(c) = info.cuda {
        l.details
            .push(format!("driver supports CUDA {c} (cuDriverGetVersion)"));
        l.set("driver_cuda", c.to_string());
    }
    if info.devices.is_empty() {
        return Layer::skip("driver", "libcuda loads, but the driver sees no GPU");
    }
    let mut problems = Vec::new();
    // The floor.
    let found = cuda::driver_version();
    if let Some((v, src)) = &found {
        l.details.push(format!("driver {v} ({src})"));
        l.set("driver", v.to_string());
    }
    match (&t.driver.min, &found) {
        (Some(min), Some((v, _))) => match min.parse::<DriverVersion>() {
            Ok(min_v) if *v >= min_v => l.details.push(format!("driver {v} >= locked floor {min}")),
            Ok(_) => problems.push(format!(
                "driver {v} is older than the locked floor {min} ({}); upgrade the driver or re-resolve for this machine",
                t.driver.why
            )),
            Err(e) => problems.push(format!("lock's driver floor `{min}` is not a version: {e}")),
        },
        (Some(min), None) => {
            // No kernel module version readable (some containers): the CUDA
            // the driver supports must reach the wheel's CUDA major.minor.
            match (t.mxnet.cuda.as_deref().and_then(|c| c.parse::<CudaVersion>().ok()), info.cuda) {
                (Some(w), Some(d)) if d >= w => l.details.push(format!(
                    "driver version unreadable; its CUDA {d} >= the wheel's CUDA {w} (floor {min} not compared)"
                )),
                (Some(w), Some(d)) => problems.push(format!(
                    "the driver supports CUDA {d} only; the wheel needs CUDA {w} (floor {min})"
                )),
                _ => l.details.push(format!("driver version unreadable; floor {min} not compared")),
            }
        }
        (None, _) => l.details.push("the lock sets no driver floor (CPU build)".into()),
    }
    // The devices.
    let locked = t.gpu_capabilities();
    l.set(
        "devices",
        info.devices
            .iter()
            .map(|d| serde_json::json!({"ordinal": d.ordinal, "name": d.name, "compute_capability": d.compute_capability.to_string()}))
            .collect::<Vec<_>>(),
    );
    for d in &info.devices {
        l.details.push(format!(
            "device {}: {} (compute capability {})",
            d.ordinal, d.name, d.compute_capability
        ));
        // The lock's own rule (the cell uses the same): a T4 lock runs on any
        // device its wheel's code covers under the lock's driver floor.
        let made_for = locked
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if !locked.is_empty() && t.mxnet.cuda.is_some() {
            match t.fit(d.compute_capability) {
                crate::lock::DeviceFit::Runs(_) => {}
                crate::lock::DeviceFit::NeedsJit(code) => problems.push(format!(
                    "device {} {} (compute capability {}) would JIT {code}, but the lock was resolved for SASS on {made_for}; re-resolve with `cargo xtask resolve --target local`",
                    d.ordinal, d.name, d.compute_capability
                )),
                crate::lock::DeviceFit::NoCode => problems.push(format!(
                    "device {} {} has compute capability {}, which the locked wheel's code does not cover (lock resolved for {made_for}); re-resolve with `cargo xtask resolve --target local`",
                    d.ordinal, d.name, d.compute_capability
                )),
            }
        }
    }
    if locked.is_empty() {
        l.details
            .push("the lock records no GPUs: device match not checked".into());
    }
    if problems.is_empty() {
        l.reason = format!(
            "libcuda loads; {} device(s){}",
            info.devices.len(),
            if locked.is_empty() {
                ""
            } else {
                " match the lock"
            }
        );
        l
    } else {
        let r = problems.join("; ");
        l.fail(r)
    }
}

fn nvrtc_or_fail<'a>(
    l: &mut Layer,
    n: &'a Result<nvrtc::Nvrtc, Vec<String>>,
) -> Result<&'a nvrtc::Nvrtc, String> {
    match n {
        Ok(n) => {
            l.details.push(format!(
                "NVRTC {}.{} ({})",
                n.version.0, n.version.1, n.path
            ));
            l.set("nvrtc", serde_json::json!({"path": n.path, "version": format!("{}.{}", n.version.0, n.version.1)}));
            Ok(n)
        }
        Err(tried) => {
            l.details.extend(tried.iter().cloned());
            Err(format!(
                "no NVRTC found (tried {} candidates: toolkit lib dirs, site-packages nvidia/cu13/lib and nvidia/cuda_nvrtc/lib, libnvrtc.so.13/.12/.11.2); install a CUDA toolkit or `pip install nvidia-cuda-nvrtc-cu12`",
                tried.len()
            ))
        }
    }
}

fn nul_terminated(mut v: Vec<u8>) -> Vec<u8> {
    if v.last() != Some(&0) {
        v.push(0);
    }
    v
}

fn layer_kernel(n: &Result<nvrtc::Nvrtc, Vec<String>>, devices: &[cuda::Device]) -> Layer {
    let mut l = Layer::new("kernel");
    let n = match nvrtc_or_fail(&mut l, n) {
        Ok(n) => n,
        Err(e) => return l.fail(e),
    };
    let archs = n.supported_archs().unwrap_or_default();
    let mut timings = Vec::new();
    for d in devices {
        let sm = d.compute_capability.sm();
        let Some(target) = nvrtc::kernel_target(&archs, sm) else {
            return l.fail(format!(
                "NVRTC {}.{} targets none of sm_{sm} or below (supports {}); use an NVRTC that knows compute capability {}",
                n.version.0,
                n.version.1,
                gpu_code::list("sm", &archs),
                d.compute_capability
            ));
        };
        let t0 = Instant::now();
        let image = match n.compile(nvrtc::SAXPY, nvrtc::SAXPY_NAME, target) {
            Ok(i) => nul_terminated(i),
            Err(e) => return l.fail(e),
        };
        let compile_ms = ms(t0);
        let t1 = Instant::now();
        if let Err(e) = cuda::run_saxpy(d.ordinal, &image, 1 << 20) {
            return l.fail(format!("device {} {}: {target}: {e}", d.ordinal, d.name));
        }
        let run_ms = ms(t1);
        l.details.push(format!(
            "device {}: saxpy over 2^20 floats, {target}: compile {compile_ms:.1} ms, load+launch+copy+check {run_ms:.1} ms",
            d.ordinal
        ));
        timings.push(serde_json::json!({"device": d.ordinal, "image": target.to_string(), "compile_ms": compile_ms, "run_ms": run_ms}));
    }
    l.set("runs", timings);
    l.reason = "NVRTC saxpy compiled, loaded, launched and checked on every device".into();
    l
}

fn layer_gpu_code(
    t: &LockedTarget,
    n: &Result<nvrtc::Nvrtc, Vec<String>>,
    devices: &[cuda::Device],
) -> Layer {
    let mut l = Layer::new("gpu_code");
    let m = &t.mxnet;
    if m.cuda.is_none() {
        return Layer::skip(
            "gpu_code",
            format!("{} is a CPU build: no GPU code", m.package),
        );
    }
    let have = format!(
        "the wheel carries SASS {} and PTX {}",
        gpu_code::list("sm", &m.sass),
        gpu_code::list("compute", &m.ptx)
    );
    l.details.push(have.clone());
    let mut problems = Vec::new();
    let mut plans = Vec::new();
    for d in devices {
        match gpu_code::select(&m.sass, &m.ptx, d.compute_capability) {
            None => problems.push(format!(
                "device {} {} (compute capability {}): no kernel image is available: {have}; re-resolve with `cargo xtask resolve --target local` for a wheel with code for sm_{}",
                d.ordinal, d.name, d.compute_capability, d.compute_capability.sm()
            )),
            Some(code) => plans.push((d, code)),
        }
    }
    if !problems.is_empty() {
        return l.fail(problems.join("; "));
    }
    let n = match nvrtc_or_fail(&mut l, n) {
        Ok(n) => n,
        Err(e) => return l.fail(e),
    };
    let archs = n.supported_archs().unwrap_or_default();
    let mut loaded = 0;
    for (d, code) in plans {
        let out = match code {
            GpuCode::Sass { sm } => nvrtc::Output::Cubin(sm),
            GpuCode::Ptx { compute } => nvrtc::Output::Ptx(compute),
        };
        let arch = match out {
            nvrtc::Output::Cubin(a) | nvrtc::Output::Ptx(a) => a,
        };
        if !archs.is_empty() && !archs.contains(&arch) {
            l.details.push(format!(
                "device {}: the wheel will use {code}; NVRTC {}.{} cannot write arch {arch}, so it was not loaded (the rule says it runs)",
                d.ordinal, n.version.0, n.version.1
            ));
            continue;
        }
        let image = match n.compile(nvrtc::SAXPY, nvrtc::SAXPY_NAME, out) {
            Ok(i) => nul_terminated(i),
            Err(e) => return l.fail(format!("device {}: {e}", d.ordinal)),
        };
        match cuda::load_module(d.ordinal, &image) {
            Ok(()) => {
                loaded += 1;
                l.details.push(format!(
                    "device {} {} ({}): the wheel will use {code}; an NVRTC {out} image loads",
                    d.ordinal, d.name, d.compute_capability
                ));
            }
            Err(e) => {
                let hint = if matches!(out, nvrtc::Output::Ptx(_)) && e.to_string().contains("PTX")
                {
                    " (this NVRTC may be newer than the driver: its PTX version is not the wheel's)"
                } else {
                    ""
                };
                return l.fail(format!(
                    "device {} {} ({}): the wheel will use {code}, and loading an {out} image failed: {e}{hint}",
                    d.ordinal, d.name, d.compute_capability
                ));
            }
        }
    }
    if loaded == 0 {
        l.status = Status::Skip;
        l.reason = "the GPU-code rule holds for every device, but NVRTC could not write the wheel's arch to load it".into();
    } else {
        l.reason = "the wheel's image for every device loads".into();
    }
    l
}

#[allow(clippy::too_many_arguments)]
fn layer_libraries(
    t: &LockedTarget,
    lock: &Lock,
    db: &Db,
    site: &[PathBuf],
    opts: &Options,
    timeout: Duration,
    no_driver: bool,
    preload: &mut Vec<PathBuf>,
) -> Layer {
    let mut l = Layer::new("libraries");
    let Some((_, rec)) = db
        .wheel_files()
        .find(|(_, f)| f.filename == t.mxnet.filename)
    else {
        return l.fail(format!(
            "compat-db has no record of {}: cannot list its needs (pass --db with the compat-db the lock was resolved against)",
            t.mxnet.filename
        ));
    };
    let (mut sp, cache_err) = loader::SearchPaths::system(timeout);
    if let Some(e) = cache_err {
        l.details.push(format!("ld.so cache not read: {e}"));
    }
    let origin = site
        .iter()
        .map(|s| s.join("mxnet"))
        .find(|d| d.join("libmxnet.so").is_file());
    match &origin {
        Some(o) => l.details.push(format!("$ORIGIN = {} (installed wheel)", o.display())),
        None => l
            .details
            .push("the wheel is not installed in this Python: bundled libraries are taken from its record".into()),
    }
    sp = sp.for_object(origin.clone(), &rec.rpath, &rec.runpath);
    for d in redist_dirs(lock, opts.redist_dir.as_deref()) {
        for sub in loader::nvidia_lib_dirs(std::slice::from_ref(&d)) {
            sp.preload_dirs
                .push((sub.clone(), format!("gpu-env redist {}", sub.display())));
        }
        sp.preload_dirs
            .push((d.clone(), format!("gpu-env redist {}", d.display())));
    }
    for d in loader::nvidia_lib_dirs(site) {
        let label = format!("site-packages {}", d.display());
        sp.preload_dirs.push((d, label));
    }
    let mut missing = Vec::new();
    let mut rows = Vec::new();
    let mut to_open = Vec::new();
    let mut cudnn_path = None;
    for soname in &rec.needed {
        let prov = t
            .provider
            .iter()
            .find(|p| &p.soname == soname)
            .map(|p| p.provider.clone())
            .unwrap_or_else(|| "no locked provider".into());
        let r = sp.resolve(soname);
        let is_driver = crate::solve::providers::DRIVER_SONAMES.contains(&soname.as_str());
        let line = match (&r.path, origin.is_none() && rec.bundled.contains(soname)) {
            (None, true) => format!("{soname}: bundled in the wheel ($ORIGIN) [{prov}]"),
            (None, false) if is_driver && no_driver => {
                format!("{soname}: not checked: no NVIDIA driver here [{prov}]")
            }
            (None, false) => {
                missing.push(format!("{soname} (locked provider: {prov})"));
                format!("{soname}: MISSING [{prov}]")
            }
            (Some(p), _) => {
                to_open.push(p.clone());
                // The wheel's own RPATH finds these; everything else is
                // preloaded by absolute path before `import mxnet`.
                if !(r.loader && (r.via == "rpath" || r.via == "runpath")) {
                    preload.push(p.clone());
                }
                if t.cudnn.as_ref().is_some_and(|c| &c.soname == soname) {
                    cudnn_path = Some(p.clone());
                }
                format!(
                    "{soname}: {} via {}{}{} [{prov}]",
                    p.display(),
                    r.via,
                    r.from
                        .as_deref()
                        .map(|f| format!(" ({f})"))
                        .unwrap_or_default(),
                    if r.loader {
                        ""
                    } else {
                        "; not on the loader path: needs a preload"
                    }
                )
            }
        };
        l.details.push(line);
        rows.push(r);
    }
    l.set("resolved", &rows);
    if !missing.is_empty() {
        return l.fail(format!(
            "{} of {} needed sonames do not resolve: {}; install the locked packages (`pip install --no-deps --require-hashes -r requirements-gpu.txt`)",
            missing.len(),
            rec.needed.len(),
            missing.join(", ")
        ));
    }
    let errors = loader::dlopen_all(&to_open);
    if !errors.is_empty() {
        let list: Vec<String> = errors
            .iter()
            .map(|(p, e)| format!("{}: {e}", p.display()))
            .collect();
        return l.fail(format!("dlopen failed: {}", list.join("; ")));
    }
    if let Some(c) = &t.cudnn {
        match &cudnn_path {
            Some(p) => match crate::probe::libs::cudnn_get_version(&p.display().to_string()) {
                Ok(v)
                    if v == c.version
                        || v.starts_with(&format!("{}.", c.version))
                        || c.version.starts_with(&format!("{v}.")) =>
                {
                    l.details
                        .push(format!("cudnnGetVersion: {v} (locked {})", c.version));
                    l.set("cudnn", v);
                }
                Ok(v) => {
                    return l.fail(format!(
                        "{} reports cuDNN {v}; the lock says {}",
                        p.display(),
                        c.version
                    ))
                }
                Err(e) => return l.fail(format!("cudnnGetVersion on {}: {e}", p.display())),
            },
            None => l.details.push(format!(
                "{} is linked statically or not needed: cuDNN version not checked",
                c.soname
            )),
        }
    }
    l.reason = format!("{} needed sonames resolve and load", rec.needed.len());
    l
}

/// The python layer's driver: the shared runtime's preload and shims (the
/// same code the cell and the install hook run), then `import mxnet` and one
/// operation where the build runs (GPU or CPU).
const PY_DRIVER: &str = r#"
import json, sys, time
T = json.loads(sys.argv[1])
out = {"log": []}
out["installed"] = _gpu_env_dist_version(T["mxnet"]["package"])
if out["installed"] is None:
    print(json.dumps(out)); sys.exit(0)
out["mismatches"] = _gpu_env_site_mismatches(T)
try:
    _gpu_env_preload(T, sys.argv[2], out["log"].append)
    _gpu_env_apply_shims(T, out["log"].append)
    t0 = time.time()
    import mxnet as mx
    out["import_s"] = time.time() - t0
except _GpuEnvStop as e:
    out["import_error"] = str(e)
except Exception as e:
    out["import_error"] = "%s: %s" % (type(e).__name__, e)
else:
    out["version"] = getattr(mx, "__version__", None)
    n = mx.context.num_gpus() if T["gpu_build"] else 0
    out["num_gpus"] = n
    try:
        ctx = mx.gpu(0) if T["gpu_build"] else mx.cpu()
        if not T["gpu_build"] or n > 0:
            a = mx.nd.ones((64, 64), ctx=ctx)
            out["op"] = float(mx.nd.dot(a, a).sum().asscalar())
    except Exception as e:
        out["op_error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out))
"#;

/// `import mxnet` in `py` the way the lock's installers set it up: the
/// shared runtime's preloads (from `redist` and site-packages) and shims,
/// then one `dot` where the build runs. The driver's JSON: `installed`,
/// `log`, `import_error` or `version`, `num_gpus`, `op` / `op_error`.
/// `verify`'s python layer and `doctor` both judge this one run.
pub fn import_with_lock(
    t: &LockedTarget,
    db: &Db,
    py: &Path,
    redist: &Path,
    timeout: Duration,
) -> Result<serde_json::Value, String> {
    let data = crate::emit::target_json(db, t).map_err(|e| e.to_string())?;
    let script = format!("{}\n{PY_DRIVER}", crate::emit::RUNTIME_PY);
    let (data, redist) = (data.to_string(), redist.to_string_lossy());
    let o = crate::probe::exec::run(py, &["-c", &script, &data, &redist], &[], timeout)
        .map_err(|e| format!("{}: {e}", py.display()))?;
    serde_json::from_str(o.stdout.trim().lines().last().unwrap_or(""))
        .map_err(|_| format!("unexpected output: {}", o.stdout.trim()))
}

/// `numpy 1.25.2 is installed; the lock has 1.26.4; ...` from the shared
/// runtime's `_gpu_env_site_mismatches` (None when everything matches).
pub fn mismatch_text(v: &serde_json::Value) -> Option<String> {
    let items: Vec<String> = v["mismatches"]
        .as_array()?
        .iter()
        .map(|m| {
            let name = m[0].as_str().unwrap_or("?");
            let want = m[2].as_str().unwrap_or("?");
            match m[1].as_str() {
                Some(have) => format!("{name} {have} is installed; the lock has {want}"),
                None => format!("{name} is not installed; the lock has {want}"),
            }
        })
        .collect();
    (!items.is_empty()).then(|| items.join("; "))
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

fn layer_python(
    t: &LockedTarget,
    db: &Db,
    python: Option<&Path>,
    redist: &Path,
    timeout: Duration,
) -> Layer {
    let mut l = Layer::new("python");
    let Some(py) = python else {
        return Layer::skip("python", "no python3 on PATH (give --python)");
    };
    l.details.push(format!("python: {}", py.display()));
    let v = match import_with_lock(t, db, py, redist, timeout) {
        Ok(v) => v,
        Err(e) => return l.fail(e),
    };
    l.set("result", &v);
    for line in v["log"].as_array().into_iter().flatten() {
        l.details.push(line.as_str().unwrap_or("").to_string());
    }
    let Some(installed) = v["installed"].as_str() else {
        let mut s = Layer::skip(
            "python",
            format!(
                "{} is not installed in {} (give --python)",
                t.mxnet.package,
                py.display()
            ),
        );
        s.details = l.details;
        return s;
    };
    if installed != t.mxnet.version {
        return l.fail(format!(
            "{} {installed} is installed; the lock says {}",
            t.mxnet.package, t.mxnet.version
        ));
    }
    if let Some(m) = mismatch_text(&v) {
        return l.fail(m);
    }
    if let Some(e) = v["import_error"].as_str() {
        return l.fail(format!("import mxnet: {e}"));
    }
    python_op_verdict(t, l, &v)
}

/// The python layer's verdict on `import mxnet` that worked: GPUs seen (GPU
/// builds) and one `dot` where the build runs.
fn python_op_verdict(t: &LockedTarget, mut l: Layer, v: &serde_json::Value) -> Layer {
    let gpu = t.mxnet.cuda.is_some();
    let n = v["num_gpus"].as_i64().unwrap_or(0);
    let where_ = if gpu { "mx.gpu(0)" } else { "mx.cpu()" };
    l.details.push(format!(
        "import mxnet {}: num_gpus() = {n}",
        v["version"].as_str().unwrap_or("?")
    ));
    if gpu && n <= 0 {
        return l.fail("mx.context.num_gpus() is 0: MXNet sees no GPU");
    }
    if let Some(e) = v["op_error"].as_str() {
        return l.fail(format!("dot on {where_}: {e}"));
    }
    let want = 64.0 * 64.0 * 64.0;
    match v["op"].as_f64() {
        Some(x) if (x - want).abs() < 1e-3 * want => {
            l.reason = if gpu {
                format!("import mxnet, {n} GPU(s), dot on {where_} = {x}")
            } else {
                format!("import mxnet (CPU build), dot on {where_} = {x}")
            };
            l
        }
        other => l.fail(format!("dot on {where_} gave {other:?}, want {want}")),
    }
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
            EXIT_PASS => "every layer passed",
            EXIT_FAIL => "a layer failed",
            EXIT_NO_DEVICE => "no NVIDIA driver or GPU: device layers skipped",
            _ => "error",
        }
    ));
    s
}
