//! Colab setup cell and notebook generated from a lock.
//!
//! The cell installs exactly the locked files (hash-checked, `--no-deps`),
//! CUDA redistributables into their own `--target` directory, preloads the
//! CUDA libraries by absolute path in dependency order, applies the numpy
//! shims, imports MXNet and checks it on the GPU. Every value taken from the
//! lock is validated first and then written as an escaped Python literal
//! ([`pyquote`]), so a hostile name, version or URL can neither break the
//! cell nor run code; on any invalid value nothing is emitted.

pub mod pyquote;
use crate::validate::parse_shim;
mod runtime;

use crate::config::Loaded;
use crate::db::Db;
use crate::lock::{Lock, LockedTarget};
use pyquote::Py;
use std::path::{Path, PathBuf};

/// The shared runtime (loader policy, shim grammar): the one Python
/// implementation the cell, `verify` and the `install` hook all run.
pub const RUNTIME_PY: &str = include_str!("runtime.py");

/// The cell's program: the runtime, then the cell's own steps; the
/// generated data block is put in front of it.
const CELL_PROGRAM: &str = concat!(include_str!("runtime.py"), "\n", include_str!("cell.py"));

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EmitError {
    #[error("target `{target}`: {what} `{value}` is not valid: {rule}; nothing emitted")]
    Invalid {
        target: String,
        what: String,
        value: String,
        rule: &'static str,
    },
    #[error("target `{target}`: {message}; nothing emitted")]
    Inconsistent { target: String, message: String },
}

use crate::target::is_notebook_kind;

/// The setup cell and notebook for the lock's notebook targets (Colab,
/// Kaggle), as (path, contents); empty when the lock has none; the first
/// invalid value otherwise (nothing is emitted). One cell carries every
/// notebook target and picks the one that fits the runtime it runs on.
pub fn render_colab(
    db: &Db,
    loaded: &Loaded,
    lock_path: &Path,
    lock: &Lock,
) -> Result<Vec<(PathBuf, String)>, EmitError> {
    render_colab_with_hash(db, loaded, lock_path, lock, &lock.hash())
}

/// [`render_colab`] for a caller that already rendered and hashed the lock.
pub fn render_colab_with_hash(
    db: &Db,
    loaded: &Loaded,
    lock_path: &Path,
    lock: &Lock,
    hash: &str,
) -> Result<Vec<(PathBuf, String)>, EmitError> {
    let Some(cell) = cell_with_hash(db, lock, lock_path, hash)? else {
        return Ok(Vec::new());
    };
    let o = &loaded.config.output;
    let notebook = render_notebook(&notebook_targets(lock), hash, &lock_name(lock_path), &cell)?;
    Ok(vec![
        (loaded.path(&o.colab_cell), cell),
        (loaded.path(&o.notebook), notebook),
    ])
}

/// The setup cell alone for the lock's notebook targets, as `resolve`
/// writes it for the lock at `lock_path` (what `setup` runs); None when the
/// lock has no notebook target.
pub fn cell(db: &Db, lock: &Lock, lock_path: &Path) -> Result<Option<String>, EmitError> {
    cell_with_hash(db, lock, lock_path, &lock.hash())
}

fn cell_with_hash(
    db: &Db,
    lock: &Lock,
    lock_path: &Path,
    hash: &str,
) -> Result<Option<String>, EmitError> {
    let targets = notebook_targets(lock);
    if targets.is_empty() {
        return Ok(None);
    }
    render_cell(db, &targets, hash, &lock_name(lock_path), REGEN_RESOLVE).map(Some)
}

/// The targets the setup cell serves: the notebook (Colab, Kaggle) ones.
fn notebook_targets(lock: &Lock) -> Vec<&LockedTarget> {
    let notebook = |t: &&LockedTarget| is_notebook_kind(&t.kind);
    lock.target.iter().filter(notebook).collect()
}

/// The lock's file name as the cell and notebook name it.
fn lock_name(lock_path: &Path) -> String {
    lock_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "gpu-env.lock".into())
}

