//! Layer 3: which of the wheel's images each device uses, by the lock's own
//! rule ([`LockedTarget::fit`], the rule the cell applies), then that image
//! compiled with NVRTC and loaded by the driver.

use super::kernel::{nul_terminated, nvrtc_or_fail};
use super::{Ctx, Layer, Status};
use crate::host::cuda::{self, Device};
use crate::host::nvrtc;
use crate::lock::{DeviceFit, LockedTarget};
use crate::solve::gpu_code::{self, GpuCode};

pub(super) fn layer(cx: &Ctx, devices: &[Device]) -> Layer {
    let mut l = Layer::new("gpu_code");
    let m = &cx.t.mxnet;
    if m.cuda.is_none() {
        return Layer::skip(
            "gpu_code",
            format!("{} is a CPU build: no GPU code", m.package),
        );
    }
    let have = format!(
        "the wheel's own kernels carry SASS {} and PTX {}",
        gpu_code::list("sm", &m.sass),
        gpu_code::list("compute", &m.ptx)
    );
    l.details.push(have.clone());
    let plans = match plan(cx.t, devices, &have) {
        Ok(p) => p,
        Err(problems) => return l.fail(problems.join("; ")),
    };
    let n = match nvrtc_or_fail(&mut l, cx.nvrtc()) {
        Ok(n) => n,
        Err(e) => return l.fail(e),
    };
    let mut loaded = 0;
    for (d, code) in plans {
        match load(n, d, code, &mut l) {
            Ok(true) => loaded += 1,
            Ok(false) => {}
            Err(e) => return l.fail(e),
        }
    }
    if loaded == 0 {
        l.status = Status::Skip;
        l.reason = "the GPU-code rule holds for every device, but NVRTC could not write the wheel's arch to load it".into();
    } else {
        l.reason = "the wheel's image for every device loads".into();
    }
    l
}

/// The image each device uses, or every device the lock does not vouch for.
fn plan<'d>(
    t: &LockedTarget,
    devices: &'d [Device],
    have: &str,
) -> Result<Vec<(&'d Device, GpuCode)>, Vec<String>> {
    let made_for = t
        .gpu_capabilities()
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut plans = Vec::new();
    let mut problems = Vec::new();
    for d in devices {
        let cc = d.compute_capability;
        match t.fit(cc) {
            DeviceFit::Runs(code) => plans.push((d, code)),
            DeviceFit::NeedsJit(code) => problems.push(format!(
                "device {} {} (compute capability {cc}) would JIT {code}, but the lock was resolved for SASS on {made_for}; re-resolve with `cargo xtask resolve --target local`",
                d.ordinal, d.name
            )),
            DeviceFit::NoCode => problems.push(format!(
                "device {} {} (compute capability {cc}): no kernel image is available: {have}; re-resolve with `cargo xtask resolve --target local` for a wheel with code for sm_{}",
                d.ordinal, d.name, cc.sm()
            )),
        }
    }
    if problems.is_empty() {
        Ok(plans)
    } else {
        Err(problems)
    }
}

/// Compile the wheel's kind of image for `d` and load it: Ok(true) loaded,
/// Ok(false) this NVRTC cannot write that arch (not a failure of the rule).
fn load(n: &nvrtc::Nvrtc, d: &Device, code: GpuCode, l: &mut Layer) -> Result<bool, String> {
    let out = match code {
        GpuCode::Sass { sm } => nvrtc::Output::Cubin(sm),
        GpuCode::Ptx { compute } => nvrtc::Output::Ptx(compute),
    };
    let arch = match out {
        nvrtc::Output::Cubin(a) | nvrtc::Output::Ptx(a) => a,
    };
    let archs = n.supported_archs().unwrap_or_default();
    if !archs.is_empty() && !archs.contains(&arch) {
        l.details.push(format!(
            "device {}: the wheel will use {code}; NVRTC {}.{} cannot write arch {arch}, so it was not loaded (the rule says it runs)",
            d.ordinal, n.version.0, n.version.1
        ));
        return Ok(false);
    }
    let image = n
        .compile(nvrtc::SAXPY, nvrtc::SAXPY_NAME, out)
        .map(nul_terminated)
        .map_err(|e| format!("device {}: {e}", d.ordinal))?;
    match cuda::load_module(d.ordinal, &image) {
        Ok(()) => {
            l.details.push(format!(
                "device {} {} ({}): the wheel will use {code}; an NVRTC {out} image loads",
                d.ordinal, d.name, d.compute_capability
            ));
            Ok(true)
        }
        Err(e) => {
            // Measured on an H200 with driver 580 (CUDA 13.0): PTX of a newer
            // ISA than the driver's CUDA is refused with error 222.
            let hint = if matches!(out, nvrtc::Output::Ptx(_)) && e.to_string().contains("PTX") {
                " (this NVRTC may be newer than the driver: its PTX version is not the wheel's)"
            } else {
                ""
            };
            Err(format!(
                "device {} {} ({}): the wheel will use {code}, and loading an {out} image failed: {e}{hint}",
                d.ordinal, d.name, d.compute_capability
            ))
        }
    }
}
