//! What the cell compares with the runtime it runs on, computed here from
//! the lock and compat-db so that the cell applies resolve's rules instead
//! of copies of them: which compute capabilities the locked wheel runs on
//! ([`LockedTarget::fit`]), the driver floor, the GPUs the target's runtime
//! offers with the advice for each one the lock does not cover, the names
//! `nvidia-smi` prints, and how MXNet's Requires-Dist is overridden.

use super::pyquote::Py;
use crate::db::model::BreaksWith;
use crate::db::Db;
use crate::lock::{DeviceFit, LockedTarget};
use crate::solve::gpu_code;
use crate::versions::ComputeCapability;

/// Compute capabilities the table covers: every major a CUDA GPU has had
/// or is announced with (1.x Tesla to 12.x Blackwell), minors 0-9.
const MAJORS: std::ops::RangeInclusive<u32> = 1..=13;

/// `{'5.0': 'SASS sm_50', ...}`: every compute capability the locked wheel
/// runs on under the lock's driver floor.
pub(super) fn runs_on(t: &LockedTarget) -> Py {
    let mut out = Vec::new();
    for major in MAJORS {
        for minor in 0..=9 {
            let cc = ComputeCapability::new(major, minor);
            if let DeviceFit::Runs(code) = t.fit(cc) {
                out.push((cc.to_string(), Py::s(code.to_string())));
            }
        }
    }
    Py::Dict(out)
}

/// `SASS sm_50, sm_60; PTX none`: the code of the wheel's own kernels, for messages.
pub(super) fn code_text(t: &LockedTarget) -> String {
    format!(
        "SASS {}; PTX {}",
        gpu_code::list("sm", &t.mxnet.sass),
        gpu_code::list("compute", &t.mxnet.ptx)
    )
}

/// The runtime profile a notebook target was resolved from
/// (`colab-2026.08:T4` -> `colab-2026.08`).
fn profile<'a>(db: &'a Db, t: &LockedTarget) -> Option<&'a crate::db::model::Runtime> {
    let name = t.name.split_once(':').map_or(t.name.as_str(), |x| x.0);
    db.runtime(name)
}

/// The GPUs the target's runtime offers: short name, compute capability,
/// and what to do when the lock does not cover it (None when it does).
pub(super) fn offered(db: &Db, t: &LockedTarget) -> Py {
    let Some(rt) = profile(db, t) else {
        return Py::List(vec![]);
    };
    let mut out = Vec::new();
    for short in &rt.gpus {
        let Some(g) = db.gpu(short) else { continue };
        let cc = g.compute_capability;
        let advice = match (t.mxnet.cuda.is_some(), t.fit(cc)) {
            (false, _) | (true, DeviceFit::Runs(_)) => Py::None,
            (true, _) => Py::s(
                crate::solve::build_from_source(db, &g.name, cc).unwrap_or_else(|| {
                    format!(
                        "Re-lock for it: `cargo xtask resolve --target {}:{short}`",
                        t.kind
                    )
                }),
            ),
        };
        out.push(Py::Dict(vec![
            ("gpu".into(), Py::s(short)),
            ("cc".into(), Py::s(cc.to_string())),
            ("advice".into(), advice),
        ]));
    }
    Py::List(out)
}

/// The Python versions the cell's interpreter may be, as ranges
/// `((3, 0), None, "3.0 or later")` (None: open-ended): each one installs
/// every pinned wheel (its tags, on the target's glibc) and is one MXNet
/// declares it supports (`tags::accepting_pythons`). The cell checks its
/// interpreter against these, never a tag rule of its own.
pub(super) fn pythons(db: &Db, t: &LockedTarget) -> Py {
    let ranges = t.accepted_pythons(&db.python);
    let pair = |(a, b): (u32, u32)| Py::Tuple(vec![Py::Int(a.into()), Py::Int(b.into())]);
    Py::List(
        ranges
            .into_iter()
            .map(|r| {
                let to = r.to.map_or(Py::None, pair);
                Py::Tuple(vec![pair(r.from), to, Py::s(r.to_string())])
            })
            .collect(),
    )
}