fn invalid(
    t: &LockedTarget,
    what: impl Into<String>,
    value: &str,
    rule: &'static str,
) -> EmitError {
    EmitError::Invalid {
        target: t.name.escape_debug().to_string(),
        what: what.into(),
        value: value.escape_debug().to_string(),
        rule,
    }
}

use crate::validate::is_plain_text;

/// Library stems in preload (dependency) order; unknown stems go after
/// `nccl`, cuDNN always last.
const ORDER: &[&str] = &[
    "cudart",
    "nvrtc",
    "nvrtc-builtins",
    "nvJitLink",
    "cublasLt",
    "cublas",
    "cufft",
    "curand",
    "cusparse",
    "cusolver",
    "nvToolsExt",
    "nccl",
];

/// cuDNN 8 and 9 sub-libraries, in load order (each loads after the ones it
/// links); `libcudnn.so.N` dlopens them by soname at run time.
const CUDNN8_PARTS: &[&str] = &[
    "ops_infer",
    "ops_train",
    "cnn_infer",
    "cnn_train",
    "adv_infer",
    "adv_train",
];
const CUDNN9_PARTS: &[&str] = &[
    "graph",
    "engines_runtime_compiled",
    "engines_precompiled",
    "heuristic",
    "ops",
    "cnn",
    "adv",
];

fn stem(soname: &str) -> &str {
    let s = soname.strip_prefix("lib").unwrap_or(soname);
    s.split(".so").next().unwrap_or(s)
}

fn rank(soname: &str) -> usize {
    let st = stem(soname);
    if st.starts_with("cudnn") {
        return ORDER.len() + 2;
    }
    ORDER
        .iter()
        .position(|o| *o == st)
        .unwrap_or(ORDER.len() + 1)
}

/// (soname or `prefix*`, package, required) in load order.
fn preload_list(t: &LockedTarget) -> Result<Vec<(String, String, bool)>, EmitError> {
    let mut entries: Vec<(usize, usize, String, String, bool)> = Vec::new();
    for p in &t.provider {
        // Every provider's package is pinned: LockedTarget::validate_providers,
        // which target_data runs first, holds the lock to it.
        let Some(pkg) = &p.package else { continue };
        let pkg = crate::pep440::normalize_name(pkg);
        let r = rank(&p.soname);
        let version = p.soname.split_once(".so").map(|x| x.1).unwrap_or("");
        let st = stem(&p.soname);
        let mut add = |r: usize, sub: usize, name: String, required: bool| {
            entries.push((r, sub, name, pkg.clone(), required));
        };
        match st {
            "cublas" => {
                add(
                    rank("libcublasLt.so"),
                    0,
                    format!("libcublasLt.so{version}"),
                    false,
                );
                add(r, 0, p.soname.clone(), true);
            }
            "nvrtc" => {
                add(r, 0, p.soname.clone(), true);
                add(
                    rank("libnvrtc-builtins.so"),
                    0,
                    "libnvrtc-builtins.so*".into(),
                    false,
                );
            }
            "cudnn" => {
                let parts: &[&str] = if version.starts_with(".8") {
                    CUDNN8_PARTS
                } else if version.starts_with(".9") {
                    CUDNN9_PARTS
                } else {
                    &[]
                };
                for (i, part) in parts.iter().enumerate() {
                    add(r, i, format!("libcudnn_{part}.so{version}"), false);
                }
                add(r, parts.len(), p.soname.clone(), true);
            }
            _ => add(r, 0, p.soname.clone(), true),
        }
    }
    entries.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    // A companion also provided directly (libcublasLt) stays once, required.
    let mut out: Vec<(String, String, bool)> = Vec::new();
    for (_, _, name, pkg, req) in entries {
        if let Some(e) = out.iter_mut().find(|e| e.0 == name) {
            e.2 |= req;
        } else {
            out.push((name, pkg, req));
        }
    }
    Ok(out)
}

