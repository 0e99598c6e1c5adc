//! A *target*: the facts a resolve is made for, each with its source. Built
//! from the local probe, from a runtime profile in compat-db (Colab), and
//! then adjusted by overrides (flags or `GPU_ENV_OVERRIDE_*`).

use crate::versions::{ComputeCapability, CudaVersion, DriverVersion};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Where a fact came from: `probe:nvcc`, `profile:colab-2026.07`,
/// `override:--driver`, `override:GPU_ENV_OVERRIDE_DRIVER`, ...
pub type Source = String;

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: impl Into<String>) -> Self {
        Self {
            value,
            source: source.into(),
        }
    }
}

/// One GPU of a target, as probed or given, and as the lock records it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetGpu {
    pub name: String,
    pub compute_capability: ComputeCapability,
}

/// Target kinds that are notebook runtimes (Colab, Kaggle): the setup cell
/// runs there, and they ship their own CUDA 12 wheels and common packages.
pub fn is_notebook_kind(kind: &str) -> bool {
    matches!(kind, "colab" | "kaggle")
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Target {
    /// Display name: `local`, `colab-2026.07:T4`.
    pub name: String,
    /// `colab`, `local`, or another profile kind.
    pub kind: String,
    /// Full CPython version, e.g. 3.12.13.
    pub python: Option<Sourced<String>>,
    /// glibc version (manylinux level).
    pub glibc: Option<Sourced<String>>,
    /// Every device; empty means no GPU.
    pub gpus: Option<Sourced<Vec<TargetGpu>>>,
    pub driver: Option<Sourced<DriverVersion>>,
    /// Highest CUDA the driver supports (`cuDriverGetVersion`).
    pub driver_cuda: Option<Sourced<CudaVersion>>,
    /// The active local toolkit (nvcc).
    pub toolkit: Option<Sourced<CudaVersion>>,
    pub cudnn: Option<Sourced<String>>,
    /// Sonames the target's loader resolves without any pip package.
    pub system_sonames: Sourced<BTreeSet<String>>,
    /// Pip packages already installed (name -> version).
    pub preinstalled: Sourced<BTreeMap<String, String>>,
}

/// Each distinct target once, in order: a spec with the same overrides
/// (names, values and sources) as an earlier one is a repeat. Used for the
/// config's targets and for every request, so a repeated target is
/// resolved and locked once and the config that repeats it still matches
/// its lock.
pub fn distinct(targets: Vec<(String, Overrides)>) -> Vec<(String, Overrides)> {
    let mut seen = std::collections::BTreeSet::new();
    targets
        .into_iter()
        .filter(|(spec, o)| seen.insert((spec.clone(), o.entries())))
        .collect()
}

/// Overrides, as conda's `CONDA_OVERRIDE_CUDA`: each replaces one fact.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `T4`, `sm_75`, `7.5`; repeatable for several devices.
    pub gpus: Vec<Sourced<String>>,
    pub no_gpu: Option<Source>,
    pub driver: Option<Sourced<String>>,
    pub cuda_toolkit: Option<Sourced<String>>,
    pub cudnn: Option<Sourced<String>>,
    pub python: Option<Sourced<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    #[error("{source_}: {gpu}")]
    Gpu { source_: String, gpu: UnknownGpu },
    #[error("{source_}: {message}")]
    Value { source_: String, message: String },
}

impl Overrides {
    /// Read `GPU_ENV_OVERRIDE_{GPU,DRIVER,CUDA_TOOLKIT,CUDNN,PYTHON,NO_GPU}`;
    /// flags given on the command line win over the environment.
    /// Infallible form of [`Overrides::try_with_env`]: a value that cannot
    /// be an override (an unknown `NO_GPU` spelling, a non-UTF-8 value in
    /// the process environment) is reported on stderr and ignored. Callers
    /// should prefer `try_with_env` / `try_with_process_env`, which refuse it.
    pub fn with_env(self, env: impl Fn(&str) -> Option<String>) -> Self {
        match self.try_with_env_os(|name| match env(name) {
            Some(v) => Some(Ok(v)),
            None => std::env::var_os(name)
                .filter(|v| v.to_str().is_none())
                .map(|v| Err(v.to_string_lossy().into_owned())),
        }) {
            Ok(o) => o,
            Err((partial, e)) => {
                eprintln!("gpu-env: warning: {e}; ignored");
                partial
            }
        }
    }

