//! Nearest fixes for an unsatisfiable target: change one fact of the
//! target (or a toolkit with its cuDNN), re-run every rule on the changed
//! target, and name the wheel each change enables. Cheapest kinds of change
//! first (software the user installs before hardware), then the best wheel
//! (never a wheel with a known defect when one without works after the same
//! change; final releases first; newest); building from source where no
//! wheel has SASS for a device.

use super::gpu_code;
use super::{rank, Choice, Constraints, Rejection};
use crate::db::Db;
use crate::pep440;
use crate::target::{Overrides, Sourced, Target};
use crate::versions::{ComputeCapability, CudaVersion};

/// How many search fixes to print (build-from-source advice comes on top).
const MAX_FIXES: usize = 5;

/// One change to the target's facts, in words and as overrides.
struct Change {
    /// Cheapest first: toolkit, toolkit with cuDNN, cuDNN, Python, driver, GPU.
    cost: u8,
    /// Nearness within a kind: smaller is nearer to the target as it is.
    distance: u64,
    words: String,
    overrides: Overrides,
}

fn ov(v: impl Into<String>) -> Option<Sourced<String>> {
    Some(Sourced::new(v.into(), "fix:nearest"))
}

/// The distance between two CUDA versions, in minor steps (majors weigh 100).
fn cuda_distance(a: Option<CudaVersion>, b: CudaVersion) -> u64 {
    let n = |v: CudaVersion| u64::from(v.major) * 100 + u64::from(v.minor);
    a.map_or(0, |a| n(a).abs_diff(n(b)))
}

/// Toolkits (each alone, and with the newest cuDNN whose record lists it)
/// and cuDNN releases for the target's toolkit.
fn software(db: &Db, t: &Target) -> Vec<Change> {
    let have = t.toolkit.as_ref().map(|x| x.value);
    let mut out = Vec::new();
    for c in db.cuda.iter().filter(|c| Some(c.version) != have) {
        let d = cuda_distance(have, c.version);
        out.push(Change {
            cost: 0,
            distance: d,
            words: format!("install the CUDA {} toolkit", c.version),
            overrides: Overrides {
                cuda_toolkit: ov(c.version.to_string()),
                ..Default::default()
            },
        });
        let cudnn = db
            .cudnn
            .iter()
            .filter(|r| r.cuda.contains(&c.version))
            .max_by_key(|r| pep440::version(&r.version).ok());
        if let Some(r) = cudnn {
            out.push(Change {
                cost: 1,
                distance: d,
                words: format!(
                    "install the CUDA {} toolkit with cuDNN {}",
                    c.version, r.version
                ),
                overrides: Overrides {
                    cuda_toolkit: ov(c.version.to_string()),
                    cudnn: ov(r.version.clone()),
                    ..Default::default()
                },
            });
        }
    }
    for r in &db.cudnn {
        if have.is_some_and(|v| !r.cuda.contains(&v))
            || t.cudnn.as_ref().is_some_and(|c| c.value == r.version)
        {
            continue;
        }
        let v = pep440::version(&r.version).ok();
        let newest_first =
            u64::MAX - v.map_or(0, |v| v.release().iter().fold(0, |a, x| a * 100 + *x));
        out.push(Change {
            cost: 2,
            distance: newest_first,
            words: format!("install cuDNN {}", r.version),
            overrides: Overrides {
                cudnn: ov(r.version.clone()),
                ..Default::default()
            },
        });
    }
    out
}

/// Pythons numpy has wheels for (compat-db/pypi/numpy.toml), nearest first.
fn pythons(db: &Db, t: &Target) -> Vec<Change> {
    let have = t.interpreter().map(|i| (i.major, i.minor));
    let versions = crate::tags::numpy_pythons(db);
    let distance = |v: (u32, u32)| match have {
        Some(h) if h.0 == v.0 => u64::from(h.1.abs_diff(v.1)),
        Some(_) => 100,
        None => 0,
    };
    versions
        .into_iter()
        .filter(|v| have != Some(*v))
        .map(|v| Change {
            cost: 3,
            distance: distance(v),
            words: format!("use Python {}.{}", v.0, v.1),
            overrides: Overrides {
                python: ov(format!("{}.{}", v.0, v.1)),
                ..Default::default()
            },
        })
        .collect()
}

