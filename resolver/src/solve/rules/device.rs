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

/// The image a device of `cc` runs. The library runs only if every fatbin
/// module has code for it (a kernel of a module without any fails with "no
/// kernel image is available"), so each group of modules is judged; the
/// image is PTX (JIT) when any module needs it. Records measured before
/// modules were counted are judged by the union of their code.
fn device_code(w: &WheelFile, cc: ComputeCapability) -> Result<GpuCode, String> {
    let union = || {
        format!(
            "SASS {}; PTX {}",
            gpu_code::list("sm", &w.sass),
            gpu_code::list("compute", &w.ptx)
        )
    };
    if w.module_code.is_empty() {
        return gpu_code::select(&w.sass, &w.ptx, cc).ok_or_else(union);
    }
    let mut chosen = None;
    let (mut without, total) = (0, w.module_code.iter().map(|m| m.modules).sum::<u32>());
    let mut example = None;
    for m in &w.module_code {
        match gpu_code::select(&m.sass, &m.ptx, cc) {
            Some(c @ GpuCode::Ptx { .. }) => chosen = Some(c),
            Some(c) => {
                chosen.get_or_insert(c);
            }
            None => {
                without += m.modules;
                example.get_or_insert_with(|| {
                    format!(
                        "SASS {}; PTX {}",
                        gpu_code::list("sm", &m.sass),
                        gpu_code::list("compute", &m.ptx)
                    )
                });
            }
        }
    }
    match (without, chosen) {
        (0, Some(c)) => Ok(c),
        (0, None) => Err(union()),
        (n, _) => Err(format!(
            "{n} of {total} fatbin modules have no code for it (one group: {}; all modules together: {})",
            example.unwrap_or_default(),
            union()
        )),
    }
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
