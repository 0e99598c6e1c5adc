//! The NVIDIA driver: kernel module version files under the sysroot, and the
//! CUDA driver API (libcuda through cudarc, loaded at run time).

use crate::versions::{ComputeCapability, CudaVersion, DriverVersion};
use serde::Serialize;

/// `/proc/driver/nvidia/version`, proprietary or open module:
/// `NVRM version: NVIDIA UNIX x86_64 Kernel Module  418.56  Fri Mar 15 ...` or
/// `NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  575.57.08  Release Build ...`.
pub fn parse_proc_version(text: &str) -> Option<DriverVersion> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("NVRM version:"))?;
    line.split_whitespace()
        .filter(|t| t.contains('.'))
        .find_map(|t| {
            t.parse::<DriverVersion>()
                .ok()
                .filter(|v| v.parts().len() >= 2)
        })
}

/// `/sys/module/nvidia/version`: `550.54.14`.
pub fn parse_sys_version(text: &str) -> Option<DriverVersion> {
    text.trim().parse().ok()
}

/// One device as the driver API reports it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ApiDevice {
    pub name: String,
    pub compute_capability: ComputeCapability,
    pub memory_mib: u64,
}

/// What the driver API answered.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DriverApi {
    /// `cuDriverGetVersion`: the highest CUDA the driver supports.
    pub cuda: Option<CudaVersion>,
    pub devices: Vec<ApiDevice>,
    /// `cuInit` failed (e.g. no device): the CUDA version may still be known.
    pub init_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverApiError {
    #[error(
        "libcuda.so.1 is not loadable (no NVIDIA driver installed, or not on the loader path)"
    )]
    NoLibrary,
    #[error("{call} failed: CUDA error {code}")]
    Call { call: &'static str, code: String },
    #[error("built without the `cuda` feature: driver API not probed")]
    NotBuilt,
}

/// Ask libcuda. Never panics when libcuda is missing: cudarc's loader would,
/// so its presence is checked first (callers also run this on a thread
/// with catch_unwind).
#[cfg(feature = "cuda")]
pub fn query_api() -> Result<DriverApi, DriverApiError> {
    use cudarc::driver::sys;
    // SAFETY: each call passes valid out-pointers; libcuda is loaded only
    // after is_culib_present said a library of that name exists.
    unsafe {
        if !sys::is_culib_present() {
            return Err(DriverApiError::NoLibrary);
        }
        let ok = |r: sys::CUresult, call: &'static str| {
            if r == sys::CUresult::CUDA_SUCCESS {
                Ok(())
            } else {
                Err(DriverApiError::Call {
                    call,
                    code: format!("{r:?}"),
                })
            }
        };
        let mut v = 0i32;
        ok(sys::cuDriverGetVersion(&mut v), "cuDriverGetVersion")?;
        let mut out = DriverApi {
            cuda: CudaVersion::from_driver_api(v),
            devices: vec![],
            init_error: None,
        };
        if let Err(e) = ok(sys::cuInit(0), "cuInit") {
            out.init_error = Some(e.to_string());
            return Ok(out);
        }
        let mut n = 0i32;
        ok(sys::cuDeviceGetCount(&mut n), "cuDeviceGetCount")?;
        for i in 0..n {
            let mut dev: sys::CUdevice = 0;
            ok(sys::cuDeviceGet(&mut dev, i), "cuDeviceGet")?;
            let mut name = [0 as std::ffi::c_char; 256];
            ok(
                sys::cuDeviceGetName(name.as_mut_ptr(), 255, dev),
                "cuDeviceGetName",
            )?;
            let name = std::ffi::CStr::from_ptr(name.as_ptr())
                .to_string_lossy()
                .into_owned();
            let (mut major, mut minor) = (0i32, 0i32);
            use sys::CUdevice_attribute as A;
            ok(
                sys::cuDeviceGetAttribute(
                    &mut major,
                    A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                    dev,
                ),
                "cuDeviceGetAttribute",
            )?;
            ok(
                sys::cuDeviceGetAttribute(
                    &mut minor,
                    A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                    dev,
                ),
                "cuDeviceGetAttribute",
            )?;
            let mut bytes = 0usize;
            ok(
                sys::cuDeviceTotalMem_v2(&mut bytes, dev),
                "cuDeviceTotalMem",
            )?;
            out.devices.push(ApiDevice {
                name,
                compute_capability: ComputeCapability::new(
                    major.max(0) as u32,
                    minor.max(0) as u32,
                ),
                memory_mib: (bytes / (1024 * 1024)) as u64,
            });
        }
        Ok(out)
    }
}

#[cfg(not(feature = "cuda"))]
pub fn query_api() -> Result<DriverApi, DriverApiError> {
    Err(DriverApiError::NotBuilt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_formats() {
        let prop = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  418.56  Fri Mar 15 12:59:26 CDT 2019\nGCC version:  gcc version 7.3.0\n";
        assert_eq!(parse_proc_version(prop).unwrap().to_string(), "418.56");
        let open = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  575.57.08  Release Build  (dvs-builder@U16)  Tue May 20 2025\n";
        assert_eq!(parse_proc_version(open).unwrap().to_string(), "575.57.08");
        assert!(parse_proc_version("garbage\n").is_none());
        assert_eq!(
            parse_sys_version("550.54.14\n").unwrap().to_string(),
            "550.54.14"
        );
        assert!(parse_sys_version("").is_none());
    }

    #[test]
    fn api_without_driver_does_not_panic() {
        // On a machine without libcuda this is NoLibrary; with one, an answer.
        let _ = query_api();
    }
}
