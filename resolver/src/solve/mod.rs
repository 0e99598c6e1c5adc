//! Resolve: choose the MXNet wheel and a provider for every requirement it
//! has on the target; record for every other candidate the first rule it
//! broke, in words a user can act on. See ../shared/DESIGN.md "The model".
//!
//! Preference among survivors (deterministic): final releases over
//! pre-releases; newest MXNet release; then
//! every device on SASS over PTX JIT; then fewest bytes to download; then
//! newest CUDA build; then file name.

pub mod gpu_code;
pub mod needs;
pub mod numpy;
pub mod providers;

use crate::db::model::{Breaker, WheelFile, WheelRelease};
use crate::db::Db;
use crate::pep440::{self, Version, VersionSpecifiers};
use crate::target::Target;
use crate::versions::{CudaVersion, DriverVersion};
use gpu_code::GpuCode;
use providers::Provider;
use serde::Serialize;
use std::collections::BTreeMap;

/// Limits from the user's config or flags.
#[derive(Debug, Clone, Default)]
pub struct Constraints {
    /// PEP 440 specifier on the MXNet version, e.g. `>=1.9`.
    pub mxnet: Option<VersionSpecifiers>,
    /// Only these MXNet distributions (e.g. `mxnet-cu112`).
    pub packages: Option<Vec<String>>,
}

/// The rules, in the order they are checked; a rejection names the first broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Constraint,
    Placeholder,
    Platform,
    Python,
    Device,
    GpuCode,
    Soname,
    Cudnn,
    Driver,
    Numpy,
}

