//! Layer 4: every soname the wheel needs resolves the way the dynamic loader
//! would look for it (plus the preload dirs the setup uses) and dlopens;
//! cuDNN reports the locked version.

use super::{redist_dirs, Ctx, Layer};
use crate::db::model::WheelFile;
use crate::host::loader::{self, SearchPaths};
use crate::lock::LockedTarget;
use std::path::PathBuf;

pub(super) fn layer(cx: &Ctx, no_driver: bool) -> Layer {
    let mut l = Layer::new("libraries");
    let t = cx.t;
    let Some((_, rec)) = cx
        .db
        .wheel_files()
        .find(|(_, f)| f.filename == t.mxnet.filename)
    else {
        return l.fail(format!(
            "compat-db has no record of {}: cannot list its needs (pass --db with the compat-db the lock was resolved against)",
            t.mxnet.filename
        ));
    };
    let (sp, origin) = search_paths(cx, rec, &mut l);
    let mut missing = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    let mut rows = Vec::new();
    let mut to_open = Vec::new();
    let mut cudnn_path = None;
    for soname in &rec.needed {
        let locked = t.provider.iter().find(|p| &p.soname == soname);
        let pinned = locked.is_some_and(|p| p.package.is_some());
        let prov = locked
            .map(|p| p.provider.clone())
            .unwrap_or_else(|| "no locked provider".into());
        let r = sp.resolve(soname);
        let is_driver = crate::solve::providers::DRIVER_SONAMES.contains(&soname.as_str());
        let line = match (&r.path, origin.is_none() && rec.bundled.contains(soname)) {
            (None, true) => format!("{soname}: bundled in the wheel ($ORIGIN) [{prov}]"),
            (None, false) if is_driver && no_driver => {
                format!("{soname}: not checked: no NVIDIA driver here [{prov}]")
            }
            (None, false) => {
                kinds.insert(missing_kind(t, rec, soname, pinned));
                missing.push((soname.as_str(), prov.clone()));
                format!("{soname}: MISSING [{prov}]")
            }
            (Some(p), _) => {
                to_open.push(p.clone());
                if t.cudnn.as_ref().is_some_and(|c| &c.soname == soname) {
                    cudnn_path = Some(p.clone());
                }
                format!(
                    "{soname}: {} via {}{}{} [{prov}]",
                    p.display(),
                    r.via,
                    r.from
                        .as_deref()
                        .map(|f| format!(" ({f})"))
                        .unwrap_or_default(),
                    if r.loader {
                        ""
                    } else {
                        "; not on the loader path: needs a preload"
                    }
                )
            }
        };
        l.details.push(line);
        rows.push(r);
    }
    l.set("resolved", &rows);
    if !missing.is_empty() {
        let advice: Vec<String> = kinds.iter().map(|k| advice(cx, *k)).collect();
        return l.fail(format!(
            "{} of {} needed sonames do not resolve: {}; {}",
            missing.len(),
            rec.needed.len(),
            by_provider(&missing),
            advice.join("; ")
        ));
    }
    let errors = loader::dlopen_all(&to_open);
    if !errors.is_empty() {
        let list: Vec<String> = errors
            .iter()
            .map(|(p, e)| format!("{}: {e}", p.display()))
            .collect();
        return l.fail(format!("dlopen failed: {}", list.join("; ")));
    }
    if let Err(e) = cudnn_check(t, cudnn_path, &mut l) {
        return l.fail(e);
    }
    l.reason = format!("{} needed sonames resolve and load", rec.needed.len());
    l
}

/// Who provides a missing soname, from the lock and the wheel's record
/// (structured data, not the provider's text), for the advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum MissingKind {
    /// A package the lock pins, or a library bundled in the MXNet wheel.
    Locked,
    Driver,
    BaseSystem,
    Cudnn,
    Toolkit,
}

/// `pinned`: the lock names a package that ships `soname`.
fn missing_kind(t: &LockedTarget, rec: &WheelFile, soname: &str, pinned: bool) -> MissingKind {
    use crate::solve::providers::{BASE_SYSTEM_SONAMES, DRIVER_SONAMES};
    if pinned || rec.bundled.iter().any(|b| b == soname) {
        MissingKind::Locked
    } else if DRIVER_SONAMES.contains(&soname) {
        MissingKind::Driver
    } else if BASE_SYSTEM_SONAMES.contains(&soname) {
        MissingKind::BaseSystem
    } else if t.cudnn.as_ref().is_some_and(|c| c.soname == soname) {
        MissingKind::Cudnn
    } else {
        MissingKind::Toolkit
    }
}

