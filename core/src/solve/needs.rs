//! Pinning what `import mxnet` needs beyond its wheel ("absent" breakers:
//! `requests`, `setuptools` on Python >= 3.12) together with those
//! packages' own Requires-Dist, from the pure-Python records in
//! compat-db/pypi. Used for targets that are not notebook runtimes (Colab
//! and Kaggle ship these packages).
//!
//! Choice (deterministic): for each need in breaker order, the newest final
//! release whose Requires-Python admits the target's Python and that has a
//! `py3-none-any` wheel, meeting MXNet's own Requires-Dist on it; then its
//! requirements breadth-first, each the newest such release meeting every
//! specifier that asks for it. A requirement that no release meets makes the
//! solver go back to an older release of the package that asked (a complete
//! depth-first search over the few records); if nothing works the need stays
//! unpinned, with the reason.

use super::{Need, Pin};
use crate::db::model::{PypiFile, PypiRelease};
use crate::db::Db;
use crate::pep440::{self, Version, VersionSpecifiers};
use crate::pep508::{Dependency, MarkerEnv, Requirement};
use std::collections::{BTreeMap, VecDeque};

/// A requirement on the way: what asks for it and with which specifier.
#[derive(Debug, Clone)]
struct Req {
    name: String,
    spec: Option<VersionSpecifiers>,
    by: String,
}

#[derive(Debug, Clone)]
struct Picked<'a> {
    version: Version,
    rel: &'a PypiRelease,
    file: &'a PypiFile,
}

struct NeedCx<'a> {
    db: &'a Db,
    env: MarkerEnv,
    python_text: String,
    /// The target's Python as wheel tags see it; the needs are pure Python,
    /// so the glibc does not matter.
    ranks: std::sync::Arc<crate::tags::Ranks>,
    /// Installed on the target (name -> version): a requirement it meets is not pinned.
    preinstalled: &'a BTreeMap<String, String>,
}

impl<'a> NeedCx<'a> {
    /// Releases of `name` for the target's Python with a pure-Python
    /// wheel, final only, newest first; or why there are none.
    fn candidates(&self, name: &str) -> Result<Vec<Picked<'a>>, String> {
        let Some((_, pkg)) = self
            .db
            .pypi
            .iter()
            .find(|(_, p)| pep440::normalize_name(&p.package) == name)
        else {
            return Err(format!(
                "compat-db has no record of {name} (compat-db/pypi/{name}.toml)"
            ));
        };
        let mut out: Vec<Picked> = pkg
            .release
            .iter()
            .filter_map(|rel| {
                let version = pep440::version(&rel.version).ok()?;
                if version.any_prerelease() {
                    return None;
                }
                if rel
                    .requires_python
                    .as_ref()
                    .is_some_and(|rp| !rp.contains(&self.env.python_full))
                {
                    return None;
                }
                let file = self
                    .ranks
                    .best(&rel.file, super::numpy::pypi_tags, |f| &f.filename)?;
                Some(Picked { version, rel, file })
            })
            .collect();
        if out.is_empty() {
            return Err(format!(
                "no release of {name} in compat-db has a wheel that installs on Python {}",
                self.python_text
            ));
        }
        out.sort_by(|a, b| b.version.cmp(&a.version));
        Ok(out)
    }

    /// Depth-first over the queue (breadth-first order of requirements):
    /// the pins that meet every requirement, or the first reason it fails.
    fn solve(
        &self,
        mut queue: VecDeque<Req>,
        pins: BTreeMap<String, Picked<'a>>,
    ) -> Result<BTreeMap<String, Picked<'a>>, String> {
        let Some(req) = queue.pop_front() else {
            return Ok(pins);
        };
        let spec_text = req.spec.as_ref().map(|s| s.to_string()).unwrap_or_default();
        if let Some(p) = pins.get(&req.name) {
            return if req.spec.as_ref().is_none_or(|s| s.contains(&p.version)) {
                self.solve(queue, pins)
            } else {
                Err(format!(
                    "{} {} (chosen) does not meet {}{spec_text} (required by {})",
                    req.name, p.version, req.name, req.by
                ))
            };
        }
        if let Some(v) = self.preinstalled.get(&req.name) {
            if pep440::version(v).is_ok_and(|v| req.spec.as_ref().is_none_or(|s| s.contains(&v))) {
                return self.solve(queue, pins);
            }
        }
        let all = self.candidates(&req.name)?;
        let fits: Vec<Picked> = all
            .into_iter()
            .filter(|p| req.spec.as_ref().is_none_or(|s| s.contains(&p.version)))
            .collect();
        if fits.is_empty() {
            return Err(format!(
                "no release of {} in compat-db for Python {} meets {}{spec_text} (required by {})",
                req.name, self.python_text, req.name, req.by
            ));
        }
        let mut first_error = None;
        for p in fits {
            let by = format!("{} {}", req.name, p.version);
            let mut next = queue.clone();
            for r in p.rel.requires_dist.iter().map(Dependency::requirement) {
                if r.applies(&self.env) {
                    next.push_back(Req {
                        name: r.name.clone(),
                        spec: r.spec.clone(),
                        by: by.clone(),
                    });
                }
            }
            let mut pins = pins.clone();
            pins.insert(req.name.clone(), p.clone());
            match self.solve(next, pins) {
                Ok(done) => return Ok(done),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.expect("at least one candidate was tried"))
    }
}

/// Pin `needs` for CPython `python` (full version text), with MXNet's
/// Requires-Dist `mxnet_requires_dist` (`by`: `mxnet-cu112 1.9.1`) limiting
/// each need. Returns the pins (role `need`, by name) and the needs left
/// unpinned, each with why.
pub fn pin(
    db: &Db,
    python: &str,
    preinstalled: &BTreeMap<String, String>,
    needs: Vec<Need>,
    mxnet_requires_dist: &[Dependency],
    by: &str,
) -> (Vec<Pin>, Vec<Need>) {
    let interpreter = crate::tags::Interpreter::cpython(python, None);
    let (Some(env), Some(interpreter)) = (MarkerEnv::new(python), interpreter) else {
        let left = needs
            .into_iter()
            .map(|n| Need {
                reason: format!(
                    "{}; not pinned: cannot read Python version {python}",
                    n.reason
                ),
                ..n
            })
            .collect();
        return (vec![], left);
    };
    let cx = NeedCx {
        db,
        env,
        python_text: python.to_string(),
        ranks: interpreter.ranks(),
        preinstalled,
    };
    let mxnet_reqs: Vec<&Requirement> = mxnet_requires_dist
        .iter()
        .map(Dependency::requirement)
        .filter(|r| r.applies(&cx.env))
        .collect();
    let mut pins: BTreeMap<String, Picked> = BTreeMap::new();
    let mut left = Vec::new();
    for n in needs {
        let name = pep440::normalize_name(&n.package);
        let spec = mxnet_reqs
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.spec.clone());
        let root = Req {
            name,
            spec,
            by: by.to_string(),
        };
        match cx.solve(VecDeque::from([root]), pins.clone()) {
            Ok(p) => pins = p,
            Err(e) => left.push(Need {
                reason: format!("{}; not pinned: {e}", n.reason),
                ..n
            }),
        }
    }
    let out = pins
        .into_iter()
        .map(|(name, p)| Pin {
            name,
            version: p.rel.version.clone(),
            filename: p.file.filename.clone(),
            url: p.file.url.clone(),
            sha256: p.file.sha256.clone(),
            size: p.file.size,
            role: "need".into(),
            install: "site".into(),
        })
        .collect();
    (out, left)
}
