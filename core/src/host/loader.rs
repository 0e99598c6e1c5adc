//! Emulate the dynamic loader's search for a library's `DT_NEEDED` sonames
//! (glibc `ld.so` order): `DT_RPATH` (only when there is no `DT_RUNPATH`),
//! `LD_LIBRARY_PATH`, `DT_RUNPATH`, the ld.so cache (`ldconfig -p`), the
//! default dirs. Then directories the loader does not search but a setup can
//! preload from (pip `nvidia/*/lib`, the gpu-env redist dir): a soname found
//! only there is reported as such, never as loadable by the loader itself.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a search looks.
#[derive(Debug, Clone, Default)]
pub struct SearchPaths {
    /// Directory of the object whose needs are resolved (`$ORIGIN`).
    pub origin: Option<PathBuf>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    pub ld_library_path: Vec<PathBuf>,
    /// soname -> path, from `ldconfig -p`.
    pub ld_cache: BTreeMap<String, PathBuf>,
    /// `/lib`, `/usr/lib` and their 64-bit twins (override in tests).
    pub default_dirs: Vec<PathBuf>,
    /// Directories outside the loader's search, with a label
    /// (`site-packages nvidia/cudnn/lib`): found there = needs a preload.
    pub preload_dirs: Vec<(PathBuf, String)>,
}

/// How a soname was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    pub soname: String,
    /// The file, when found.
    pub path: Option<PathBuf>,
    /// `rpath`, `ld_library_path`, `runpath`, `ld_cache`, `default_dirs`,
    /// `preload`, or `missing`.
    pub via: String,
    /// The directory entry it came from (the RPATH entry as written, the
    /// preload dir's label).
    pub from: Option<String>,
    /// The real loader finds it (false for `preload` and `missing`).
    pub loader: bool,
}

/// Expand `$ORIGIN` / `${ORIGIN}`; None when the entry needs an origin and
/// there is none, or uses `$LIB`/`$PLATFORM` (not emulated).
pub fn expand(entry: &str, origin: Option<&Path>) -> Option<PathBuf> {
    let needs = entry.contains("$ORIGIN") || entry.contains("${ORIGIN}");
    if entry.contains("$LIB")
        || entry.contains("${LIB}")
        || entry.contains("$PLATFORM")
        || entry.contains("${PLATFORM}")
    {
        return None;
    }
    if !needs {
        return Some(PathBuf::from(entry));
    }
    let o = origin?.display().to_string();
    Some(PathBuf::from(
        entry.replace("${ORIGIN}", &o).replace("$ORIGIN", &o),
    ))
}

/// Parse `ldconfig -p`: `\tlibcudnn.so.8 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudnn.so.8`.
/// Only 64-bit x86 entries; the first entry for a soname wins (as ld.so).
pub fn parse_ldconfig_p(text: &str) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some((left, path)) = line.split_once("=>") else {
            continue;
        };
        let left = left.trim();
        let Some((name, flags)) = left.split_once(' ') else {
            continue;
        };
        let flags = flags.trim();
        if !flags.starts_with('(') || !flags.contains("x86-64") {
            continue;
        }
        out.entry(name.trim().to_string())
            .or_insert_with(|| PathBuf::from(path.trim()));
    }
    out
}

/// Why [`ld_cache`] has no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LdCacheError {
    /// No `ldconfig` in the sbin dirs or on PATH.
    #[error("ldconfig not found")]
    NotFound,
    /// `ldconfig -p` did not run to a clean exit.
    #[error(transparent)]
    Exec(#[from] crate::host::exec::ExecError),
}

/// Run `ldconfig -p` (sbin paths first: it is often not on a user's PATH).
pub fn ld_cache(timeout: Duration) -> Result<BTreeMap<String, PathBuf>, LdCacheError> {
    let exe = ["/sbin/ldconfig", "/usr/sbin/ldconfig", "/bin/ldconfig"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| crate::host::exec::which_in("ldconfig", std::env::var("PATH").ok().as_deref()))
        .ok_or(LdCacheError::NotFound)?;
    let o = crate::host::exec::run(&exe, &["-p"], &[], timeout)?;
    Ok(parse_ldconfig_p(&o.stdout))
}

/// `LD_LIBRARY_PATH` split as ld.so does (empty entries mean the cwd; skipped).
pub fn split_ld_library_path(v: Option<&str>) -> Vec<PathBuf> {
    v.unwrap_or("")
        .split([':', ';'])
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect()
}

pub fn default_dirs() -> Vec<PathBuf> {
    [
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/lib",
        "/usr/lib",
    ]
    .iter()
    .map(PathBuf::from)
    .collect()
}

