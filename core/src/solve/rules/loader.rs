//! Rule `soname` (and a missing cuDNN under `cudnn`): what the dynamic
//! loader meets first. Every `DT_NEEDED` of libmxnet.so, in ELF order, gets
//! a provider: the driver, the base system, the wheel (`$ORIGIN`), the
//! target's system libraries, or a pip redistributable of the wheel's CUDA
//! major; then the redistributables' own `nvidia-*` requirements.

use super::{for_major, Breaks, Loaded};
use crate::db::model::WheelFile;
use crate::solve::providers::{self, Provider};
use crate::solve::{Ctx, Rule};

/// Rule `soname`, over every `DT_NEEDED` in ELF order.
pub(crate) fn providers<'a>(cx: &Ctx<'a>, w: &WheelFile, b: &mut Breaks) -> Loaded<'a> {
    let mut l = Loaded::default();
    // A system library built for another CUDA major (Colab's CUDA 12 NCCL
    // under a CUDA 11 wheel) makes a mixed stack: take the pip build of the
    // wheel's own major when one exists.
    let prefer_pip = match (w.cuda, cx.target.toolkit.as_ref()) {
        (Some(c), Some(t)) => c.major != t.value.major,
        _ => false,
    };
    for soname in &w.needed {
        let found = if providers::DRIVER_SONAMES.contains(&soname.as_str()) {
            driver(cx, soname, b)
        } else if providers::BASE_SYSTEM_SONAMES.contains(&soname.as_str()) {
            Some(Provider::BaseSystem)
        } else if w.bundled.contains(soname)
            && w.rpath
                .iter()
                .chain(&w.runpath)
                .any(|p| p.contains("ORIGIN"))
        {
            Some(Provider::Wheel)
        } else if let Some(major) = soname.strip_prefix("libcudnn.so.") {
            super::cudnn::provider(cx, w, soname, major, prefer_pip, &mut l, b)
        } else {
            other(cx, w, soname, prefer_pip, &mut l, b)
        };
        if let Some(p) = found {
            l.providers.insert(soname.clone(), p);
        }
        if b.settled() {
            return l;
        }
    }
    closure(cx, &mut l);
    l
}

fn driver(cx: &Ctx, soname: &str, b: &mut Breaks) -> Option<Provider> {
    if cx.gpus().is_empty() {
        b.push(
            Rule::Soname,
            format!("{soname} comes with the NVIDIA driver; the target has no GPU"),
        );
        return None;
    }
    Some(Provider::Driver)
}

/// A CUDA library or any other soname: a pip redistributable of the wheel's
/// major (first where the system's would be of another major), else the system.
fn other<'a>(
    cx: &Ctx<'a>,
    w: &WheelFile,
    soname: &str,
    prefer_pip: bool,
    l: &mut Loaded<'a>,
    b: &mut Breaks,
) -> Option<Provider> {
    let cuda_major = w.cuda.map(|c| c.major);
    let system = &cx.target.system_sonames;
    let pip = if soname.starts_with("libnvrtc.so") {
        super::nvrtc::pip_nvrtc(cx, soname, cuda_major)
    } else {
        cx.pip_provider(soname, w)
    };
    if let Some((pkg, r)) = pip.filter(|_| prefer_pip || !system.value.contains(soname)) {
        l.pip.insert(pkg.package.clone(), r);
        return Some(Provider::Pip {
            package: pkg.package.clone(),
            version: r.version.clone(),
        });
    }
    if system.value.contains(soname) {
        return Some(Provider::System {
            source: system.source.clone(),
        });
    }
    if let Some(why) = defect(cx, w, soname) {
        b.push(Rule::Soname, why);
        return None;
    }
    // Name the toolkit only for libraries a CUDA toolkit ships.
    let cuda = w
        .cuda
        .filter(|c| {
            cx.db
                .cuda(*c)
                .is_some_and(|r| r.sonames.values().any(|s| s == soname))
        })
        .map(|c| format!(" (install the CUDA {c} toolkit)"))
        .unwrap_or_else(|| " (a library the wheel does not bundle)".into());
    b.push(Rule::Soname, format!("{soname} has no provider: the target does not have it and no pip redistributable{} in compat-db ships it{cuda}", for_major(cuda_major)));
    None
}

/// A soname the wheel links but does not ship, where compat-db records
/// that release as broken so (defects.toml): the known defect, its source
/// and the release that fixed it.
fn defect(cx: &Ctx, w: &WheelFile, soname: &str) -> Option<String> {
    let name = crate::wheelname::WheelName::parse(&w.filename).ok()?;
    let d = cx.db.defect(&name.package, &name.version, soname)?;
    Some(format!(
        "{soname} has no provider: {} {} links it but does not ship it, a defect of the release as published ({}: {}); {} {} ships it",
        name.package,
        name.version,
        d.source.join(", "),
        d.error,
        name.package,
        d.fixed_by
    ))
}

/// Redistributables' own nvidia-* requirements (cudnn needs cublas, ...).
fn closure<'a>(cx: &Ctx<'a>, l: &mut Loaded<'a>) {
    let mut queue: Vec<String> = l.pip.keys().cloned().collect();
    while let Some(name) = queue.pop() {
        let reqs = providers::requirement_names(&l.pip[&name].requires_dist);
        for req in reqs.into_iter().filter(|r| r.starts_with("nvidia-")) {
            if l.pip.contains_key(&req) {
                continue;
            }
            if let Some((pkg, r)) = providers::newest_release(cx.db, &req, cx.python.as_ref()) {
                l.pip.insert(pkg.package.clone(), r);
                queue.push(pkg.package.clone());
            }
        }
    }
}