/// How the cell records, in the installed MXNet's metadata, each
/// Requires-Dist the lock deliberately does not meet, so that `pip check`
/// agrees with the lock: (name, replacement requirement or None to drop,
/// why). Requirements the lock or the runtime meets stay as they are.
pub(super) fn requires_overrides(db: &Db, t: &LockedTarget) -> Py {
    let Some((_, w)) = db
        .wheel_files()
        .find(|(_, w)| w.filename == t.mxnet.filename)
    else {
        return Py::List(vec![]);
    };
    let preinstalled = profile(db, t).map(|r| &r.preinstalled);
    let mut out = Vec::new();
    for req in &w.requires_dist {
        let name = req.name();
        let pinned = t
            .package
            .iter()
            .any(|p| crate::pep440::normalize_name(&p.name) == name);
        // `import mxnet` needs it: an "absent" breaker names it (requests,
        // setuptools on Python >= 3.12), whatever the target has.
        let needed = t.need.iter().any(|n| n.package == name)
            || db.breakers.iter().any(|b| {
                b.package == "mxnet"
                    && b.breaks_with == BreaksWith::Absent
                    && crate::pep440::normalize_name(&b.dependency) == name
                    && crate::pep440::version(&t.mxnet.version)
                        .is_ok_and(|m| b.versions.contains(&m))
            });
        let on_runtime = preinstalled.is_some_and(|p| p.contains_key(name));
        let entry = if name == "numpy" {
            (!t.numpy.meets_requires_dist).then(|| {
                (
                    Py::s(format!("numpy=={}", t.numpy.version)),
                    format!(
                        "the lock keeps numpy {} with its shims instead of `{req}`",
                        t.numpy.version
                    ),
                )
            })
        } else if !pinned && !needed && !on_runtime {
            Some((
                Py::None,
                format!("`{req}`: not part of the lock and not needed by `import mxnet` (compat-db/breakers.toml lists what is)"),
            ))
        } else {
            None
        };
        if let Some((replacement, why)) = entry {
            out.push(Py::Tuple(vec![Py::s(name), replacement, Py::s(why)]));
        }
    }
    Py::List(out)
}

/// `{'tesla t4': '7.5', ...}`: the names `nvidia-smi` prints (lowercase)
/// for every GPU a notebook runtime in compat-db offers or offered, for
/// drivers before R510, whose `nvidia-smi` has no `compute_cap`.
pub(super) fn gpu_names(db: &Db) -> Py {
    let mut out: Vec<(String, Py)> = Vec::new();
    // Each runtime's GPU list is matched once (not once per known GPU).
    let in_runtimes: std::collections::BTreeSet<&str> = db
        .runtimes
        .iter()
        .filter(|(_, r)| super::is_notebook_kind(&r.kind))
        .flat_map(|(_, r)| &r.gpus)
        .filter_map(|o| db.gpu(o).map(|x| x.name.as_str()))
        .collect();
    let offered = |g: &crate::db::model::Gpu| g.colab || in_runtimes.contains(g.name.as_str());
    for g in db.gpus.iter().filter(|g| offered(g)) {
        for n in std::iter::once(&g.name).chain(g.smi.iter().map(|s| &s.name)) {
            let n = n.to_ascii_lowercase();
            if !out.iter().any(|(k, _)| *k == n) {
                out.push((n, Py::s(g.compute_capability.to_string())));
            }
        }
    }
    Py::Dict(out)
}

/// `{'package': 'nvidia-nccl-cu12', 'version': '2.28.9'}` when the target's
/// runtime ships `soname` in a wheel measured to serve the locked MXNet
/// wheel (compat-db `reuse`): the cell preloads that copy, so frameworks
/// the runtime ships keep the library they were built for; None otherwise.
pub(super) fn reuse(db: &Db, t: &LockedTarget, soname: &str) -> Py {
    let found = profile(db, t).and_then(|rt| {
        rt.reuse
            .iter()
            .find(|u| u.soname == soname && u.serves.contains(&t.mxnet.filename))
    });
    match found {
        Some(u) => Py::Dict(vec![
            (
                "package".into(),
                Py::s(crate::pep440::normalize_name(&u.package)),
            ),
            ("version".into(), Py::s(&u.version)),
        ]),
        None => Py::None,
    }
}
