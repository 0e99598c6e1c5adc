//! Probe the local machine: CUDA toolkits (nvcc), the NVIDIA driver and its
//! GPUs (driver API, kernel module files, nvidia-smi), cuDNN, NVRTC and the
//! Python interpreter. Every external command and library probe runs with a
//! timeout, all in parallel; a failed probe is an error entry on its fact,
//! never a panic or a hang. [`ProbeReport::to_target`] turns the facts into
//! the resolver's [`Target`]. Schema of the JSON form: docs/probe.md.

mod driver;
mod interpreter;
pub mod libs;
pub mod smi;
mod system;
mod target;
pub mod toolkit;

use crate::host::{cuda, exec, libs as hlibs, python};
use driver::{driver_api, driver_fact, driver_readings, probe_smi, SmiResult};
use interpreter::{probe_python, PyResult};
use system::{colab_fact, libraries, system_sonames};

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