    /// Read the `GPU_ENV_OVERRIDE_*` variables through `env`; an unknown
    /// `GPU_ENV_OVERRIDE_NO_GPU` spelling is an error naming the variable.
    /// Flags given on the command line win over the environment.
    pub fn try_with_env(self, env: impl Fn(&str) -> Option<String>) -> Result<Self, OverrideError> {
        self.try_with_env_os(|name| env(name).map(Ok))
            .map_err(|(_, e)| e)
    }

    /// [`Overrides::try_with_env`] over the process environment, raw
    /// (`std::env::var_os`): a value that is not UTF-8 is an error naming
    /// its variable, never silently ignored.
    pub fn try_with_process_env(self) -> Result<Self, OverrideError> {
        self.try_with_env_os(|name| {
            std::env::var_os(name).map(|v| {
                v.into_string()
                    .map_err(|v| v.to_string_lossy().into_owned())
            })
        })
        .map_err(|(_, e)| e)
    }

    /// `env` answers a variable's value, or `Err(lossy)` when it is not
    /// UTF-8. On error, also the overrides read so far (every valid one).
    #[allow(clippy::result_large_err)]
    fn try_with_env_os(
        mut self,
        env: impl Fn(&str) -> Option<Result<String, String>>,
    ) -> Result<Self, (Self, OverrideError)> {
        const NAMES: [&str; 6] = [
            "GPU_ENV_OVERRIDE_GPU",
            "GPU_ENV_OVERRIDE_NO_GPU",
            "GPU_ENV_OVERRIDE_DRIVER",
            "GPU_ENV_OVERRIDE_CUDA_TOOLKIT",
            "GPU_ENV_OVERRIDE_CUDNN",
            "GPU_ENV_OVERRIDE_PYTHON",
        ];
        let mut first_error = None;
        let mut values = BTreeMap::new();
        for name in NAMES {
            match env(name) {
                Some(Ok(v)) if !v.trim().is_empty() => {
                    values.insert(name, v.trim().to_string());
                }
                Some(Ok(_)) | None => {}
                Some(Err(lossy)) => {
                    first_error.get_or_insert(OverrideError::Value {
                        source_: format!("override:{name}"),
                        message: format!(
                            "the value `{}` is not UTF-8; unset {name} or give a UTF-8 value",
                            escape_control(&lossy)
                        ),
                    });
                }
            }
        }
        let var = |name: &str| {
            values
                .get(name)
                .map(|v| Sourced::new(v.clone(), format!("override:{name}")))
        };
        if self.gpus.is_empty() {
            if let Some(v) = var("GPU_ENV_OVERRIDE_GPU") {
                self.gpus = v
                    .value
                    .split(',')
                    .map(|g| Sourced::new(g.trim().to_string(), v.source.clone()))
                    .collect();
            }
        }
        if self.no_gpu.is_none() {
            if let Some(v) = var("GPU_ENV_OVERRIDE_NO_GPU") {
                match parse_bool(&v.value) {
                    Some(true) => self.no_gpu = Some(v.source),
                    Some(false) => {}
                    None => {
                        first_error.get_or_insert(OverrideError::Value {
                            message: format!(
                                "`{}` is not a yes/no value: give 1, true, yes or on (no GPU), or 0, false, no or off (keep the GPU)",
                                escape_control(&v.value)
                            ),
                            source_: v.source,
                        });
                    }
                }
            }
        }
        self.driver = self.driver.or_else(|| var("GPU_ENV_OVERRIDE_DRIVER"));
        self.cuda_toolkit = self
            .cuda_toolkit
            .or_else(|| var("GPU_ENV_OVERRIDE_CUDA_TOOLKIT"));
        self.cudnn = self.cudnn.or_else(|| var("GPU_ENV_OVERRIDE_CUDNN"));
        self.python = self.python.or_else(|| var("GPU_ENV_OVERRIDE_PYTHON"));
        match first_error {
            None => Ok(self),
            Some(e) => Err((self, e)),
        }
    }

