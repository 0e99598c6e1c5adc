//! The CUDA driver API through cudarc's raw bindings (loaded at run time):
//! the driver's CUDA version, the devices, module load, one kernel launch.
//! One implementation for probe, verify and doctor. Every entry point asks
//! `is_culib_present()` first, since cudarc panics when libcuda is missing.

use crate::versions::{ComputeCapability, CudaVersion, DriverVersion};
use serde::Serialize;

/// One device as the driver API reports it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Device {
    pub ordinal: i32,
    pub name: String,
    pub compute_capability: ComputeCapability,
    pub memory_mib: u64,
}

/// What the driver API answered.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverInfo {
    /// `cuDriverGetVersion`: the highest CUDA the driver supports.
    pub cuda: Option<CudaVersion>,
    /// Empty when `cuInit` failed.
    pub devices: Vec<Device>,
    /// `cuInit` failed (commonly [`DriverError::NoDevice`]); the CUDA
    /// version may still be known.
    pub init_error: Option<DriverError>,
}

impl DriverInfo {
    /// The devices, or why there are none to run on.
    pub fn usable_devices(&self) -> Result<&[Device], DriverError> {
        match &self.init_error {
            Some(e) => Err(e.clone()),
            None if self.devices.is_empty() => Err(DriverError::NoDevice),
            None => Ok(&self.devices),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriverError {
    #[error(
        "libcuda.so.1 is not loadable (no NVIDIA driver installed, or not on the loader path)"
    )]
    NoLibrary,
    #[error("{}", crate::features::missing("cuda", "the CUDA driver API"))]
    NotBuilt,
    /// `cuInit` answered CUDA_ERROR_NO_DEVICE, or no device was listed.
    #[error("the driver sees no GPU (CUDA_ERROR_NO_DEVICE)")]
    NoDevice,
    #[error("{call}: {code}{}", if .text.is_empty() { String::new() } else { format!(" {}", .text) })]
    Call {
        call: &'static str,
        code: String,
        text: String,
    },
    #[error("saxpy result wrong at {index}: got {got}, want {want}")]
    WrongResult { index: usize, got: f32, want: f32 },
}

impl DriverError {
    /// libcuda is absent or unused: there is no driver to ask.
    pub fn no_driver(&self) -> bool {
        matches!(self, DriverError::NoLibrary | DriverError::NotBuilt)
    }
}

#[cfg(feature = "cuda")]
mod imp {
    use super::*;
    use cudarc::driver::sys;
    use std::ffi::c_void;

    fn check(r: sys::CUresult, call: &'static str) -> Result<(), DriverError> {
        if r == sys::CUresult::CUDA_SUCCESS {
            return Ok(());
        }
        if r == sys::CUresult::CUDA_ERROR_NO_DEVICE {
            return Err(DriverError::NoDevice);
        }
        let mut p: *const std::ffi::c_char = std::ptr::null();
        // SAFETY: cuGetErrorString writes a static string pointer or fails.
        let text = unsafe {
            if sys::cuGetErrorString(r, &mut p) == sys::CUresult::CUDA_SUCCESS && !p.is_null() {
                std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
            } else {
                String::new()
            }
        };
        Err(DriverError::Call {
            call,
            code: format!("{r:?}"),
            text,
        })
    }

    pub fn present() -> bool {
        // SAFETY: only tries to dlopen libcuda.
        unsafe { sys::is_culib_present() }
    }

    /// The driver's CUDA version and its devices. Never panics when libcuda
    /// is missing (cudarc's loader would, so its presence is checked first).
    pub fn query() -> Result<DriverInfo, DriverError> {
        if !present() {
            return Err(DriverError::NoLibrary);
        }
        let mut v = 0i32;
        // SAFETY: a valid out-pointer; libcuda exists.
        check(
            unsafe { sys::cuDriverGetVersion(&mut v) },
            "cuDriverGetVersion",
        )?;
        let mut out = DriverInfo {
            cuda: CudaVersion::from_driver_api(v),
            devices: vec![],
            init_error: None,
        };
        // SAFETY: cuInit takes flags only.
        if let Err(e) = check(unsafe { sys::cuInit(0) }, "cuInit") {
            out.init_error = Some(e);
            return Ok(out);
        }
        let mut n = 0i32;
        // SAFETY: a valid out-pointer after cuInit succeeded.
        check(unsafe { sys::cuDeviceGetCount(&mut n) }, "cuDeviceGetCount")?;
        for i in 0..n {
            out.devices.push(device(i)?);
        }
        Ok(out)
    }