impl Rule {
    /// The rule's name in text output (`gpu code`, `soname`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Rule::Constraint => "constraint",
            Rule::Placeholder => "placeholder",
            Rule::Platform => "platform",
            Rule::Python => "python",
            Rule::Device => "device",
            Rule::GpuCode => "gpu code",
            Rule::Soname => "soname",
            Rule::Cudnn => "cudnn",
            Rule::Driver => "driver",
            Rule::Numpy => "numpy",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    pub package: String,
    pub version: String,
    pub filename: String,
    pub rule: Rule,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Pin {
    pub name: String,
    pub version: String,
    pub filename: String,
    pub url: String,
    pub sha256: String,
    pub size: u64,
    /// `mxnet`, `cuda-redist`, `numpy`, `need` (what `import mxnet` needs
    /// beyond its wheel, and that package's own requirements).
    pub role: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DriverCheck {
    /// The floor for this wheel with its chosen CUDA runtime.
    pub min: Option<DriverVersion>,
    pub found: Option<DriverVersion>,
    /// None when the target's driver is unknown.
    pub ok: Option<bool>,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CudnnChoice {
    pub version: String,
    pub soname: String,
    pub provider: Provider,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceCode {
    pub device: String,
    pub compute_capability: String,
    pub code: GpuCode,
}

#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub package: String,
    pub version: String,
    pub wheel: WheelFile,
    pub gpu_code: Vec<DeviceCode>,
    /// soname -> provider, for every DT_NEEDED of libmxnet.so.
    pub providers: BTreeMap<String, Provider>,
    pub cudnn: Option<CudnnChoice>,
    pub driver: DriverCheck,
    pub numpy: numpy::NumpyChoice,
    /// Every file to install, mxnet first, then redistributables by name, then
    /// numpy, then (role `need`) the pinned needs and their requirements by name.
    pub packages: Vec<Pin>,
    pub shims: Vec<Breaker>,
    /// Modules `import mxnet` needs (from "absent" breakers) that the target
    /// is not known to have and that are not pinned: on notebook runtimes
    /// (which ship them), or where compat-db/pypi has no fitting release
    /// (the reason then says why).
    pub needs: Vec<Need>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Need {
    pub package: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Resolved,
    Unsatisfiable,
}

#[derive(Debug, Clone, Serialize)]
pub struct Resolution {
    pub status: Status,
    pub target: Target,
    pub chosen: Option<Choice>,
    pub rejected: Vec<Rejection>,
    /// For unsatisfiable targets: the nearest fixes, in words.
    pub fixes: Vec<String>,
}

type PipChoice<'a> = Option<(
    &'a crate::db::model::RedistPackage,
    &'a crate::db::model::RedistRelease,
)>;

struct Ctx<'a> {
    db: &'a Db,
    target: &'a Target,
    python: Option<Version>,
    /// pip_provider answers for (soname, CUDA major): the same few sonames
    /// are asked for by every candidate wheel.
    pip_memo: std::cell::RefCell<std::collections::HashMap<(String, Option<u32>), PipChoice<'a>>>,
    /// need pins per (needs, MXNet Requires-Dist): the same for most wheels.
    need_memo: std::cell::RefCell<std::collections::HashMap<NeedKey, NeedPins>>,
}

type NeedKey = (Vec<String>, Vec<String>);
type NeedPins = (Vec<Pin>, Vec<Need>);

impl<'a> Ctx<'a> {
    fn pip_provider(&self, soname: &str, cuda_major: Option<u32>) -> PipChoice<'a> {
        let key = (soname.to_string(), cuda_major);
        if let Some(hit) = self.pip_memo.borrow().get(&key) {
            return *hit;
        }
        let found = providers::pip_provider(self.db, soname, cuda_major, self.python.as_ref());
        self.pip_memo.borrow_mut().insert(key, found);
        found
    }

    /// [`needs::pin`], memoized; `by` only names MXNet in reasons, and
    /// wheels of one release share it.
    fn need_pins(
        &self,
        python: &str,
        needs: Vec<Need>,
        requires_dist: &[String],
        by: &str,
    ) -> NeedPins {
        let key = (
            needs
                .iter()
                .map(|n| n.package.clone())
                .chain([by.to_string()])
                .collect(),
            requires_dist.to_vec(),
        );
        if let Some(hit) = self.need_memo.borrow().get(&key) {
            return hit.clone();
        }
        let out = needs::pin(
            self.db,
            python,
            &self.target.preinstalled.value,
            needs,
            requires_dist,
            by,
        );
        self.need_memo.borrow_mut().insert(key, out.clone());
        out
    }
}

fn reject(rel: &WheelRelease, w: &WheelFile, rule: Rule, reason: String) -> Rejection {
    Rejection {
        package: rel.package.clone(),
        version: rel.version.clone(),
        filename: w.filename.clone(),
        rule,
        reason,
    }
}

/// Evaluate one wheel against every rule.
fn evaluate(
    cx: &Ctx,
    rel: &WheelRelease,
    w: &WheelFile,
    constraints: &Constraints,
) -> Result<Choice, Rejection> {
    let no = |rule, reason: String| reject(rel, w, rule, reason);
    let version = pep440::version(&rel.version).map_err(|e| no(Rule::Constraint, e.to_string()))?;
    if let Some(spec) = &constraints.mxnet {
        if !spec.contains(&version) {
            return Err(no(
                Rule::Constraint,
                format!("excluded by the constraint mxnet {spec}"),
            ));
        }
    }
    if let Some(pkgs) = &constraints.packages {
        if !pkgs
            .iter()
            .any(|p| pep440::normalize_name(p) == rel.package)
        {
            return Err(no(
                Rule::Constraint,
                format!("excluded by the constraint packages = {pkgs:?}"),
            ));
        }
    }
    if w.placeholder {
        return Err(no(
            Rule::Placeholder,
            "placeholder wheel: it contains no mxnet package".into(),
        ));
    }
    let name = crate::wheelname::WheelName::parse(&w.filename)
        .map_err(|e| no(Rule::Platform, e.to_string()))?;
    if !name.is_linux_x86_64_or_any() {
        return Err(no(
            Rule::Platform,
            format!("platform {} is not Linux x86_64", w.platform_tag),
        ));
    }
    if let (Some(need), Some(have)) = (
        numpy::manylinux_glibc(&w.platform_tag),
        cx.target
            .glibc
            .as_ref()
            .and_then(|g| numpy::glibc_tuple(&g.value)),
    ) {
        if need > have {
            return Err(no(
                Rule::Platform,
                format!(
                    "{} needs glibc {}.{}; the target has {}.{}",
                    w.platform_tag, need.0, need.1, have.0, have.1
                ),
            ));
        }
    }
    if let (Some(py), Some(spec)) = (&cx.python, w.requires_python.as_deref()) {
        if pep440::specifiers(spec).is_ok_and(|s| !s.contains(py)) {
            return Err(no(
                Rule::Python,
                format!("requires Python {spec}; the target has {py}"),
            ));
        }
    }
    if !w
        .python_tag
        .split('.')
        .any(|t| t == "py3" || t.starts_with("cp3"))
    {
        return Err(no(
            Rule::Python,
            format!("python tag {} is not for Python 3", w.python_tag),
        ));
    }

    // Devices and GPU code.
    let gpus: &[crate::target::TargetGpu] = cx
        .target
        .gpus
        .as_ref()
        .map(|g| g.value.as_slice())
        .unwrap_or(&[]);
    let mut gpu_code = Vec::new();
    match (w.cuda, gpus.is_empty()) {
        (None, false) => {
            return Err(no(
                Rule::Device,
                "CPU build; the target has a GPU (pass --no-gpu to pin a CPU wheel)".into(),
            ))
        }
        (Some(c), true) => {
            return Err(no(
                Rule::Device,
                format!("CUDA {c} build; the target has no GPU"),
            ))
        }
        (Some(_), false) if w.no_gpu_code => {
            return Err(no(
                Rule::GpuCode,
                "libmxnet.so carries no GPU code (no SASS, no PTX)".into(),
            ))
        }
        (Some(_), false) => {
            for g in gpus {
                match gpu_code::select(&w.sass, &w.ptx, g.compute_capability) {
                    Some(code) => gpu_code.push(DeviceCode {
                        device: g.name.clone(),
                        compute_capability: g.compute_capability.to_string(),
                        code,
                    }),
                    None => {
                        return Err(no(
                            Rule::GpuCode,
                            format!(
                                "no machine code for {} (sm_{}): SASS {}; PTX {}",
                                g.name,
                                g.compute_capability.sm(),
                                gpu_code::list("sm", &w.sass),
                                gpu_code::list("compute", &w.ptx)
                            ),
                        ))
                    }
                }
            }
        }
        (None, true) => {}
    }

    // Providers for every DT_NEEDED soname.
    let cuda_major = w.cuda.map(|c| c.major);
    let system = &cx.target.system_sonames;
    let mut providers = BTreeMap::new();
    let mut pip: BTreeMap<String, (String, &crate::db::model::RedistRelease)> = BTreeMap::new();
    let mut cudnn = None;
    // A system library built for another CUDA major (Colab's CUDA 12 NCCL
    // under a CUDA 11 wheel) makes a mixed stack: take the pip build of the
    // wheel's own major when one exists.
    let prefer_pip = match (w.cuda, cx.target.toolkit.as_ref()) {
        (Some(c), Some(t)) => c.major != t.value.major,
        _ => false,
    };
    for soname in &w.needed {
        let provider = if providers::DRIVER_SONAMES.contains(&soname.as_str()) {
            if gpus.is_empty() {
                return Err(no(
                    Rule::Soname,
                    format!("{soname} comes with the NVIDIA driver; the target has no GPU"),
                ));
            }
            Provider::Driver
        } else if providers::BASE_SYSTEM_SONAMES.contains(&soname.as_str()) {
            Provider::BaseSystem
        } else if w.bundled.contains(soname)
            && w.rpath
                .iter()
                .chain(&w.runpath)
                .any(|p| p.contains("ORIGIN"))
        {
            Provider::Wheel
        } else if let Some(major) = soname.strip_prefix("libcudnn.so.") {
            let system_cudnn = cx
                .target
                .cudnn
                .as_ref()
                .filter(|c| c.value.split('.').next() == Some(major));
            if let (Some(c), true, false) =
                (system_cudnn, system.value.contains(soname), prefer_pip)
            {
                cudnn = Some(CudnnChoice {
                    version: c.value.clone(),
                    soname: soname.clone(),
                    provider: Provider::System {
                        source: c.source.clone(),
                    },
                });
                Provider::System {
                    source: c.source.clone(),
                }
            } else if let Some((pkg, r)) = cx.pip_provider(soname, cuda_major) {
                cudnn = Some(CudnnChoice {
                    version: r.version.clone(),
                    soname: soname.clone(),
                    provider: Provider::Pip {
                        package: pkg.package.clone(),
                        version: r.version.clone(),
                    },
                });
                pip.insert(pkg.package.clone(), (pkg.package.clone(), r));
                Provider::Pip {
                    package: pkg.package.clone(),
                    version: r.version.clone(),
                }
            } else {
                let have = cx
                    .target
                    .cudnn
                    .as_ref()
                    .map(|c| format!("the target has cuDNN {}", c.value))
                    .unwrap_or_else(|| "the target has no cuDNN".into());
                return Err(no(Rule::Cudnn, format!("needs cuDNN {major} ({soname}); {have}, and no pip redistributable{} in compat-db ships {soname}", for_major(cuda_major))));
            }
        } else if let Some((pkg, r)) = cx
            .pip_provider(soname, cuda_major)
            .filter(|_| prefer_pip || !system.value.contains(soname))
        {
            pip.insert(pkg.package.clone(), (pkg.package.clone(), r));
            Provider::Pip {
                package: pkg.package.clone(),
                version: r.version.clone(),
            }
        } else if system.value.contains(soname) {
            Provider::System {
                source: system.source.clone(),
            }
        } else {
            // Name the toolkit only for libraries a CUDA toolkit ships.
            let cuda = w
                .cuda
                .filter(|c| {
                    cx.db
                        .cuda(*c)
                        .is_some_and(|r| r.sonames.values().any(|s| s == soname))
                })
                .map(|c| format!(" (install the CUDA {c} toolkit)"))
                .unwrap_or_else(|| " (a library the wheel does not bundle)".into());
            return Err(no(Rule::Soname, format!("{soname} has no provider: the target does not have it and no pip redistributable{} in compat-db ships it{cuda}", for_major(cuda_major))));
        };
        providers.insert(soname.clone(), provider);
    }
    // Redistributables' own nvidia-* requirements (cudnn needs cublas, ...).
    let mut queue: Vec<String> = pip.keys().cloned().collect();
    while let Some(name) = queue.pop() {
        let reqs = providers::requirement_names(&pip[&name].1.requires_dist);
        for req in reqs.into_iter().filter(|r| r.starts_with("nvidia-")) {
            if pip.contains_key(&req) {
                continue;
            }
            if let Some((pkg, r)) = providers::newest_release(cx.db, &req, cx.python.as_ref()) {
                pip.insert(pkg.package.clone(), (pkg.package.clone(), r));
                queue.push(pkg.package.clone());
            }
        }
    }
    // cuDNN's own device floor.
    if let Some(c) = &cudnn {
        if let Some(rec) = cx
            .db
            .cudnn
            .iter()
            .filter(|r| {
                c.version.starts_with(&r.version) || r.version.starts_with(&series(&c.version))
            })
            .max_by_key(|r| r.version.len())
        {
            if let Some(min) = rec.min_compute_capability {
                if let Some(g) = gpus.iter().find(|g| g.compute_capability < min) {
                    return Err(no(
                        Rule::Cudnn,
                        format!(
                            "cuDNN {} needs compute capability >= {min}; {} is {}",
                            c.version, g.name, g.compute_capability
                        ),
                    ));
                }
            }
        }
    }

    // Driver floor, from the CUDA runtime that will actually load.
    let driver = match w.cuda {
        None => DriverCheck {
            min: None,
            found: None,
            ok: None,
            why: "CPU build: no driver needed".into(),
        },
        Some(wheel_cuda) => driver_check(cx, wheel_cuda, &providers, &pip, &gpu_code)
            .map_err(|r| no(Rule::Driver, r))?,
    };

    // numpy.
    let python = cx.target.python.as_ref().map(|p| p.value.clone());
    let numpy = match &python {
        Some(py) => numpy::choose(
            cx.db,
            &rel.version,
            &w.requires_dist,
            py,
            cx.target.glibc.as_ref().map(|g| g.value.as_str()),
            cx.target
                .preinstalled
                .value
                .get("numpy")
                .map(String::as_str),
        )
        .map_err(|e| no(Rule::Numpy, e))?,
        None => {
            return Err(no(
                Rule::Python,
                "the target's Python version is unknown (pass --python-version)".into(),
            ))
        }
    };

    // Pins.
    let mut packages = vec![Pin {
        name: rel.package.clone(),
        version: rel.version.clone(),
        filename: w.filename.clone(),
        url: w.url.clone(),
        sha256: w.sha256.clone(),
        size: w.size,
        role: "mxnet".into(),
    }];
    for (name, (_, r)) in &pip {
        packages.push(Pin {
            name: name.clone(),
            version: r.version.clone(),
            filename: r.filename.clone(),
            url: r.url.clone(),
            sha256: r.sha256.clone(),
            size: r.size,
            role: "cuda-redist".into(),
        });
    }
    if let Some(f) = &numpy.file {
        packages.push(Pin {
            name: "numpy".into(),
            version: numpy.version.clone(),
            filename: f.filename.clone(),
            url: f.url.clone(),
            sha256: f.sha256.clone(),
            size: f.size,
            role: "numpy".into(),
        });
    }
    let shims = numpy.shims.clone();
    let mut needs = absent_needs(cx, &version);
    // Outside notebook runtimes (which ship requests and setuptools) each
    // need is pinned with its own requirements; `needs` keeps the rest.
    if !needs.is_empty() && !crate::emit::is_notebook_kind(&cx.target.kind) {
        if let Some(py) = &python {
            let (pins, left) = cx.need_pins(
                py,
                needs,
                &w.requires_dist,
                &format!("{} {}", rel.package, rel.version),
            );
            packages.extend(pins);
            needs = left;
        }
    }
    Ok(Choice {
        package: rel.package.clone(),
        version: rel.version.clone(),
        wheel: w.clone(),
        gpu_code,
        providers,
        cudnn,
        driver,
        numpy,
        packages,
        shims,
        needs,
    })
}

/// "absent" breakers that apply to this MXNet on this Python, for
/// dependencies the target does not list as installed.
fn absent_needs(cx: &Ctx, mxnet: &Version) -> Vec<Need> {
    cx.db
        .breakers
        .iter()
        .filter(|b| b.package == "mxnet" && b.breaks_with == "absent")
        .filter(|b| pep440::specifiers(&b.versions).is_ok_and(|s| s.contains(mxnet)))
        .filter(|b| match (&b.python, &cx.python) {
            (Some(spec), Some(py)) => pep440::specifiers(spec).is_ok_and(|s| s.contains(py)),
            (Some(_), None) => true,
            (None, _) => true,
        })
        .filter(|b| !cx.target.preinstalled.value.contains_key(&b.dependency))
        .map(|b| Need {
            package: b.dependency.clone(),
            reason: format!("{} ({})", b.error, b.id),
        })
        .collect()
}

/// " for CUDA 10" (pip redistributables only serve their own CUDA major).
fn for_major(major: Option<u32>) -> String {
    major.map(|m| format!(" for CUDA {m}")).unwrap_or_default()
}

/// `8.9.6.50` -> `8.9`.
fn series(v: &str) -> String {
    v.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// The CUDA version of a cudart: from its pip release (11.8.89 -> 11.8) or the wheel's.
fn runtime_cuda(providers: &BTreeMap<String, Provider>, wheel_cuda: CudaVersion) -> CudaVersion {
    providers
        .iter()
        .find_map(|(soname, p)| match p {
            Provider::Pip { package, version }
                if soname.starts_with("libcudart.so")
                    && package.starts_with("nvidia-cuda-runtime") =>
            {
                series(version).parse().ok()
            }
            _ => None,
        })
        .unwrap_or(wheel_cuda)
}

fn driver_check(
    cx: &Ctx,
    wheel_cuda: CudaVersion,
    providers: &BTreeMap<String, Provider>,
    _pip: &BTreeMap<String, (String, &crate::db::model::RedistRelease)>,
    gpu_code: &[DeviceCode],
) -> Result<DriverCheck, String> {
    let runtime = runtime_cuda(providers, wheel_cuda);
    let rel = cx
        .db
        .cuda(runtime)
        .or_else(|| cx.db.cuda(wheel_cuda))
        .ok_or_else(|| format!("CUDA {runtime} is not in compat-db/cuda.toml"))?;
    let uses_ptx = gpu_code
        .iter()
        .any(|d| matches!(d.code, GpuCode::Ptx { .. }));
    // PTX JIT needs a driver at least as new as the toolkit that wrote the
    // PTX; minor-version compatibility does not cover it.
    let (min, why) = match (&rel.minor_compat_driver_min, uses_ptx) {
        (Some(m), false) => (
            m.clone(),
            format!(
                "CUDA {runtime} runtime with minor-version compatibility (toolkit driver {})",
                rel.driver_min
            ),
        ),
        (_, true) => {
            let w = cx.db.cuda(wheel_cuda).unwrap_or(rel);
            (
                w.driver_min.clone().max(rel.driver_min.clone()),
                format!("PTX JIT of CUDA {wheel_cuda} code needs the full toolkit driver"),
            )
        }
        (None, false) => (
            rel.driver_min.clone(),
            format!("CUDA {runtime} toolkit driver"),
        ),
    };
    let found = cx.target.driver.as_ref().map(|d| d.value.clone());
    let ok = match (&found, &cx.target.driver_cuda) {
        (Some(f), _) => Some(*f >= min),
        (None, Some(dc)) => Some(
            dc.value >= runtime
                || (rel.minor_compat_driver_min.is_some()
                    && !uses_ptx
                    && dc.value.major == runtime.major),
        ),
        (None, None) => None,
    };
    if ok == Some(false) {
        let have = found
            .map(|f| format!("driver {f}"))
            .or_else(|| {
                cx.target
                    .driver_cuda
                    .as_ref()
                    .map(|c| format!("a driver for CUDA {}", c.value))
            })
            .unwrap_or_default();
        return Err(format!(
            "needs NVIDIA driver >= {min} ({why}); the target has {have}"
        ));
    }
    Ok(DriverCheck {
        min: Some(min),
        found: cx.target.driver.as_ref().map(|d| d.value.clone()),
        ok,
        why,
    })
}

/// Sort key for survivors: smaller is better. Pre-releases (2.0.0b1) rank
/// below every final release, as pip treats them.
fn preference(c: &Choice) -> impl Ord {
    let version = pep440::version(&c.version).ok();
    let pre = version.as_ref().is_none_or(|v| v.any_prerelease());
    let all_sass = c
        .gpu_code
        .iter()
        .all(|d| matches!(d.code, GpuCode::Sass { .. }));
    let bytes: u64 = c.packages.iter().map(|p| p.size).sum();
    (
        pre,
        std::cmp::Reverse(version),
        !all_sass,
        bytes,
        std::cmp::Reverse(c.wheel.cuda),
        c.wheel.filename.clone(),
    )
}

/// Resolve `target` against every MXNet wheel in `db`.
pub fn resolve(db: &Db, target: &Target, constraints: &Constraints) -> Resolution {
    let cx = Ctx {
        db,
        target,
        python: target
            .python
            .as_ref()
            .and_then(|p| pep440::version(&p.value).ok()),
        pip_memo: Default::default(),
        need_memo: Default::default(),
    };
    let mut survivors = Vec::new();
    let mut rejected = Vec::new();
    for (rel, w) in db.wheel_files() {
        match evaluate(&cx, rel, w, constraints) {
            Ok(c) => survivors.push(c),
            Err(r) => rejected.push(r),
        }
    }
    survivors.sort_by_cached_key(preference);
    let mut survivors = survivors.into_iter();
    let chosen = survivors.next();
    if let Some(c) = &chosen {
        for s in survivors {
            rejected.push(Rejection {
                package: s.package.clone(),
                version: s.version.clone(),
                filename: s.wheel.filename.clone(),
                rule: Rule::Constraint,
                reason: format!("works, but ranks below {} {} (final over pre-release, newest release, SASS over PTX, fewest bytes, newest CUDA)", c.package, c.version),
            });
        }
    }
    rejected.sort_by(|a, b| {
        let va = pep440::version(&a.version).ok();
        let vb = pep440::version(&b.version).ok();
        (&a.package, vb, &a.filename).cmp(&(&b.package, va, &b.filename))
    });
    let fixes = if chosen.is_none() {
        fixes(db, target, &rejected)
    } else {
        vec![]
    };
    Resolution {
        status: if chosen.is_some() {
            Status::Resolved
        } else {
            Status::Unsatisfiable
        },
        target: target.clone(),
        chosen,
        rejected,
        fixes,
    }
}

/// The fix when no MXNet wheel in compat-db has SASS for a device: build
/// from source. None when some wheel has SASS for it.
pub fn build_from_source(
    db: &Db,
    name: &str,
    cc: crate::versions::ComputeCapability,
) -> Option<String> {
    let has_sass = db.wheel_files().any(|(_, w)| {
        w.sass
            .iter()
            .any(|&sm| sm / 10 == cc.major && sm % 10 <= cc.minor)
    });
    (!has_sass).then(|| format!(
        "No MXNet wheel in compat-db has SASS for {name} (sm_{}): build MXNet from source with MXNET_CUDA_ARCH={}.{} (CMake -DMXNET_CUDA_ARCH=\"{}.{}\"), or use a GPU the 1.9.1 wheels cover (sm_50 to sm_86: T4, A100, L4)",
        cc.sm(), cc.major, cc.minor, cc.major, cc.minor
    ))
}

/// The nearest fixes for an unsatisfiable target, from the rejections: for
/// each rule past the GPU-code rule, the newest candidate that got that far;
/// and building from source when no wheel has code for the device at all.
fn fixes(db: &Db, target: &Target, rejected: &[Rejection]) -> Vec<String> {
    let mut out = Vec::new();
    let gpus: Vec<_> = target
        .gpus
        .as_ref()
        .map(|g| g.value.clone())
        .unwrap_or_default();
    let newest = |rule: Rule| {
        rejected
            .iter()
            .filter(|x| x.rule == rule)
            .max_by_key(|x| pep440::version(&x.version).ok())
    };
    // Building from source is the fix whenever no wheel has SASS for a
    // device (PTX JIT candidates, if any, are listed below with what they lack).
    out.extend(
        gpus.iter()
            .filter_map(|g| build_from_source(db, &g.name, g.compute_capability)),
    );
    let advice = |rule: Rule| match rule {
        Rule::Soname => "provide the missing library",
        Rule::Cudnn => "install the cuDNN the wheel links",
        Rule::Driver => "install a newer NVIDIA driver",
        Rule::Numpy => "use a Python for which compat-db/pypi/numpy.toml has a usable numpy",
        _ => "",
    };
    for rule in [Rule::Numpy, Rule::Driver, Rule::Cudnn, Rule::Soname] {
        if let Some(x) = newest(rule) {
            out.push(format!(
                "{}: {} {} {}",
                advice(rule),
                x.package,
                x.version,
                x.reason
            ));
        }
    }
    if gpus.is_empty() && !db.wheel_files().any(|(_, w)| w.cuda.is_none()) {
        out.push("compat-db has no CPU MXNet wheel; run `cargo xtask db ingest --all`".into());
    }
    if out.is_empty() {
        out.push(
            "relax the constraints in [workspace.metadata.gpu-env] or on the command line".into(),
        );
    }
    out
}
