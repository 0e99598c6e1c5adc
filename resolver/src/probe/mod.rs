//! Probe the local machine: CUDA toolkits (nvcc), the NVIDIA driver and its
//! GPUs (driver API, kernel module files, nvidia-smi), cuDNN, NVRTC and the
//! Python interpreter. Every external command and library probe runs with a
//! timeout, all in parallel; a failed probe is an error entry on its fact,
//! never a panic or a hang. [`ProbeReport::to_target`] turns the facts into
//! the resolver's [`Target`]. Schema of the JSON form: docs/probe.md.

pub mod libs;
pub mod smi;
pub mod toolkit;

use crate::host::{cuda, exec, libs as hlibs, python};

use crate::target::{Sourced, Target, TargetGpu};
use crate::versions::{ComputeCapability, CudaVersion, DriverVersion};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// JSON schema version of [`ProbeReport`] (docs/probe.md).
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Default)]
pub struct ProbeOptions {
    /// Interpreter to probe (default: `python3` on PATH).
    pub python: Option<PathBuf>,
    /// Per command / library probe; zero means [`DEFAULT_TIMEOUT`].
    pub timeout: Duration,
    /// Root under which /proc, /sys, /usr/local/cuda*, /usr/include, /usr/lib*
    /// are read (default: `GPU_ENV_SYSROOT`, else `/`).
    pub sysroot: Option<PathBuf>,
    /// Environment to read (CUDA_HOME, CUDA_PATH, PATH, LD_LIBRARY_PATH,
    /// GPU_ENV_SYSROOT, COLAB_RELEASE_TAG); `None`: the process environment.
    pub env: Option<BTreeMap<String, String>>,
}

/// The environment and sysroot a probe reads.
#[derive(Debug, Clone)]
pub struct Env {
    vars: Option<BTreeMap<String, String>>,
    pub sysroot: PathBuf,
}

impl Env {
    pub fn new(opts: &ProbeOptions) -> Self {
        let mut e = Env {
            vars: opts.env.clone(),
            sysroot: PathBuf::from("/"),
        };
        e.sysroot = opts
            .sysroot
            .clone()
            .or_else(|| {
                e.var("GPU_ENV_SYSROOT")
                    .filter(|s| !s.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from("/"));
        e
    }
    pub fn var(&self, k: &str) -> Option<String> {
        match &self.vars {
            Some(m) => m.get(k).cloned(),
            None => std::env::var(k).ok(),
        }
    }
    /// An absolute system path (`usr/local`, `proc/driver/nvidia/version`) under the sysroot.
    pub fn sys_path(&self, rel: &str) -> PathBuf {
        self.sysroot.join(rel.trim_start_matches('/'))
    }
    /// Environment passed to children (only when an explicit env was given).
    fn child_env(&self) -> Vec<(String, String)> {
        match &self.vars {
            Some(m) => m
                .get("PATH")
                .map(|p| vec![("PATH".to_string(), p.clone())])
                .unwrap_or_default(),
            None => vec![],
        }
    }
}

/// One fact: its value, where it came from, and why it is missing or doubtful.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Fact<T> {
    pub value: Option<T>,
    pub source: Option<String>,
    pub error: Option<String>,
}

impl<T> Default for Fact<T> {
    fn default() -> Self {
        Self {
            value: None,
            source: None,
            error: None,
        }
    }
}

impl<T> Fact<T> {
    pub fn ok(value: T, source: impl Into<String>) -> Self {
        Self {
            value: Some(value),
            source: Some(source.into()),
            error: None,
        }
    }
    pub fn err(error: impl Into<String>) -> Self {
        Self {
            value: None,
            source: None,
            error: Some(error.into()),
        }
    }
    fn sourced(&self) -> Option<Sourced<T>>
    where
        T: Clone,
    {
        Some(Sourced::new(
            self.value.clone()?,
            self.source.clone().unwrap_or_default(),
        ))
    }
}

/// One reading of a fact from one place (a file, a library, a command).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Found {
    pub source: String,
    pub path: Option<PathBuf>,
    pub version: Option<String>,
    pub error: Option<String>,
}

