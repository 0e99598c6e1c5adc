//! The GPU-code rule: a device can run a library when some SASS `sm_XY` has
//! X == device major and Y <= device minor, or some PTX `compute_XY` <= the
//! device (JIT-compiled by the driver, which must be at least as new as the
//! toolkit that wrote the PTX).

use crate::db::model::{ModuleCode, WheelFile};
use crate::versions::ComputeCapability;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GpuCode {
    /// Runs SASS built for `sm`.
    Sass { sm: u32 },
    /// JIT-compiles PTX for virtual arch `compute`.
    Ptx { compute: u32 },
}

impl std::fmt::Display for GpuCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GpuCode::Sass { sm } => write!(f, "SASS sm_{sm}"),
            GpuCode::Ptx { compute } => write!(f, "PTX compute_{compute} (JIT)"),
        }
    }
}

/// Which image the CUDA runtime picks for `device`: the best matching SASS,
/// else the newest compatible PTX; None when nothing can run.
pub fn select(sass: &[u32], ptx: &[u32], device: ComputeCapability) -> Option<GpuCode> {
    let best_sass = sass
        .iter()
        .copied()
        .filter(|&sm| sm / 10 == device.major && sm % 10 <= device.minor)
        .max();
    if let Some(sm) = best_sass {
        return Some(GpuCode::Sass { sm });
    }
    ptx.iter()
        .copied()
        .filter(|&c| c <= device.sm())
        .max()
        .map(|compute| GpuCode::Ptx { compute })
}

/// `[50, 60, 70]` -> `sm_50, sm_60, sm_70`.
pub fn list(prefix: &str, archs: &[u32]) -> String {
    if archs.is_empty() {
        return "none".into();
    }
    archs
        .iter()
        .map(|a| format!("{prefix}_{a}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The code a device must find in a measured wheel: its own kernels'
/// (the largest module group, see [`for_wheel`]), or the union of all
/// modules for records measured before modules were counted. The lock
/// stores this, so the cell and `verify` judge a device as the solver did.
pub fn own_kernels(w: &WheelFile) -> (&[u32], &[u32]) {
    match own_group(w) {
        Some(own) => (&own.sass, &own.ptx),
        None => (&w.sass, &w.ptx),
    }
}

/// The largest module group: MXNet's own kernels (see [`for_wheel`]).
fn own_group(w: &WheelFile) -> Option<&ModuleCode> {
    w.module_code.iter().max_by_key(|m| m.modules)
}

/// The image a device of `cc` runs from a measured wheel (the solver's
/// `gpu_code` rule and doctor). The library's own kernels are the
/// largest group of fatbin modules (compiled with the build's arch list);
/// they must have code for the device, or MXNet's operators fail with "no
/// kernel image is available" even when the union of all modules looks
/// fine. Smaller groups with code for a few architectures only are the
/// per-architecture kernels of statically linked libraries (cuDNN 7
/// carries such modules in every Makefile-era wheel, measured), which the
/// library dispatches by device, so they are not required. Records
/// measured before modules were counted are judged by the union.
pub fn for_wheel(w: &WheelFile, cc: ComputeCapability) -> Result<GpuCode, GpuCodeError> {
    let union = select(&w.sass, &w.ptx, cc).ok_or_else(|| GpuCodeError::NoImage {
        sass: w.sass.clone(),
        ptx: w.ptx.clone(),
    })?;
    let Some(own) = own_group(w) else {
        return Ok(union);
    };
    select(&own.sass, &own.ptx, cc).ok_or_else(|| GpuCodeError::OnlyOtherModules {
        own_modules: own.modules,
        total_modules: w.module_code.iter().map(|m| m.modules).sum(),
        own_sass: own.sass.clone(),
        own_ptx: own.ptx.clone(),
        sass: w.sass.clone(),
        ptx: w.ptx.clone(),
    })
}

/// Why [`for_wheel`] finds no image for a device: the `gpu_code` rule's
/// reason and doctor's, rendered from the wheel's measured code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GpuCodeError {
    /// No module of the wheel has code for the device.
    #[error("{}", code(.sass, .ptx))]
    NoImage { sass: Vec<u32>, ptx: Vec<u32> },
    /// Only statically linked libraries' modules have code for it.
    #[error(
        "the library's own kernels ({own_modules} of {total_modules} fatbin modules: {}) have none, only other modules do ({})",
        code(.own_sass, .own_ptx),
        code(.sass, .ptx)
    )]
    OnlyOtherModules {
        own_modules: u32,
        total_modules: u32,
        own_sass: Vec<u32>,
        own_ptx: Vec<u32>,
        sass: Vec<u32>,
        ptx: Vec<u32>,
    },
}

/// `SASS sm_50, sm_60; PTX compute_60`.
fn code(sass: &[u32], ptx: &[u32]) -> String {
    format!("SASS {}; PTX {}", list("sm", sass), list("compute", ptx))
}

#[cfg(test)]
mod tests {
    use super::*;
    fn cc(s: &str) -> ComputeCapability {
        s.parse().unwrap()
    }
    #[test]
    fn sass_same_major_lower_minor() {
        assert_eq!(
            select(&[50, 60, 70, 80, 86], &[], cc("7.5")),
            Some(GpuCode::Sass { sm: 70 })
        );
        assert_eq!(
            select(&[50, 60, 70, 80, 86], &[], cc("8.9")),
            Some(GpuCode::Sass { sm: 86 })
        );
        assert_eq!(select(&[50, 60, 70, 80, 86], &[], cc("9.0")), None);
        assert_eq!(
            select(&[80], &[], cc("8.0")),
            Some(GpuCode::Sass { sm: 80 })
        );
        assert_eq!(select(&[86], &[], cc("8.0")), None);
    }
    #[test]
    fn ptx_jit_when_no_sass() {
        assert_eq!(
            select(&[50, 60, 70], &[70], cc("9.0")),
            Some(GpuCode::Ptx { compute: 70 })
        );
        assert_eq!(select(&[], &[80], cc("7.5")), None);
        assert_eq!(
            select(&[75], &[90], cc("12.0")),
            Some(GpuCode::Ptx { compute: 90 })
        );
        assert_eq!(
            select(&[37], &[], cc("3.7")),
            Some(GpuCode::Sass { sm: 37 })
        );
    }
    /// The rule's reason reads as it did when it was a string.
    #[test]
    fn no_code_reason() {
        let e = GpuCodeError::OnlyOtherModules {
            own_modules: 40,
            total_modules: 42,
            own_sass: vec![50, 60],
            own_ptx: vec![],
            sass: vec![50, 60, 61],
            ptx: vec![61],
        };
        assert_eq!(
            e.to_string(),
            "the library's own kernels (40 of 42 fatbin modules: SASS sm_50, sm_60; PTX none) have none, only other modules do (SASS sm_50, sm_60, sm_61; PTX compute_61)"
        );
        let e = GpuCodeError::NoImage {
            sass: vec![],
            ptx: vec![30],
        };
        assert_eq!(e.to_string(), "SASS none; PTX compute_30");
    }
}
