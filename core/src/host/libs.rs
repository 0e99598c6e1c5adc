//! Libraries opened in-process with dlopen (by soname: the system loader's
//! answer; or by path) and asked for their version: cuDNN
//! (`cudnnGetVersion`) and NVRTC (`nvrtcVersion`).

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LibError {
    /// dlopen failed (the loader's message names the file or soname).
    #[error("{0}")]
    Load(String),
    #[error("{0}")]
    Symbol(String),
    #[error("{call} returned {code}")]
    Call { call: &'static str, code: i32 },
}

/// `cudnnGetVersion()`: 8906 -> 8.9.6 (v8 and older), 90100 -> 9.1.0 (v9+).
pub fn decode_cudnn_version(v: usize) -> String {
    if v >= 90000 {
        format!("{}.{}.{}", v / 10000, (v % 10000) / 100, v % 100)
    } else {
        format!("{}.{}.{}", v / 1000, (v % 1000) / 100, v % 100)
    }
}

fn load(lib: &str) -> Result<libloading::Library, LibError> {
    // SAFETY: loading a CUDA library runs its initialisers; these are
    // NVIDIA's libraries, loaded as any CUDA program would.
    unsafe { libloading::Library::new(lib) }.map_err(|e| LibError::Load(e.to_string()))
}

/// dlopen `lib` and call `cudnnGetVersion`.
pub fn cudnn_get_version(lib: &str) -> Result<String, LibError> {
    let l = load(lib)?;
    // SAFETY: `size_t cudnnGetVersion(void)` in every cuDNN release.
    unsafe {
        let f: libloading::Symbol<unsafe extern "C" fn() -> usize> = l
            .get(b"cudnnGetVersion\0")
            .map_err(|e| LibError::Symbol(e.to_string()))?;
        Ok(decode_cudnn_version(f()))
    }
}

/// dlopen `lib` and call `nvrtcVersion`.
pub fn nvrtc_version(lib: &str) -> Result<String, LibError> {
    let l = load(lib)?;
    // SAFETY: `nvrtcResult nvrtcVersion(int *major, int *minor)`.
    unsafe {
        let f: libloading::Symbol<unsafe extern "C" fn(*mut i32, *mut i32) -> i32> = l
            .get(b"nvrtcVersion\0")
            .map_err(|e| LibError::Symbol(e.to_string()))?;
        let (mut a, mut b) = (0, 0);
        match f(&mut a, &mut b) {
            0 => Ok(format!("{a}.{b}")),
            r => Err(LibError::Call {
                call: "nvrtcVersion",
                code: r,
            }),
        }
    }
}

/// Sonames the system loader is asked for, newest first.
pub const NVRTC_SONAMES: &[&str] = &[
    "libnvrtc.so.13",
    "libnvrtc.so.12",
    "libnvrtc.so.11.2",
    "libnvrtc.so.11.1",
    "libnvrtc.so.11.0",
    "libnvrtc.so.10.2",
    "libnvrtc.so.10.1",
    "libnvrtc.so.10.0",
    "libnvrtc.so.9.2",
    "libnvrtc.so.9.1",
    "libnvrtc.so.9.0",
    "libnvrtc.so.8.0",
];
pub const CUDNN_SONAMES: &[&str] = &["libcudnn.so.9", "libcudnn.so.8", "libcudnn.so.7"];

/// Paths in `dir` whose file name passes `keep`, sorted; an unreadable
/// directory has none.
pub fn entries_named(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| keep(&p.file_name().unwrap_or_default().to_string_lossy()))
        .collect();
    out.sort();
    out
}

/// Files `prefix*` in `dirs` that are real sonames (not `-builtins`, `.alt`).
pub fn files_in(dirs: &[PathBuf], prefix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in dirs {
        let mut names = entries_named(d, |n| {
            n.starts_with(prefix) && !n.contains("builtins") && !n.contains(".alt.")
        });
        names.reverse();
        out.extend(names);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cudnn_versions() {
        assert_eq!(decode_cudnn_version(8906), "8.9.6");
        assert_eq!(decode_cudnn_version(7605), "7.6.5");
        assert_eq!(decode_cudnn_version(90100), "9.1.0");
        assert_eq!(decode_cudnn_version(91002), "9.10.2");
    }

    #[test]
    fn missing_libraries_are_errors_not_panics() {
        assert!(nvrtc_version("/nonexistent/libnvrtc.so.12").is_err());
        assert!(cudnn_get_version("libcudnn.so.0-nope").is_err());
    }
}
