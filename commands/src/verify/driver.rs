//! Layer 1: libcuda loads, the driver meets the lock's floor, the devices
//! are listed. Whether the wheel's code fits a device is the gpu_code layer's
//! question.

use super::Layer;
use crate::host::cuda::{self, DriverError, DriverInfo};
use crate::lock::LockedTarget;
use crate::versions::{CudaVersion, DriverVersion};

pub(super) fn layer(t: &LockedTarget, info: &Result<DriverInfo, DriverError>) -> Layer {
    let mut l = Layer::new("driver");
    let info = match info {
        Ok(i) => i,
        Err(e) if e.no_driver() => {
            let mut s = Layer::skip("driver", e.to_string());
            if let Some((v, src)) = cuda::driver_version() {
                s.details.push(format!(
                    "kernel module {v} ({src}) but libcuda.so.1 does not load"
                ));
            }
            return s;
        }
        Err(e) => return l.fail(e.to_string()),
    };
    if let Some(c) = info.cuda {
        l.details
            .push(format!("driver supports CUDA {c} (cuDriverGetVersion)"));
        l.set("driver_cuda", c.to_string());
    }
    let devices = match info.usable_devices() {
        Ok(d) => d,
        Err(e) => return Layer::skip("driver", format!("libcuda loads, but {e}")),
    };
    let problems = floor(t, info, &mut l);
    l.set(
        "devices",
        devices
            .iter()
            .map(|d| serde_json::json!({"ordinal": d.ordinal, "name": d.name, "compute_capability": d.compute_capability.to_string()}))
            .collect::<Vec<_>>(),
    );
    for d in devices {
        l.details.push(format!(
            "device {}: {} (compute capability {})",
            d.ordinal, d.name, d.compute_capability
        ));
    }
    match problems {
        Some(p) => l.fail(p),
        None => {
            l.reason = format!("libcuda loads; {} device(s)", devices.len());
            l
        }
    }
}

/// The lock's driver floor against the kernel module's version (or, where
/// that is unreadable, the driver's CUDA against the wheel's). Some(problem)
/// when it is not met.
fn floor(t: &LockedTarget, info: &DriverInfo, l: &mut Layer) -> Option<String> {
    let found = cuda::driver_version();
    if let Some((v, src)) = &found {
        l.details.push(format!("driver {v} ({src})"));
        l.set("driver", v.to_string());
    }
    let Some(min) = &t.driver.min else {
        l.details
            .push("the lock sets no driver floor (CPU build)".into());
        return None;
    };
    if let Some((v, _)) = &found {
        return match min.parse::<DriverVersion>() {
            Ok(min_v) if *v >= min_v => {
                l.details.push(format!("driver {v} >= locked floor {min}"));
                None
            }
            Ok(_) => Some(format!(
                "driver {v} is older than the locked floor {min} ({}); upgrade the driver or re-resolve for this machine",
                t.driver.why
            )),
            Err(e) => Some(format!("lock's driver floor `{min}` is not a version: {e}")),
        };
    }
    // No kernel module version readable (some containers): the CUDA the
    // driver supports must reach the wheel's CUDA major.minor.
    let wheel = t
        .mxnet
        .cuda
        .as_deref()
        .and_then(|c| c.parse::<CudaVersion>().ok());
    match (wheel, info.cuda) {
        (Some(w), Some(d)) if d >= w => {
            l.details.push(format!(
                "driver version unreadable; its CUDA {d} >= the wheel's CUDA {w} (floor {min} not compared)"
            ));
            None
        }
        (Some(w), Some(d)) => Some(format!(
            "the driver supports CUDA {d} only; the wheel needs CUDA {w} (floor {min})"
        )),
        _ => {
            l.details.push(format!(
                "driver version unreadable; floor {min} not compared"
            ));
            None
        }
    }
}
