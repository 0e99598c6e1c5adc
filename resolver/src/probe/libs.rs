//! In-process library probes: cuDNN (`cudnnGetVersion`, headers, pip) and
//! NVRTC (`nvrtcVersion`). Libraries are opened with dlopen by soname (the
//! system loader's answer) or by path (toolkit and pip dirs).

use super::Found;
use std::path::{Path, PathBuf};

/// `cudnnGetVersion()`: 8906 -> 8.9.6 (v8 and older), 90100 -> 9.1.0 (v9+).
pub fn decode_cudnn_version(v: usize) -> String {
    if v >= 90000 {
        format!("{}.{}.{}", v / 10000, (v % 10000) / 100, v % 100)
    } else {
        format!("{}.{}.{}", v / 1000, (v % 1000) / 100, v % 100)
    }
}

/// `#define CUDNN_MAJOR 8` / `CUDNN_MINOR` / `CUDNN_PATCHLEVEL`.
pub fn parse_cudnn_header(text: &str) -> Option<String> {
    let def = |name: &str| {
        text.lines().find_map(|l| {
            let mut it = l.split_whitespace();
            (it.next()? == "#define" && it.next()? == name)
                .then(|| it.next()?.parse::<u32>().ok())
                .flatten()
        })
    };
    let major = def("CUDNN_MAJOR")?;
    let minor = def("CUDNN_MINOR")?;
    let patch = def("CUDNN_PATCHLEVEL").unwrap_or(0);
    Some(format!("{major}.{minor}.{patch}"))
}

fn load(lib: &str) -> Result<libloading::Library, String> {
    // SAFETY: loading a CUDA library runs its initialisers; these are
    // NVIDIA's libraries, loaded as any CUDA program would.
    unsafe { libloading::Library::new(lib) }.map_err(|e| e.to_string())
}

/// dlopen `lib` and call `cudnnGetVersion`.
pub fn cudnn_get_version(lib: &str) -> Result<String, String> {
    let l = load(lib)?;
    // SAFETY: `size_t cudnnGetVersion(void)` in every cuDNN release.
    unsafe {
        let f: libloading::Symbol<unsafe extern "C" fn() -> usize> =
            l.get(b"cudnnGetVersion\0").map_err(|e| e.to_string())?;
        Ok(decode_cudnn_version(f()))
    }
}

/// dlopen `lib` and call `nvrtcVersion`.
pub fn nvrtc_version(lib: &str) -> Result<String, String> {
    let l = load(lib)?;
    // SAFETY: `nvrtcResult nvrtcVersion(int *major, int *minor)`.
    unsafe {
        let f: libloading::Symbol<unsafe extern "C" fn(*mut i32, *mut i32) -> i32> =
            l.get(b"nvrtcVersion\0").map_err(|e| e.to_string())?;
        let (mut a, mut b) = (0, 0);
        match f(&mut a, &mut b) {
            0 => Ok(format!("{a}.{b}")),
            r => Err(format!("nvrtcVersion returned {r}")),
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
fn entries_named(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
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

/// Call `f` on every soname (system loader) then every file; one `Found` each
/// (sonames the loader does not know are skipped, not errors).
pub fn probe_libs(
    sonames: &[&str],
    files: &[(PathBuf, String)],
    f: fn(&str) -> Result<String, String>,
) -> Vec<Found> {
    let mut out = Vec::new();
    for s in sonames {
        if let Ok(v) = f(s) {
            out.push(Found::ok("loader", Some(Path::new(s)), v));
        }
    }
    for (p, source) in files {
        out.push(match f(&p.display().to_string()) {
            Ok(v) => Found::ok(source, Some(p), v),
            Err(e) => Found::err(source, Some(p), e),
        });
    }
    out
}

/// cuDNN headers in `dirs`: cudnn_version.h (v8+), cudnn_version_v*.h
/// (Debian alternatives), cudnn.h (v7 and older).
pub fn cudnn_headers(dirs: &[PathBuf], source: &str) -> Vec<Found> {
    let mut out = Vec::new();
    for d in dirs {
        let files = entries_named(d, |n| {
            n == "cudnn_version.h"
                || (n.starts_with("cudnn_version_v") && n.ends_with(".h"))
                || n == "cudnn.h"
        });
        let mut got = false;
        for p in files {
            let Ok(text) = super::exec::read_sys(&p, super::exec::SYS_READ_TIMEOUT) else {
                continue;
            };
            // cudnn.h of v8+ only includes cudnn_version.h: skip silently.
            match parse_cudnn_header(&text) {
                Some(v) if !got => {
                    got = true;
                    out.push(Found::ok(source, Some(&p), v));
                }
                Some(_) => {}
                None if p.file_name().is_some_and(|n| n != "cudnn.h") => out.push(Found::err(
                    source,
                    Some(&p),
                    "no CUDNN_MAJOR/CUDNN_MINOR defines".into(),
                )),
                None => {}
            }
        }
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
        let h = "#ifndef CUDNN_VERSION_H_\n#define CUDNN_MAJOR 8\n#define CUDNN_MINOR 9\n#define CUDNN_PATCHLEVEL 6\n#define CUDNN_VERSION (CUDNN_MAJOR * 1000 + CUDNN_MINOR * 100 + CUDNN_PATCHLEVEL)\n";
        assert_eq!(parse_cudnn_header(h).as_deref(), Some("8.9.6"));
        assert_eq!(parse_cudnn_header("#include \"cudnn_version.h\""), None);
    }

    #[test]
    fn missing_libraries_are_errors_not_panics() {
        assert!(nvrtc_version("/nonexistent/libnvrtc.so.12").is_err());
        assert!(cudnn_get_version("libcudnn.so.0-nope").is_err());
    }
}
