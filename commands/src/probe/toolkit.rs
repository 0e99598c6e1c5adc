//! CUDA toolkits: every nvcc (CUDA_HOME, CUDA_PATH, PATH, /usr/local/cuda*),
//! its `nvcc --version`, and its lib and include dirs.

use super::Env;
use crate::host::exec;
use crate::versions::CudaVersion;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `nvcc --version`, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NvccVersion {
    /// `release 12.4` -> 12.4.
    pub cuda: CudaVersion,
    /// `V12.4.131` (full version), when printed.
    pub full: Option<String>,
    /// `Build cuda_12.4.r12.4/compiler.34097967_0` (absent before CUDA 10.1... and in 10.0).
    pub build: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised nvcc --version output (no `Cuda compilation tools, release X.Y` line): {excerpt:?}")]
pub struct NvccParseError {
    pub excerpt: String,
}

/// Parse `nvcc --version` output of CUDA 8.0 through 13.x.
pub fn parse_nvcc_version(out: &str) -> Result<NvccVersion, NvccParseError> {
    let err = || NvccParseError {
        excerpt: out.trim().chars().take(120).collect(),
    };
    let line = out
        .lines()
        .find(|l| l.contains("Cuda compilation tools"))
        .ok_or_else(err)?;
    let rest = line.split_once("release ").ok_or_else(err)?.1;
    let (ver, tail) = rest.split_once(',').unwrap_or((rest, ""));
    let cuda: CudaVersion = ver.trim().parse().map_err(|_| err())?;
    let full = tail
        .trim()
        .strip_prefix('V')
        .map(|v| format!("V{}", v.trim()))
        .filter(|v| v.len() > 1);
    let build = out
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("Build "))
        .map(|b| b.trim().to_string());
    Ok(NvccVersion { cuda, full, build })
}

#[derive(Debug, Clone, Serialize)]
pub struct Toolkit {
    pub nvcc: PathBuf,
    /// How it was found: `CUDA_HOME`, `CUDA_PATH`, `PATH`, `/usr/local/cuda*`.
    pub found_via: String,
    /// The toolkit root (nvcc's bin/..).
    pub root: PathBuf,
    pub version: Option<NvccVersion>,
    pub lib_dirs: Vec<PathBuf>,
    pub include_dirs: Vec<PathBuf>,
    /// The first found: what a build on this machine would use.
    pub active: bool,
    pub error: Option<String>,
}

/// Every nvcc, in search order, deduplicated by canonical path; nothing run yet.
pub fn candidates(env: &Env) -> Vec<Toolkit> {
    let mut found: Vec<(PathBuf, String)> = Vec::new();
    for var in ["CUDA_HOME", "CUDA_PATH"] {
        if let Some(home) = env.var(var).filter(|v| !v.is_empty()) {
            found.push((Path::new(&home).join("bin/nvcc"), var.to_string()));
        }
    }
    if let Some(p) = exec::which_in("nvcc", env.var("PATH").as_deref()) {
        found.push((p, "PATH".into()));
    }
    let local = env.sys_path("usr/local");
    found.push((local.join("cuda/bin/nvcc"), "/usr/local/cuda".into()));
    let mut versioned: Vec<PathBuf> = std::fs::read_dir(&local)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("cuda-"))
        .map(|e| e.path())
        .collect();
    // Newest first: cuda-12.4 before cuda-11.8 (numeric, not lexical).
    versioned.sort_by_key(|p| {
        let n = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let v = n.trim_start_matches("cuda-").parse::<CudaVersion>().ok();
        std::cmp::Reverse((v, n))
    });
    for d in versioned {
        found.push((d.join("bin/nvcc"), "/usr/local/cuda-*".into()));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (nvcc, via) in found {
        if !nvcc.is_file() {
            continue;
        }
        let canon = nvcc.canonicalize().unwrap_or_else(|_| nvcc.clone());
        if !seen.insert(canon) {
            continue;
        }
        let root = nvcc
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let existing = |subs: &[&str]| {
            subs.iter()
                .map(|s| root.join(s))
                .filter(|p| p.is_dir())
                .collect::<Vec<_>>()
        };
        out.push(Toolkit {
            lib_dirs: existing(&["lib64", "lib", "targets/x86_64-linux/lib"]),
            include_dirs: existing(&["include", "targets/x86_64-linux/include"]),
            active: out.is_empty(),
            nvcc,
            found_via: via,
            root,
            version: None,
            error: None,
        });
    }
    out
}

/// Run `nvcc --version` for every candidate, in parallel.
pub fn probe(mut toolkits: Vec<Toolkit>, timeout: Duration) -> Vec<Toolkit> {
    std::thread::scope(|s| {
        for t in toolkits.iter_mut() {
            s.spawn(
                move || match exec::run(&t.nvcc, &["--version"], &[], timeout) {
                    Ok(o) => match parse_nvcc_version(&o.stdout) {
                        Ok(v) => t.version = Some(v),
                        Err(e) => t.error = Some(format!("{}: {e}", t.nvcc.display())),
                    },
                    Err(e) => t.error = Some(e.to_string()),
                },
            );
        }
    });
    toolkits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvcc_outputs() {
        let v = parse_nvcc_version(
            "nvcc: NVIDIA (R) Cuda compiler driver\nCopyright (c) 2005-2024 NVIDIA Corporation\nBuilt on Thu_Mar_28_02:18:24_PDT_2024\nCuda compilation tools, release 12.4, V12.4.131\nBuild cuda_12.4.r12.4/compiler.34097967_0\n",
        )
        .unwrap();
        assert_eq!(v.cuda, CudaVersion::new(12, 4));
        assert_eq!(v.full.as_deref(), Some("V12.4.131"));
        assert_eq!(
            v.build.as_deref(),
            Some("cuda_12.4.r12.4/compiler.34097967_0")
        );
        let v = parse_nvcc_version("nvcc: NVIDIA (R) Cuda compiler driver\nCuda compilation tools, release 10.0, V10.0.130\n").unwrap();
        assert_eq!((v.cuda, v.build), (CudaVersion::new(10, 0), None));
        let v = parse_nvcc_version("Cuda compilation tools, release 8.0, V8.0.61").unwrap();
        assert_eq!(v.cuda, CudaVersion::new(8, 0));
        assert!(parse_nvcc_version("Segmentation fault").is_err());
        assert!(parse_nvcc_version("Cuda compilation tools, release banana").is_err());
    }
}