/// Colab's `gpuType` from the target name (`colab-2026.08:T4` -> `T4`).
fn gpu_type(t: &LockedTarget) -> Result<String, EmitError> {
    let g = t.name.rsplit_once(':').map(|x| x.1).unwrap_or("T4");
    if g.is_empty()
        || g.len() > 40
        || !g
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'_' | b'-' | b'.'))
    {
        return Err(invalid(t, "GPU type", g, "letters, digits, ` _-.`"));
    }
    Ok(g.to_string())
}

/// One target's data as [`RUNTIME_PY`] reads it, as JSON (for `verify` and
/// the `install` hook); the same values the cell embeds.
pub fn target_json(db: &Db, t: &LockedTarget) -> Result<serde_json::Value, EmitError> {
    Ok(target_data(db, t)?.to_json())
}

/// One target's data block: what to install, preload and shim, and the
/// facts the cell compares with the runtime.
fn target_data(db: &Db, t: &LockedTarget) -> Result<Py, EmitError> {
    // The one validation layer (the lock's, as for requirements and pylock):
    // every value written as data below is valid first; free-text facts are
    // embedded escaped. Errors come in this order: lock values, shims,
    // preloads, GPU type.
    check_installables(t)?;
    let shims = shims_data(t)?;
    let preload = preload_data(db, t)?;
    let mut fields = vec![
        ("target".into(), Py::s(&t.name)),
        ("kind".into(), Py::s(&t.kind)),
        ("gpu_type".into(), Py::s(gpu_type(t)?)),
        ("expect".into(), expect_data(t)),
        ("mxnet".into(), mxnet_data(t)),
    ];
    fields.extend(gpu_fields(db, t));
    fields.extend(numpy_fields(t));
    fields.extend([
        (
            "requires_overrides".into(),
            runtime::requires_overrides(db, t),
        ),
        ("packages".into(), packages_data(t)),
        ("preload".into(), preload),
        ("shims".into(), shims),
        // Validated with the lock (LOCK_ENV names, digit values).
        (
            "env".into(),
            Py::List(
                t.env
                    .iter()
                    .map(|e| Py::Tuple(vec![Py::s(&e.name), Py::s(&e.value)]))
                    .collect(),
            ),
        ),
    ]);
    // Only with companions, so targets without them keep their bytes.
    if let Some(c) = companions_data(t) {
        fields.push(("companions".into(), c));
    }
    Ok(Py::Dict(fields))
}

/// The lock's own validation, its errors as emit errors.
fn check_installables(t: &LockedTarget) -> Result<(), EmitError> {
    t.validate_installables().map_err(|e| match e {
        crate::lock::LockError::Invalid {
            target,
            what,
            value,
            rule,
        } => EmitError::Invalid {
            target,
            what,
            value,
            rule,
        },
        other => EmitError::Inconsistent {
            target: t.name.escape_debug().to_string(),
            message: other.to_string(),
        },
    })
}

/// Each shim statement as `(module, attr, expr)`: data the runtime
/// applies, never code it runs.
fn shims_data(t: &LockedTarget) -> Result<Py, EmitError> {
    let mut shims = Vec::new();
    for s in &t.shim {
        for stmt in &s.statements {
            let Some((module, attr, expr)) = parse_shim(stmt) else {
                return Err(invalid(
                    t,
                    format!("shim {}", s.id),
                    stmt,
                    "`module.attr = name[.attr]`",
                ));
            };
            shims.push(Py::Tuple(vec![Py::s(module), Py::s(attr), Py::s(expr)]));
        }
    }
    Ok(Py::List(shims))
}

/// The libraries to preload, in order, each with the runtime's own copy
/// when it may be reused.
fn preload_data(db: &Db, t: &LockedTarget) -> Result<Py, EmitError> {
    let preload = preload_list(t)?
        .into_iter()
        .map(|(soname, package, required)| {
            let shared = runtime::reuse(db, t, &soname);
            Py::Dict(vec![
                ("soname".into(), Py::s(soname)),
                ("package".into(), Py::s(package)),
                ("required".into(), Py::Bool(required)),
                ("runtime".into(), shared),
            ])
        })
        .collect();
    Ok(Py::List(preload))
}

