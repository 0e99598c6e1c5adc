//! NVRTC through `libloading`, by path or soname: cudarc's NVRTC loader stops
//! at `libnvrtc.so.12` and panics when the library is missing, so verify
//! loads the library itself and calls the C API through function pointers.
//! Compiles without a GPU (PTX and CUBIN).

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::{Path, PathBuf};

/// The kernel the kernel layer compiles, launches and checks.
pub const SAXPY: &str = r#"
extern "C" __global__ void saxpy(float a, const float *x, const float *y, float *out, unsigned int n) {
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a * x[i] + y[i];
}
"#;
pub const SAXPY_NAME: &str = "saxpy";

/// Default sonames tried after the directories, newest first.
pub const DEFAULT_SONAMES: &[&str] = &["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"];

type Prog = *mut c_void;
type FnVersion = unsafe extern "C" fn(*mut c_int, *mut c_int) -> c_int;
type FnCreate = unsafe extern "C" fn(
    *mut Prog,
    *const c_char,
    *const c_char,
    c_int,
    *const *const c_char,
    *const *const c_char,
) -> c_int;
type FnCompile = unsafe extern "C" fn(Prog, c_int, *const *const c_char) -> c_int;
type FnSize = unsafe extern "C" fn(Prog, *mut usize) -> c_int;
type FnGet = unsafe extern "C" fn(Prog, *mut c_char) -> c_int;
type FnDestroy = unsafe extern "C" fn(*mut Prog) -> c_int;
type FnErr = unsafe extern "C" fn(c_int) -> *const c_char;
type FnNumArchs = unsafe extern "C" fn(*mut c_int) -> c_int;
type FnArchs = unsafe extern "C" fn(*mut c_int) -> c_int;

/// What to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// PTX for virtual arch `compute_XY` (text, NUL-terminated for the driver).
    Ptx(u32),
    /// CUBIN (ELF) for real arch `sm_XY`.
    Cubin(u32),
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Ptx(a) => write!(f, "PTX compute_{a}"),
            Output::Cubin(a) => write!(f, "CUBIN sm_{a}"),
        }
    }
}

/// An opened NVRTC.
pub struct Nvrtc {
    lib: libloading::Library,
    /// The path or soname it was opened by.
    pub path: String,
    pub version: (i32, i32),
}

impl std::fmt::Debug for Nvrtc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Nvrtc({} {}.{})",
            self.path, self.version.0, self.version.1
        )
    }
}

/// Why a library is not a usable NVRTC; [`Nvrtc::find`] lists one per
/// candidate.
#[derive(Debug, thiserror::Error)]
pub enum NvrtcOpenError {
    /// dlopen failed (missing file, wrong architecture, missing deps).
    #[error(transparent)]
    Load(libloading::Error),
    /// It loaded but has no `nvrtcVersion`: not NVRTC.
    #[error(transparent)]
    NoVersion(libloading::Error),
    #[error("nvrtcVersion returned {0}")]
    Version(c_int),
}

/// Every library [`Nvrtc::find`] tried, each with why it is not a usable
/// NVRTC; Display is verify's kernel-layer failure.
#[derive(Debug, thiserror::Error)]
#[error("no NVRTC found (tried {} candidates: toolkit lib dirs, site-packages nvidia/cu13/lib and nvidia/cuda_nvrtc/lib, libnvrtc.so.13/.12/.11.2); install a CUDA toolkit or `pip install nvidia-cuda-nvrtc-cu12`", .tried.len())]
pub struct NvrtcNotFound {
    /// (path or soname, why it failed), in the order tried.
    pub tried: Vec<(String, NvrtcOpenError)>,
}

impl NvrtcNotFound {
    /// One `library: error` line per attempt.
    pub fn lines(&self) -> Vec<String> {
        self.tried
            .iter()
            .map(|(l, e)| format!("{l}: {e}"))
            .collect()
    }
}