impl Found {
    pub fn ok(source: &str, path: Option<&Path>, version: String) -> Self {
        Self {
            source: source.to_string(),
            path: path.map(Path::to_path_buf),
            version: Some(version),
            error: None,
        }
    }
    pub fn err(source: &str, path: Option<&Path>, error: String) -> Self {
        Self {
            source: source.to_string(),
            path: path.map(Path::to_path_buf),
            version: None,
            error: Some(error),
        }
    }
    fn label(&self) -> String {
        match &self.path {
            Some(p) => format!("{} {}", self.source, p.display()),
            None => self.source.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProbedGpu {
    pub index: usize,
    pub name: String,
    pub compute_capability: Option<ComputeCapability>,
    pub memory_mib: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    pub schema: u32,
    pub sysroot: PathBuf,
    pub timeout_secs: f64,
    /// The active toolkit (first nvcc found).
    pub toolkit: Fact<CudaVersion>,
    pub toolkits: Vec<toolkit::Toolkit>,
    pub driver: Fact<DriverVersion>,
    /// Every driver version reading (/sys, /proc, nvidia-smi).
    pub driver_readings: Vec<Found>,
    /// Highest CUDA the driver supports (`cuDriverGetVersion`, else the nvidia-smi banner).
    pub driver_cuda: Fact<CudaVersion>,
    pub gpus: Fact<Vec<ProbedGpu>>,
    /// Why there is no driver, when there is none.
    pub no_driver: Option<String>,
    /// System cuDNN (loader or toolkit dirs, else headers).
    pub cudnn: Fact<String>,
    /// Every cuDNN found: libraries, headers, pip packages.
    pub cudnn_found: Vec<Found>,
    pub nvrtc: Fact<String>,
    pub nvrtc_found: Vec<Found>,
    pub python: Fact<python::PythonInfo>,
    pub colab: Fact<bool>,
    /// CUDA sonames in the loader's and the active toolkit's lib dirs.
    pub system_sonames: Fact<BTreeSet<String>>,
    /// Sources that answered differently.
    pub disagreements: Vec<String>,
    /// Wall time of the whole probe.
    pub elapsed_ms: u64,
}

struct SmiResult {
    found: bool,
    gpus: Result<Vec<smi::SmiGpu>, String>,
    banner: Result<smi::Banner, String>,
    retried_without_cc: bool,
}

fn probe_smi(env: &Env, timeout: Duration) -> SmiResult {
    let Some(exe) = exec::which_in("nvidia-smi", env.var("PATH").as_deref()) else {
        let e = "nvidia-smi not found on PATH".to_string();
        return SmiResult {
            found: false,
            gpus: Err(e.clone()),
            banner: Err(e),
            retried_without_cc: false,
        };
    };
    let cenv = env.child_env();
    std::thread::scope(|s| {
        let banner = s.spawn(|| {
            exec::run(&exe, &[], &cenv, timeout)
                .map(|o| smi::parse_banner(&o.stdout))
                .map_err(|e| e.to_string())
        });
        let mut retried = false;
        let gpus = match exec::run(&exe, &[smi::QUERY, smi::FORMAT], &cenv, timeout) {
            Ok(o) => smi::parse_csv(&o.stdout, true).map_err(|e| e.to_string()),
            Err(exec::ExecError::Failed { stdout, stderr, .. })
                if smi::rejects_compute_cap(&stdout, &stderr) =>
            {
                retried = true;
                exec::run(&exe, &[smi::QUERY_NO_CC, smi::FORMAT], &cenv, timeout)
                    .map_err(|e| e.to_string())
                    .and_then(|o| smi::parse_csv(&o.stdout, false).map_err(|e| e.to_string()))
            }
            Err(e) => Err(e.to_string()),
        };
        SmiResult {
            found: true,
            gpus,
            banner: banner
                .join()
                .unwrap_or_else(|_| Err("nvidia-smi banner probe panicked".into())),
            retried_without_cc: retried,
        }
    })
}

fn flatten<T>(r: Result<Vec<T>, exec::ExecError>, source: &str, out: &mut Vec<Found>)
where
    T: Into<Found>,
{
    match r {
        Ok(v) => out.extend(v.into_iter().map(Into::into)),
        Err(e) => out.push(Found::err(source, None, e.to_string())),
    }
}

/// Run every probe (in parallel, each with the timeout) and collect the facts.
pub fn probe(opts: &ProbeOptions) -> ProbeReport {
    let start = std::time::Instant::now();
    let timeout = if opts.timeout.is_zero() {
        DEFAULT_TIMEOUT
    } else {
        opts.timeout
    };
    let env = Env::new(opts);
    let g = gather(&env, opts, timeout);
    let (python, nvrtc_pip, cudnn_pip) = g.py;
    let smi_r = g.smi.unwrap_or(SmiResult {
        found: false,
        gpus: Err("nvidia-smi probe panicked".into()),
        banner: Err("nvidia-smi probe panicked".into()),
        retried_without_cc: false,
    });
    let mut disagreements = Vec::new();
    let (driver_readings, absent) = driver_readings(&env, &smi_r, timeout);
    let driver = driver_fact(&driver_readings, &absent, &mut disagreements);
    let api = driver_api(g.api, &smi_r, &driver_readings, &absent, &mut disagreements);
    let libs = libraries(g.cudnn_sys, cudnn_pip, g.nvrtc_sys, nvrtc_pip);
    ProbeReport {
        schema: SCHEMA,
        sysroot: env.sysroot.clone(),
        timeout_secs: timeout.as_secs_f64(),
        toolkit: active_toolkit(&g.toolkits),
        system_sonames: system_sonames(&env, &g.toolkits, api.libcuda),
        toolkits: g.toolkits,
        driver,
        driver_readings,
        driver_cuda: api.driver_cuda,
        gpus: api.gpus,
        no_driver: api.no_driver,
        cudnn: libs.cudnn,
        cudnn_found: libs.cudnn_found,
        nvrtc: libs.nvrtc,
        nvrtc_found: libs.nvrtc_found,
        colab: colab_fact(&env, &python),
        python,
        disagreements,
        elapsed_ms: start.elapsed().as_millis() as u64,
    }
}

/// What the parallel probes answered, before it is reconciled.
struct Gathered {
    toolkits: Vec<toolkit::Toolkit>,
    api: Result<Result<cuda::DriverInfo, cuda::DriverError>, exec::ExecError>,
    smi: Option<SmiResult>,
    nvrtc_sys: Result<Vec<Found>, exec::ExecError>,
    cudnn_sys: Vec<Found>,
    py: PyResult,
}

/// Run the toolkit, driver API, nvidia-smi, NVRTC, cuDNN and Python probes
/// in parallel, each with the timeout.
fn gather(env: &Env, opts: &ProbeOptions, timeout: Duration) -> Gathered {
    let candidates = toolkit::candidates(env);
    let tk_lib_dirs: Vec<PathBuf> = candidates.iter().flat_map(|t| t.lib_dirs.clone()).collect();
    let mut tk_inc_dirs: Vec<PathBuf> = candidates
        .iter()
        .flat_map(|t| t.include_dirs.clone())
        .collect();
    tk_inc_dirs.push(env.sys_path("usr/include"));
    tk_inc_dirs.push(env.sys_path("usr/include/x86_64-linux-gnu"));
    let python_exe = opts
        .python
        .clone()
        .or_else(|| exec::which_in("python3", env.var("PATH").as_deref()));
    let cenv = env.child_env();
    let (toolkits, api, smi_r, nvrtc_sys, cudnn_sys, py) = std::thread::scope(|s| {
        let tk = s.spawn(|| toolkit::probe(candidates.clone(), timeout));
        let api = s.spawn(|| exec::on_thread("libcuda (cuDriverGetVersion)", timeout, cuda::query));
        let smi_h = s.spawn(|| probe_smi(env, timeout));
        let nvrtc_h = s.spawn(|| {
            let files: Vec<(PathBuf, String)> = hlibs::files_in(&tk_lib_dirs, "libnvrtc.so.")
                .into_iter()
                .map(|p| (p, "toolkit".to_string()))
                .collect();
            exec::on_thread("libnvrtc (nvrtcVersion)", timeout, move || {
                libs::probe_libs(hlibs::NVRTC_SONAMES, &files, hlibs::nvrtc_version)
            })
        });
        let cudnn_h = s.spawn(|| {
            let mut found = libs::cudnn_headers(&tk_inc_dirs, "header");
            let files: Vec<(PathBuf, String)> = hlibs::files_in(&tk_lib_dirs, "libcudnn.so.")
                .into_iter()
                .map(|p| (p, "toolkit".to_string()))
                .collect();
            let r = exec::on_thread("libcudnn (cudnnGetVersion)", timeout, move || {
                libs::probe_libs(hlibs::CUDNN_SONAMES, &files, hlibs::cudnn_get_version)
            });
            let mut libs_found = Vec::new();
            flatten(r, "libcudnn", &mut libs_found);
            libs_found.append(&mut found);
            libs_found
        });
        let py_h = s.spawn(|| probe_python(python_exe.as_deref(), &cenv, timeout));
        (
            tk.join().unwrap_or_default(),
            api.join().unwrap_or_else(|_| {
                Err(exec::ExecError::Panicked {
                    what: "libcuda".into(),
                    message: "join".into(),
                })
            }),
            smi_h.join().ok(),
            nvrtc_h.join().unwrap_or_else(|_| {
                Err(exec::ExecError::Panicked {
                    what: "libnvrtc".into(),
                    message: "join".into(),
                })
            }),
            cudnn_h.join().unwrap_or_default(),
            py_h.join()
                .unwrap_or_else(|_| (Fact::err("python probe panicked"), vec![], vec![])),
        )
    });
    Gathered {
        toolkits,
        api,
        smi: smi_r,
        nvrtc_sys,
        cudnn_sys,
        py,
    }
}

/// The active toolkit (first nvcc found).
fn active_toolkit(toolkits: &[toolkit::Toolkit]) -> Fact<CudaVersion> {
    match toolkits.iter().find(|t| t.active) {
        Some(t) => match &t.version {
            Some(v) => Fact::ok(
                v.cuda,
                format!("probe:nvcc ({}, via {})", t.nvcc.display(), t.found_via),
            ),
            None => Fact::err(
                t.error
                    .clone()
                    .unwrap_or_else(|| "nvcc gave no version".into()),
            ),
        },
        None => Fact::err("no nvcc found (CUDA_HOME, CUDA_PATH, PATH, /usr/local/cuda*)"),
    }
}

/// Every driver version reading (/sys, /proc under the sysroot, then
/// nvidia-smi), and the sources that were absent.
fn driver_readings(env: &Env, smi_r: &SmiResult, timeout: Duration) -> (Vec<Found>, Vec<String>) {
    let mut driver_readings = Vec::new();
    let mut absent = Vec::new();
    for (label, parse) in cuda::VERSION_FILES {
        let p = env.sys_path(label.trim_start_matches('/'));
        match exec::read_sys(&p, timeout) {
            Ok(t) => driver_readings.push(match parse(&t) {
                Some(v) => Found::ok(label, None, v.to_string()),
                None => Found::err(
                    label,
                    None,
                    format!(
                        "unrecognised contents: {:?}",
                        t.lines().next().unwrap_or("")
                    ),
                ),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                absent.push(format!("{label} absent"))
            }
            Err(e) => driver_readings.push(Found::err(label, None, e.to_string())),
        }
    }
    if smi_r.found {
        let from_csv = smi_r
            .gpus
            .as_ref()
            .ok()
            .and_then(|g| g.first())
            .map(|g| g.driver.to_string());
        let from_banner = smi_r
            .banner
            .as_ref()
            .ok()
            .and_then(|b| b.driver.as_ref())
            .map(|d| d.to_string());
        driver_readings.push(match (from_csv, from_banner, &smi_r.gpus) {
            (Some(v), _, _) => Found::ok("nvidia-smi", None, v),
            (None, Some(v), _) => Found::ok("nvidia-smi banner", None, v),
            (None, None, Err(e)) => Found::err("nvidia-smi", None, e.clone()),
            (None, None, Ok(_)) => Found::err("nvidia-smi", None, "no GPUs listed".into()),
        });
    } else {
        absent.push("nvidia-smi not found on PATH".into());
    }
    (driver_readings, absent)
}

/// The driver version: the first reading that answered; readings that
/// disagree are noted.
fn driver_fact(
    driver_readings: &[Found],
    absent: &[String],
    disagreements: &mut Vec<String>,
) -> Fact<DriverVersion> {
    let answered: Vec<&Found> = driver_readings
        .iter()
        .filter(|f| f.version.is_some())
        .collect();
    let driver = match answered.first() {
        Some(f) => match f
            .version
            .as_deref()
            .unwrap_or_default()
            .parse::<DriverVersion>()
        {
            Ok(v) => Fact::ok(v, format!("probe:{}", f.source)),
            Err(e) => Fact::err(e.to_string()),
        },
        None => Fact::err(
            driver_readings
                .iter()
                .filter_map(|f| f.error.as_ref().map(|e| format!("{}: {e}", f.label())))
                .chain(absent.iter().cloned())
                .collect::<Vec<_>>()
                .join("; "),
        ),
    };
    let distinct: BTreeSet<String> = answered
        .iter()
        .filter_map(|f| {
            f.version.as_ref()?.parse::<DriverVersion>().ok().map(|v| {
                v.parts()
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(".")
            })
        })
        .collect();
    if distinct.len() > 1 {
        disagreements.push(format!(
            "driver version: {}",
            answered
                .iter()
                .map(|f| format!("{} says {}", f.source, f.version.as_deref().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    driver
}

/// What the driver API and nvidia-smi say about the driver's CUDA and the
/// GPUs, reconciled.
struct ApiFacts {
    driver_cuda: Fact<CudaVersion>,
    gpus: Fact<Vec<ProbedGpu>>,
    no_driver: Option<String>,
    /// libcuda.so.1 answered.
    libcuda: bool,
}

fn driver_api(
    api: Result<Result<cuda::DriverInfo, cuda::DriverError>, exec::ExecError>,
    smi_r: &SmiResult,
    driver_readings: &[Found],
    absent: &[String],
    disagreements: &mut Vec<String>,
) -> ApiFacts {
    let banner_cuda = smi_r.banner.as_ref().ok().and_then(|b| b.cuda);
    let no_library = matches!(api, Ok(Err(cuda::DriverError::NoLibrary)));
    let (api_ok, api_err) = match api {
        Ok(Ok(a)) => (Some(a), None),
        Ok(Err(e)) => (None, Some(e.to_string())),
        Err(e) => (None, Some(e.to_string())),
    };
    let driver_cuda = match (api_ok.as_ref().and_then(|a| a.cuda), banner_cuda) {
        (Some(c), b) => {
            if let Some(b) = b.filter(|b| *b != c) {
                disagreements.push(format!(
                    "driver CUDA version: cuDriverGetVersion says {c}, nvidia-smi banner says {b}"
                ));
            }
            Fact::ok(c, "probe:cuDriverGetVersion")
        }
        (None, Some(b)) => Fact::ok(b, "probe:nvidia-smi banner"),
        (None, None) => Fact::err(
            api_err
                .clone()
                .unwrap_or_else(|| "cuDriverGetVersion gave no version".into()),
        ),
    };
    let smi_gpus: Option<Vec<ProbedGpu>> = smi_r.gpus.as_ref().ok().map(|g| {
        g.iter()
            .enumerate()
            .map(|(index, g)| ProbedGpu {
                index,
                name: g.name.clone(),
                compute_capability: g.compute_capability,
                memory_mib: g.memory_mib,
            })
            .collect()
    });
    let api_gpus: Option<Vec<ProbedGpu>> =
        api_ok.as_ref().filter(|a| a.init_error.is_none()).map(|a| {
            a.devices
                .iter()
                .enumerate()
                .map(|(index, d)| ProbedGpu {
                    index,
                    name: d.name.clone(),
                    compute_capability: Some(d.compute_capability),
                    memory_mib: Some(d.memory_mib),
                })
                .collect()
        });
    let smi_src = if smi_r.retried_without_cc {
        "probe:nvidia-smi (without compute_cap: this driver rejects it)"
    } else {
        "probe:nvidia-smi"
    };
    let no_driver = (no_library && !smi_r.found && driver_readings.is_empty()).then(|| {
        let mut why = vec![api_err.clone().unwrap_or_default()];
        why.extend(absent.iter().cloned());
        format!("no NVIDIA driver on this machine: {}", why.join("; "))
    });
    let gpus = match (&api_gpus, &smi_gpus) {
        (Some(a), s) => {
            if let Some(s) = s {
                let an: Vec<&str> = a.iter().map(|g| g.name.as_str()).collect();
                let sn: Vec<&str> = s.iter().map(|g| g.name.as_str()).collect();
                if an != sn {
                    disagreements.push(format!(
                        "GPUs: the driver API lists {an:?}, nvidia-smi lists {sn:?}"
                    ));
                }
            }
            Fact::ok(a.clone(), "probe:cuda driver API")
        }
        (None, Some(s)) => {
            let mut f = Fact::ok(s.clone(), smi_src);
            f.error = api_err.clone();
            f
        }
        (None, None) => {
            if let Some(why) = &no_driver {
                Fact {
                    value: Some(vec![]),
                    source: Some("probe: no NVIDIA driver".into()),
                    error: Some(why.clone()),
                }
            } else if let Some(e) = api_ok.as_ref().and_then(|a| a.init_error.as_ref()) {
                Fact {
                    value: Some(vec![]),
                    source: Some("probe:cuInit".into()),
                    error: Some(e.to_string()),
                }
            } else {
                Fact::err(
                    [api_err.clone(), smi_r.gpus.as_ref().err().cloned()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            }
        }
    };

    ApiFacts {
        driver_cuda,
        gpus,
        no_driver,
        libcuda: api_ok.is_some(),
    }
}

/// cuDNN and NVRTC, each found by the loader, in toolkit dirs, headers or
/// pip packages; the fact is the first source in order of preference.
struct LibFacts {
    cudnn: Fact<String>,
    cudnn_found: Vec<Found>,
    nvrtc: Fact<String>,
    nvrtc_found: Vec<Found>,
}

fn libraries(
    cudnn_sys: Vec<Found>,
    cudnn_pip: Vec<Found>,
    nvrtc_sys: Result<Vec<Found>, exec::ExecError>,
    nvrtc_pip: Vec<Found>,
) -> LibFacts {
    let mut cudnn_found = cudnn_sys;
    cudnn_found.extend(cudnn_pip);
    let pick = |found: &[Found], order: &[&str], what: &str| -> Fact<String> {
        for src in order {
            if let Some(f) = found
                .iter()
                .find(|f| f.source == *src && f.version.is_some())
            {
                return Fact::ok(
                    f.version.clone().unwrap_or_default(),
                    format!("probe:{what} ({})", f.label()),
                );
            }
        }
        let errs: Vec<String> = found
            .iter()
            .filter_map(|f| f.error.as_ref().map(|e| format!("{}: {e}", f.label())))
            .collect();
        Fact::err(if errs.is_empty() {
            format!("{what}: not found")
        } else {
            errs.join("; ")
        })
    };
    let cudnn = pick(
        &cudnn_found,
        &["loader", "toolkit", "header"],
        "cudnnGetVersion/header",
    );
    let mut nvrtc_found = Vec::new();
    flatten(nvrtc_sys, "libnvrtc", &mut nvrtc_found);
    nvrtc_found.extend(nvrtc_pip);
    let mut nvrtc_order = vec!["loader", "toolkit"];
    let pip_sources: Vec<String> = nvrtc_found
        .iter()
        .map(|f| f.source.clone())
        .filter(|s| s.starts_with("pip"))
        .collect();
    nvrtc_order.extend(pip_sources.iter().map(String::as_str));
    let nvrtc = pick(&nvrtc_found, &nvrtc_order, "nvrtcVersion");

    LibFacts {
        cudnn,
        cudnn_found,
        nvrtc,
        nvrtc_found,
    }
}

fn colab_fact(env: &Env, python: &Fact<python::PythonInfo>) -> Fact<bool> {
    if env.var("COLAB_RELEASE_TAG").is_some_and(|v| !v.is_empty()) {
        Fact::ok(true, "env:COLAB_RELEASE_TAG")
    } else if let Some(p) = &python.value {
        Fact::ok(p.colab, "probe:python (COLAB_RELEASE_TAG / google.colab)")
    } else {
        Fact::err("unknown: Python not probed")
    }
}

/// CUDA sonames in the loader's and the active toolkit's lib dirs.
fn system_sonames(
    env: &Env,
    toolkits: &[toolkit::Toolkit],
    libcuda: bool,
) -> Fact<BTreeSet<String>> {
    let mut dirs: Vec<PathBuf> = toolkits
        .iter()
        .filter(|t| t.active)
        .flat_map(|t| t.lib_dirs.clone())
        .collect();
    if let Some(ld) = env.var("LD_LIBRARY_PATH") {
        dirs.extend(ld.split(':').filter(|s| !s.is_empty()).map(PathBuf::from));
    }
    for d in [
        "usr/lib/x86_64-linux-gnu",
        "lib/x86_64-linux-gnu",
        "usr/lib64",
        "usr/lib",
        "usr/local/lib",
    ] {
        dirs.push(env.sys_path(d));
    }
    dirs.extend(ld_so_conf_dirs(env));
    let mut sonames: BTreeSet<String> = BTreeSet::new();
    for d in &dirs {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if is_cuda_soname(&n) {
                sonames.insert(n);
            }
        }
    }
    if libcuda {
        sonames.insert("libcuda.so.1".into());
    }
    Fact::ok(
        sonames,
        "probe:lib dirs (active toolkit, LD_LIBRARY_PATH, ld.so.conf, /usr/lib*)",
    )
}

/// `libcudart.so.12`, `libcudnn.so.8`, `libnccl.so.2`, `libcuda.so.1`, ...
fn is_cuda_soname(n: &str) -> bool {
    const PREFIXES: &[&str] = &["libcu", "libnv", "libnccl", "libcudnn"];
    PREFIXES.iter().any(|p| n.starts_with(p)) && n.contains(".so.") && !n.contains("builtins")
}

fn ld_so_conf_dirs(env: &Env) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut files = vec![env.sys_path("etc/ld.so.conf")];
    files.extend(
        std::fs::read_dir(env.sys_path("etc/ld.so.conf.d"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "conf")),
    );
    for f in files {
        let text = exec::read_sys(&f, exec::SYS_READ_TIMEOUT).unwrap_or_default();
        for l in text.lines() {
            let l = l.trim();
            if l.starts_with('/') {
                out.push(env.sys_path(l));
            }
        }
    }
    out
}

type PyResult = (Fact<python::PythonInfo>, Vec<Found>, Vec<Found>);

/// Python, then the NVRTC and cuDNN pip wheels in its site-packages.
fn probe_python(exe: Option<&Path>, cenv: &[(String, String)], timeout: Duration) -> PyResult {
    let Some(exe) = exe else {
        return (
            Fact::err("python3 not found on PATH (pass --python)"),
            vec![],
            vec![],
        );
    };
    let info = match python::introspect(exe, cenv, timeout) {
        Ok(i) => i,
        Err(e) => return (Fact::err(e.to_string()), vec![], vec![]),
    };
    let mut nvrtc_files = Vec::new();
    let mut cudnn_files = Vec::new();
    let mut cudnn_found = Vec::new();
    for sp in &info.site_packages {
        let nv = sp.join("nvidia");
        for e in std::fs::read_dir(&nv).into_iter().flatten().flatten() {
            let lib = e.path().join("lib");
            let pkg = e.file_name().to_string_lossy().into_owned();
            for p in hlibs::files_in(std::slice::from_ref(&lib), "libnvrtc.so.") {
                nvrtc_files.push((p, format!("pip:nvidia/{pkg}")));
            }
            for p in hlibs::files_in(std::slice::from_ref(&lib), "libcudnn.so.") {
                cudnn_files.push((p, format!("pip:nvidia/{pkg}")));
            }
        }
    }
    for (name, v) in &info.packages {
        if name.starts_with("nvidia-cudnn") {
            cudnn_found.push(Found::ok(&format!("pip:{name}"), None, v.clone()));
        }
    }
    let (nvrtc_pip, cudnn_pip) = if nvrtc_files.is_empty() && cudnn_files.is_empty() {
        (vec![], vec![])
    } else {
        let r = exec::on_thread("pip NVRTC/cuDNN", timeout, move || {
            (
                libs::probe_libs(&[], &nvrtc_files, hlibs::nvrtc_version),
                libs::probe_libs(&[], &cudnn_files, hlibs::cudnn_get_version),
            )
        });
        match r {
            Ok(x) => x,
            Err(e) => (vec![Found::err("pip", None, e.to_string())], vec![]),
        }
    };
    cudnn_found.extend(cudnn_pip);
    (
        Fact::ok(info, format!("probe:{}", exe.display())),
        nvrtc_pip,
        cudnn_found,
    )
}

impl ProbeReport {
    /// The facts the resolver consumes. A GPU whose compute capability no
    /// probe gave (nvidia-smi of R470) takes it from compat-db by name; a
    /// driver CUDA no probe gave comes from the driver table.
    pub fn to_target(&self, db: &crate::db::Db) -> Target {
        let py = self.python.value.as_ref();
        let py_src = self.python.source.clone().unwrap_or_default();
        let gpus = self.gpus.value.as_ref().map(|list| {
            let v: Vec<TargetGpu> = list
                .iter()
                .filter_map(|g| {
                    let cc = g
                        .compute_capability
                        .or_else(|| db.gpu(&g.name).map(|d| d.compute_capability))
                        .or_else(|| {
                            // "NVIDIA GeForce RTX 3090" -> "GeForce RTX 3090" -> "RTX 3090".
                            let mut n = g.name.as_str();
                            while let Some((_, rest)) = n.split_once(' ') {
                                n = rest;
                                if let Some(d) = db.gpu(n) {
                                    return Some(d.compute_capability);
                                }
                            }
                            None
                        })?;
                    Some(TargetGpu {
                        name: g.name.clone(),
                        compute_capability: cc,
                    })
                })
                .collect();
            Sourced::new(v, self.gpus.source.clone().unwrap_or_default())
        });
        let driver = self.driver.sourced();
        let driver_cuda = self.driver_cuda.sourced().or_else(|| {
            let d = driver.as_ref()?;
            crate::target::driver_cuda_for(db, &d.value)
                .map(|c| Sourced::new(c, format!("compat-db/cuda.toml (from {})", d.source)))
        });
        let colab = self.colab.value == Some(true);
        Target {
            name: "local".into(),
            kind: if colab { "colab" } else { "local" }.into(),
            python: py.map(|p| Sourced::new(p.version.clone(), py_src.clone())),
            glibc: py
                .and_then(|p| p.glibc.clone())
                .map(|g| Sourced::new(g, py_src.clone())),
            gpus,
            driver,
            driver_cuda,
            toolkit: self.toolkit.sourced(),
            cudnn: self.cudnn.sourced(),
            system_sonames: Sourced::new(
                self.system_sonames.value.clone().unwrap_or_default(),
                self.system_sonames
                    .source
                    .clone()
                    .unwrap_or_else(|| "probe".into()),
            ),
            preinstalled: Sourced::new(py.map(|p| p.packages.clone()).unwrap_or_default(), py_src),
        }
    }

    /// An empty report (nothing probed); a base for tests and for targets
    /// built only from overrides.
    pub fn empty() -> Self {
        ProbeReport {
            schema: SCHEMA,
            sysroot: PathBuf::from("/"),
            timeout_secs: DEFAULT_TIMEOUT.as_secs_f64(),
            toolkit: Fact::default(),
            toolkits: vec![],
            driver: Fact::default(),
            driver_readings: vec![],
            driver_cuda: Fact::default(),
            gpus: Fact::default(),
            no_driver: None,
            cudnn: Fact::default(),
            cudnn_found: vec![],
            nvrtc: Fact::default(),
            nvrtc_found: vec![],
            python: Fact::default(),
            colab: Fact::default(),
            system_sonames: Fact::default(),
            disagreements: vec![],
            elapsed_ms: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> crate::db::Db {
        crate::db::Db::embedded().expect("embedded compat-db")
    }

    #[test]
    fn to_target_maps_facts() {
        let db = db();
        let mut r = ProbeReport::empty();
        r.toolkit = Fact::ok(CudaVersion::new(11, 8), "probe:nvcc");
        r.driver = Fact::ok(
            "470.182.03".parse().unwrap(),
            "probe:/sys/module/nvidia/version",
        );
        r.gpus = Fact::ok(
            vec![
                ProbedGpu {
                    index: 0,
                    name: "Tesla T4".into(),
                    compute_capability: None,
                    memory_mib: Some(15109),
                },
                ProbedGpu {
                    index: 1,
                    name: "NVIDIA H100 80GB HBM3".into(),
                    compute_capability: Some(ComputeCapability::new(9, 0)),
                    memory_mib: None,
                },
            ],
            "probe:nvidia-smi",
        );
        r.cudnn = Fact::ok("8.9.6".into(), "probe:header");
        r.system_sonames = Fact::ok(["libcudnn.so.8".to_string()].into(), "probe:lib dirs");
        r.python = Fact::ok(
            python::parse(r#"{"version": "3.10.12", "executable": "/usr/bin/python3", "glibc": "2.35", "packages": {"numpy": "1.23.5"}, "site_packages": [], "colab": false}"#).unwrap(),
            "probe:/usr/bin/python3",
        );
        r.colab = Fact::ok(false, "probe:python");
        let t = r.to_target(&db);
        assert_eq!((t.name.as_str(), t.kind.as_str()), ("local", "local"));
        assert_eq!(t.toolkit.as_ref().unwrap().value, CudaVersion::new(11, 8));
        assert_eq!(t.toolkit.as_ref().unwrap().source, "probe:nvcc");
        assert_eq!(t.driver.as_ref().unwrap().value.to_string(), "470.182.03");
        // No cuDriverGetVersion: the driver table answers (R470 -> CUDA 11.4).
        let dc = t.driver_cuda.as_ref().unwrap();
        assert_eq!(dc.value, CudaVersion::new(11, 4), "{dc:?}");
        assert!(
            dc.source.starts_with("compat-db/cuda.toml"),
            "{}",
            dc.source
        );
        let g = &t.gpus.as_ref().unwrap().value;
        assert_eq!(g.len(), 2);
        assert_eq!(
            g[0].compute_capability,
            ComputeCapability::new(7, 5),
            "T4 by name from compat-db"
        );
        assert_eq!(g[1].compute_capability, ComputeCapability::new(9, 0));
        assert_eq!(t.python.as_ref().unwrap().value, "3.10.12");
        assert_eq!(t.glibc.as_ref().unwrap().value, "2.35");
        assert_eq!(t.cudnn.as_ref().unwrap().value, "8.9.6");
        assert!(t.system_sonames.value.contains("libcudnn.so.8"));
        assert_eq!(t.preinstalled.value["numpy"], "1.23.5");
        assert!(t.has_gpu());
    }

    #[test]
    fn to_target_without_driver_has_no_gpu_and_unknowns() {
        let db = db();
        let mut r = ProbeReport::empty();
        r.gpus = Fact {
            value: Some(vec![]),
            source: Some("probe: no NVIDIA driver".into()),
            error: Some("no driver".into()),
        };
        r.colab = Fact::ok(true, "env:COLAB_RELEASE_TAG");
        let t = r.to_target(&db);
        assert!(!t.has_gpu());
        assert!(t.gpus.is_some());
        assert!(
            t.driver.is_none()
                && t.driver_cuda.is_none()
                && t.toolkit.is_none()
                && t.python.is_none()
        );
        assert_eq!(t.kind, "colab");
    }

    #[test]
    fn probe_of_empty_sysroot_does_not_hang_or_panic() {
        let dir = tempfile::tempdir().unwrap();
        let env: BTreeMap<String, String> =
            [("PATH".to_string(), dir.path().display().to_string())].into();
        let r = probe(&ProbeOptions {
            python: None,
            timeout: Duration::from_secs(2),
            sysroot: Some(dir.path().to_path_buf()),
            env: Some(env),
        });
        assert!(r.toolkit.error.is_some());
        assert!(r.python.error.is_some());
        assert!(r.driver.value.is_none());
        // A hang guard, not a speed assert (a hang would never return).
        assert!(r.elapsed_ms < 120_000);
    }
}
