//! `gpu-env.lock`: the resolved stack, every fact with its source, every file
//! pinned by sha256. Deterministic bytes for the same inputs; written
//! atomically; a lock from a newer format is refused, never overwritten.
//! Also renders `requirements-gpu.txt` (pip --require-hashes) and PEP 751
//! `pylock.toml` from a lock.

use crate::solve::{Choice, Pin, Resolution, Status};
use crate::target::TargetGpu;
use crate::versions::ComputeCapability;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// 2: `gpu_env` version and per-target `override` entries. 3: GPUs as
/// name and compute capability, companions. 4: `mxnet.sass`/`ptx` are the
/// wheel's own kernels' code, the solver's `gpu_code` basis; `gpu_code` per
/// device as data (device, compute capability, SASS or PTX), not text.
pub const FORMAT: u32 = 4;

/// An interpreter the chosen target does not take: both named, and the way
/// to an install that works (another target of the lock, or the config
/// lines that lock for this interpreter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonMismatch {
    /// What is wrong, in one sentence.
    pub what: String,
    /// What to do.
    pub fix: String,
}

impl std::fmt::Display for PythonMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.what, self.fix)
    }
}

impl Lock {
    /// Target `t` of this lock against interpreter `python` (CPython
    /// `version`): None when it takes it.
    pub fn python_mismatch(
        &self,
        t: &LockedTarget,
        declared: &[crate::db::model::PythonSupport],
        python: &Path,
        version: &str,
    ) -> Option<PythonMismatch> {
        let i = crate::tags::Interpreter::cpython(version, None);
        let accepted = t.accepted_pythons(declared);
        if i.is_some_and(|i| accepted.iter().any(|r| r.contains((i.major, i.minor)))) {
            return None;
        }
        let ranges: Vec<String> = accepted.iter().map(|r| r.to_string()).collect();
        let takes = match ranges.is_empty() {
            true => "no Python".to_string(),
            false => format!("Python {}", ranges.join(", ")),
        };
        let what = format!(
            "{} is Python {version}, and the lock's target `{}` ({}) takes {takes} (it was made for Python {}).",
            python.display(),
            t.spec,
            t.name,
            t.fact_value("python").unwrap_or("?"),
        );
        let others: Vec<String> = self
            .target
            .iter()
            .filter(|o| !std::ptr::eq(*o, t) && o.accepts_python(declared, version))
            .map(|o| format!("`--target {}`", o.spec))
            .collect();
        let minor: Vec<&str> = version.split('.').take(2).collect();
        let fix = match others.is_empty() {
            true => format!(
                "Lock for this interpreter: add to the config\n    [[{}.target]]\n    spec = \"local\"\n    python-version = \"{}\"\nthen run `cargo xtask resolve`",
                crate::config::WORKSPACE_TABLE,
                minor.join(".")
            ),
            false => format!("The lock's {} takes it: use that", others.join(", ")),
        };
        Some(PythonMismatch { what, fix })
    }
}

pub const HEADER: &str = crate::generated::LOCK_HEADER;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub format: u32,
    /// The gpu-env version that wrote the lock (absent before format 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_env: Option<String>,
    /// The compat-db content hash the lock was resolved against.
    pub db: String,
    pub target: Vec<LockedTarget>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LockedTarget {
    /// As given: `colab`, `local`, `colab:A100`.
    pub spec: String,
    /// Resolved name: `colab-2026.08:T4`.
    pub name: String,
    pub kind: String,
    /// Constraints that applied (`mxnet = ">=1.9"`), for drift checks.
    #[serde(default)]
    pub constraints: BTreeMap<String, String>,
    /// Every fact given instead of probed or read from the profile, and
    /// every constraint not from the config, with where it came from
    /// (`--gpu`, `GPU_ENV_OVERRIDE_PYTHON`, `config:target[0].gpu`): `check`
    /// re-resolves with exactly these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r#override: Vec<LockedOverride>,
    pub fact: Vec<Fact>,
    /// The GPUs the target was resolved for, as data (format 3; the `gpus`
    /// fact is the same list as text, for people and drift reports).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpu: Vec<TargetGpu>,
    pub mxnet: LockedMxnet,
    pub driver: LockedDriver,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cudnn: Option<LockedCudnn>,
    pub numpy: LockedNumpy,
    pub package: Vec<Pin>,
    pub provider: Vec<LockedProvider>,
    #[serde(default)]
    pub shim: Vec<LockedShim>,
    /// Modules `import mxnet` needs that the lock does not pin.
    #[serde(default)]
    pub need: Vec<LockedNeed>,
    /// Companions locked with the stack (docs/companions.md); their files
    /// are `package` entries with role `companion` / `companion-dep`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub companion: Vec<LockedCompanion>,
    /// Environment the stack runs with, set by the cell and the install
    /// hook before `import mxnet` (`MXNET_USE_FUSION=0` where the driver
    /// cannot JIT the NVRTC's PTX; docs/solver.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<LockedEnv>,
}

