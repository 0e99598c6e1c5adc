//! Rules `device` (a CUDA build for a GPU target, a CPU build otherwise)
//! and `gpu_code` (every device has code in libmxnet.so, and every library
//! the stack loads supports it).

use super::loader::Loaded;
use super::Breaks;
use crate::db::model::WheelFile;
use crate::solve::gpu_code::{self, GpuCode};
use crate::solve::{Ctx, DeviceCode, Rule};
use crate::versions::ComputeCapability;

/// Rule `device`.
pub fn device(cx: &Ctx, w: &WheelFile, b: &mut Breaks) {
    match (w.cuda, cx.gpus().is_empty()) {
        (None, false) => b.push(
            Rule::Device,
            "CPU build; the target has a GPU (pass --no-gpu to pin a CPU wheel)",
        ),
        (Some(c), true) => b.push(
            Rule::Device,
            format!("CUDA {c} build; the target has no GPU"),
        ),
        _ => {}
    }
}

/// The image each device would run, or why some device has none. Empty for
/// a CPU build or a target without GPU (rule `device` judges those).
pub fn select(cx: &Ctx, w: &WheelFile) -> Result<Vec<DeviceCode>, String> {
    if w.cuda.is_none() {
        return Ok(vec![]);
    }
    if cx.gpus().is_empty() {
        return Ok(vec![]);
    }
    if let Some(why) = &w.unmeasured {
        return Err(format!(
            "libmxnet.so is packed ({}) and its GPU code could not be measured ({why}): gpu-env cannot say which GPUs it runs on",
            w.packed.as_deref().unwrap_or("unknown packer")
        ));
    }
    if w.no_gpu_code {
        return Err("libmxnet.so carries no GPU code (no SASS, no PTX)".into());
    }
    cx.gpus()
        .iter()
        .map(|g| {
            let cc = g.compute_capability;
            let code = device_code(w, cc)
                .map_err(|why| format!("no machine code for {} (sm_{}): {why}", g.name, cc.sm()))?;
            Ok(DeviceCode {
                device: g.name.clone(),
                compute_capability: cc.to_string(),
                code,
            })
        })
        .collect()
}

/// The image a device of `cc` runs. The library's own kernels are the
/// largest group of fatbin modules (compiled with the build's arch list);
/// they must have code for the device, or MXNet's operators fail with "no
/// kernel image is available" even when the union of all modules looks
/// fine. Smaller groups with code for a few architectures only are the
/// per-architecture kernels of statically linked libraries (cuDNN 7
/// carries such modules in every Makefile-era wheel, measured), which the
/// library dispatches by device, so they are not required. Records
/// measured before modules were counted are judged by the union.
fn device_code(w: &WheelFile, cc: ComputeCapability) -> Result<GpuCode, String> {
    let list = |sass: &[u32], ptx: &[u32]| {
        format!(
            "SASS {}; PTX {}",
            gpu_code::list("sm", sass),
            gpu_code::list("compute", ptx)
        )
    };
    let union = gpu_code::select(&w.sass, &w.ptx, cc).ok_or_else(|| list(&w.sass, &w.ptx))?;
    let Some(own) = w.module_code.iter().max_by_key(|m| m.modules) else {
        return Ok(union);
    };
    let total: u32 = w.module_code.iter().map(|m| m.modules).sum();
    gpu_code::select(&own.sass, &own.ptx, cc).ok_or_else(|| {
        format!(
            "the library's own kernels ({} of {total} fatbin modules: {}) have none, only other modules do ({})",
            own.modules,
            list(&own.sass, &own.ptx),
            list(&w.sass, &w.ptx)
        )
    })
}

/// Rule `gpu_code`: the wheel's own code ([`select`]), then each library's
/// support for the devices ([`super::support`]).
pub fn gpu_code(
    cx: &Ctx,
    w: &WheelFile,
    code: Result<Vec<DeviceCode>, String>,
    loaded: &Loaded,
    b: &mut Breaks,
) -> Vec<DeviceCode> {
    let code = code.unwrap_or_else(|why| {
        b.push(Rule::GpuCode, why);
        vec![]
    });
    if let Some(wheel_cuda) = w.cuda {
        for why in super::support::libraries(cx, w, wheel_cuda, loaded) {
            b.push(Rule::GpuCode, why);
        }
    }
    code
}
