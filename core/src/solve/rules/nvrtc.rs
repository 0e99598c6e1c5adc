//! NVRTC and the driver. MXNet 1.x pointwise fusion compiles kernels with
//! NVRTC at run time and loads the PTX with `cuModuleLoadData`; the driver
//! JIT-compiles PTX only up to its own CUDA version's PTX ISA (measured,
//! docs/solver.md "NVRTC and the driver"), and minor-version compatibility
//! does not cover it. So the NVRTC is the newest one whose CUDA the driver
//! can JIT; when there is none, fusion is turned off (`MXNET_USE_FUSION=0`).
//! Code that runs as PTX (no SASS for the device) gets a JIT warning.

use super::Loaded;
use crate::db::model::{RedistPackage, RedistRelease, WheelFile};
use crate::solve::gpu_code::GpuCode;
use crate::solve::providers::{self, Provider};
use crate::solve::{Ctx, DeviceCode, EnvSetting};
use crate::versions::CudaVersion;

/// The CUDA version the target's driver can JIT PTX for: the driver's CUDA.
fn driver_cuda(cx: &Ctx) -> Option<CudaVersion> {
    cx.target.driver_cuda.as_ref().map(|d| d.value)
}

/// The CUDA release of a pip NVRTC (`11.8.89` -> 11.8).
fn release_cuda(version: &str) -> Option<CudaVersion> {
    super::series(version).parse().ok()
}

/// The pip NVRTC for `soname`: the newest release the driver can JIT the
/// PTX of; the newest of all when the driver is unknown or none fits
/// ([`fusion`] then says what follows).
pub(crate) fn pip_nvrtc<'a>(
    cx: &Ctx<'a>,
    soname: &str,
    cuda_major: Option<u32>,
) -> Option<(&'a RedistPackage, &'a RedistRelease)> {
    let all = providers::pip_providers(cx.db, soname, cuda_major, cx.python.as_ref());
    let fits = |r: &RedistRelease| match (driver_cuda(cx), release_cuda(&r.version)) {
        (Some(d), Some(n)) => n <= d,
        _ => false,
    };
    all.iter().find(|(_, r)| fits(r)).or(all.first()).copied()
}

/// The CUDA of the NVRTC the stack loads: its pip release, or the target's
/// toolkit when the system provides it and the toolkit is of the soname's major.
fn loaded_nvrtc(cx: &Ctx, l: &Loaded) -> Option<(String, CudaVersion)> {
    let (soname, p) = l
        .providers
        .iter()
        .find(|(s, _)| s.starts_with("libnvrtc.so"))?;
    match p {
        Provider::Pip { package, version } => {
            Some((format!("{package} {version}"), release_cuda(version)?))
        }
        Provider::System { .. } => {
            let t = cx.target.toolkit.as_ref()?.value;
            let major = soname.strip_prefix("libnvrtc.so.")?.split('.').next()?;
            (major == t.major.to_string()).then(|| (format!("the CUDA {t} toolkit's NVRTC"), t))
        }
        _ => None,
    }
}

/// Environment settings and warnings for a wheel that links NVRTC or runs PTX.
pub(crate) fn fusion(
    cx: &Ctx,
    w: &WheelFile,
    l: &Loaded,
    code: &[DeviceCode],
) -> (Vec<EnvSetting>, Vec<String>) {
    let mut env = Vec::new();
    if let (Some((nvrtc, n)), Some(d)) = (loaded_nvrtc(cx, l), driver_cuda(cx)) {
        if n > d && w.cuda.is_some() {
            env.push(EnvSetting {
                name: "MXNET_USE_FUSION".into(),
                value: "0".into(),
                why: format!(
                    "{nvrtc} writes CUDA {n} PTX, which a driver for CUDA {d} cannot JIT (CUDA_ERROR_UNSUPPORTED_PTX_VERSION); MXNet's pointwise fusion compiles with NVRTC at run time, so it is turned off (no NVRTC for CUDA <= {d} in compat-db)"
                ),
            });
        }
    }
    let warnings = code
        .iter()
        .filter_map(|d| match d.code {
            GpuCode::Ptx { compute } => Some(format!(
                "{} ({}) runs PTX compute_{compute} through the driver's JIT: the first use of each kernel compiles it (long stalls on the first run); the driver caches the result in CUDA_CACHE_PATH up to CUDA_CACHE_MAXSIZE bytes: keep the path on a persistent disk and the size large enough for libmxnet.so's kernels (https://docs.nvidia.com/cuda/cuda-programming-guide/05-appendices/environment-variables.html)",
                d.device, d.compute_capability
            )),
            GpuCode::Sass { .. } => None,
        })
        .collect();
    (env, warnings)
}
