//! Layer 2: NVRTC compiles saxpy for each device, the driver loads it, it
//! runs over 2^20 floats and the numbers are right. Independent of the
//! wheel: it proves the driver, the device and NVRTC work together.

use super::{ms, Ctx, Layer};
use crate::host::cuda::{self, Device};
use crate::host::nvrtc;
use crate::solve::gpu_code;
use std::time::Instant;

pub(super) fn nvrtc_or_fail<'a>(
    l: &mut Layer,
    n: &'a Result<nvrtc::Nvrtc, nvrtc::NvrtcNotFound>,
) -> Result<&'a nvrtc::Nvrtc, String> {
    match n {
        Ok(n) => {
            l.details.push(format!(
                "NVRTC {}.{} ({})",
                n.version.0, n.version.1, n.path
            ));
            l.set("nvrtc", serde_json::json!({"path": n.path, "version": format!("{}.{}", n.version.0, n.version.1)}));
            Ok(n)
        }
        Err(e) => {
            l.details.extend(e.lines());
            Err(e.to_string())
        }
    }
}

pub(super) fn nul_terminated(mut v: Vec<u8>) -> Vec<u8> {
    if v.last() != Some(&0) {
        v.push(0);
    }
    v
}

pub(super) fn layer(cx: &Ctx, devices: &[Device]) -> Layer {
    let mut l = Layer::new("kernel");
    let n = match nvrtc_or_fail(&mut l, cx.nvrtc()) {
        Ok(n) => n,
        Err(e) => return l.fail(e),
    };
    let archs = n.supported_archs().unwrap_or_default();
    let mut timings = Vec::new();
    for d in devices {
        let sm = d.compute_capability.sm();
        let Some(target) = nvrtc::kernel_target(&archs, sm) else {
            return l.fail(format!(
                "NVRTC {}.{} targets none of sm_{sm} or below (supports {}); use an NVRTC that knows compute capability {}",
                n.version.0,
                n.version.1,
                gpu_code::list("sm", &archs),
                d.compute_capability
            ));
        };
        let t0 = Instant::now();
        let image = match n.compile(nvrtc::SAXPY, nvrtc::SAXPY_NAME, target) {
            Ok(i) => nul_terminated(i),
            Err(e) => return l.fail(e.to_string()),
        };
        let compile_ms = ms(t0);
        let t1 = Instant::now();
        if let Err(e) = cuda::run_saxpy(d.ordinal, &image, 1 << 20) {
            return l.fail(format!("device {} {}: {target}: {e}", d.ordinal, d.name));
        }
        let run_ms = ms(t1);
        l.details.push(format!(
            "device {}: saxpy over 2^20 floats, {target}: compile {compile_ms:.1} ms, load+launch+copy+check {run_ms:.1} ms",
            d.ordinal
        ));
        timings.push(serde_json::json!({"device": d.ordinal, "image": target.to_string(), "compile_ms": compile_ms, "run_ms": run_ms}));
    }
    l.set("runs", timings);
    l.reason = "NVRTC saxpy compiled, loaded, launched and checked on every device".into();
    l
}
