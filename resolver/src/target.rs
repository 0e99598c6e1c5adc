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

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TargetGpu {
    pub name: String,
    pub compute_capability: ComputeCapability,
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
    #[error("{source_}: `{value}` is not a GPU: give a name from compat-db/gpus.toml (T4, A100), sm_XY, or a compute capability such as 7.5")]
    Gpu { source_: String, value: String },
    #[error("{source_}: {message}")]
    Value { source_: String, message: String },
}

impl Overrides {
    /// Read `GPU_ENV_OVERRIDE_{GPU,DRIVER,CUDA_TOOLKIT,CUDNN,PYTHON,NO_GPU}`;
    /// flags given on the command line win over the environment.
    pub fn with_env(mut self, env: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| {
            env(name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| Sourced::new(v.trim().to_string(), format!("override:{name}")))
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
        if self.no_gpu.is_none() && var("GPU_ENV_OVERRIDE_NO_GPU").is_some_and(|v| v.value != "0") {
            self.no_gpu = Some("override:GPU_ENV_OVERRIDE_NO_GPU".into());
        }
        self.driver = self.driver.or_else(|| var("GPU_ENV_OVERRIDE_DRIVER"));
        self.cuda_toolkit = self
            .cuda_toolkit
            .or_else(|| var("GPU_ENV_OVERRIDE_CUDA_TOOLKIT"));
        self.cudnn = self.cudnn.or_else(|| var("GPU_ENV_OVERRIDE_CUDNN"));
        self.python = self.python.or_else(|| var("GPU_ENV_OVERRIDE_PYTHON"));
        self
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

/// `T4` / `Tesla T4` (compat-db name or alias), `sm_75`, or `7.5`.
pub fn parse_gpu(db: &crate::db::Db, s: &str) -> Option<TargetGpu> {
    if let Some(g) = db.gpu(s) {
        return Some(TargetGpu {
            name: g.name.clone(),
            compute_capability: g.compute_capability,
        });
    }
    let cc = if let Some(sm) = s.strip_prefix("sm_") {
        let sm: u32 = sm.parse().ok()?;
        ComputeCapability::from_sm(sm)
    } else {
        s.parse().ok()?
    };
    Some(TargetGpu {
        name: format!("sm_{}", cc.sm()),
        compute_capability: cc,
    })
}

impl Target {
    /// Apply overrides on top of probed or profile facts.
    pub fn apply(&mut self, db: &crate::db::Db, o: &Overrides) -> Result<(), OverrideError> {
        if let Some(src) = &o.no_gpu {
            self.gpus = Some(Sourced::new(vec![], src.clone()));
        } else if !o.gpus.is_empty() {
            let mut gpus = Vec::new();
            for g in &o.gpus {
                gpus.push(parse_gpu(db, &g.value).ok_or_else(|| OverrideError::Gpu {
                    source_: g.source.clone(),
                    value: g.value.clone(),
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
            if c.value
                .split('.')
                .next()
                .and_then(|m| m.parse::<u32>().ok())
                .is_none()
            {
                return Err(bad(
                    c,
                    format!("`{}` is not a cuDNN version such as 8.9.6", c.value),
                ));
            }
            let major = c.value.split('.').next().unwrap_or_default();
            self.system_sonames
                .value
                .insert(format!("libcudnn.so.{major}"));
            self.cudnn = Some(Sourced::new(c.value.clone(), c.source.clone()));
        }
        if let Some(p) = &o.python {
            crate::pep440::version(&p.value).map_err(|e| bad(p, e.to_string()))?;
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