/// Variables a lock may set ([`LockedEnv`]): the solver's, nothing else.
pub const LOCK_ENV: &[&str] = &["MXNET_USE_FUSION"];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LockedEnv {
    /// One of [`LOCK_ENV`].
    pub name: String,
    /// Digits only.
    pub value: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LockedCompanion {
    /// As requested: `d2l==1.0.3`.
    pub spec: String,
    pub package: String,
    pub version: String,
    /// The module that uses MXNet: `d2l.mxnet`.
    pub module: String,
    /// The measured set the lock follows (compat-db/companions/<package>.toml).
    pub measured: String,
    /// Packages of the set the target already has: `matplotlib 3.10.0`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preinstalled: Vec<String>,
    /// Requires-Dist entries of the companion the lock does not follow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r#override: Vec<LockedCompanionOverride>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LockedCompanionOverride {
    /// As published: `numpy (==1.23.5)`.
    pub requirement: String,
    /// `numpy 2.1.3 (stack)`, `matplotlib 3.10.0 (preinstalled)`, `dropped`.
    pub locked: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LockedOverride {
    /// `gpu`, `no_gpu`, `driver`, `cuda_toolkit`, `cudnn`, `python`, `mxnet`.
    pub name: String,
    pub value: String,
    /// `override:--gpu`, `override:GPU_ENV_OVERRIDE_GPU`, `config:target[0].gpu`.
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LockedNeed {
    pub package: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Fact {
    pub name: String,
    pub value: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LockedMxnet {
    pub package: String,
    pub version: String,
    pub filename: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda: Option<String>,
    /// Per device of the target: the image it runs (SASS sm_70 or PTX).
    pub gpu_code: Vec<crate::solve::DeviceCode>,
    /// The code MXNet's own kernels carry (format 4; the union of every
    /// fatbin module before): a device needs SASS or PTX from these.
    pub sass: Vec<u32>,
    pub ptx: Vec<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LockedDriver {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    pub why: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LockedCudnn {
    pub version: String,
    pub soname: String,
    pub provider: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LockedNumpy {
    pub version: String,
    /// Already on the target (nothing to install).
    pub preinstalled: bool,
    pub meets_requires_dist: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LockedProvider {
    pub soname: String,
    pub provider: String,
    /// For pip providers: the package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LockedShim {
    pub id: String,
    pub statements: Vec<String>,
    pub reason: String,
}

/// Whether a lock's MXNet wheel can run on a device: the GPU-code rule of
/// resolve ([`crate::solve::gpu_code::select`]) applied to the locked wheel.
/// Every command and the generated cell judge a device by this one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceFit {
    /// The wheel has code the device runs under the lock's driver floor.
    Runs(crate::solve::gpu_code::GpuCode),
    /// Only PTX covers the device while the lock was resolved for SASS: the
    /// driver floor differs (PTX JIT needs the full toolkit driver), so the
    /// lock does not vouch for it.
    NeedsJit(crate::solve::gpu_code::GpuCode),
    /// No SASS for the device's major and no PTX at or below it.
    NoCode,
}

impl LockedTarget {
    /// The Python versions that install every pinned wheel (its tags, on
    /// the target's glibc) and that MXNet declares it supports: the one
    /// answer the cell, install and doctor check an interpreter against.
    pub fn accepted_pythons(
        &self,
        declared: &[crate::db::model::PythonSupport],
    ) -> Vec<crate::tags::PythonRange> {
        let wheels: Vec<crate::tags::WheelTags> = self
            .package
            .iter()
            .filter_map(|p| crate::wheelname::WheelName::parse(&p.filename).ok())
            .map(|n| n.tags())
            .collect();
        let glibc = self.fact_value("glibc");
        crate::tags::accepting_pythons(&wheels, glibc, declared, "mxnet", &self.mxnet.version)
    }

    /// The value of fact `name` (`python`, `glibc`), if recorded.
    pub fn fact_value(&self, name: &str) -> Option<&str> {
        self.fact
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }

    /// Whether CPython `version` (`3.12.3`) is one it accepts.
    pub fn accepts_python(
        &self,
        declared: &[crate::db::model::PythonSupport],
        version: &str,
    ) -> bool {
        let Some(i) = crate::tags::Interpreter::cpython(version, None) else {
            return false;
        };
        self.accepted_pythons(declared)
            .iter()
            .any(|r| r.contains((i.major, i.minor)))
    }

    /// How the target's system libraries (not pinned by the lock) are
    /// provided: the toolkit (`fact` = `cuda_toolkit`) or cuDNN (`cudnn`)
    /// the lock was resolved with, as its facts record them.
    pub fn system_library_advice(&self, fact: &str) -> String {
        let what = match self.fact.iter().find(|f| f.name == fact) {
            Some(f) if fact == "cudnn" => format!("cuDNN {} ({})", f.value, f.source),
            Some(f) => format!("the CUDA {} toolkit ({})", f.value, f.source),
            None => "the system libraries the lock's target had".into(),
        };
        format!("install {what}, or add the directory that holds them to LD_LIBRARY_PATH")
    }

    fn invalid(&self, what: String, value: &str, rule: &'static str) -> LockError {
        LockError::Invalid {
            target: escape(&self.name),
            what,
            value: escape(value),
            rule,
        }
    }

    /// The one validation layer of generated files: every value that reaches
    /// the lock, requirements-gpu.txt, pylock.toml, the cell or the notebook
    /// against the grammar `db check` enforces on compat-db
    /// ([`crate::validate`]). Called by every renderer and when a lock is
    /// read; the first invalid value is the error.
    pub fn validate(&self) -> Result<(), LockError> {
        self.validate_installables()?;
        self.validate_records()
    }

    /// The values the installers write as code or commands (the setup
    /// cell, `install`'s hook, requirements, pylock): names, packages, MXNet,
    /// numpy, cuDNN, providers, shims. [`LockedTarget::validate`] adds the
    /// free-text records, which the cell embeds escaped.
    pub fn validate_installables(&self) -> Result<(), LockError> {
        // In this order: the first invalid value is the error.
        self.validate_identity()?;
        self.validate_packages()?;
        self.validate_stack()?;
        self.validate_providers()?;
        self.validate_shims()
    }

    /// Name and spec (written into comments and messages) and kind.
    fn validate_identity(&self) -> Result<(), LockError> {
        let bad = |what: &str, value: &str, rule| self.invalid(what.into(), value, rule);
        let plain = "printable ASCII without quotes or backslashes";
        if !crate::validate::is_plain_text(&self.name) || self.name.len() > 200 {
            return Err(bad("target name", &self.name, plain));
        }
        if !crate::validate::is_plain_text(&self.spec) || self.spec.len() > 200 {
            return Err(bad("target spec", &self.spec, plain));
        }
        if !is_token(&self.kind) {
            return Err(bad("kind", &self.kind, "letters, digits, `.+-_`"));
        }
        Ok(())
    }

    /// Each pinned file: what pip gets as a requirement line or pylock entry.
    fn validate_packages(&self) -> Result<(), LockError> {
        use crate::validate::{is_https_url, is_sha256, is_version};
        for p in &self.package {
            let bad = |what: &str, value: &str, rule| {
                self.invalid(format!("{what} of {}", p.name), value, rule)
            };
            if !is_name(&p.name) {
                return Err(self.invalid("package name".into(), &p.name, "PEP 508 name"));
            }
            if !is_version(&p.version) {
                return Err(bad("version", &p.version, "PEP 440 version"));
            }
            if !is_wheel_filename(&p.filename) {
                return Err(bad(
                    "filename",
                    &p.filename,
                    "a wheel filename (letters, digits, `.+-_!`, ending .whl)",
                ));
            }
            if !is_https_url(&p.url) {
                return Err(bad(
                    "url",
                    &p.url,
                    "https URL without quotes, spaces or `#`",
                ));
            }
            if !is_sha256(&p.sha256) {
                return Err(bad("sha256", &p.sha256, "64 lowercase hex digits"));
            }
            if !matches!(p.install.as_str(), "site" | "redist") {
                return Err(bad("install", &p.install, "`site` or `redist`"));
            }
            if !is_token(&p.role) {
                return Err(bad("role", &p.role, "letters, digits, `.+-_`"));
            }
        }
        Ok(())
    }

    /// MXNet, numpy and cuDNN: what the cell compares with the runtime.
    fn validate_stack(&self) -> Result<(), LockError> {
        use crate::validate::{is_sha256, is_soname, is_version};
        let bad = |what: &str, value: &str, rule| self.invalid(what.into(), value, rule);
        let m = &self.mxnet;
        if !is_name(&m.package) {
            return Err(bad("mxnet package", &m.package, "PEP 508 name"));
        }
        if !is_version(&m.version) {
            return Err(bad("mxnet version", &m.version, "PEP 440 version"));
        }
        if !is_wheel_filename(&m.filename) {
            return Err(bad("mxnet filename", &m.filename, "a wheel filename"));
        }
        if !is_sha256(&m.sha256) {
            return Err(bad("mxnet sha256", &m.sha256, "64 lowercase hex digits"));
        }
        if !is_version(&self.numpy.version) {
            return Err(bad("numpy version", &self.numpy.version, "PEP 440 version"));
        }
        if let Some(c) = &self.cudnn {
            if !crate::validate::is_cudnn_version(&c.version) {
                return Err(bad(
                    "cudnn version",
                    &c.version,
                    "dotted numbers such as 8.9.6",
                ));
            }
            if !is_soname(&c.soname) {
                return Err(bad("cudnn soname", &c.soname, "libNAME.so.N"));
            }
        }
        Ok(())
    }

    fn validate_providers(&self) -> Result<(), LockError> {
        let bad = |what: &str, value: &str, rule| self.invalid(what.into(), value, rule);
        for p in &self.provider {
            // A pip provider's soname is preloaded by the cell: the soname
            // grammar; a system one (ld-linux-x86-64.so.2) is only shown.
            let soname_ok = if p.package.is_some() {
                crate::validate::is_soname(&p.soname)
            } else {
                is_token(&p.soname)
            };
            if !soname_ok {
                return Err(bad("provider soname", &p.soname, "libNAME.so.N"));
            }
            if let Some(pkg) = &p.package {
                if !is_name(pkg) {
                    return Err(bad("provider package", pkg, "PEP 508 name"));
                }
                // The cell and install preload it from the lock's files.
                let pinned = self.package.iter().any(|q| {
                    crate::pep440::normalize_name(&q.name) == crate::pep440::normalize_name(pkg)
                });
                if !pinned {
                    return Err(bad(
                        "provider package",
                        pkg,
                        "a package the lock pins ([[target.package]])",
                    ));
                }
            }
            if !is_line(&p.provider) {
                return Err(bad(
                    "provider",
                    &p.provider,
                    "one line without control characters",
                ));
            }
        }
        Ok(())
    }

    /// Shim statements are applied as data; each must parse as one.
    fn validate_shims(&self) -> Result<(), LockError> {
        for s in &self.shim {
            if !is_token(&s.id) {
                return Err(self.invalid("shim id".into(), &s.id, "letters, digits, `.+-_`"));
            }
            for stmt in &s.statements {
                if crate::validate::parse_shim(stmt).is_none() {
                    return Err(self.invalid(
                        format!("shim {}", s.id),
                        stmt,
                        "`module.attr = name[.attr]`",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Facts, overrides, constraints, needs and the driver check: one line
    /// each, without control characters.
    fn validate_records(&self) -> Result<(), LockError> {
        use crate::validate::is_version;
        let bad = |what, value: &str, rule| self.invalid(what, value, rule);
        let m = &self.mxnet;
        for f in &self.fact {
            if !is_token(&f.name) {
                return Err(bad("fact name".into(), &f.name, "letters, digits, `.+-_`"));
            }
            if !is_line(&f.value) || !is_line(&f.source) {
                return Err(bad(
                    format!("fact {}", f.name),
                    &format!("{} [{}]", f.value, f.source),
                    "one line without control characters",
                ));
            }
            if f.name == "python" && !is_version(&f.value) {
                return Err(bad("python fact".into(), &f.value, "PEP 440 version"));
            }
        }
        if let Some(g) = self.gpu.iter().find(|g| !is_line(&g.name)) {
            return Err(bad(
                "gpu name".into(),
                &g.name,
                "one line without control characters",
            ));
        }
        for o in &self.r#override {
            if !is_token(&o.name) || !is_line(&o.value) || !is_line(&o.source) {
                return Err(bad(
                    "override".into(),
                    &format!("{} = {} [{}]", o.name, o.value, o.source),
                    "one line without control characters",
                ));
            }
        }
        for (k, v) in &self.constraints {
            if !is_line(k) || !is_line(v) {
                return Err(bad(
                    "constraint".into(),
                    &format!("{k} = {v}"),
                    "one line without control characters",
                ));
            }
        }
        for c in &self.companion {
            let texts = [&c.spec, &c.package, &c.version, &c.module, &c.measured];
            let bad_text = texts
                .into_iter()
                .chain(&c.preinstalled)
                .any(|v| !is_line(v))
                || c.r#override.iter().any(|o| {
                    !is_line(&o.requirement) || !is_line(&o.locked) || !is_line(&o.reason)
                });
            if bad_text {
                return Err(bad(
                    "companion".into(),
                    &c.spec,
                    "one line without control characters",
                ));
            }
        }
        for e in &self.env {
            let value_ok = !e.value.is_empty() && e.value.bytes().all(|b| b.is_ascii_digit());
            if !LOCK_ENV.contains(&e.name.as_str()) || !value_ok || !is_line(&e.why) {
                return Err(bad(
                    "env".into(),
                    &format!("{}={}", e.name, e.value),
                    "MXNET_USE_FUSION=<digits> with a one-line reason",
                ));
            }
        }
        for n in &self.need {
            if !is_line(&n.package) || !is_line(&n.reason) {
                return Err(bad(
                    "need".into(),
                    &n.package,
                    "one line without control characters",
                ));
            }
        }
        let d = &self.driver;
        if [&d.min, &d.found]
            .into_iter()
            .flatten()
            .any(|v| !is_token(v))
            || !is_line(&d.why)
        {
            return Err(bad("driver".into(), &d.why, "dotted numbers, one line"));
        }
        let devices = m.gpu_code.iter().map(|d| &d.device);
        if let Some(v) = devices.chain(m.cuda.iter()).find(|v| !is_line(v)) {
            return Err(bad(
                "mxnet gpu_code".into(),
                v,
                "one line without control characters",
            ));
        }
        Ok(())
    }

    /// Compute capabilities the lock was resolved for (its `gpus` fact:
    /// `NVIDIA T4 (7.5), NVIDIA A100 (8.0)`).
    pub fn gpu_capabilities(&self) -> Vec<ComputeCapability> {
        self.gpu.iter().map(|g| g.compute_capability).collect()
    }

    /// How the locked wheel fits a device of compute capability `cc`.
    pub fn fit(&self, cc: ComputeCapability) -> DeviceFit {
        use crate::solve::gpu_code::{select, GpuCode};
        let m = &self.mxnet;
        let Some(code) = select(&m.sass, &m.ptx, cc) else {
            return DeviceFit::NoCode;
        };
        let locked_jit = self
            .gpu_capabilities()
            .into_iter()
            .any(|c| matches!(select(&m.sass, &m.ptx, c), Some(GpuCode::Ptx { .. })));
        match code {
            GpuCode::Ptx { .. } if !locked_jit => DeviceFit::NeedsJit(code),
            _ => DeviceFit::Runs(code),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a gpu-env lock: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: lock format {found} is newer than this gpu-env understands ({FORMAT}); upgrade gpu-env instead of overwriting it")]
    Newer { path: String, found: u32 },
    #[error("{path}: lock format {found} was written by an older gpu-env; this one reads format {FORMAT} (the GPU code of MXNet's own kernels, per-device code and GPUs stored as data): run `cargo xtask resolve` with the same targets to rewrite it")]
    Older { path: String, found: u32 },
    #[error("{path}: {message}; refusing to overwrite it (move it away or delete it, then resolve again)")]
    NotOverwritable { path: String, message: String },
    #[error("target `{target}`: {what} `{value}` is not valid: {rule}")]
    Invalid {
        target: String,
        what: String,
        value: String,
        rule: &'static str,
    },
    #[error("target `{0}` is unsatisfiable; nothing to lock")]
    Unsatisfiable(String),
    #[error(transparent)]
    Write(#[from] crate::fsutil::WriteError),
}

/// Read the format number without trusting the rest of the file.
fn peek_format(text: &str) -> Option<u32> {
    let v: toml::Value = toml::from_str(text).ok()?;
    v.get("format")?
        .as_integer()
        .and_then(|i| u32::try_from(i).ok())
}

/// The largest lock gpu-env reads or replaces.
pub const MAX_LOCK_BYTES: u64 = 16 << 20;

/// `format = N` on a line of its own, for a file too damaged to parse
/// (a truncated newer lock must still be recognised as newer).
fn scan_format(text: &str) -> Option<u32> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "format").then(|| v.trim().parse().ok())?
    })
}

fn escape(s: &str) -> String {
    let cut: String = s.chars().take(200).collect();
    cut.escape_debug().to_string()
}

// The grammar `db check` holds compat-db to (one definition each).
use crate::validate::{is_line, is_token, is_wheel_filename};

/// A PEP 508 distribution name of at most 200 bytes.
fn is_name(n: &str) -> bool {
    crate::pep440::is_valid_name(n) && n.len() <= 200
}

/// `--target NAME` of a command that acts on one locked target (install,
/// verify, doctor) that the lock does not have.
#[derive(Debug, thiserror::Error)]
pub enum PickError {
    #[error("the lock has no targets; run `cargo xtask resolve`")]
    NoTargets,
    #[error("the lock has no target `{}`; it has: {}; pass one of them to --target", crate::validate::escape_control(.want), .have.join(", "))]
    NoSuchTarget { want: String, have: Vec<String> },
}

impl Lock {
    /// The index of the target a command acts on: `want` matched against
    /// each target's spec (`local`, `colab`), then its name
    /// (`colab-2026.08:T4`); by default the first `local` target that
    /// `fits` (install: the interpreter's Python), else the first `local`
    /// one, else the first.
    pub fn pick(
        &self,
        want: Option<&str>,
        fits: impl Fn(&LockedTarget) -> bool,
    ) -> Result<usize, PickError> {
        if self.target.is_empty() {
            return Err(PickError::NoTargets);
        }
        let Some(w) = want else {
            let local = |t: &LockedTarget| t.spec == "local" || t.kind == "local";
            let all = || self.target.iter();
            return Ok(all()
                .position(|t| local(t) && fits(t))
                .or_else(|| all().position(local))
                .unwrap_or(0));
        };
        let at = |f: &dyn Fn(&LockedTarget) -> bool| self.target.iter().position(f);
        at(&|t| t.spec == w)
            .or_else(|| at(&|t| t.name == w))
            .ok_or_else(|| PickError::NoSuchTarget {
                want: w.to_string(),
                have: self
                    .target
                    .iter()
                    .map(|t| format!("{} ({})", t.spec, t.name))
                    .collect(),
            })
    }

    pub fn parse(path: &str, text: &str) -> Result<Lock, LockError> {
        if let Some(found) = peek_format(text) {
            let path = path.into();
            if found > FORMAT {
                return Err(LockError::Newer { path, found });
            }
            if found < FORMAT {
                return Err(LockError::Older { path, found });
            }
        }
        let lock: Lock = toml::from_str(text).map_err(|e| LockError::Parse {
            path: path.into(),
            message: e.to_string().trim().to_string(),
        })?;
        // The one validation layer: a lock read from disk is held to the
        // grammar every renderer needs, so a hand-edited value fails here,
        // naming the lock, and never reaches a generated file.
        lock.validate().map_err(|e| LockError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
        Ok(lock)
    }

    /// Every target's values against the grammar of the generated files
    /// ([`LockedTarget::validate`]), and the compat-db hash.
    pub fn validate(&self) -> Result<(), LockError> {
        if !crate::validate::is_sha256(&self.db) {
            return Err(LockError::Invalid {
                target: "(lock)".into(),
                what: "db hash".into(),
                value: escape(&self.db),
                rule: "64 lowercase hex digits",
            });
        }
        if let Some(v) = &self.gpu_env {
            if !is_token(v) {
                return Err(LockError::Invalid {
                    target: "(lock)".into(),
                    what: "gpu_env version".into(),
                    value: escape(v),
                    rule: "letters, digits, `.+-_`",
                });
            }
        }
        self.target.iter().try_for_each(LockedTarget::validate)
    }

    pub fn read(path: &Path) -> Result<Lock, LockError> {
        let text = crate::fsutil::read_bounded(path, MAX_LOCK_BYTES, crate::fsutil::READ_TIMEOUT)
            .map_err(|source| LockError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    pub fn render(&self) -> String {
        format!(
            "{HEADER}{}",
            toml::to_string(self).expect("lock serializes")
        )
    }

    /// sha256 of the rendered lock: generated files name it.
    pub fn hash(&self) -> String {
        crate::fsutil::sha256_hex(self.render().as_bytes())
    }

    /// Whether the file at `path` may be replaced by a new lock: absent, or
    /// a whole gpu-env lock of this format or an older one. A newer format
    /// (even one that does not fully parse: D2), a damaged lock and a file
    /// that is no lock at all (`--lock notes.txt`: D19) are refused.
    pub fn check_overwritable(path: &Path) -> Result<(), LockError> {
        let shown = path.display().to_string();
        let refuse = |message: String| LockError::NotOverwritable {
            path: shown.clone(),
            message,
        };
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(refuse(format!("cannot inspect it: {e}"))),
        };
        if !meta.is_file() {
            return Err(refuse("it is not a regular file".into()));
        }
        if meta.len() > MAX_LOCK_BYTES {
            return Err(refuse(format!(
                "it is {} bytes, larger than any gpu-env lock ({MAX_LOCK_BYTES})",
                meta.len()
            )));
        }
        let bytes =
            crate::fsutil::read_bounded_bytes(path, MAX_LOCK_BYTES, crate::fsutil::READ_TIMEOUT)
                .map_err(|e| refuse(format!("cannot read it: {e}")))?;
        if bytes.is_empty() {
            return Ok(());
        }
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return Err(refuse("it is not a gpu-env lock (not UTF-8 text)".into()));
        };
        if let Some(found) = peek_format(text).or_else(|| scan_format(text)) {
            if found > FORMAT {
                return Err(LockError::Newer {
                    path: shown.clone(),
                    found,
                });
            }
        }
        match Lock::parse(&shown, text) {
            // A lock of an older format is replaced by the current one.
            Ok(_) | Err(LockError::Older { .. }) => Ok(()),
            Err(LockError::Newer { found, .. }) => Err(LockError::Newer {
                path: shown.clone(),
                found,
            }),
            Err(e) if text.starts_with(HEADER.trim_end()) => Err(refuse(format!(
                "it is a damaged or partial gpu-env lock ({e})"
            ))),
            Err(_) => Err(refuse("it is not a gpu-env lock".into())),
        }
    }
}

/// The compat-db hash a lock records (defined with the database).
pub use crate::db::db_hash;

/// What a resolution chose, as the lock stores it and `resolve --json`
/// prints it: one view of a choice (report.rs serializes these fields).
#[derive(Debug, Clone, Serialize)]
pub struct LockedChoice {
    pub mxnet: LockedMxnet,
    pub driver: LockedDriver,
    pub cudnn: Option<LockedCudnn>,
    pub numpy: LockedNumpy,
    pub package: Vec<Pin>,
    pub provider: Vec<LockedProvider>,
    pub shim: Vec<LockedShim>,
    pub need: Vec<LockedNeed>,
    pub companion: Vec<LockedCompanion>,
    pub env: Vec<LockedEnv>,
}

/// The locked form of the choice `c`.
pub fn locked_choice(c: &Choice) -> LockedChoice {
    LockedChoice {
        mxnet: locked_mxnet(c),
        driver: LockedDriver {
            min: c.driver.min.as_ref().map(|v| v.to_string()),
            found: c.driver.found.as_ref().map(|v| v.to_string()),
            ok: c.driver.ok,
            why: c.driver.why.clone(),
        },
        cudnn: c.cudnn.as_ref().map(|d| LockedCudnn {
            version: d.version.clone(),
            soname: d.soname.clone(),
            provider: d.provider.to_string(),
        }),
        numpy: LockedNumpy {
            version: c.numpy.version.clone(),
            preinstalled: c.numpy.file.is_none(),
            meets_requires_dist: c.numpy.meets_requires_dist,
        },
        package: c.packages.clone(),
        provider: locked_providers(c),
        shim: c
            .shims
            .iter()
            .map(|b| LockedShim {
                id: b.id.clone(),
                statements: b.shim.clone(),
                reason: b.error.clone(),
            })
            .collect(),
        need: c
            .needs
            .iter()
            .map(|n| LockedNeed {
                package: n.package.clone(),
                reason: n.reason.clone(),
            })
            .collect(),
        companion: c.companions.iter().map(locked_companion).collect(),
        env: c
            .env
            .iter()
            .map(|e| LockedEnv {
                name: e.name.clone(),
                value: e.value.clone(),
                why: e.why.clone(),
            })
            .collect(),
    }
}

/// How target `index` of `lock` gets into `py`'s environment (doctor and
/// verify print it). A notebook target of the config's lock (`lock_path`
/// None): the setup cell, which is generated from that lock, on the
/// platform it was resolved for; elsewhere a `local` target to resolve, as
/// the notebook target's facts (Python, driver, preinstalled packages) are
/// not this machine's. Otherwise the `cargo xtask install` command that
/// picks this very lock and target. `lock_path`: the lock as the user
/// named it (None: the default lock).
/// `cell`: the config's setup cell as shown (None: the default path).
pub fn install_advice(
    lock: &Lock,
    index: usize,
    lock_path: Option<&Path>,
    cell: Option<&Path>,
    py: &Path,
) -> String {
    let t = &lock.target[index];
    let py_word = crate::validate::shell_word(&py.display().to_string());
    if crate::target::is_notebook_kind(&t.kind) && lock_path.is_none() {
        if crate::host::platform::notebook() == Some(t.kind.as_str()) {
            return format!(
                "run the setup cell ({}) first in a fresh runtime: it installs {}",
                cell.unwrap_or(Path::new(crate::config::DEFAULT_COLAB_CELL))
                    .display(),
                t.name
            );
        }
        return format!(
            "the lock's target {} was resolved for a {} runtime (its Python, driver and preinstalled packages), and this machine is not one: add \"local\" to `targets` under [workspace.metadata.gpu-env] in Cargo.toml, run `cargo xtask resolve`, then `cargo xtask install --target local --python {py_word}`",
            t.name, t.kind
        );
    }
    let mut cmd = String::from("cargo xtask install");
    if let Some(p) = lock_path {
        cmd += &format!(
            " --lock {}",
            crate::validate::shell_word(&p.display().to_string())
        );
    }
    if lock.target.len() > 1 {
        cmd += &format!(" --target {}", crate::validate::shell_word(&t.name));
    }
    cmd + &format!(" --python {py_word}")
}

/// Turn a resolution into its locked form.
pub fn lock_target(
    spec: &str,
    constraints: BTreeMap<String, String>,
    r: &Resolution,
) -> Result<LockedTarget, LockError> {
    let c = match (&r.status, &r.chosen) {
        (Status::Resolved, Some(c)) => c,
        _ => return Err(LockError::Unsatisfiable(r.target.name.clone())),
    };
    let t = &r.target;
    let LockedChoice {
        mxnet,
        driver,
        cudnn,
        numpy,
        package,
        provider,
        shim,
        need,
        companion,
        env,
    } = locked_choice(c);
    Ok(LockedTarget {
        spec: spec.to_string(),
        name: t.name.clone(),
        kind: t.kind.clone(),
        constraints,
        r#override: Vec::new(),
        fact: locked_facts(t),
        gpu: t
            .gpus
            .iter()
            .flat_map(|g| g.value.iter().cloned())
            .collect(),
        mxnet,
        driver,
        cudnn,
        numpy,
        package,
        provider,
        shim,
        need,
        companion,
        env,
    })
}

/// The target facts the resolution used, each with its source, in a fixed
/// order; unknown facts are left out.
fn locked_facts(t: &crate::target::Target) -> Vec<Fact> {
    let mut fact = Vec::new();
    let mut push = |name: &str, value: Option<String>, source: Option<&String>| {
        if let (Some(v), Some(s)) = (value, source) {
            fact.push(Fact {
                name: name.into(),
                value: v,
                source: s.clone(),
            });
        }
    };
    push(
        "python",
        t.python.as_ref().map(|p| p.value.clone()),
        t.python.as_ref().map(|p| &p.source),
    );
    push(
        "glibc",
        t.glibc.as_ref().map(|p| p.value.clone()),
        t.glibc.as_ref().map(|p| &p.source),
    );
    push(
        "gpus",
        t.gpus.as_ref().map(|g| {
            g.value
                .iter()
                .map(|d| format!("{} ({})", d.name, d.compute_capability))
                .collect::<Vec<_>>()
                .join(", ")
        }),
        t.gpus.as_ref().map(|g| &g.source),
    );
    push(
        "driver",
        t.driver.as_ref().map(|d| d.value.to_string()),
        t.driver.as_ref().map(|d| &d.source),
    );
    push(
        "driver_cuda",
        t.driver_cuda.as_ref().map(|d| d.value.to_string()),
        t.driver_cuda.as_ref().map(|d| &d.source),
    );
    push(
        "cuda_toolkit",
        t.toolkit.as_ref().map(|d| d.value.to_string()),
        t.toolkit.as_ref().map(|d| &d.source),
    );
    push(
        "cudnn",
        t.cudnn.as_ref().map(|d| d.value.clone()),
        t.cudnn.as_ref().map(|d| &d.source),
    );
    fact
}

fn locked_mxnet(c: &Choice) -> LockedMxnet {
    let (own_sass, own_ptx) = crate::solve::gpu_code::own_kernels(&c.wheel);
    LockedMxnet {
        package: c.package.clone(),
        version: c.version.clone(),
        filename: c.wheel.filename.clone(),
        sha256: c.wheel.sha256.clone(),
        cuda: c.wheel.cuda.map(|c| c.to_string()),
        gpu_code: c.gpu_code.clone(),
        sass: own_sass.to_vec(),
        ptx: own_ptx.to_vec(),
    }
}

/// Who provides each library; pip providers name their package (the cell
/// preloads from it).
fn locked_providers(c: &Choice) -> Vec<LockedProvider> {
    c.providers
        .iter()
        .map(|(s, p)| LockedProvider {
            soname: s.clone(),
            provider: p.to_string(),
            package: match p {
                crate::solve::providers::Provider::Pip { package, .. } => Some(package.clone()),
                _ => None,
            },
        })
        .collect()
}

fn locked_companion(c: &crate::solve::companions::CompanionChoice) -> LockedCompanion {
    LockedCompanion {
        spec: c.spec.clone(),
        package: c.package.clone(),
        version: c.version.clone(),
        module: c.module.clone(),
        measured: c.measured.clone(),
        preinstalled: c
            .preinstalled
            .iter()
            .map(|(n, v)| format!("{n} {v}"))
            .collect(),
        r#override: c
            .overrides
            .iter()
            .map(|o| LockedCompanionOverride {
                requirement: o.requirement.clone(),
                locked: o.locked.clone(),
                reason: o.reason.clone(),
            })
            .collect(),
    }
}

/// The packages `pip install -r` may install for `t`, and the header lines
/// that say so. For a notebook target whose lock has CUDA redistributables
/// (`cell` is the setup cell's path), only the site set: pip would put the
/// redistributables into site-packages over the runtime's own CUDA 12 files
/// at the same paths (`nvidia/curand/lib/libcurand.so.10`), so the cell,
/// which installs them into their own directory, is the installer.
fn pip_set<'a>(
    t: &'a LockedTarget,
    cell: Option<&str>,
) -> Result<(Vec<&'a Pin>, String), LockError> {
    // Every renderer validates first: a value outside the grammar never
    // becomes a requirements line (`--index-url ...` from a newline).
    t.validate()?;
    if let Some(c) = cell {
        if !crate::validate::is_plain_text(c) {
            return Err(LockError::Invalid {
                target: escape(&t.name),
                what: "setup cell path".into(),
                value: escape(c),
                rule: "printable ASCII without quotes or backslashes",
            });
        }
    }
    let redist = t.package.iter().filter(|p| p.install == "redist").count();
    Ok(match cell {
        Some(cell) if redist > 0 => (
            t.package.iter().filter(|p| p.install != "redist").collect(),
            format!(
                "# On {name} the installer is {cell}: run it as the notebook's first cell. It installs\n\
                 # the packages below plus {redist} CUDA redistributable(s) into a directory of their own and\n\
                 # preloads them. Do not `pip install -r` this file there: it lists the site packages only,\n\
                 # and installing the redistributables with pip would overwrite the runtime's CUDA 12 files.\n",
                name = t.name
            ),
        ),
        _ => (t.package.iter().collect(), String::new()),
    })
}

/// How a local target's files become a working environment: `install`
/// adds the hook that applies the lock's preloads and shims at `import
/// mxnet`, which pip alone does not.
const INSTALL_HOW: &str =
    "# Install: cargo xtask install   (these files, hash-checked, plus the hook that applies the\n\
# lock's CUDA preloads and numpy shims at `import mxnet`; docs/install.md). pip install\n\
# --no-deps --require-hashes -r of this file installs the same files without that hook.\n";

/// `requirements-gpu.txt` for one target: every file pip may install,
/// hash-pinned, for `pip install --no-deps --require-hashes -r`.
/// Invalid values ([`LockedTarget::validate`]) are an error; nothing of them
/// is rendered.
pub fn try_requirements(
    lock_hash: &str,
    t: &LockedTarget,
    cell: Option<&str>,
) -> Result<String, LockError> {
    let (set, mut how) = pip_set(t, cell)?;
    if how.is_empty() {
        how = INSTALL_HOW.into();
    }
    let mut s = format!(
        "{}gpu-env.lock (sha256 {lock_hash}) for {}; do not edit by hand.\n{how}",
        crate::generated::text_marker(crate::generated::Kind::Requirements),
        t.name
    );
    for p in set {
        s.push_str(&format!(
            "{}=={} \\\n    --hash=sha256:{}\n",
            p.name, p.version, p.sha256
        ));
    }
    Ok(s)
}

/// PEP 751 `pylock.toml` for one target.
/// Invalid values ([`LockedTarget::validate`]) are an error; nothing of them
/// is rendered.
pub fn try_pylock(
    lock_hash: &str,
    t: &LockedTarget,
    cell: Option<&str>,
) -> Result<String, LockError> {
    let (set, mut how) = pip_set(t, cell)?;
    if how.is_empty() {
        how = INSTALL_HOW.replace(
            "pip install\n# --no-deps --require-hashes -r of this file",
            "Installing\n# this file with another tool",
        );
    }
    use toml::Value;
    let mut doc = toml::map::Map::new();
    doc.insert("lock-version".into(), Value::String("1.0".into()));
    doc.insert("created-by".into(), Value::String("gpu-env".into()));
    if let Some(py) = t.fact.iter().find(|f| f.name == "python") {
        let mm: Vec<&str> = py.value.split('.').take(2).collect();
        doc.insert(
            "requires-python".into(),
            Value::String(format!("=={}.*", mm.join("."))),
        );
    }
    let packages: Vec<Value> = set
        .into_iter()
        .map(|p| {
            let mut hashes = toml::map::Map::new();
            hashes.insert("sha256".into(), Value::String(p.sha256.clone()));
            let mut wheel = toml::map::Map::new();
            wheel.insert("name".into(), Value::String(p.filename.clone()));
            wheel.insert("url".into(), Value::String(p.url.clone()));
            wheel.insert("size".into(), Value::Integer(p.size as i64));
            wheel.insert("hashes".into(), Value::Table(hashes));
            let mut pkg = toml::map::Map::new();
            pkg.insert("name".into(), Value::String(p.name.clone()));
            pkg.insert("version".into(), Value::String(p.version.clone()));
            pkg.insert("wheels".into(), Value::Array(vec![Value::Table(wheel)]));
            Value::Table(pkg)
        })
        .collect();
    doc.insert("packages".into(), Value::Array(packages));
    Ok(format!(
        "{}gpu-env.lock (sha256 {lock_hash}) for {}; do not edit by hand.\n{how}{}",
        crate::generated::text_marker(crate::generated::Kind::Pylock),
        t.name,
        toml::to_string(&Value::Table(doc)).expect("pylock serializes")
    ))
}

/// [`try_requirements`] as text: for a lock with an invalid value, a file
/// that installs nothing and says why (never a line made of that value).
pub fn requirements(lock_hash: &str, t: &LockedTarget, cell: Option<&str>) -> String {
    try_requirements(lock_hash, t, cell).unwrap_or_else(|e| invalid_file(&e))
}

/// [`try_pylock`] as text, as [`requirements`].
pub fn pylock(lock_hash: &str, t: &LockedTarget, cell: Option<&str>) -> String {
    try_pylock(lock_hash, t, cell).unwrap_or_else(|e| invalid_file(&e))
}

fn invalid_file(e: &LockError) -> String {
    format!(
        "# gpu-env: not rendered: {}\n",
        crate::validate::escape_control(&e.to_string())
    )
}
