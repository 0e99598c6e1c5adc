//! The compat-db schema. One struct per file kind; see compat-db/README.md.
//! Unknown keys are collected (not silently dropped) by the loader.

use crate::pep440::{Specifiers, SPECIFIER_HINT};
use crate::pep508::Dependency;
use crate::versions::{ComputeCapability, CudaVersion, DriverVersion, SmTarget};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CudaFile {
    pub cuda: Vec<CudaRelease>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CudaRelease {
    pub version: CudaVersion,
    pub driver_min: DriverVersion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor_compat_driver_min: Option<DriverVersion>,
    pub sm: Vec<SmTarget>,
    #[serde(default)]
    pub sonames: BTreeMap<String, String>,
    pub source: Vec<String>,
    /// Where a source states that this toolkit's libraries do not support
    /// some devices (`[cuda.library_arch]`; see compat-db/README.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library_arch: Option<LibraryArch>,
}

/// A source's statement that a toolkit's libraries do not support devices
/// of compute capability `unsupported_from` and later.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LibraryArch {
    pub unsupported_from: ComputeCapability,
    /// The libraries the statement covers (keys of `sonames`, or `cudnn`);
    /// empty: the toolkit's libraries as a whole.
    #[serde(default)]
    pub libraries: Vec<String>,
    pub source: Vec<String>,
    /// What the source says, in short (plain text, no quotes).
    pub note: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GpuFile {
    pub gpu: Vec<Gpu>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Gpu {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub compute_capability: ComputeCapability,
    #[serde(default)]
    pub colab: bool,
    /// The names `nvidia-smi --query-gpu=name` prints for this model, each
    /// with where it was seen.
    #[serde(default)]
    pub smi: Vec<SmiName>,
    pub source: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmiName {
    pub name: String,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CudnnFile {
    pub cudnn: Vec<CudnnRelease>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CudnnRelease {
    pub version: String,
    pub cuda: Vec<CudaVersion>,
    pub soname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_compute_capability: Option<ComputeCapability>,
    pub source: Vec<String>,
    /// Rows of NVIDIA's support matrix: per CUDA build, the compute
    /// capabilities it supports (`[[cudnn.arch]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arch: Vec<CudnnArch>,
}

/// One support-matrix row: the cuDNN builds for `cuda` support devices of
/// compute capability `min_cc` up to `max_cc` (no upper bound when absent:
/// the row says "and later").
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CudnnArch {
    pub cuda: Vec<CudaVersion>,
    pub min_cc: ComputeCapability,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cc: Option<ComputeCapability>,
    pub source: String,
    /// For a row measured from a redistributable wheel (`source` is its
    /// PyPI listing) instead of read from a matrix: the wheel's sha256 and
    /// how its SASS was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct BreakerFile {
    pub breaker: Vec<Breaker>,
}

/// python.toml: the Python versions a project declares its releases
/// support, where the wheel tags say more (`py2.py3` on a release that
/// dropped Python 2).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PythonSupportFile {
    pub support: Vec<PythonSupport>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PythonSupport {
    /// The project: `mxnet` covers every MXNet distribution (`mxnet`,
    /// `mxnet-cu112`, `mxnet-mkl`, ...), as they are builds of one release.
    pub project: String,
    /// The releases it applies to.
    pub releases: Specifiers,
    /// The Python versions those releases support.
    pub python: Specifiers,
    /// The project's words, for the rejection reason.
    pub why: String,
    pub source: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Breaker {
    pub id: String,
    pub package: String,
    pub versions: Specifiers,
    pub dependency: String,
    pub breaks_with: BreaksWith,
    /// Only on these Python versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<Specifiers>,
    pub error: String,
    #[serde(default)]
    pub shim: Vec<String>,
    pub source: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<String>,
}

/// `breaks_with` of a breaker: the dependency versions that break the
/// package, or `absent` (the import fails without the dependency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreaksWith {
    Absent,
    Versions(Specifiers),
}

impl BreaksWith {
    /// Whether `v` of the dependency breaks the package (never for `absent`:
    /// that breaker is about the dependency missing, not a version).
    pub fn contains(&self, v: &crate::pep440::Version) -> bool {
        matches!(self, Self::Versions(s) if s.contains(v))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Absent => "absent",
            Self::Versions(s) => s.as_str(),
        }
    }
}

impl fmt::Display for BreaksWith {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for BreaksWith {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for BreaksWith {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "absent" {
            return Ok(Self::Absent);
        }
        Specifiers::parse(&s).map(Self::Versions).map_err(|e| {
            serde::de::Error::custom(format!("{}; {SPECIFIER_HINT}, or `absent`", e.one_line()))
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RedistPackage {
    pub package: String,
    pub component: String,
    pub cuda_major: u32,
    pub source: Vec<String>,
    #[serde(default)]
    pub release: Vec<RedistRelease>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RedistRelease {
    pub version: String,
    pub filename: String,
    pub url: String,
    pub sha256: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_python: Option<Specifiers>,
    #[serde(default)]
    pub requires_dist: Vec<Dependency>,
    pub libraries: Vec<RedistLibrary>,
    pub measured: String,
    /// How the libraries' `sass`/`ptx` were measured; absent where they were not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_measured: Option<String>,
    /// PyPI marks this file yanked (the `yanked` field of its JSON API).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub yanked: bool,
    /// PyPI's `yanked_reason`, where it gives one (only with `yanked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked_reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RedistLibrary {
    pub path: String,
    pub soname: String,
    /// SASS architectures (sm numbers) of the library's fatbin containers,
    /// where measured (`code_measured` of its release says how).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sass: Option<Vec<u32>>,
    /// PTX architectures (compute_XY as XY), measured with `sass`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptx: Option<Vec<u32>>,
}

/// `defects.toml`: MXNet releases broken as published.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DefectFile {
    pub defect: Vec<Defect>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_build: Vec<SourceBuild>,
}

/// A release whose source does not compile with CUDA toolkits from
/// `cuda_from` on (an API it calls changed), so a source build for a GPU
/// that only those toolkits target is no route.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SourceBuild {
    pub release: String,
    pub cuda_from: CudaVersion,
    /// What the build prints (plain text).
    pub error: String,
    pub source: Vec<String>,
}

/// A release whose libmxnet.so links (`DT_NEEDED`) a library its wheel does
/// not ship, fixed by a post-release that ships it. `db check` holds the
/// statement to the measured records of every package named.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Defect {
    pub packages: Vec<String>,
    pub version: String,
    /// The soname linked and not shipped.
    pub unshipped: String,
    /// The release of the same packages that ships it.
    pub fixed_by: String,
    /// What users see (plain text).
    pub error: String,
    pub source: Vec<String>,
}

/// `wheels/mxnet/<package>-<version>.toml`, written by `db ingest`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct WheelRelease {
    pub package: String,
    pub version: String,
    pub wheel: Vec<WheelFile>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct WheelFile {
    pub filename: String,
    pub url: String,
    pub sha256: String,
    pub size: u64,
    /// CUDA version the package name says it was built for (`cu112` -> 11.2); absent for CPU builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda: Option<CudaVersion>,
    pub python_tag: String,
    pub abi_tag: String,
    pub platform_tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_python: Option<Specifiers>,
    #[serde(default)]
    pub requires_dist: Vec<Dependency>,
    /// No `mxnet` package inside: a name-reserving placeholder.
    #[serde(default)]
    pub placeholder: bool,
    /// The library carries no SASS and no PTX (measured; never set when
    /// `unmeasured` is).
    #[serde(default)]
    pub no_gpu_code: bool,
    /// `DT_NEEDED` of `mxnet/libmxnet.so`, in ELF order.
    #[serde(default)]
    pub needed: Vec<String>,
    #[serde(default)]
    pub rpath: Vec<String>,
    #[serde(default)]
    pub runpath: Vec<String>,
    /// Shared libraries shipped inside the wheel beside libmxnet.so (by file name).
    #[serde(default)]
    pub bundled: Vec<String>,
    /// SASS architectures of all modules together (their union).
    #[serde(default)]
    pub sass: Vec<u32>,
    /// PTX architectures of all modules together (their union).
    #[serde(default)]
    pub ptx: Vec<u32>,
    /// Fatbin modules (containers) in the library; absent for placeholders,
    /// for records measured before modules were counted, and when the GPU
    /// code is unmeasured (`unmeasured`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modules: Option<u32>,
    /// Version of the cuDNN statically linked into the library (`"7.6.0"`,
    /// or `"7.6"` when only its source paths say it), read from its strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_cudnn: Option<String>,
    /// `"upx"` when the library is packed by UPX (then its code was unpacked
    /// to be measured, or `unmeasured` says why it was not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packed: Option<String>,
    /// Why the GPU code and static cuDNN of a packed library could not be
    /// measured; a wheel with this set is not known to lack GPU code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmeasured: Option<String>,
    /// The highest glibc (`"2.17"`) the `GLIBC_*` symbol versions of
    /// `mxnet/libmxnet.so` need (its `.gnu.version_r`); absent for
    /// placeholders and records measured before it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glibc: Option<String>,
    /// The modules grouped by their exact SASS/PTX lists, most modules first;
    /// the counts add up to `modules`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub module_code: Vec<ModuleCode>,
    pub provenance: WheelProvenance,
}

/// `modules` fatbin modules of a library that carry exactly this code.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct ModuleCode {
    pub modules: u32,
    #[serde(default)]
    pub sass: Vec<u32>,
    #[serde(default)]
    pub ptx: Vec<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct WheelProvenance {
    /// The PyPI JSON the sha256 and URL were checked against.
    pub source: String,
    /// sha256 of the library that was read (absent for placeholders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library_sha256: Option<String>,
    /// How the facts were read.
    pub measured: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Runtime {
    pub name: String,
    pub kind: String,
    pub date: String,
    pub python: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glibc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda_toolkit: Option<CudaVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<DriverVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cudnn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numpy: Option<String>,
    pub gpus: Vec<String>,
    pub default_gpu: String,
    #[serde(default)]
    pub system_sonames: Vec<String>,
    #[serde(default)]
    pub preinstalled: BTreeMap<String, String>,
    /// Sonames a locked stack takes from this runtime's own wheels instead
    /// of its pip redistributable of another CUDA major (measured per wheel).
    #[serde(default)]
    pub reuse: Vec<Reuse>,
    pub source: Vec<String>,
}

/// One shared soname: the runtime's preinstalled `package` `version` ships
/// it and defines every versioned symbol the `serves` wheels need from it,
/// so the cell preloads that copy and the runtime's own frameworks (torch,
/// cupy, jax) keep the copy they were built for.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Reuse {
    pub soname: String,
    pub package: String,
    pub version: String,
    /// MXNet wheel filenames the symbol check was measured for.
    pub serves: Vec<String>,
    /// How it was measured (script and report in this repository).
    pub measured: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PypiPackage {
    pub package: String,
    pub source: Vec<String>,
    pub release: Vec<PypiRelease>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PypiRelease {
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_python: Option<Specifiers>,
    /// PEP 508 requirements of this release (PyPI's Requires-Dist without
    /// the `extra ==` entries): `name spec` or `name (spec)`, optionally
    /// `; marker`, parsed at load (`pep508::Dependency`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires_dist: Vec<Dependency>,
    pub file: Vec<PypiFile>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PypiFile {
    pub filename: String,
    pub url: String,
    pub sha256: String,
    pub size: u64,
    pub python_tag: String,
    pub abi_tag: String,
    pub platform_tag: String,
}

/// `companions/<name>.toml`: a package people install beside MXNet (d2l's
/// MXNet edition), written by scripts/companions/record.py from PyPI and
/// from measured runs (scripts/companions/measure.py).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Companion {
    pub package: String,
    /// The module that uses MXNet (`d2l.mxnet`).
    pub module: String,
    pub source: Vec<String>,
    pub release: Vec<CompanionRelease>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CompanionRelease {
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_python: Option<Specifiers>,
    /// Requires-Dist as published (without `extra ==` entries).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires_dist: Vec<Dependency>,
    /// Top-level imports of `module` that are not the standard library
    /// (distribution names), read from its source.
    pub imports: Vec<String>,
    pub file: Vec<PypiFile>,
    /// Measured sets, preferred in order.
    #[serde(default)]
    pub run: Vec<CompanionRun>,
}

/// One measured venv: the stack, the companion's set, and whether the
/// check (import + the book's linear regression) passed.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CompanionRun {
    /// CPython version the venv ran.
    pub python: String,
    pub mxnet: String,
    pub numpy: String,
    /// The runtime profile whose pip-freeze held the set, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// The companion and every package installed for it (name -> version).
    pub packages: BTreeMap<String, String>,
    /// The stack it ran on besides mxnet and numpy (name -> version).
    #[serde(default)]
    pub stack: BTreeMap<String, String>,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How: the script, case, date and result.
    pub measured: String,
}