/// Driver floors above the target's driver (cuda.toml), lowest first; and
/// GPUs of a higher compute capability (gpus.toml), lowest first.
fn hardware(db: &Db, t: &Target) -> Vec<Change> {
    let mut out = Vec::new();
    if let Some(d) = &t.driver {
        let mut floors: Vec<_> = db
            .cuda
            .iter()
            .flat_map(|c| {
                [
                    Some(c.driver_min.clone()),
                    c.minor_compat_driver_min.clone(),
                ]
            })
            .flatten()
            .filter(|f| *f > d.value)
            .collect();
        floors.sort();
        floors.dedup();
        for (i, f) in floors.into_iter().enumerate() {
            out.push(Change {
                cost: 4,
                distance: i as u64,
                words: format!("install NVIDIA driver {f} or newer"),
                overrides: Overrides {
                    driver: ov(f.to_string()),
                    ..Default::default()
                },
            });
        }
    }
    let top = t
        .gpus
        .as_ref()
        .and_then(|g| g.value.iter().map(|g| g.compute_capability).max());
    let mut ccs: Vec<ComputeCapability> = db.gpus.iter().map(|g| g.compute_capability).collect();
    ccs.sort();
    ccs.dedup();
    for (i, cc) in ccs
        .into_iter()
        .filter(|cc| top.is_some_and(|t| *cc > t))
        .enumerate()
    {
        let names: Vec<&str> = db
            .gpus
            .iter()
            .filter(|g| g.compute_capability == cc)
            .map(|g| g.aliases.first().unwrap_or(&g.name).as_str())
            .take(3)
            .collect();
        out.push(Change {
            cost: 5,
            distance: i as u64,
            words: format!(
                "use a GPU of compute capability {cc} ({})",
                names.join(", ")
            ),
            overrides: Overrides {
                gpus: vec![Sourced::new(cc.to_string(), "fix:nearest")],
                ..Default::default()
            },
        });
    }
    out
}

/// Why a working wheel should not be suggested when another works: its
/// upload was replaced by a post-release of the same package in compat-db.
fn defect(db: &Db, c: &Choice) -> Option<String> {
    let v = pep440::version(&c.version).ok()?;
    db.wheel_files()
        .filter(|(r, _)| r.package == c.package)
        .filter_map(|(r, _)| pep440::version(&r.version).ok().map(|rv| (r, rv)))
        .find(|(_, rv)| rv.release() == v.release() && rv.post() > v.post())
        .map(|(r, _)| format!("replaced on PyPI by {} {}", r.package, r.version))
}

/// The best wheel that works on `t`: one without a known defect first.
fn best(db: &Db, t: &Target, constraints: &Constraints) -> Option<(bool, Choice)> {
    let ok = super::survivors_only(db, t, constraints);
    let clean = ok.iter().find(|c| defect(db, c).is_none()).cloned();
    clean
        .map(|c| (false, c))
        .or_else(|| ok.into_iter().next().map(|c| (true, c)))
}

/// `mxnet-cu102 1.7.0.post1 (Tesla K80 (3.7): SASS sm_35)`.
fn enables(c: &Choice) -> String {
    let code: Vec<String> = c
        .gpu_code
        .iter()
        .map(|d| format!("{} ({}): {}", d.device, d.compute_capability, d.code))
        .collect();
    let code = if code.is_empty() {
        String::new()
    } else {
        format!(" ({})", code.join("; "))
    };
    format!("enables {}=={}{code}", c.package, c.version)
}

