//! The probe's library facts: cuDNN (`cudnnGetVersion`, headers, pip) and
//! NVRTC (`nvrtcVersion`), asked through [`crate::host::libs`] by soname
//! (the system loader's answer) or by path (toolkit and pip dirs).

use super::Found;
use crate::host::libs::{entries_named, LibError};
use std::path::{Path, PathBuf};

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

/// Call `f` on every soname (system loader) then every file; one `Found` each
/// (sonames the loader does not know are skipped, not errors).
pub fn probe_libs(
    sonames: &[&str],
    files: &[(PathBuf, String)],
    f: fn(&str) -> Result<String, LibError>,
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
            Err(e) => Found::err(source, Some(p), e.to_string()),
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
            let Ok(text) = crate::host::exec::read_sys(&p, crate::host::exec::SYS_READ_TIMEOUT)
            else {
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
    fn cudnn_header() {
        let h = "#ifndef CUDNN_VERSION_H_\n#define CUDNN_MAJOR 8\n#define CUDNN_MINOR 9\n#define CUDNN_PATCHLEVEL 6\n#define CUDNN_VERSION (CUDNN_MAJOR * 1000 + CUDNN_MINOR * 100 + CUDNN_PATCHLEVEL)\n";
        assert_eq!(parse_cudnn_header(h).as_deref(), Some("8.9.6"));
        assert_eq!(parse_cudnn_header("#include \"cudnn_version.h\""), None);
    }
}
