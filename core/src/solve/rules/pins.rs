//! Rule `numpy` (a numpy release the wheel installs and imports with) and
//! the choice of a wheel that breaks no rule: its pins, shims and needs.

use super::Breaks;
use super::Loaded;
use crate::db::model::{BreaksWith, WheelFile, WheelRelease};
use crate::pep440::Version;
use crate::solve::numpy::{self, NumpyChoice};
use crate::solve::{Choice, Ctx, DeviceCode, DriverCheck, EnvSetting, Need, Pin, Rule};

/// Rule `numpy`; None when broken or when the Python is unknown (rule
/// `python` says so).
pub(crate) fn numpy(
    cx: &Ctx,
    rel: &WheelRelease,
    w: &WheelFile,
    b: &mut Breaks,
) -> Option<NumpyChoice> {
    let py = &cx.target.python.as_ref()?.value;
    let installed = cx.target.preinstalled.value.get("numpy");
    cx.numpy_installable(py)
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|files| {
            numpy::choose(
                cx.db,
                files,
                &rel.version,
                &w.requires_dist,
                installed.map(String::as_str),
            )
        })
        .map_err(|e| b.push(Rule::Numpy, e))
        .ok()
}

/// What the rules decided for a wheel that broke none.
pub(crate) struct Parts<'a> {
    pub numpy: NumpyChoice,
    pub gpu_code: Vec<DeviceCode>,
    pub loaded: Loaded<'a>,
    pub driver: DriverCheck,
    pub env: Vec<EnvSetting>,
    pub warnings: Vec<String>,
}

fn pin(cx: &Ctx, name: &str, version: &str, f: (&str, &str, &str, u64), role: &str) -> Pin {
    Pin {
        name: name.to_string(),
        version: version.to_string(),
        filename: f.0.to_string(),
        url: f.1.to_string(),
        sha256: f.2.to_string(),
        size: f.3,
        role: role.to_string(),
        install: crate::solve::install_place(role, &cx.target.kind).to_string(),
    }
}

/// The choice: mxnet, then redistributables by name, then numpy, then the
/// needs `import mxnet` has beyond its wheel.
pub(crate) fn choice(
    cx: &Ctx,
    rel: &WheelRelease,
    w: &WheelFile,
    version: &Version,
    p: Parts,
) -> Choice {
    let mut packages = vec![pin(
        cx,
        &rel.package,
        &rel.version,
        (&w.filename, &w.url, &w.sha256, w.size),
        "mxnet",
    )];
    for (name, r) in &p.loaded.pip {
        let f = (
            r.filename.as_str(),
            r.url.as_str(),
            r.sha256.as_str(),
            r.size,
        );
        packages.push(pin(cx, name, &r.version, f, "cuda-redist"));
    }
    if let Some(f) = &p.numpy.file {
        let f = (
            f.filename.as_str(),
            f.url.as_str(),
            f.sha256.as_str(),
            f.size,
        );
        packages.push(pin(cx, "numpy", &p.numpy.version, f, "numpy"));
    }
    let mut needs = absent_needs(cx, version);
    // Outside notebook runtimes (which ship requests and setuptools) each
    // need is pinned with its own requirements; `needs` keeps the rest.
    if !needs.is_empty() && !crate::target::is_notebook_kind(&cx.target.kind) {
        if let Some(py) = cx.target.python.as_ref() {
            let by = format!("{} {}", rel.package, rel.version);
            let (pins, left) = cx.need_pins(&py.value, needs, &w.requires_dist, &by);
            packages.extend(pins);
            needs = left;
        }
    }
    Choice {
        package: rel.package.clone(),
        version: rel.version.clone(),
        wheel: w.clone(),
        gpu_code: p.gpu_code,
        providers: p.loaded.providers,
        cudnn: p.loaded.cudnn,
        driver: p.driver,
        shims: p.numpy.shims.clone(),
        numpy: p.numpy,
        packages,
        needs,
        env: p.env,
        warnings: p.warnings,
        companions: Vec::new(),
    }
}

/// "absent" breakers that apply to this MXNet on this Python, for
/// dependencies the target does not list as installed.
fn absent_needs(cx: &Ctx, mxnet: &Version) -> Vec<Need> {
    cx.db
        .breakers
        .iter()
        .filter(|b| b.package == "mxnet" && b.breaks_with == BreaksWith::Absent)
        .filter(|b| b.versions.contains(mxnet))
        .filter(|b| match (&b.python, &cx.python) {
            (Some(spec), Some(py)) => spec.contains(py),
            (Some(_), None) | (None, _) => true,
        })
        .filter(|b| !cx.target.preinstalled.value.contains_key(&b.dependency))
        .map(|b| Need {
            package: b.dependency.clone(),
            reason: format!("{} ({})", b.error, b.id),
        })
        .collect()
}