/// Facts the cell reports when the runtime differs (escaped strings).
fn expect_data(t: &LockedTarget) -> Py {
    Py::Dict(
        t.fact
            .iter()
            .filter(|f| matches!(f.name.as_str(), "python" | "cuda_toolkit" | "gpus"))
            .map(|f| (f.name.clone(), Py::s(&f.value)))
            .collect(),
    )
}

fn mxnet_data(t: &LockedTarget) -> Py {
    let m = &t.mxnet;
    Py::Dict(vec![
        (
            "package".into(),
            Py::s(crate::pep440::normalize_name(&m.package)),
        ),
        ("version".into(), Py::s(&m.version)),
        ("code".into(), Py::s(runtime::code_text(t))),
    ])
}

/// What the runtime checks about GPUs and the driver; a CPU build
/// carries no device or driver requirement.
fn gpu_fields(db: &Db, t: &LockedTarget) -> Vec<(String, Py)> {
    let gpu_build = t.mxnet.cuda.is_some();
    vec![
        ("gpu_build".into(), Py::Bool(gpu_build)),
        (
            "ccs".into(),
            Py::List(
                t.gpu_capabilities()
                    .iter()
                    .map(|c| Py::s(c.to_string()))
                    .collect(),
            ),
        ),
        (
            "runs_on".into(),
            if gpu_build {
                runtime::runs_on(t)
            } else {
                Py::Dict(vec![])
            },
        ),
        (
            "driver_min".into(),
            match (&t.driver.min, gpu_build) {
                (Some(v), true) => Py::s(v),
                _ => Py::None,
            },
        ),
        ("offered".into(), runtime::offered(db, t)),
        ("pythons".into(), runtime::pythons(db, t)),
    ]
}

/// `numpy`: the version the lock installs; `numpy_runtime`: the
/// preinstalled one it relies on instead (at most one is set).
fn numpy_fields(t: &LockedTarget) -> Vec<(String, Py)> {
    let installed = t
        .package
        .iter()
        .any(|p| crate::pep440::normalize_name(&p.name) == "numpy");
    let version = |set: bool| {
        if set {
            Py::s(&t.numpy.version)
        } else {
            Py::None
        }
    };
    vec![
        ("numpy".into(), version(installed)),
        (
            "numpy_runtime".into(),
            version(t.numpy.preinstalled && !installed),
        ),
    ]
}

fn packages_data(t: &LockedTarget) -> Py {
    Py::List(
        t.package
            .iter()
            .map(|p| {
                Py::Dict(vec![
                    ("name".into(), Py::s(crate::pep440::normalize_name(&p.name))),
                    ("version".into(), Py::s(&p.version)),
                    ("install".into(), Py::s(&p.install)),
                    ("size".into(), Py::Int(p.size)),
                    ("sha256".into(), Py::s(&p.sha256)),
                    ("url".into(), Py::s(&p.url)),
                ])
            })
            .collect(),
    )
}

/// One line per companion and per Requires-Dist entry the lock overrides;
/// None without companions.
fn companions_data(t: &LockedTarget) -> Option<Py> {
    if t.companion.is_empty() {
        return None;
    }
    let lines = t.companion.iter().flat_map(|c| {
        let head = format!(
            "companion {} {} ({}): {}",
            c.package,
            c.version,
            c.module,
            if c.r#override.is_empty() {
                "as published"
            } else {
                "its Requires-Dist overridden by the lock:"
            }
        );
        std::iter::once(head).chain(
            c.r#override
                .iter()
                .map(|o| format!("  {} -> {}: {}", o.requirement, o.locked, o.reason)),
        )
    });
    Some(Py::List(lines.map(Py::s).collect()))
}

/// The cell's data block: the lock hash and every notebook target.
fn data(db: &Db, targets: &[&LockedTarget], hash: &str) -> Result<Py, EmitError> {
    let list = targets
        .iter()
        .map(|t| target_data(db, t))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Py::Dict(vec![
        ("lock_sha256".into(), Py::s(hash)),
        ("gpu_names".into(), runtime::gpu_names(db)),
        ("targets".into(), Py::List(list)),
    ]))
}

