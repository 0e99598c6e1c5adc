//! cuDNN, NVRTC and the system's CUDA libraries as the loader finds them,
//! and the notebook platform.

use super::*;

/// cuDNN and NVRTC, each found by the loader, in toolkit dirs, headers or
/// pip packages; the fact is the first source in order of preference.
pub(super) struct LibFacts {
    pub(super) cudnn: Fact<String>,
    pub(super) cudnn_found: Vec<Found>,
    pub(super) nvrtc: Fact<String>,
    pub(super) nvrtc_found: Vec<Found>,
}

pub(super) fn libraries(
    cudnn_sys: Vec<Found>,
    cudnn_pip: Vec<Found>,
    nvrtc_sys: Result<Vec<Found>, exec::ExecError>,
    nvrtc_pip: Vec<Found>,
) -> LibFacts {
    let mut cudnn_found = cudnn_sys;
    cudnn_found.extend(cudnn_pip);
    let pick = |found: &[Found], order: &[&str], what: &str| -> Fact<String> {
        for src in order {
            if let Some(f) = found
                .iter()
                .find(|f| f.source == *src && f.version.is_some())
            {
                return Fact::ok(
                    f.version.clone().unwrap_or_default(),
                    format!("probe:{what} ({})", f.label()),
                );
            }
        }
        let errs: Vec<String> = found
            .iter()
            .filter_map(|f| f.error.as_ref().map(|e| format!("{}: {e}", f.label())))
            .collect();
        Fact::err(if errs.is_empty() {
            format!("{what}: not found")
        } else {
            errs.join("; ")
        })
    };
    let cudnn = pick(
        &cudnn_found,
        &["loader", "toolkit", "header"],
        "cudnnGetVersion/header",
    );
    let mut nvrtc_found = Vec::new();
    flatten(nvrtc_sys, "libnvrtc", &mut nvrtc_found);
    nvrtc_found.extend(nvrtc_pip);
    let mut nvrtc_order = vec!["loader", "toolkit"];
    let pip_sources: Vec<String> = nvrtc_found
        .iter()
        .map(|f| f.source.clone())
        .filter(|s| s.starts_with("pip"))
        .collect();
    nvrtc_order.extend(pip_sources.iter().map(String::as_str));
    let nvrtc = pick(&nvrtc_found, &nvrtc_order, "nvrtcVersion");

    LibFacts {
        cudnn,
        cudnn_found,
        nvrtc,
        nvrtc_found,
    }
}

pub(super) fn colab_fact(env: &Env, python: &Fact<python::PythonInfo>) -> Fact<bool> {
    if env.var("COLAB_RELEASE_TAG").is_some_and(|v| !v.is_empty()) {
        Fact::ok(true, "env:COLAB_RELEASE_TAG")
    } else if let Some(p) = &python.value {
        Fact::ok(p.colab, "probe:python (COLAB_RELEASE_TAG / google.colab)")
    } else {
        Fact::err("unknown: Python not probed")
    }
}

/// CUDA sonames in the loader's and the active toolkit's lib dirs.
pub(super) fn system_sonames(
    env: &Env,
    toolkits: &[toolkit::Toolkit],
    libcuda: bool,
) -> Fact<BTreeSet<String>> {
    let mut dirs: Vec<PathBuf> = toolkits
        .iter()
        .filter(|t| t.active)
        .flat_map(|t| t.lib_dirs.clone())
        .collect();
    if let Some(ld) = env.var("LD_LIBRARY_PATH") {
        dirs.extend(ld.split(':').filter(|s| !s.is_empty()).map(PathBuf::from));
    }
    for d in [
        "usr/lib/x86_64-linux-gnu",
        "lib/x86_64-linux-gnu",
        "usr/lib64",
        "usr/lib",
        "usr/local/lib",
    ] {
        dirs.push(env.sys_path(d));
    }
    dirs.extend(ld_so_conf_dirs(env));
    let mut sonames: BTreeSet<String> = BTreeSet::new();
    for d in &dirs {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if is_cuda_soname(&n) {
                sonames.insert(n);
            }
        }
    }
    if libcuda {
        sonames.insert("libcuda.so.1".into());
    }
    Fact::ok(
        sonames,
        "probe:lib dirs (active toolkit, LD_LIBRARY_PATH, ld.so.conf, /usr/lib*)",
    )
}

/// `libcudart.so.12`, `libcudnn.so.8`, `libnccl.so.2`, `libcuda.so.1`, ...
fn is_cuda_soname(n: &str) -> bool {
    const PREFIXES: &[&str] = &["libcu", "libnv", "libnccl", "libcudnn"];
    PREFIXES.iter().any(|p| n.starts_with(p)) && n.contains(".so.") && !n.contains("builtins")
}

fn ld_so_conf_dirs(env: &Env) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut files = vec![env.sys_path("etc/ld.so.conf")];
    files.extend(
        std::fs::read_dir(env.sys_path("etc/ld.so.conf.d"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "conf")),
    );
    for f in files {
        let text = exec::read_sys(&f, exec::SYS_READ_TIMEOUT).unwrap_or_default();
        for l in text.lines() {
            let l = l.trim();
            if l.starts_with('/') {
                out.push(env.sys_path(l));
            }
        }
    }
    out
}