    /// Name, compute capability and memory of device `i`.
    fn device(i: i32) -> Result<Device, DriverError> {
        use sys::CUdevice_attribute as A;
        // SAFETY: each call passes valid out-pointers for device `i`, which
        // cuDeviceGetCount listed.
        unsafe {
            let mut dev: sys::CUdevice = 0;
            check(sys::cuDeviceGet(&mut dev, i), "cuDeviceGet")?;
            let mut name = [0 as std::ffi::c_char; 256];
            check(
                sys::cuDeviceGetName(name.as_mut_ptr(), 255, dev),
                "cuDeviceGetName",
            )?;
            let name = std::ffi::CStr::from_ptr(name.as_ptr())
                .to_string_lossy()
                .into_owned();
            let attr = |a: A| {
                let mut v = 0i32;
                check(
                    sys::cuDeviceGetAttribute(&mut v, a, dev),
                    "cuDeviceGetAttribute",
                )
                .map(|_| v.max(0) as u32)
            };
            let major = attr(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
            let minor = attr(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
            let mut bytes = 0usize;
            check(
                sys::cuDeviceTotalMem_v2(&mut bytes, dev),
                "cuDeviceTotalMem",
            )?;
            Ok(Device {
                ordinal: i,
                name,
                compute_capability: ComputeCapability::new(major, minor),
                memory_mib: (bytes / (1024 * 1024)) as u64,
            })
        }
    }

    /// Run `f` with the device's primary context current.
    fn with_ctx<T>(dev: i32, f: impl FnOnce() -> Result<T, DriverError>) -> Result<T, DriverError> {
        // SAFETY: the primary context is retained and released around `f`.
        unsafe {
            let mut ctx: sys::CUcontext = std::ptr::null_mut();
            check(
                sys::cuDevicePrimaryCtxRetain(&mut ctx, dev),
                "cuDevicePrimaryCtxRetain",
            )?;
            let r = check(sys::cuCtxSetCurrent(ctx), "cuCtxSetCurrent").and_then(|_| f());
            sys::cuDevicePrimaryCtxRelease_v2(dev);
            r
        }
    }

    /// `cuModuleLoadData` of `image` in the current context.
    ///
    /// # Safety
    /// A context must be current (inside `with_ctx`).
    unsafe fn module_from(image: &[u8]) -> Result<sys::CUmodule, DriverError> {
        let mut m: sys::CUmodule = std::ptr::null_mut();
        // SAFETY: the caller holds a current context; `image` outlives the call.
        let r = unsafe { sys::cuModuleLoadData(&mut m, image.as_ptr() as *const c_void) };
        check(r, "cuModuleLoadData")?;
        Ok(m)
    }

    /// Load `image` (CUBIN, fatbin, or NUL-terminated PTX) and unload it.
    pub fn load_module(dev: i32, image: &[u8]) -> Result<(), DriverError> {
        with_ctx(dev, || unsafe {
            sys::cuModuleUnload(module_from(image)?);
            Ok(())
        })
    }

    /// Load `image`, launch `saxpy` over `n` floats, copy back, compare.
    pub fn run_saxpy(dev: i32, image: &[u8], n: usize) -> Result<(), DriverError> {
        let a = 2.5f32;
        let x: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let y: Vec<f32> = (0..n).map(|i| (n - i) as f32 * 0.5).collect();
        let mut out = vec![0f32; n];
        let bytes = n * std::mem::size_of::<f32>();
        with_ctx(dev, || unsafe {
            let m = module_from(image)?;
            let mut bufs: [sys::CUdeviceptr; 3] = [0; 3];
            let r = (|| {
                let mut func: sys::CUfunction = std::ptr::null_mut();
                check(
                    sys::cuModuleGetFunction(&mut func, m, c"saxpy".as_ptr()),
                    "cuModuleGetFunction",
                )?;
                for b in bufs.iter_mut() {
                    check(sys::cuMemAlloc_v2(b, bytes), "cuMemAlloc")?;
                }
                check(
                    sys::cuMemcpyHtoD_v2(bufs[0], x.as_ptr() as *const c_void, bytes),
                    "cuMemcpyHtoD",
                )?;
                check(
                    sys::cuMemcpyHtoD_v2(bufs[1], y.as_ptr() as *const c_void, bytes),
                    "cuMemcpyHtoD",
                )?;
                let mut a_arg = a;
                let (mut px, mut py, mut po) = (bufs[0], bufs[1], bufs[2]);
                let mut n_arg = n as u32;
                let mut params: [*mut c_void; 5] = [
                    &mut a_arg as *mut f32 as *mut c_void,
                    &mut px as *mut _ as *mut c_void,
                    &mut py as *mut _ as *mut c_void,
                    &mut po as *mut _ as *mut c_void,
                    &mut n_arg as *mut u32 as *mut c_void,
                ];
                let block = 256u32;
                let grid = (n as u32).div_ceil(block);
                check(
                    sys::cuLaunchKernel(
                        func,
                        grid,
                        1,
                        1,
                        block,
                        1,
                        1,
                        0,
                        std::ptr::null_mut(),
                        params.as_mut_ptr(),
                        std::ptr::null_mut(),
                    ),
                    "cuLaunchKernel",
                )?;
                check(sys::cuCtxSynchronize(), "cuCtxSynchronize")?;
                check(
                    sys::cuMemcpyDtoH_v2(out.as_mut_ptr() as *mut c_void, bufs[2], bytes),
                    "cuMemcpyDtoH",
                )?;
                Ok(())
            })();
            for b in bufs {
                if b != 0 {
                    sys::cuMemFree_v2(b);
                }
            }
            sys::cuModuleUnload(m);
            r
        })?;
        for i in 0..n {
            let want = a * x[i] + y[i];
            if (out[i] - want).abs() > 1e-3 * want.abs().max(1.0) {
                return Err(DriverError::WrongResult {
                    index: i,
                    got: out[i],
                    want,
                });
            }
        }
        Ok(())
    }
}

#[cfg(not(feature = "cuda"))]
mod imp {
    use super::*;
    pub fn present() -> bool {
        false
    }
    pub fn query() -> Result<DriverInfo, DriverError> {
        Err(DriverError::NotBuilt)
    }
    pub fn load_module(_dev: i32, _image: &[u8]) -> Result<(), DriverError> {
        Err(DriverError::NotBuilt)
    }
    pub fn run_saxpy(_dev: i32, _image: &[u8], _n: usize) -> Result<(), DriverError> {
        Err(DriverError::NotBuilt)
    }
}

pub use imp::{load_module, present, query, run_saxpy};

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

/// A parser of one kernel-module version file.
pub type VersionParser = fn(&str) -> Option<DriverVersion>;

/// The kernel module's version files, in the order they are trusted (probe
/// reads each under its sysroot; verify and doctor take the first).
pub const VERSION_FILES: [(&str, VersionParser); 2] = [
    ("/sys/module/nvidia/version", parse_sys_version),
    ("/proc/driver/nvidia/version", parse_proc_version),
];

/// The kernel module's driver version from the first of [`VERSION_FILES`]
/// that reads and parses (bounded reads).
pub fn driver_version() -> Option<(DriverVersion, &'static str)> {
    VERSION_FILES.into_iter().find_map(|(path, parse)| {
        let t = crate::host::exec::read_sys(
            std::path::Path::new(path),
            crate::host::exec::SYS_READ_TIMEOUT,
        )
        .ok()?;
        parse(&t).map(|v| (v, path))
    })
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
    fn query_without_driver_does_not_panic() {
        // On a machine without libcuda this is NoLibrary; with one, an answer.
        let _ = query();
    }
}