/// What rewrites a setup cell, for its header.
const REGEN_RESOLVE: &str = "change the config or compat-db, then run `cargo xtask resolve`";
const REGEN_MATRIX: &str = "`cargo xtask matrix` rewrites it from compat-db";

fn header(
    targets: &[&LockedTarget],
    hash: &str,
    lock_name: &str,
    regen: &str,
) -> Result<String, EmitError> {
    if let Some(t) = targets.iter().find(|_| !is_plain_text(lock_name)) {
        return Err(invalid(
            t,
            "lock file name",
            lock_name,
            "printable ASCII without quotes",
        ));
    }
    let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    Ok(format!(
        "{}{lock_name} (sha256 {hash}) for {} {}.\n\
         # Do not edit by hand: {regen}.\n\
         # Setup cell for Google Colab and Kaggle: run it first in a fresh GPU runtime. It picks\n\
         # the locked target that fits this runtime's GPU, driver and Python, installs exactly\n\
         # its files (hash-checked, no dependency resolution), preloads the CUDA libraries,\n\
         # imports MXNet and checks it on the GPU. Running it again is fast.\n",
        crate::generated::text_marker(crate::generated::Kind::SetupCell),
        if names.len() == 1 {
            "target"
        } else {
            "targets"
        },
        names.join(", ")
    ))
}

fn render_cell(
    db: &Db,
    targets: &[&LockedTarget],
    hash: &str,
    lock_name: &str,
    regen: &str,
) -> Result<String, EmitError> {
    let head = header(targets, hash, lock_name, regen)?;
    let data = data(db, targets, hash)?;
    Ok(format!(
        "{head}\n_gpu_env_lock = {}\n{CELL_PROGRAM}",
        data.render(0)
    ))
}

/// The setup cell for the notebook targets of `lock` as the compatibility
/// page offers it (docs/cells/): the cell `resolve` writes, whose header
/// names `cargo xtask matrix` as what rewrites it.
pub fn render_docs_cell(db: &Db, lock: &Lock) -> Result<String, EmitError> {
    render_cell(
        db,
        &notebook_targets(lock),
        &lock.hash(),
        "a lock made by `cargo xtask matrix`",
        REGEN_MATRIX,
    )
}

/// The notebook's example cell: on the GPU when every target is a GPU
/// build, on the CPU when none is, else whichever `mx` has.
fn example_cell(targets: &[&LockedTarget]) -> &'static str {
    let gpu = targets.iter().filter(|t| t.mxnet.cuda.is_some()).count();
    if gpu == targets.len() {
        "# Your code: MXNet on the GPU.\nx = mx.nd.ones((2, 3), ctx=mx.gpu())\nprint((x * 2).asnumpy())\n"
    } else if gpu == 0 {
        "# Your code: MXNet on the CPU (this lock is a CPU build).\nx = mx.nd.ones((2, 3), ctx=mx.cpu())\nprint((x * 2).asnumpy())\n"
    } else {
        "# Your code: MXNet on the GPU when the chosen build has CUDA.\nctx = mx.gpu() if mx.context.num_gpus() > 0 else mx.cpu()\nx = mx.nd.ones((2, 3), ctx=ctx)\nprint((x * 2).asnumpy())\n"
    }
}