/// Why [`Nvrtc::supported_archs`] or [`Nvrtc::compile`] failed.
#[derive(Debug, thiserror::Error)]
pub enum NvrtcError {
    /// A C API function is missing from the library.
    #[error(transparent)]
    Symbol(#[from] libloading::Error),
    /// No `nvrtcGetCUBINSize` (NVRTC before 11.1: PTX only).
    #[error("this NVRTC cannot write CUBIN: {0}")]
    NoCubin(libloading::Error),
    /// The source or the program name holds a NUL byte.
    #[error(transparent)]
    Nul(#[from] std::ffi::NulError),
    /// `message` is `nvrtcGetErrorString(code)`, as in the variants below.
    #[error("nvrtcCreateProgram: {message}")]
    Create { code: c_int, message: String },
    /// The compile failed; `log` is the program log.
    #[error("nvrtcCompileProgram ({out}): {message}: {log}")]
    Compile {
        out: Output,
        code: c_int,
        message: String,
        log: String,
    },
    /// Another NVRTC call returned `code`.
    #[error("{message}")]
    Call { code: c_int, message: String },
}

impl Nvrtc {
    /// dlopen `lib` (a path or a soname) and ask `nvrtcVersion`.
    pub fn open(lib: &str) -> Result<Nvrtc, NvrtcOpenError> {
        // SAFETY: loading NVIDIA's NVRTC runs its initialisers, as any CUDA
        // program does; the symbol types are NVRTC's documented C API.
        unsafe {
            let l = libloading::Library::new(lib).map_err(NvrtcOpenError::Load)?;
            let v: FnVersion = *l
                .get::<FnVersion>(b"nvrtcVersion\0")
                .map_err(NvrtcOpenError::NoVersion)?;
            let (mut a, mut b) = (0, 0);
            let r = v(&mut a, &mut b);
            if r != 0 {
                return Err(NvrtcOpenError::Version(r));
            }
            Ok(Nvrtc {
                lib: l,
                path: lib.to_string(),
                version: (a, b),
            })
        }
    }

    /// The first NVRTC that opens: `libnvrtc.so.*` files in `dirs` (in
    /// order, newest name first per dir), then [`DEFAULT_SONAMES`] through
    /// the system loader. Err lists every attempt.
    pub fn find(dirs: &[PathBuf]) -> Result<Nvrtc, NvrtcNotFound> {
        let mut tried = Vec::new();
        let files = crate::host::libs::files_in(dirs, "libnvrtc.so.");
        let names = files.iter().map(|f| f.display().to_string());
        for s in names.chain(DEFAULT_SONAMES.iter().map(|s| s.to_string())) {
            match Nvrtc::open(&s) {
                Ok(n) => return Ok(n),
                Err(e) => tried.push((s, e)),
            }
        }
        Err(NvrtcNotFound { tried })
    }

    fn sym<T: Copy>(&self, name: &[u8]) -> Result<T, libloading::Error> {
        // SAFETY: T is the documented signature of `name`.
        unsafe { self.lib.get::<T>(name).map(|s| *s) }
    }

    /// `code` from a call other than create and compile.
    fn call_err(&self, code: c_int) -> NvrtcError {
        NvrtcError::Call {
            code,
            message: self.err(code),
        }
    }

    fn err(&self, code: c_int) -> String {
        match self.sym::<FnErr>(b"nvrtcGetErrorString\0") {
            // SAFETY: returns a static C string for any code.
            Ok(f) => unsafe {
                let p = f(code);
                if p.is_null() {
                    format!("NVRTC error {code}")
                } else {
                    CStr::from_ptr(p).to_string_lossy().into_owned()
                }
            },
            Err(_) => format!("NVRTC error {code}"),
        }
    }

    /// `nvrtcGetSupportedArchs` (NVRTC 11.2+): the `sm_XY` numbers it targets.
    pub fn supported_archs(&self) -> Result<Vec<u32>, NvrtcError> {
        let num: FnNumArchs = self.sym(b"nvrtcGetNumSupportedArchs\0")?;
        let get: FnArchs = self.sym(b"nvrtcGetSupportedArchs\0")?;
        // SAFETY: the buffer holds exactly the count NVRTC reported.
        unsafe {
            let mut n = 0;
            let r = num(&mut n);
            if r != 0 {
                return Err(self.call_err(r));
            }
            let mut v = vec![0 as c_int; n.max(0) as usize];
            let r = get(v.as_mut_ptr());
            if r != 0 {
                return Err(self.call_err(r));
            }
            Ok(v.into_iter().map(|a| a.max(0) as u32).collect())
        }
    }

    /// Compile `src` to `out`. Err carries NVRTC's message and the log.
    pub fn compile(&self, src: &str, name: &str, out: Output) -> Result<Vec<u8>, NvrtcError> {
        let create: FnCreate = self.sym(b"nvrtcCreateProgram\0")?;
        let compile: FnCompile = self.sym(b"nvrtcCompileProgram\0")?;
        let destroy: FnDestroy = self.sym(b"nvrtcDestroyProgram\0")?;
        let log_size: FnSize = self.sym(b"nvrtcGetProgramLogSize\0")?;
        let log_get: FnGet = self.sym(b"nvrtcGetProgramLog\0")?;
        let (size, get): (FnSize, FnGet) = match out {
            Output::Ptx(_) => (self.sym(b"nvrtcGetPTXSize\0")?, self.sym(b"nvrtcGetPTX\0")?),
            Output::Cubin(_) => (
                self.sym(b"nvrtcGetCUBINSize\0")
                    .map_err(NvrtcError::NoCubin)?,
                self.sym(b"nvrtcGetCUBIN\0")?,
            ),
        };
        let arch = match out {
            Output::Ptx(a) => format!("--gpu-architecture=compute_{a}"),
            Output::Cubin(a) => format!("--gpu-architecture=sm_{a}"),
        };
        let csrc = CString::new(src)?;
        let cname = CString::new(format!("{name}.cu"))?;
        let opts = [CString::new(arch).expect("no NUL")];
        let opt_ptrs: Vec<*const c_char> = opts.iter().map(|o| o.as_ptr()).collect();
        // SAFETY: every pointer is valid for the call; the program is
        // destroyed on every path; buffers are sized from NVRTC's answers.
        unsafe {
            let mut prog: Prog = std::ptr::null_mut();
            let r = create(
                &mut prog,
                csrc.as_ptr(),
                cname.as_ptr(),
                0,
                std::ptr::null(),
                std::ptr::null(),
            );
            if r != 0 {
                return Err(NvrtcError::Create {
                    code: r,
                    message: self.err(r),
                });
            }
            let result = (|| {
                let r = compile(prog, opt_ptrs.len() as c_int, opt_ptrs.as_ptr());
                if r != 0 {
                    let mut n = 0usize;
                    let mut log = String::new();
                    if log_size(prog, &mut n) == 0 && n > 1 {
                        let mut buf = vec![0u8; n];
                        if log_get(prog, buf.as_mut_ptr() as *mut c_char) == 0 {
                            log = String::from_utf8_lossy(&buf[..n - 1]).trim().to_string();
                        }
                    }
                    return Err(NvrtcError::Compile {
                        out,
                        code: r,
                        message: self.err(r),
                        log,
                    });
                }
                let mut n = 0usize;
                let r = size(prog, &mut n);
                if r != 0 {
                    return Err(self.call_err(r));
                }
                let mut buf = vec![0u8; n];
                let r = get(prog, buf.as_mut_ptr() as *mut c_char);
                if r != 0 {
                    return Err(self.call_err(r));
                }
                Ok(buf)
            })();
            destroy(&mut prog);
            result
        }
    }
}

/// Where to look for NVRTC: the toolkits' lib dirs, then pip's
/// `nvidia/cu13/lib` (CUDA 13 wheels) and `nvidia/cuda_nvrtc/lib` in each
/// site-packages dir.
pub fn search_dirs(toolkit_lib_dirs: &[PathBuf], site_packages: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = toolkit_lib_dirs.to_vec();
    for sp in site_packages {
        for sub in ["nvidia/cu13/lib", "nvidia/cuda_nvrtc/lib"] {
            let d = sp.join(sub);
            if d.is_dir() {
                out.push(d);
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|d| seen.insert(d.clone()));
    out
}

/// The arch to compile a test kernel for `device_sm`: CUBIN for the device
/// itself when NVRTC targets it, else PTX for the newest supported arch not
/// above the device (the driver JIT-compiles it).
pub fn kernel_target(supported: &[u32], device_sm: u32) -> Option<Output> {
    if supported.contains(&device_sm) {
        return Some(Output::Cubin(device_sm));
    }
    supported
        .iter()
        .copied()
        .filter(|&a| a <= device_sm)
        .max()
        .map(Output::Ptx)
}

/// A file is an ELF image (a CUBIN).
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

/// `.target sm_75` line of a PTX text.
pub fn ptx_target(ptx: &[u8]) -> Option<String> {
    String::from_utf8_lossy(ptx).lines().find_map(|l| {
        l.trim()
            .strip_prefix(".target ")
            .map(|t| t.trim().to_string())
    })
}

/// Does `path` exist as a directory?
pub fn existing(dirs: impl IntoIterator<Item = PathBuf>) -> Vec<PathBuf> {
    dirs.into_iter().filter(|d| Path::new(d).is_dir()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_render_the_old_texts() {
        let e = NvrtcNotFound {
            tried: vec![("libnvrtc.so.13".into(), NvrtcOpenError::Version(7))],
        };
        assert_eq!(e.lines(), ["libnvrtc.so.13: nvrtcVersion returned 7"]);
        assert_eq!(
            e.to_string(),
            "no NVRTC found (tried 1 candidates: toolkit lib dirs, site-packages nvidia/cu13/lib and nvidia/cuda_nvrtc/lib, libnvrtc.so.13/.12/.11.2); install a CUDA toolkit or `pip install nvidia-cuda-nvrtc-cu12`"
        );
        let e = NvrtcError::Compile {
            out: Output::Cubin(90),
            code: 6,
            message: "NVRTC_ERROR_COMPILATION".into(),
            log: "bad.cu(1): error: identifier \"nope\" is undefined".into(),
        };
        assert_eq!(
            e.to_string(),
            "nvrtcCompileProgram (CUBIN sm_90): NVRTC_ERROR_COMPILATION: bad.cu(1): error: identifier \"nope\" is undefined"
        );
        let e = NvrtcError::from(CString::new("a\0b").unwrap_err());
        assert_eq!(
            e.to_string(),
            "nul byte found in provided data at position: 1"
        );
    }
}
