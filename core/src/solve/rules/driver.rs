//! Rule `driver`: the floor of the CUDA runtime that will load (its pip
//! release, else the wheel's CUDA), met at the first CUDA call. Minor-version
//! compatibility holds for SASS only: PTX JIT needs the full toolkit driver.

use super::Breaks;
use super::Loaded;
use crate::db::model::WheelFile;
use crate::solve::gpu_code::GpuCode;
use crate::solve::providers::Provider;
use crate::solve::{Ctx, DeviceCode, DriverCheck, Rule};
use crate::versions::CudaVersion;
use std::collections::BTreeMap;

/// The CUDA version of a cudart: from its pip release (11.8.89 -> 11.8) or the wheel's.
pub(crate) fn runtime_cuda(
    providers: &BTreeMap<String, Provider>,
    wheel_cuda: CudaVersion,
) -> CudaVersion {
    providers
        .iter()
        .find_map(|(soname, p)| match p {
            Provider::Pip { package, version }
                if soname.starts_with("libcudart.so")
                    && package.starts_with("nvidia-cuda-runtime") =>
            {
                super::series(version).parse().ok()
            }
            _ => None,
        })
        .unwrap_or(wheel_cuda)
}

/// Rule `driver`. A CPU build needs none.
pub(crate) fn rule(
    cx: &Ctx,
    w: &WheelFile,
    l: &Loaded,
    code: &Result<Vec<DeviceCode>, String>,
    b: &mut Breaks,
) -> DriverCheck {
    let Some(wheel_cuda) = w.cuda else {
        return DriverCheck {
            min: None,
            found: None,
            ok: None,
            why: "CPU build: no driver needed".into(),
        };
    };
    let uses_ptx = code
        .as_ref()
        .is_ok_and(|c| c.iter().any(|d| matches!(d.code, GpuCode::Ptx { .. })));
    super::arch::driver(cx, b);
    check(cx, wheel_cuda, &l.providers, uses_ptx).unwrap_or_else(|why| {
        b.push(Rule::Driver, why);
        DriverCheck {
            min: None,
            found: cx.target.driver.as_ref().map(|d| d.value.clone()),
            ok: Some(false),
            why: String::new(),
        }
    })
}

fn check(
    cx: &Ctx,
    wheel_cuda: CudaVersion,
    providers: &BTreeMap<String, Provider>,
    uses_ptx: bool,
) -> Result<DriverCheck, String> {
    let runtime = runtime_cuda(providers, wheel_cuda);
    let rel = cx
        .db
        .cuda(runtime)
        .or_else(|| cx.db.cuda(wheel_cuda))
        .ok_or_else(|| format!("CUDA {runtime} is not in compat-db/cuda.toml"))?;
    // PTX JIT needs a driver at least as new as the toolkit that wrote the
    // PTX; minor-version compatibility does not cover it.
    let (min, why) = match (&rel.minor_compat_driver_min, uses_ptx) {
        (Some(m), false) => (
            m.clone(),
            format!(
                "CUDA {runtime} runtime with minor-version compatibility (toolkit driver {})",
                rel.driver_min
            ),
        ),
        (_, true) => {
            let w = cx.db.cuda(wheel_cuda).unwrap_or(rel);
            (
                w.driver_min.clone().max(rel.driver_min.clone()),
                format!("PTX JIT of CUDA {wheel_cuda} code needs the full toolkit driver"),
            )
        }
        (None, false) => (
            rel.driver_min.clone(),
            format!("CUDA {runtime} toolkit driver"),
        ),
    };
    let found = cx.target.driver.as_ref().map(|d| d.value.clone());
    let ok = match (&found, &cx.target.driver_cuda) {
        (Some(f), _) => Some(*f >= min),
        (None, Some(dc)) => Some(
            dc.value >= runtime
                || (rel.minor_compat_driver_min.is_some()
                    && !uses_ptx
                    && dc.value.major == runtime.major),
        ),
        (None, None) => None,
    };
    if ok == Some(false) {
        let have = found
            .map(|f| format!("driver {f}"))
            .or_else(|| {
                cx.target
                    .driver_cuda
                    .as_ref()
                    .map(|c| format!("a driver for CUDA {}", c.value))
            })
            .unwrap_or_default();
        return Err(format!(
            "needs NVIDIA driver >= {min} ({why}); the target has {have}"
        ));
    }
    Ok(DriverCheck {
        min: Some(min),
        found: cx.target.driver.as_ref().map(|d| d.value.clone()),
        ok,
        why,
    })
}