    /// As recorded in a lock, in a fixed order: (name, value, source) with
    /// names `gpu` (one entry per device), `no_gpu`, `driver`,
    /// `cuda_toolkit`, `cudnn`, `python`.
    pub fn entries(&self) -> Vec<(String, String, String)> {
        let mut out: Vec<(String, String, String)> = self
            .gpus
            .iter()
            .map(|g| ("gpu".into(), g.value.clone(), g.source.clone()))
            .collect();
        if let Some(src) = &self.no_gpu {
            out.push(("no_gpu".into(), "true".into(), src.clone()));
        }
        for (name, v) in [
            ("driver", &self.driver),
            ("cuda_toolkit", &self.cuda_toolkit),
            ("cudnn", &self.cudnn),
            ("python", &self.python),
        ] {
            if let Some(v) = v {
                out.push((name.into(), v.value.clone(), v.source.clone()));
            }
        }
        out
    }

    /// Overrides from lock entries ([`Overrides::entries`]); an unknown name
    /// is an error naming it.
    pub fn from_entries<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    ) -> Result<Overrides, String> {
        let mut o = Overrides::default();
        for (name, value, source) in entries {
            let v = Sourced::new(value.to_string(), source);
            match name {
                "gpu" => o.gpus.push(v),
                "no_gpu" => o.no_gpu = Some(source.to_string()),
                "driver" => o.driver = Some(v),
                "cuda_toolkit" => o.cuda_toolkit = Some(v),
                "cudnn" => o.cudnn = Some(v),
                "python" => o.python = Some(v),
                other => return Err(format!("unknown override `{other}`")),
            }
        }
        Ok(o)
    }

    /// `self` on top of `base`: each fact `self` sets replaces `base`'s.
    pub fn over(self, base: &Overrides) -> Overrides {
        Overrides {
            gpus: if self.gpus.is_empty() {
                base.gpus.clone()
            } else {
                self.gpus
            },
            no_gpu: self.no_gpu.or_else(|| base.no_gpu.clone()),
            driver: self.driver.or_else(|| base.driver.clone()),
            cuda_toolkit: self.cuda_toolkit.or_else(|| base.cuda_toolkit.clone()),
            cudnn: self.cudnn.or_else(|| base.cudnn.clone()),
            python: self.python.or_else(|| base.python.clone()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.gpus.is_empty()
            && self.no_gpu.is_none()
            && self.driver.is_none()
            && self.cuda_toolkit.is_none()
            && self.cudnn.is_none()
            && self.python.is_none()
    }
}

/// A yes/no spelling of an environment flag: `1 true yes on` / `0 false no
/// off` (any case); None for anything else.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn escape_control(s: &str) -> String {
    crate::validate::escape_control(s)
}

/// A GPU name that is neither in compat-db nor `sm_XY` nor a compute
/// capability, with the nearest names compat-db knows.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{}` is not a GPU compat-db knows (compat-db/gpus.toml){}; name a GPU as nvidia-smi prints it (`NVIDIA GeForce RTX 4090`, `Tesla T4`) or by model (`RTX 4090`, `T4`), or give its compute capability (`sm_89`, `8.9`)", escape_control(.value), did_you_mean(.nearest))]
pub struct UnknownGpu {
    pub value: String,
    pub nearest: Vec<String>,
}

