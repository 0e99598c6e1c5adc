//! The lock an environment is judged against (`doctor --lock`).

use super::Options;
use crate::db::model::Breaker;
use std::path::{Path, PathBuf};

/// The lock target an environment is judged against, and where its
/// installers put the CUDA redistributables.
pub(super) struct Locked<'a> {
    lock: &'a crate::lock::Lock,
    index: usize,
    pub(super) t: &'a crate::lock::LockedTarget,
    pub(super) redist: PathBuf,
    shown: String,
}

impl<'a> Locked<'a> {
    pub(super) fn new(opts: &'a Options) -> Option<Locked<'a>> {
        let (lock, i) = opts.lock.as_ref()?;
        let t = lock.target.get(*i)?;
        Some(Locked {
            lock,
            index: *i,
            t,
            redist: crate::verify::redist_dir(lock, None),
            shown: format!("the lock's target {}", t.name),
        })
    }

    /// `mxnet-cu112 1.9.1` as installed vs locked: None when they agree.
    pub(super) fn distribution_problem(&self, name: &str, version: &str) -> Option<String> {
        let m = &self.t.mxnet;
        let same = crate::pep440::normalize_name(name) == crate::pep440::normalize_name(&m.package)
            && version == m.version;
        (!same).then(|| {
            format!(
                "{name} {version} is installed; {} pins {} {}",
                self.shown, m.package, m.version
            )
        })
    }

    /// How this lock's target is installed into `py`'s environment.
    pub(super) fn install_advice(
        &self,
        py: &Path,
        lock_path: Option<&Path>,
        cell: Option<&Path>,
    ) -> String {
        crate::lock::install_advice(self.lock, self.index, lock_path, cell, py)
    }

    /// A numpy breaker the lock's shims fix, with numpy at the locked version.
    pub(super) fn shims_cover(&self, breaker: &Breaker, numpy: &str) -> bool {
        numpy == self.t.numpy.version && self.t.shim.iter().any(|s| s.id == breaker.id)
    }
}
