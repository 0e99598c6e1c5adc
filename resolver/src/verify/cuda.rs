//! The CUDA driver API through cudarc's raw bindings (loaded at run time):
//! devices, module load, one kernel launch. Every entry point asks
//! `is_culib_present()` first, since cudarc panics when libcuda is missing.

use crate::versions::{ComputeCapability, CudaVersion};

#[derive(Debug, Clone)]
pub struct Device {
    pub ordinal: i32,
    pub name: String,
    pub compute_capability: ComputeCapability,
}

#[derive(Debug, Clone)]
pub struct DriverInfo {
    pub cuda: Option<CudaVersion>,
    pub devices: Vec<Device>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverError {
    /// libcuda.so.1 cannot be loaded.
    NoLibrary,
    /// cuInit failed (commonly CUDA_ERROR_NO_DEVICE).
    Init(String),
    Call(String),
    NotBuilt,
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriverError::NoLibrary => f.write_str(
                "libcuda.so.1 is not loadable: no NVIDIA driver installed (or not on the loader path)",
            ),
            DriverError::Init(e) => write!(f, "cuInit failed: {e}"),
            DriverError::Call(e) => f.write_str(e),
            DriverError::NotBuilt => f.write_str("built without the `cuda` feature"),
        }
    }
}

#[cfg(feature = "cuda")]
mod imp {
    use super::*;
    use cudarc::driver::sys;
    use std::ffi::c_void;

    fn check(r: sys::CUresult, call: &str) -> Result<(), DriverError> {
        if r == sys::CUresult::CUDA_SUCCESS {
            return Ok(());
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
        Err(DriverError::Call(
            format!("{call}: {r:?} {text}").trim().to_string(),
        ))
    }

    pub fn present() -> bool {
        // SAFETY: only tries to dlopen libcuda.
        unsafe { sys::is_culib_present() }
    }

    /// Devices and the driver's CUDA version, from the probe's driver-API
    /// query (one implementation of the device walk for probe and verify).
    pub fn query() -> Result<DriverInfo, DriverError> {
        use crate::probe::driver::{query_api, DriverApiError};
        let api = query_api().map_err(|e| match e {
            DriverApiError::NoLibrary => DriverError::NoLibrary,
            DriverApiError::NotBuilt => DriverError::NotBuilt,
            e @ DriverApiError::Call { .. } => DriverError::Call(e.to_string()),
        })?;
        if let Some(e) = api.init_error {
            return Err(DriverError::Init(e));
        }
        let devices = api
            .devices
            .into_iter()
            .enumerate()
            .map(|(i, d)| Device {
                ordinal: i as i32,
                name: d.name,
                compute_capability: d.compute_capability,
            })
            .collect();
        Ok(DriverInfo {
            cuda: api.cuda,
            devices,
        })
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
        check(
            sys::cuModuleLoadData(&mut m, image.as_ptr() as *const c_void),
            "cuModuleLoadData",
        )?;
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
                return Err(DriverError::Call(format!(
                    "saxpy result wrong at {i}: got {}, want {want}",
                    out[i]
                )));
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

/// The kernel module's driver version: `/sys/module/nvidia/version`, else
/// `/proc/driver/nvidia/version`.
pub fn driver_version() -> Option<(crate::versions::DriverVersion, &'static str)> {
    use crate::probe::driver::{parse_proc_version, parse_sys_version};
    if let Some(v) = std::fs::read_to_string("/sys/module/nvidia/version")
        .ok()
        .and_then(|t| parse_sys_version(&t))
    {
        return Some((v, "/sys/module/nvidia/version"));
    }
    std::fs::read_to_string("/proc/driver/nvidia/version")
        .ok()
        .and_then(|t| parse_proc_version(&t))
        .map(|v| (v, "/proc/driver/nvidia/version"))
}