/// `nvidia/*/lib` under each site-packages dir (pip CUDA redistributables;
/// also `nvidia/cu13/lib` of the CUDA 13 wheels), sorted.
pub fn nvidia_lib_dirs(site_packages: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sp in site_packages {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(sp.join("nvidia"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("lib"))
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        out.extend(dirs);
    }
    out
}

fn file_in(dir: &Path, soname: &str) -> Option<PathBuf> {
    let p = dir.join(soname);
    // ld.so opens the file: a dangling symlink does not count.
    p.is_file().then_some(p)
}

impl SearchPaths {
    /// This process's view: `LD_LIBRARY_PATH`, `ldconfig -p`, default dirs.
    /// `ldconfig` failing leaves the cache empty (reported by the caller).
    pub fn system(timeout: Duration) -> (Self, Option<LdCacheError>) {
        let (cache, err) = match ld_cache(timeout) {
            Ok(c) => (c, None),
            Err(e) => (BTreeMap::new(), Some(e)),
        };
        (
            SearchPaths {
                ld_library_path: split_ld_library_path(
                    std::env::var("LD_LIBRARY_PATH").ok().as_deref(),
                ),
                ld_cache: cache,
                default_dirs: default_dirs(),
                ..Default::default()
            },
            err,
        )
    }

    /// The same search for another object: its origin, RPATH and RUNPATH.
    pub fn for_object(
        &self,
        origin: Option<PathBuf>,
        rpath: &[String],
        runpath: &[String],
    ) -> Self {
        SearchPaths {
            origin,
            rpath: rpath.to_vec(),
            runpath: runpath.to_vec(),
            ..self.clone()
        }
    }

    /// Find `soname` the way ld.so would, then in the preload dirs.
    pub fn resolve(&self, soname: &str) -> Resolved {
        let hit = |path: PathBuf, via: &str, from: Option<String>, loader: bool| Resolved {
            soname: soname.to_string(),
            path: Some(path),
            via: via.to_string(),
            from,
            loader,
        };
        // A name with a slash is opened as a path.
        if soname.contains('/') {
            let p = PathBuf::from(soname);
            if p.is_file() {
                return hit(p, "path", None, true);
            }
        } else {
            if self.runpath.is_empty() {
                for e in &self.rpath {
                    if let Some(p) =
                        expand(e, self.origin.as_deref()).and_then(|d| file_in(&d, soname))
                    {
                        return hit(p, "rpath", Some(e.clone()), true);
                    }
                }
            }
            for d in &self.ld_library_path {
                if let Some(p) = file_in(d, soname) {
                    return hit(p, "ld_library_path", Some(d.display().to_string()), true);
                }
            }
            for e in &self.runpath {
                if let Some(p) = expand(e, self.origin.as_deref()).and_then(|d| file_in(&d, soname))
                {
                    return hit(p, "runpath", Some(e.clone()), true);
                }
            }
            if let Some(p) = self.ld_cache.get(soname) {
                return hit(p.clone(), "ld_cache", None, true);
            }
            for d in &self.default_dirs {
                if let Some(p) = file_in(d, soname) {
                    return hit(p, "default_dirs", Some(d.display().to_string()), true);
                }
            }
            for (d, label) in &self.preload_dirs {
                if let Some(p) = file_in(d, soname) {
                    return hit(p, "preload", Some(label.clone()), false);
                }
            }
        }
        Resolved {
            soname: soname.to_string(),
            path: None,
            via: "missing".into(),
            from: None,
            loader: false,
        }
    }
}

/// dlopen each path `RTLD_NOW | RTLD_GLOBAL`, retrying the failures after
/// the others loaded (libraries in separate pip dirs find each other only
/// when preloaded in dependency order). Returns path -> error for those that
/// never loaded. The libraries stay loaded for the rest of the process.
pub fn dlopen_all(paths: &[PathBuf]) -> BTreeMap<PathBuf, String> {
    use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};
    let mut pending: Vec<PathBuf> = paths.to_vec();
    let mut errors = BTreeMap::new();
    loop {
        let mut next = Vec::new();
        errors.clear();
        for p in &pending {
            // SAFETY: loading a shared library runs its initialisers; these
            // are the libraries the locked wheel itself would load.
            match unsafe { Library::open(Some(p), RTLD_NOW | RTLD_GLOBAL) } {
                Ok(lib) => std::mem::forget(lib),
                Err(e) => {
                    errors.insert(p.clone(), e.to_string());
                    next.push(p.clone());
                }
            }
        }
        if next.is_empty() || next.len() == pending.len() {
            return errors;
        }
        pending = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::exec::ExecError;

    #[test]
    fn ld_cache_errors_render_the_old_texts() {
        assert_eq!(LdCacheError::NotFound.to_string(), "ldconfig not found");
        let e = LdCacheError::from(ExecError::Timeout {
            program: "/sbin/ldconfig".into(),
            secs: 5.0,
        });
        assert_eq!(
            e.to_string(),
            "/sbin/ldconfig: no answer within 5.0 s (killed)"
        );
    }
}
