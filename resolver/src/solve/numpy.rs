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

/// `cp312` for Python 3.12.x.
pub fn cpython_tag(python: &str) -> Option<String> {
    let mut it = python.split('.');
    Some(format!("cp{}{}", it.next()?, it.next()?))
}

/// glibc level a manylinux platform tag needs: manylinux1 2.5,
/// manylinux2010 2.12, manylinux2014 2.17, manylinux_X_Y X.Y.
pub fn manylinux_glibc(platform_tag: &str) -> Option<(u32, u32)> {
    platform_tag
        .split('.')
        .filter_map(|t| {
            if t.starts_with("manylinux1_") {
                Some((2, 5))
            } else if t.starts_with("manylinux2010_") {
                Some((2, 12))
            } else if t.starts_with("manylinux2014_") {
                Some((2, 17))
            } else if let Some(rest) = t.strip_prefix("manylinux_") {
                let mut p = rest.split('_');
                Some((p.next()?.parse().ok()?, p.next()?.parse().ok()?))
            } else {
                None
            }
        })
        .min()
}

pub fn glibc_tuple(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn breakers_for<'a>(db: &'a Db, mxnet_version: &Version, numpy: &Version) -> Vec<&'a Breaker> {
    db.breakers
        .iter()
        .filter(|b| b.package == "mxnet" && b.dependency == "numpy")
        .filter(|b| b.versions.contains(mxnet_version))
        .filter(|b| b.breaks_with.contains(numpy))
        .collect()
}

/// Pick numpy for MXNet `mxnet_version` with Requires-Dist `requires_dist`
/// on CPython `python` with glibc `glibc`. `installed`: numpy already there.
/// Preference: meets Requires-Dist and needs no shim; then meets
/// Requires-Dist with shims; then (only if every breaker has a shim) the
/// newest that installs. Within a class, the installed one, then newest.
pub fn choose(
    db: &Db,
    mxnet_version: &str,
    requires_dist: &[Dependency],
    python: &str,
    glibc: Option<&str>,
    installed: Option<&str>,
) -> Result<NumpyChoice, String> {
    let mx = pep440::version(mxnet_version).map_err(|e| e.to_string())?;
    let tag = cpython_tag(python).ok_or_else(|| format!("cannot read Python version {python}"))?;
    let spec = numpy_spec(requires_dist, MarkerEnv::new(python).as_ref());
    let glibc = glibc.and_then(glibc_tuple);
    let releases: Vec<&PypiRelease> = db
        .pypi
        .iter()
        .filter(|(_, p)| p.package == "numpy")
        .flat_map(|(_, p)| &p.release)
        .collect();
    if releases.is_empty() {
        return Err("compat-db has no numpy releases (compat-db/pypi/numpy.toml)".into());
    }
    let mut candidates = Vec::new();
    for rel in releases {
        let Ok(v) = pep440::version(&rel.version) else {
            continue;
        };
        let file = rel
            .file
            .iter()
            // The default ABI (cp312, or cp37m with pymalloc), not a
            // free-threaded build (cp313t).
            .filter(|f| {
                f.python_tag == tag
                    && (f.abi_tag == tag || f.abi_tag == format!("{tag}m"))
                    && f.platform_tag.contains("x86_64")
            })
            .filter(|f| match (glibc, manylinux_glibc(&f.platform_tag)) {
                (Some(have), Some(need)) => need <= have,
                _ => true,
            })
            .min_by_key(|f| manylinux_glibc(&f.platform_tag));
        let Some(file) = file else { continue };
        let breakers = breakers_for(db, &mx, &v);
        let shimmable = breakers.iter().all(|b| !b.shim.is_empty());
        if !shimmable {
            continue;
        }
        let meets = spec.is_none_or(|s| s.contains(&v));
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
            file.clone(),
            breakers,
            meets,
            is_installed,
        ));
    }
    candidates.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    let (_, _, _, rel, file, breakers, meets, is_installed) = candidates
        .into_iter()
        .next()
        .ok_or_else(|| format!("no numpy release in compat-db has a wheel for {tag} that MXNet {mxnet_version} can import with"))?;
    Ok(NumpyChoice {
        version: rel.version.clone(),
        file: (!is_installed).then_some(file),
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
        assert_eq!(cpython_tag("3.12.13").as_deref(), Some("cp312"));
        assert_eq!(
            manylinux_glibc("manylinux_2_17_x86_64.manylinux2014_x86_64"),
            Some((2, 17))
        );
        assert_eq!(manylinux_glibc("manylinux1_x86_64"), Some((2, 5)));
        assert_eq!(manylinux_glibc("manylinux_2_28_x86_64"), Some((2, 28)));
    }
}