fn did_you_mean(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("; did you mean `{one}`?"),
        [init @ .., last] => format!(
            "; did you mean {} or `{last}`?",
            init.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `T4` / `Tesla T4` / `rtx4090` (compat-db name, alias or nvidia-smi name,
/// matched by [`crate::db::names::key`]), `sm_75`, or `7.5`.
pub fn parse_gpu(db: &crate::db::Db, s: &str) -> Result<TargetGpu, UnknownGpu> {
    parse_gpu_known(db, s).ok_or_else(|| UnknownGpu {
        value: s.to_string(),
        nearest: db.nearest_gpus(s).into_iter().map(String::from).collect(),
    })
}

fn parse_gpu_known(db: &crate::db::Db, s: &str) -> Option<TargetGpu> {
    if let Some(g) = db.gpu(s) {
        return Some(TargetGpu {
            name: g.name.clone(),
            compute_capability: g.compute_capability,
        });
    }
    let cc = if let Some(sm) = s.strip_prefix("sm_") {
        // Digits only, at most `99.9` (sm_999): the parser's bounds.
        if sm.is_empty() || sm.len() > 3 || !sm.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        ComputeCapability::from_sm(sm.parse().ok()?)
    } else {
        s.parse().ok()?
    };
    Some(TargetGpu {
        name: format!("sm_{}", cc.sm()),
        compute_capability: cc,
    })
}

impl Target {
    /// The target's CPython as wheel tags see it: its version and glibc
    /// (None when the Python version is unknown).
    pub fn interpreter(&self) -> Option<crate::tags::Interpreter> {
        let python = self.python.as_ref()?;
        let glibc = self.glibc.as_ref().map(|g| g.value.as_str());
        crate::tags::Interpreter::cpython(&python.value, glibc)
    }

    /// Apply overrides on top of probed or profile facts.
    pub fn apply(&mut self, db: &crate::db::Db, o: &Overrides) -> Result<(), OverrideError> {
        if let Some(src) = &o.no_gpu {
            self.gpus = Some(Sourced::new(vec![], src.clone()));
        } else if !o.gpus.is_empty() {
            let mut gpus = Vec::new();
            for g in &o.gpus {
                gpus.push(parse_gpu(db, &g.value).map_err(|gpu| OverrideError::Gpu {
                    source_: g.source.clone(),
                    gpu,
                })?);
            }
            self.gpus = Some(Sourced::new(gpus, o.gpus[0].source.clone()));
        }
        let bad = |s: &Sourced<String>, m: String| OverrideError::Value {
            source_: s.source.clone(),
            message: m,
        };
        if let Some(d) = &o.driver {
            let v: DriverVersion = d
                .value
                .parse()
                .map_err(|e: crate::versions::VersionParseError| bad(d, e.to_string()))?;
            db.known_driver(&v).map_err(|m| bad(d, m))?;
            // The driver's CUDA comes from the driver table; an override of
            // the driver invalidates a probed cuDriverGetVersion answer.
            self.driver_cuda = driver_cuda_for(db, &v)
                .map(|c| Sourced::new(c, format!("compat-db/cuda.toml (from {})", d.source)));
            self.driver = Some(Sourced::new(v, d.source.clone()));
        }
        if let Some(t) = &o.cuda_toolkit {
            let v: CudaVersion = t
                .value
                .parse()
                .map_err(|e: crate::versions::VersionParseError| bad(t, e.to_string()))?;
            db.known_cuda(v).map_err(|m| bad(t, m))?;
            // An overridden toolkit provides its runtime libraries (cuda.toml sonames).
            if let Some(rel) = db.cuda(v) {
                self.system_sonames
                    .value
                    .extend(rel.sonames.values().cloned());
                self.system_sonames.source = format!(
                    "{} + compat-db/cuda.toml sonames of CUDA {v} ({})",
                    self.system_sonames.source, t.source
                );
            }
            self.toolkit = Some(Sourced::new(v, t.source.clone()));
        }
        if let Some(c) = &o.cudnn {
            // The grammar of cuDNN facts (cudnn.toml, the probe): 8.9.6.
            if !crate::validate::is_cudnn_version(&c.value) {
                return Err(bad(
                    c,
                    format!(
                        "`{}` is not a cuDNN version such as 8.9.6 (dotted numbers)",
                        escape_control(&c.value)
                    ),
                ));
            }
            db.known_cudnn(&c.value).map_err(|m| bad(c, m))?;
            let major = c.value.split('.').next().unwrap_or_default();
            self.system_sonames
                .value
                .insert(format!("libcudnn.so.{major}"));
            self.cudnn = Some(Sourced::new(c.value.clone(), c.source.clone()));
        }
        if let Some(p) = &o.python {
            // The grammar of Python facts (profiles, the probe): PEP 440.
            if !crate::validate::is_version(&p.value) {
                return Err(bad(
                    p,
                    format!(
                        "`{}` is not a Python version such as 3.12 or 3.12.13",
                        escape_control(&p.value)
                    ),
                ));
            }
            crate::tags::known_python(db, &p.value).map_err(|m| bad(p, m))?;
            self.python = Some(Sourced::new(p.value.clone(), p.source.clone()));
        }
        Ok(())
    }

    pub fn has_gpu(&self) -> bool {
        self.gpus.as_ref().is_some_and(|g| !g.value.is_empty())
    }
}

/// The highest CUDA release whose toolkit driver floor the driver meets.
pub fn driver_cuda_for(db: &crate::db::Db, driver: &DriverVersion) -> Option<CudaVersion> {
    db.cuda
        .iter()
        .filter(|c| &c.driver_min <= driver)
        .map(|c| c.version)
        .max()
}