fn render_notebook(
    targets: &[&LockedTarget],
    hash: &str,
    lock_name: &str,
    cell: &str,
) -> Result<String, EmitError> {
    use serde_json::json;
    let lines = |s: &str| -> Vec<String> { s.split_inclusive('\n').map(str::to_string).collect() };
    let first = targets[0];
    let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    let mut runtimes = Vec::new();
    for t in targets {
        let platform = if t.kind == "kaggle" {
            "Kaggle: Settings > Accelerator"
        } else {
            "Colab: Runtime > Change runtime type"
        };
        runtimes.push(format!("{} ({platform} > {})", t.name, gpu_type(t)?));
    }
    let intro = format!(
        "# gpu-env setup for {}\n\nGenerated by gpu-env from `{lock_name}` (sha256 `{hash}`); do not edit by hand.\n\nRun the next cell first, in a fresh GPU runtime: {}. It picks the locked target that fits the runtime, installs MXNet {} {} with its CUDA libraries and checks it on the GPU; then `mx` is ready to use.\n",
        names.join(", "),
        runtimes.join("; "),
        first.mxnet.package,
        first.mxnet.version
    );
    // A CPU lock asks for no accelerator.
    let colab_meta = if targets.iter().all(|t| t.mxnet.cuda.is_none()) {
        json!({"provenance": []})
    } else {
        json!({"gpuType": gpu_type(first)?, "provenance": []})
    };
    let nb = json!({
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": lines(&intro)},
            {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": lines(cell)},
            {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [],
             "source": lines(example_cell(targets))},
        ],
        "metadata": {
            "accelerator": if targets.iter().all(|t| t.mxnet.cuda.is_none()) { "None" } else { "GPU" },
            "colab": colab_meta,
            "gpu_env": {"lock": lock_name, "lock_sha256": hash, "targets": names},
            "kernelspec": {"display_name": "Python 3", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 0,
    });
    Ok(format!(
        "{}\n",
        serde_json::to_string_pretty(&nb).expect("notebook serializes")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{is_https_url, is_sha256, is_soname, is_version};
    #[test]
    fn validators() {
        assert!(is_soname("libcudart.so.11.0"));
        assert!(is_soname("libnvToolsExt.so.1"));
        assert!(is_soname("libstdc++.so.6"));
        assert!(is_soname("libx.so"));
        assert!(!is_soname("libx.so.a"));
        assert!(!is_soname("libx\".so.1"));
        assert!(!is_soname("cudart.so.1"));
        assert!(!is_soname("lib.so"));
        assert!(is_https_url(
            "https://files.pythonhosted.org/packages/a/b/x-1-py3-none-any.whl"
        ));
        assert!(!is_https_url("http://e/x.whl"));
        assert!(!is_https_url("https://e/x.whl\"); import os #"));
        assert!(!is_https_url("https://e/x.whl --index-url=https://evil"));
        assert!(!is_https_url("https:///x"));
        assert!(is_version("1.9.1"));
        assert!(is_version("1.8.0.post0"));
        assert!(!is_version("1.0\"); import os; (\""));
        assert!(!is_version("1.0 "));
        assert!(is_sha256(&"a".repeat(64)));
        assert!(!is_sha256(&"A".repeat(64)));
        assert_eq!(
            parse_shim("numpy.bool = bool"),
            Some(("numpy".into(), "bool".into(), "bool".into()))
        );
        assert_eq!(parse_shim("numpy.bool = __import__('os')"), None);
        assert_eq!(parse_shim("import os"), None);
        assert_eq!(parse_shim("numpy.bool = os.system"), None);
        assert!(parse_shim("numpy.float = numpy.float64").is_some());
        // The numpy 2 shims in compat-db/breakers.toml.
        for ok in [
            "numpy.PZERO = 0.0",
            "numpy.NZERO = -0.0",
            "numpy.NINF = -numpy.inf",
            "numpy.mirr = None",
        ] {
            assert!(parse_shim(ok).is_some(), "{ok}");
        }
        for bad in [
            "numpy.x = 1e309",
            "numpy.x = -os.sep",
            "numpy.x = 0.0.0",
            "numpy.x = -",
            "numpy.x = numpy",
            "numpy.x = None()",
        ] {
            assert_eq!(parse_shim(bad), None, "{bad}");
        }
    }

    /// The cell decides its platform by host::platform's markers.
    #[test]
    fn the_cell_checks_the_same_markers() {
        let cell = include_str!("cell.py");
        for (platform, var, dir) in crate::host::platform::MARKERS {
            let line = format!(
                "if os.environ.get(\"{var}\") or os.path.isdir(\"{dir}\"):\n        return \"{platform}\""
            );
            assert!(cell.contains(&line), "cell.py lacks: {line}");
        }
    }
}
