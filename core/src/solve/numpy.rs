//! Choosing numpy: a release with a wheel for the target's CPython that the
//! chosen MXNet imports with. Known import breakers (compat-db/breakers.toml)
//! either rule a release out or are fixed with a recorded shim.

use crate::db::model::{Breaker, PypiFile, PypiRelease};
use crate::db::Db;
use crate::pep440::{self, Version, VersionSpecifiers};
use crate::pep508::{Dependency, MarkerEnv};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct NumpyChoice {
    pub version: String,
    /// None when the target already has this numpy installed.
    pub file: Option<PypiFile>,
    /// Breakers this choice triggers, each fixed by its shim.
    pub shims: Vec<Breaker>,
    /// Whether MXNet's own Requires-Dist on numpy is met.
    pub meets_requires_dist: bool,
}

/// The specifier of the first Requires-Dist entry on numpy that has one
/// and applies on `env` (`numpy (<2.0.0,>1.16.0)` -> `<2.0.0,>1.16.0`);
/// `env` None (the Python version does not read): every entry applies.
pub fn numpy_spec<'a>(
    requires_dist: &'a [Dependency],
    env: Option<&MarkerEnv>,
) -> Option<&'a VersionSpecifiers> {
    requires_dist
        .iter()
        .map(Dependency::requirement)
        .filter(|r| r.name == "numpy" && env.is_none_or(|e| r.applies(e)))
        .find_map(|r| r.spec.as_ref())
}

/// The tags of a PyPI file, for [`crate::tags::Ranks::best`].
pub(crate) fn pypi_tags(f: &PypiFile) -> (&str, &str, &str) {
    (&f.python_tag, &f.abi_tag, &f.platform_tag)
}

fn breakers_for<'a>(db: &'a Db, mxnet_version: &Version, numpy: &Version) -> Vec<&'a Breaker> {
    db.breakers
        .iter()
        .filter(|b| b.package == "mxnet" && b.dependency == "numpy")
        .filter(|b| b.versions.contains(mxnet_version))
        .filter(|b| b.breaks_with.contains(numpy))
        .collect()
}

/// The numpy releases compat-db lists that have a wheel for one CPython
/// (and glibc), each with the file pip picks: the same for every candidate
/// MXNet wheel of a target, so a resolve computes it once.
#[derive(Debug)]
pub struct Installable<'a> {
    python: String,
    releases: Vec<(Version, &'a PypiRelease, &'a PypiFile)>,
}

impl<'a> Installable<'a> {
    /// numpy on CPython `python` with glibc `glibc`; Err when the version
    /// does not read or compat-db has no numpy.
    pub fn new(db: &'a Db, python: &str, glibc: Option<&str>) -> Result<Self, String> {
        let ranks = crate::tags::Interpreter::cpython(python, glibc)
            .ok_or_else(|| format!("cannot read Python version {python}"))?
            .ranks();
        let mut listed = false;
        let mut releases = Vec::new();
        let numpy = db.pypi.iter().filter(|(_, p)| p.package == "numpy");
        for rel in numpy.flat_map(|(_, p)| &p.release) {
            listed = true;
            let Ok(v) = pep440::version(&rel.version) else {
                continue;
            };
            if let Some(file) = ranks.best(&rel.file, pypi_tags, |f| &f.filename) {
                releases.push((v, rel, file));
            }
        }
        if !listed {
            return Err("compat-db has no numpy releases (compat-db/pypi/numpy.toml)".into());
        }
        Ok(Installable {
            python: python.to_string(),
            releases,
        })
    }
}

/// Pick numpy for MXNet `mxnet_version` with Requires-Dist `requires_dist`
/// among the releases that install on the target's CPython. `installed`:
/// numpy already there. Preference: meets Requires-Dist and needs no shim;
/// then meets Requires-Dist with shims; then (only if every breaker has a
/// shim) the newest that installs. Within a class, the installed one, then
/// newest.
pub fn choose(
    db: &Db,
    installable: &Installable,
    mxnet_version: &str,
    requires_dist: &[Dependency],
    installed: Option<&str>,
) -> Result<NumpyChoice, String> {
    let mx = pep440::version(mxnet_version).map_err(|e| e.to_string())?;
    let python = &installable.python;
    let spec = numpy_spec(requires_dist, MarkerEnv::new(python).as_ref());
    let mut candidates = Vec::new();
    for (v, rel, file) in &installable.releases {
        let breakers = breakers_for(db, &mx, v);
        let shimmable = breakers.iter().all(|b| !b.shim.is_empty());
        if !shimmable {
            continue;
        }
        let meets = spec.is_none_or(|s| s.contains(v));
        let class = match (meets, breakers.is_empty()) {
            (true, true) => 0,
            (true, false) => 1,
            (false, _) => 2,
        };
        let is_installed = installed == Some(rel.version.as_str());
        candidates.push((
            class,
            !is_installed,
            std::cmp::Reverse(v),
            rel,
            *file,
            breakers,
            meets,
            is_installed,
        ));
    }
    candidates.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    let (_, _, _, rel, file, breakers, meets, is_installed) = candidates
        .into_iter()
        .next()
        .ok_or_else(|| {
            let tag = crate::tags::Interpreter::cpython(python, None)
                .map(|i| i.python_tag())
                .unwrap_or_else(|| python.clone());
            format!("no numpy release in compat-db has a wheel for {tag} that MXNet {mxnet_version} can import with")
        })?;
    Ok(NumpyChoice {
        version: rel.version.clone(),
        file: (!is_installed).then(|| file.clone()),
        shims: breakers.into_iter().cloned().collect(),
        meets_requires_dist: meets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn specs_and_tags() {
        let spec = |reqs: &[&str], py: &str| {
            let reqs: Vec<Dependency> = reqs.iter().map(|r| r.parse().unwrap()).collect();
            numpy_spec(&reqs, MarkerEnv::new(py).as_ref()).map(|s| s.to_string())
        };
        let is = |reqs: &[&str], want: &str| {
            assert_eq!(
                spec(reqs, "3.12.3"),
                Some(pep440::specifiers(want).unwrap().to_string())
            )
        };
        is(&["numpy (<2.0.0,>1.16.0)"], "<2.0.0,>1.16.0");
        is(
            &["graphviz", "numpy", "Numpy<1.17.0,>=1.8.2"],
            "<1.17.0,>=1.8.2",
        );
        is(&["numpy<1.17; python_version < '3.10'", "numpy>=2"], ">=2");
        assert_eq!(spec(&["numpydoc (>=1)"], "3.12.3"), None);
    }
}
