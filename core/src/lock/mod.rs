//! `gpu-env.lock`: the resolved stack, every fact with its source, every file
//! pinned by sha256. Deterministic bytes for the same inputs; written
//! atomically; a lock from a newer format is refused, never overwritten.
//! Also renders `requirements-gpu.txt` (pip --require-hashes) and PEP 751
//! `pylock.toml` from a lock.

mod advice;
mod build;
mod device;
mod io;
mod pick;
mod pip;
mod python;
mod validate;

pub use advice::install_advice;
pub use build::{lock_target, locked_choice, LockedChoice};
pub use io::MAX_LOCK_BYTES;
pub use pick::PickError;
pub use pip::{pylock, requirements, try_pylock, try_requirements};
pub use python::PythonMismatch;

use crate::solve::Pin;
use crate::target::TargetGpu;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// 2: `gpu_env` version and per-target `override` entries. 3: GPUs as
/// name and compute capability, companions. 4: `mxnet.sass`/`ptx` are the
/// wheel's own kernels' code, the solver's `gpu_code` basis; `gpu_code` per
/// device as data (device, compute capability, SASS or PTX), not text.
pub const FORMAT: u32 = 4;

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
