//! Who provides each soname a wheel needs: the driver, the target system,
//! the wheel itself (`$ORIGIN`), or a pip CUDA redistributable.

use crate::db::model::{RedistPackage, RedistRelease};
use crate::db::Db;
use crate::pep508::Dependency;
use serde::Serialize;

/// Sonames the NVIDIA driver installs (never from pip).
pub const DRIVER_SONAMES: &[&str] = &["libcuda.so.1", "libnvidia-ml.so.1"];

/// Libraries every manylinux2014 system has (PEP 599's allowed external
/// libraries, https://peps.python.org/pep-0599/#the-manylinux2014-policy),
/// plus libgomp.so.1, the GCC OpenMP runtime that every MXNet build links and
/// that glibc distributions with a C compiler runtime (Colab's Ubuntu) ship.
pub const BASE_SYSTEM_SONAMES: &[&str] = &[
    "libgcc_s.so.1",
    "libstdc++.so.6",
    "libm.so.6",
    "libdl.so.2",
    "librt.so.1",
    "libc.so.6",
    "libnsl.so.1",
    "libutil.so.1",
    "libpthread.so.0",
    "libresolv.so.2",
    "libX11.so.6",
    "libXext.so.6",
    "libXrender.so.1",
    "libICE.so.6",
    "libSM.so.6",
    "libGL.so.1",
    "libgobject-2.0.so.0",
    "libgthread-2.0.so.0",
    "libglib-2.0.so.0",
    "ld-linux-x86-64.so.2",
    "libgomp.so.1",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Provider {
    /// Installed by the NVIDIA driver.
    Driver,
    /// The base system (glibc, GCC runtime).
    BaseSystem,
    /// Shipped inside the MXNet wheel, found through its `$ORIGIN` RPATH.
    Wheel,
    /// Present on the target (toolkit lib dirs, apt packages, profile).
    System { source: String },
    /// A pip redistributable.
    Pip { package: String, version: String },
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Provider::Driver => f.write_str("driver"),
            Provider::BaseSystem => f.write_str("base system"),
            Provider::Wheel => f.write_str("wheel ($ORIGIN)"),
            Provider::System { source } => write!(f, "system ({source})"),
            Provider::Pip { package, version } => write!(f, "pip {package}=={version}"),
        }
    }
}

/// Every release of a redist package that ships `soname` and whose
/// Requires-Python admits `python`, newest first (then by package name). For
/// a CUDA build only packages for the same CUDA major qualify (a `-cu12`
/// cuDNN links CUDA 12 libraries); a CPU build takes any.
pub fn pip_providers<'a>(
    db: &'a Db,
    soname: &str,
    cuda_major: Option<u32>,
    python: Option<&crate::pep440::Version>,
) -> Vec<(&'a RedistPackage, &'a RedistRelease)> {
    let python_ok = |r: &RedistRelease| match (python, &r.requires_python) {
        (Some(py), Some(spec)) => spec.contains(py),
        _ => true,
    };
    let mut found = Vec::new();
    for (_, pkg) in &db.redist {
        if cuda_major.is_some_and(|m| m != pkg.cuda_major) {
            continue;
        }
        for rel in &pkg.release {
            if !rel.libraries.iter().any(|l| l.soname == soname) || !python_ok(rel) {
                continue;
            }
            if let Ok(v) = crate::pep440::version(&rel.version) {
                found.push((v, pkg, rel));
            }
        }
    }
    found.sort_by(|a, b| (&b.0, &b.1.package).cmp(&(&a.0, &a.1.package)));
    found.into_iter().map(|(_, p, r)| (p, r)).collect()
}

/// The GPU code (SASS, PTX) of the wheel's own kernels: the devices it runs on.
pub type WheelCode<'a> = (&'a [u32], &'a [u32]);

/// Which of [`pip_providers`] serves `soname`: the newest release, or the
/// smallest release of the same package that loses nothing against it.
/// Every release of one soname keeps its ABI (the soname is the contract,
/// and each one on PyPI is at or above the versions MXNet's CUDA 11 builds
/// were compiled with: docs/speed.md), so what an older release can lose is
/// GPU code: it qualifies only where both releases' code is measured and,
/// on every device `wheel` runs on, each library runs code at least as
/// native as the newest's ([`crate::solve::gpu_code::select`]: SASS over
/// PTX over none, the nearer architecture first). Without `wheel`: the newest.
pub fn pip_provider<'a>(
    db: &'a Db,
    soname: &str,
    cuda_major: Option<u32>,
    python: Option<&crate::pep440::Version>,
    wheel: Option<WheelCode>,
) -> Option<(&'a RedistPackage, &'a RedistRelease)> {
    let all = pip_providers(db, soname, cuda_major, python);
    let (pkg, newest) = *all.first()?;
    let Some(wheel) = wheel else {
        return Some((pkg, newest));
    };
    all.into_iter()
        .filter(|(p, r)| p.package == pkg.package && !r.yanked && no_worse_code(wheel, newest, r))
        .min_by_key(|(_, r)| r.size)
        .or(Some((pkg, newest)))
}

