//! The GPU-code rule: a device can run a library when some SASS `sm_XY` has
//! X == device major and Y <= device minor, or some PTX `compute_XY` <= the
//! device (JIT-compiled by the driver, which must be at least as new as the
//! toolkit that wrote the PTX).

use crate::versions::ComputeCapability;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}
