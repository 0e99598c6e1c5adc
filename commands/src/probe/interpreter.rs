//! The Python interpreter, then the NVRTC and cuDNN pip wheels in its
//! site-packages.

use super::*;

pub(super) type PyResult = (Fact<python::PythonInfo>, Vec<Found>, Vec<Found>);

/// Python, then the NVRTC and cuDNN pip wheels in its site-packages.
pub(super) fn probe_python(
    exe: Option<&Path>,
    cenv: &[(String, String)],
    timeout: Duration,
) -> PyResult {
    let Some(exe) = exe else {
        return (
            Fact::err("python3 not found on PATH (pass --python)"),
            vec![],
            vec![],
        );
    };
    let info = match python::introspect(exe, cenv, timeout) {
        Ok(i) => i,
        Err(e) => return (Fact::err(e.to_string()), vec![], vec![]),
    };
    let mut nvrtc_files = Vec::new();
    let mut cudnn_files = Vec::new();
    let mut cudnn_found = Vec::new();
    for sp in &info.site_packages {
        let nv = sp.join("nvidia");
        for e in std::fs::read_dir(&nv).into_iter().flatten().flatten() {
            let lib = e.path().join("lib");
            let pkg = e.file_name().to_string_lossy().into_owned();
            for p in hlibs::files_in(std::slice::from_ref(&lib), "libnvrtc.so.") {
                nvrtc_files.push((p, format!("pip:nvidia/{pkg}")));
            }
            for p in hlibs::files_in(std::slice::from_ref(&lib), "libcudnn.so.") {
                cudnn_files.push((p, format!("pip:nvidia/{pkg}")));
            }
        }
    }
    for (name, v) in &info.packages {
        if name.starts_with("nvidia-cudnn") {
            cudnn_found.push(Found::ok(&format!("pip:{name}"), None, v.clone()));
        }
    }
    let (nvrtc_pip, cudnn_pip) = if nvrtc_files.is_empty() && cudnn_files.is_empty() {
        (vec![], vec![])
    } else {
        let r = exec::on_thread("pip NVRTC/cuDNN", timeout, move || {
            (
                libs::probe_libs(&[], &nvrtc_files, hlibs::nvrtc_version),
                libs::probe_libs(&[], &cudnn_files, hlibs::cudnn_get_version),
            )
        });
        match r {
            Ok(x) => x,
            Err(e) => (vec![Found::err("pip", None, e.to_string())], vec![]),
        }
    };
    cudnn_found.extend(cudnn_pip);
    (
        Fact::ok(info, format!("probe:{}", exe.display())),
        nvrtc_pip,
        cudnn_found,
    )
}