/// The fixes: the search's best few (one per kind of change), then building
/// from source where no wheel has SASS for a device.
pub(crate) fn fixes(
    db: &Db,
    target: &Target,
    constraints: &Constraints,
    rejected: &[Rejection],
) -> Vec<String> {
    let glibc = newer_glibc(db, target, rejected);
    let mut changes = software(db, target);
    changes.extend(pythons(db, target));
    if target.has_gpu() {
        changes.extend(hardware(db, target));
    }
    let mut found = Vec::new();
    for ch in changes {
        let mut t = target.clone();
        if t.apply(db, &ch.overrides).is_err() {
            continue;
        }
        if let Some((defective, c)) = best(db, &t, constraints) {
            found.push((ch, defective, c));
        }
    }
    // Per kind: no known defect, final, newest release; then the nearest
    // change (CUDA 10.2 before 10.1 from an 11.8 target); then the rest.
    found.sort_by_cached_key(|(ch, defective, c)| {
        let (pre, newest) = rank::release(c);
        (
            ch.cost,
            *defective,
            pre,
            newest,
            ch.distance,
            rank::preference(c),
        )
    });
    // One fix per kind of change, each naming a wheel no cheaper fix names.
    let mut kinds = std::collections::BTreeSet::new();
    let mut wheels = std::collections::BTreeSet::new();
    let mut out: Vec<String> = found
        .into_iter()
        .filter(|(ch, _, c)| {
            !kinds.contains(&ch.cost)
                && wheels.insert(c.wheel.filename.clone())
                && kinds.insert(ch.cost)
        })
        .take(MAX_FIXES)
        .map(|(ch, defective, c)| {
            let note = if defective {
                format!(" [{}]", defect(db, &c).unwrap_or_default())
            } else {
                String::new()
            };
            format!("{}: {}{note}", ch.words, enables(&c))
        })
        .collect();
    out.extend(glibc);
    let gpus = target
        .gpus
        .as_ref()
        .map(|g| g.value.as_slice())
        .unwrap_or(&[]);
    out.extend(
        gpus.iter()
            .filter_map(|g| build_from_source(db, &g.name, g.compute_capability)),
    );
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

/// A newer glibc, where some candidate broke only the `platform` rule and
/// only by glibc (its manylinux tag or its library's symbol versions): the
/// lowest glibc that enables one, naming the newest such release.
fn newer_glibc(db: &Db, target: &Target, rejected: &[Rejection]) -> Option<String> {
    let have = target.glibc.as_ref()?;
    let have_v = crate::validate::parse_glibc(&have.value)?;
    let only_platform: std::collections::BTreeSet<&str> = rejected
        .iter()
        .filter(|r| r.rules.iter().all(|b| b.rule == super::Rule::Platform))
        .map(|r| r.filename.as_str())
        .collect();
    let (need, _, rel) = db
        .wheel_files()
        .filter(|(_, w)| only_platform.contains(w.filename.as_str()))
        .filter_map(|(r, w)| {
            let tags = crate::tags::WheelTags::new(&w.python_tag, &w.abi_tag, &w.platform_tag);
            if !tags.is_linux_x86_64_or_any() {
                return None;
            }
            let need =
                crate::tags::glibc_needed(&tags, w.glibc.as_deref()).filter(|n| *n > have_v)?;
            let newest = std::cmp::Reverse(pep440::version(&r.version).ok());
            Some((need, newest, r))
        })
        .min_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)))?;
    Some(format!(
        "use a Linux whose glibc is {}.{} or newer (the target has {}; `ldd --version` prints it): enables {}=={}",
        need.0, need.1, have.value, rel.package, rel.version
    ))
}