/// Whether `other` runs code at least as native as `newest` on every device
/// `wheel` runs on, library by library (same sonames, code measured in both).
fn no_worse_code(wheel: WheelCode, newest: &RedistRelease, other: &RedistRelease) -> bool {
    use crate::solve::gpu_code::{select, GpuCode};
    use crate::versions::ComputeCapability;
    if std::ptr::eq(newest, other) {
        return true;
    }
    fn code<'r>(r: &'r RedistRelease, soname: &str) -> Option<(&'r [u32], &'r [u32])> {
        r.libraries
            .iter()
            .find(|l| l.soname == soname)
            .and_then(|l| Some((l.sass.as_deref()?, l.ptx.as_deref()?)))
    }
    let rank = |c: Option<GpuCode>| match c {
        None => (0, 0),
        Some(GpuCode::Ptx { compute }) => (1, compute),
        Some(GpuCode::Sass { sm }) => (2, sm),
    };
    let devices: Vec<ComputeCapability> = (1..=13)
        .flat_map(|major| (0..=9).map(move |minor| ComputeCapability::new(major, minor)))
        .filter(|cc| select(wheel.0, wheel.1, *cc).is_some())
        .collect();
    newest.libraries.len() == other.libraries.len()
        && newest.libraries.iter().all(|l| {
            let (Some(a), Some(b)) = (code(newest, &l.soname), code(other, &l.soname)) else {
                return false;
            };
            devices
                .iter()
                .all(|cc| rank(select(b.0, b.1, *cc)) >= rank(select(a.0, a.1, *cc)))
        })
}

/// The newest release of `package` (by name) compatible with `python`.
pub fn newest_release<'a>(
    db: &'a Db,
    package: &str,
    python: Option<&crate::pep440::Version>,
) -> Option<(&'a RedistPackage, &'a RedistRelease)> {
    let (_, pkg) = db.redist.iter().find(|(_, p)| p.package == package)?;
    pkg.release
        .iter()
        .filter(|r| match (python, &r.requires_python) {
            (Some(py), Some(spec)) => spec.contains(py),
            _ => true,
        })
        .filter_map(|r| crate::pep440::version(&r.version).ok().map(|v| (v, r)))
        .filter(|(v, _)| !v.any_prerelease())
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, r)| (pkg, r))
}

/// Requirement names in Requires-Dist entries (`nvidia-cublas-cu11 (>=1)` ->
/// `nvidia-cublas-cu11`), skipping ones whose marker holds on Linux for no
/// CPython (`; sys_platform == "win32"`).
pub fn requirement_names(requires_dist: &[Dependency]) -> Vec<String> {
    requires_dist
        .iter()
        .filter(|r| r.requirement().applies_on_some_linux())
        .map(|r| r.name().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::pip_provider;

    fn version(soname: &str, wheel: Option<super::WheelCode>) -> String {
        let db = crate::db::Db::embedded().unwrap();
        let (_, r) = pip_provider(&db, soname, Some(11), None, wheel).unwrap();
        r.version.clone()
    }

    #[test]
    fn smaller_release_only_where_no_device_the_wheel_runs_on_loses_code() {
        // mxnet-cu112 1.9.1's own kernels: SASS sm_50 .. sm_86, no PTX.
        let cu112: super::WheelCode = (&[50, 60, 70, 80, 86], &[]);
        // Measured: 8.5.0.96 has the same SASS as 8.9.6.50 up to sm_86.
        assert_eq!(version("libcudnn.so.8", Some(cu112)), "8.5.0.96");
        assert_eq!(version("libcublas.so.11", Some(cu112)), "11.10.3.66");
        assert_eq!(version("libcufft.so.10", Some(cu112)), "10.7.2.91");
        // A wheel that runs on sm_90: the older releases have no sm_90 SASS.
        let sm90: super::WheelCode = (&[90], &[]);
        assert_eq!(version("libcudnn.so.8", Some(sm90)), "8.9.6.50");
        assert_eq!(version("libcublas.so.11", Some(sm90)), "11.11.3.6");
        // No wheel code: the newest, as before.
        assert_eq!(version("libcudnn.so.8", None), "8.9.6.50");
        // A release whose code is not measured (nvrtc) stays the newest.
        assert_eq!(version("libnvrtc.so.11.2", Some(cu112)), "11.8.89");
    }

    #[test]
    fn requirement_names_parse() {
        let reqs: Vec<super::Dependency> = [
            "nvidia-cublas-cu11 (>=11.10)",
            "setuptools",
            "nvidia_nvtx_cu11; sys_platform == \"win32\"",
            "colorama; platform_system == \"Windows\"",
            "numpy>=1.20",
        ]
        .iter()
        .map(|r| r.parse().unwrap())
        .collect();
        let names = super::requirement_names(&reqs);
        assert_eq!(names, vec!["nvidia-cublas-cu11", "setuptools", "numpy"]);
    }
}
