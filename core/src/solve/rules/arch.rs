//! What a GPU's architecture needs at minimum, read from cuda.toml (each
//! release's `sm`, what its nvcc targets, and its `driver_min`, both with
//! their NVIDIA sources):
//!
//! - the driver: the first CUDA release whose nvcc targets the device's
//!   compute capability came with the first driver branch that runs the
//!   device, so an older branch cannot (rule `driver`);
//! - the CUDA build: a build older than the first release with any target
//!   of the device's architecture (its major: 8.x is Ampere and Ada) has
//!   no code and no libraries made for the device; there MXNet hangs or
//!   fails at the first kernel instead of saying so (rule `gpu_code`).
//!
//! A compute capability that the earliest release in cuda.toml already
//! targets has no known first release (it may be older), so no floor.

use super::Breaks;
use crate::db::model::CudaRelease;
use crate::db::Db;
use crate::solve::{Ctx, Rule};
use crate::versions::{ComputeCapability, CudaVersion};

/// The first release in cuda.toml whose `sm` has a target `matches`; None
/// when the earliest release already has one (the first is not recorded).
fn first(db: &Db, matches: impl Fn(u32) -> bool) -> Option<&CudaRelease> {
    let mut releases: Vec<&CudaRelease> = db.cuda.iter().collect();
    releases.sort_by_key(|r| r.version);
    let earliest = releases.first()?.version;
    releases
        .into_iter()
        .find(|r| r.sm.iter().any(|s| s.suffix.is_none() && matches(s.sm)))
        .filter(|r| r.version != earliest)
}

/// The first CUDA release that targets exactly this compute capability.
pub(crate) fn first_cuda(db: &Db, cc: ComputeCapability) -> Option<&CudaRelease> {
    first(db, |sm| sm == cc.sm())
}

/// The first CUDA release that targets the device's architecture (any
/// compute capability of its major).
pub(crate) fn first_cuda_of_major(db: &Db, cc: ComputeCapability) -> Option<&CudaRelease> {
    first(db, |sm| sm / 10 == cc.major)
}

/// Rule `driver`: every device's architecture is older than the target's
/// driver branch. Compared by branch (the driver's major), as NVIDIA ships
/// support for a new architecture in a branch.
pub(crate) fn driver(cx: &Ctx, b: &mut Breaks) {
    let Some(have) = cx.target.driver.as_ref().map(|d| &d.value) else {
        return;
    };
    for g in cx.gpus() {
        let cc = g.compute_capability;
        let Some(rel) = first_cuda(cx.db, cc) else {
            continue;
        };
        if have.major() < rel.driver_min.major() {
            b.push(
                Rule::Driver,
                format!(
                    "{} (sm_{}) is first supported by CUDA {}, whose driver is {}: a driver of branch {} cannot run it; the target has driver {have} (install driver >= {})",
                    g.name,
                    cc.sm(),
                    rel.version,
                    rel.driver_min,
                    have.major(),
                    rel.driver_min
                ),
            );
        }
    }
}

/// Rule `gpu_code`: the wheel's CUDA build is not older than any device's
/// architecture.
pub(crate) fn cuda_build(cx: &Ctx, wheel_cuda: CudaVersion, b: &mut Breaks) {
    for g in cx.gpus() {
        let cc = g.compute_capability;
        let Some(rel) = first_cuda_of_major(cx.db, cc) else {
            continue;
        };
        if wheel_cuda < rel.version {
            b.push(
                Rule::GpuCode,
                format!(
                    "a CUDA {wheel_cuda} build is older than {} (sm_{}): compute capability {}.x first came with CUDA {}, so neither libmxnet.so's CUDA libraries nor its cuDNN were made for it (a build for CUDA {} or later is needed)",
                    g.name,
                    cc.sm(),
                    cc.major,
                    rel.version,
                    rel.version
                ),
            );
        }
    }
}
