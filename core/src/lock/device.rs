//! How a locked wheel fits a device: its own kernels' code against the
//! device's compute capability.

use super::{DeviceFit, LockedTarget};
use crate::versions::ComputeCapability;

impl LockedTarget {
    /// Compute capabilities the lock was resolved for (its `gpus` fact:
    /// `NVIDIA T4 (7.5), NVIDIA A100 (8.0)`).
    pub fn gpu_capabilities(&self) -> Vec<ComputeCapability> {
        self.gpu.iter().map(|g| g.compute_capability).collect()
    }

    /// How the locked wheel fits a device of compute capability `cc`.
    pub fn fit(&self, cc: ComputeCapability) -> DeviceFit {
        use crate::solve::gpu_code::{select, GpuCode};
        let m = &self.mxnet;
        let Some(code) = select(&m.sass, &m.ptx, cc) else {
            return DeviceFit::NoCode;
        };
        let locked_jit = self
            .gpu_capabilities()
            .into_iter()
            .any(|c| matches!(select(&m.sass, &m.ptx, c), Some(GpuCode::Ptx { .. })));
        match code {
            GpuCode::Ptx { .. } if !locked_jit => DeviceFit::NeedsJit(code),
            _ => DeviceFit::Runs(code),
        }
    }
}