/// The fix when no MXNet wheel in compat-db has SASS for a device: what is
/// known about building one, then what works instead. None when some wheel
/// has SASS for it. The CUDA releases that target the device (cuda.toml
/// `sm`), the newest final release and the GPUs its wheels cover, and the
/// toolkits that release does not compile with (defects.toml
/// `[[source_build]]`) are read from compat-db, not typed here; a build
/// route is never offered where every toolkit that targets the device is
/// one the release does not compile with.
pub fn build_from_source(db: &Db, name: &str, cc: ComputeCapability) -> Option<String> {
    let runs = |sass: &[u32], cc: ComputeCapability| {
        matches!(
            gpu_code::select(sass, &[], cc),
            Some(gpu_code::GpuCode::Sass { .. })
        )
    };
    if db.wheel_files().any(|(_, w)| runs(&w.sass, cc)) {
        return None;
    }
    let cover = newest_cover(db);
    let route = source_route(db, cc, cover.as_ref().map(|c| c.0.as_str()));
    let instead = match &cover {
        Some((version, sass, gpus)) => format!(
            "the CPU wheel (`cargo xtask resolve --no-gpu`), or a GPU the {version} wheels cover (sm_{} to sm_{}: {})",
            sass.first().unwrap_or(&0),
            sass.last().unwrap_or(&0),
            gpus.join(", ")
        ),
        None => "the CPU wheel (`cargo xtask resolve --no-gpu`)".into(),
    };
    Some(format!(
        "No MXNet wheel in compat-db has SASS for {name} (sm_{}); {route}. What works: {instead}",
        cc.sm()
    ))
}

/// What compat-db knows about building MXNet `release` from source for
/// compute capability `cc`.
fn source_route(db: &Db, cc: ComputeCapability, release: Option<&str>) -> String {
    let mut targeting: Vec<CudaVersion> = db
        .cuda
        .iter()
        .filter(|c| c.sm.iter().any(|s| s.suffix.is_none() && s.sm == cc.sm()))
        .map(|c| c.version)
        .collect();
    targeting.sort();
    let arch = format!("MXNET_CUDA_ARCH={}.{}", cc.major, cc.minor);
    let Some(first) = targeting.first() else {
        return format!(
            "no CUDA release in compat-db targets sm_{}, so no source build is known",
            cc.sm()
        );
    };
    let broken = release.and_then(|r| db.source_builds.iter().find(|b| b.release == r));
    let Some(b) = broken else {
        return format!(
            "building MXNet from source needs CUDA {first} or later (the first whose nvcc targets sm_{}) and {arch} (CMake -DMXNET_CUDA_ARCH=\"{}.{}\")",
            cc.sm(), cc.major, cc.minor
        );
    };
    let fails = format!(
        "MXNet {} does not compile with CUDA {} or later ({}; {})",
        b.release,
        b.cuda_from,
        b.error,
        b.source
            .iter()
            .take(2)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    let untried: Vec<String> = targeting
        .iter()
        .filter(|v| **v < b.cuda_from)
        .map(|v| format!("CUDA {v}"))
        .collect();
    if untried.is_empty() {
        format!(
            "no route to build one is known: nvcc targets sm_{} from CUDA {first} on, and {fails}",
            cc.sm()
        )
    } else {
        format!(
            "no source build is known to work: {fails}, and no result is known for a build with {} ({arch}), which targets sm_{} and is older than CUDA {}",
            untried.join(" or "),
            cc.sm(),
            b.cuda_from
        )
    }
}

/// The newest final MXNet release with GPU wheels: its version, the SASS
/// its wheels carry (ascending), and the Colab GPUs of gpus.toml it runs as SASS.
fn newest_cover(db: &Db) -> Option<(String, Vec<u32>, Vec<String>)> {
    let (version, _) = db
        .wheel_files()
        .filter(|(_, w)| w.cuda.is_some() && !w.sass.is_empty())
        .filter_map(|(r, _)| {
            pep440::version(&r.version)
                .ok()
                .map(|v| (r.version.clone(), v))
        })
        .filter(|(_, v)| !v.any_prerelease())
        .max_by(|a, b| a.1.cmp(&b.1))?;
    let mut sass: Vec<u32> = db
        .wheel_files()
        .filter(|(r, w)| r.version == version && w.cuda.is_some())
        .flat_map(|(_, w)| w.sass.iter().copied())
        .collect();
    sass.sort();
    sass.dedup();
    let gpus = db
        .gpus
        .iter()
        .filter(|g| g.colab)
        .filter(|g| gpu_code::select(&sass, &[], g.compute_capability).is_some())
        .map(|g| g.aliases.first().unwrap_or(&g.name).clone())
        .collect();
    Some((version, sass, gpus))
}