/// What to do about missing sonames of one kind.
fn advice(cx: &Ctx, kind: MissingKind) -> String {
    let t = cx.t;
    match kind {
        MissingKind::Locked => {
            let py = cx
                .python
                .as_deref()
                .unwrap_or(std::path::Path::new("python3"));
            let lock = cx.opts.lock_path.as_deref();
            let cell = cx.opts.cell.as_deref();
            let cmd = crate::lock::install_advice(cx.lock, cx.index, lock, cell, py);
            format!("install the locked packages: {cmd}")
        }
        MissingKind::Driver => "install the NVIDIA driver (it ships libcuda.so.1)".into(),
        MissingKind::BaseSystem => {
            "install the system's C and C++ runtime libraries with its package manager".into()
        }
        MissingKind::Cudnn => t.system_library_advice("cudnn"),
        MissingKind::Toolkit => t.system_library_advice("cuda_toolkit"),
    }
}

/// `a, b (locked provider: P); c (locked provider: Q)`: missing sonames
/// grouped by provider, in the order first met.
fn by_provider(missing: &[(&str, String)]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (soname, prov) in missing {
        match groups.iter_mut().find(|(p, _)| p == prov) {
            Some((_, list)) => list.push(soname),
            None => groups.push((prov, vec![soname])),
        }
    }
    groups
        .iter()
        .map(|(prov, list)| format!("{} (locked provider: {prov})", list.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The loader's search for the wheel (its RPATH/RUNPATH from the record,
/// `$ORIGIN` where it is installed) plus the dirs the setup preloads from;
/// and `$ORIGIN` when the wheel is installed.
fn search_paths(cx: &Ctx, rec: &WheelFile, l: &mut Layer) -> (SearchPaths, Option<PathBuf>) {
    let (sp, cache_err) = SearchPaths::system(cx.short_timeout);
    if let Some(e) = cache_err {
        l.details.push(format!("ld.so cache not read: {e}"));
    }
    let origin = cx
        .site
        .iter()
        .map(|s| s.join("mxnet"))
        .find(|d| d.join("libmxnet.so").is_file());
    match &origin {
        Some(o) => l.details.push(format!("$ORIGIN = {} (installed wheel)", o.display())),
        None => l.details.push(
            "the wheel is not installed in this Python: bundled libraries are taken from its record"
                .into(),
        ),
    }
    let mut sp = sp.for_object(origin.clone(), &rec.rpath, &rec.runpath);
    for d in redist_dirs(cx.lock, cx.opts.redist_dir.as_deref()) {
        for sub in loader::nvidia_lib_dirs(std::slice::from_ref(&d)) {
            sp.preload_dirs
                .push((sub.clone(), format!("gpu-env redist {}", sub.display())));
        }
        sp.preload_dirs
            .push((d.clone(), format!("gpu-env redist {}", d.display())));
    }
    for d in loader::nvidia_lib_dirs(&cx.site) {
        let label = format!("site-packages {}", d.display());
        sp.preload_dirs.push((d, label));
    }
    (sp, origin)
}

/// `cudnnGetVersion` of the resolved cuDNN against the lock's.
fn cudnn_check(t: &LockedTarget, path: Option<PathBuf>, l: &mut Layer) -> Result<(), String> {
    let Some(c) = &t.cudnn else {
        return Ok(());
    };
    let Some(p) = path else {
        l.details.push(format!(
            "{} is linked statically or not needed: cuDNN version not checked",
            c.soname
        ));
        return Ok(());
    };
    let v = crate::host::libs::cudnn_get_version(&p.display().to_string())
        .map_err(|e| format!("cudnnGetVersion on {}: {e}", p.display()))?;
    let same = v == c.version
        || v.starts_with(&format!("{}.", c.version))
        || c.version.starts_with(&format!("{v}."));
    if !same {
        return Err(format!(
            "{} reports cuDNN {v}; the lock says {}",
            p.display(),
            c.version
        ));
    }
    l.details
        .push(format!("cudnnGetVersion: {v} (locked {})", c.version));
    l.set("cudnn", v);
    Ok(())
}
