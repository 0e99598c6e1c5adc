//! Rules `device` (a CUDA build for a GPU target, a CPU build otherwise)
//! and `gpu_code` (every device has code in libmxnet.so, and every library
//! the stack loads supports it).

use super::Breaks;
use super::Loaded;
use crate::db::model::WheelFile;
use crate::solve::gpu_code;
use crate::solve::{Ctx, DeviceCode, Rule};

/// Rule `device`.
pub(crate) fn device(cx: &Ctx, w: &WheelFile, b: &mut Breaks) {
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
pub(crate) fn select(cx: &Ctx, w: &WheelFile) -> Result<Vec<DeviceCode>, String> {
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
            let code = gpu_code::for_wheel(w, cc)
                .map_err(|why| format!("no machine code for {} (sm_{}): {why}", g.name, cc.sm()))?;
            Ok(DeviceCode {
                device: g.name.clone(),
                compute_capability: cc,
                code,
            })
        })
        .collect()
}

/// Rule `gpu_code`: the wheel's own code ([`select`]), then each library's
/// support for the devices ([`super::support`]).
pub(crate) fn gpu_code(
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
        super::arch::cuda_build(cx, wheel_cuda, b);
        for why in super::support::libraries(cx, w, wheel_cuda, loaded) {
            b.push(Rule::GpuCode, why);
        }
    }
    code
}
