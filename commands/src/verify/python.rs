//! Layer 5: `import mxnet` the way the lock's installers set it up (the
//! shared runtime's preloads and shims), GPUs seen, one `dot` where the
//! build runs. doctor judges the same run.

use super::{Ctx, Layer};
use crate::db::Db;
use crate::lock::LockedTarget;
use std::path::Path;
use std::time::Duration;

/// The python layer's driver: the shared runtime's preload and shims (the
/// same code the cell and the install hook run), then `import mxnet` and one
/// operation where the build runs (GPU or CPU).
const PY_DRIVER: &str = r#"
import json, sys, time
T = json.loads(sys.argv[1])
out = {"log": []}
out["installed"] = _gpu_env_dist_version(T["mxnet"]["package"])
if out["installed"] is None:
    print(json.dumps(out)); sys.exit(0)
out["mismatches"] = _gpu_env_site_mismatches(T)
try:
    _gpu_env_preload(T, sys.argv[2], out["log"].append)
    _gpu_env_apply_shims(T, out["log"].append)
    t0 = time.time()
    import mxnet as mx
    out["import_s"] = time.time() - t0
except _GpuEnvStop as e:
    out["import_error"] = str(e)
except Exception as e:
    out["import_error"] = "%s: %s" % (type(e).__name__, e)
else:
    out["version"] = getattr(mx, "__version__", None)
    n = mx.context.num_gpus() if T["gpu_build"] else 0
    out["num_gpus"] = n
    try:
        ctx = mx.gpu(0) if T["gpu_build"] else mx.cpu()
        if not T["gpu_build"] or n > 0:
            a = mx.nd.ones((64, 64), ctx=ctx)
            out["op"] = float(mx.nd.dot(a, a).sum().asscalar())
    except Exception as e:
        out["op_error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out))
"#;

/// `import mxnet` in `py` the way the lock's installers set it up: the
/// shared runtime's preloads (from `redist` and site-packages) and shims,
/// then one `dot` where the build runs. The driver's JSON: `installed`,
/// `log`, `import_error` or `version`, `num_gpus`, `op` / `op_error`.
/// `verify`'s python layer and `doctor` both judge this one run.
pub fn import_with_lock(
    t: &LockedTarget,
    db: &Db,
    py: &Path,
    redist: &Path,
    timeout: Duration,
) -> Result<serde_json::Value, String> {
    let data = crate::emit::target_json(db, t).map_err(|e| e.to_string())?;
    let script = format!("{}\n{PY_DRIVER}", crate::emit::RUNTIME_PY);
    let (data, redist) = (data.to_string(), redist.to_string_lossy());
    let o = crate::host::exec::run(py, &["-c", &script, &data, &redist], &[], timeout)
        .map_err(|e| format!("{}: {e}", py.display()))?;
    serde_json::from_str(o.stdout.trim().lines().last().unwrap_or(""))
        .map_err(|_| format!("unexpected output: {}", o.stdout.trim()))
}

/// `numpy 1.25.2 is installed; the lock has 1.26.4; ...` from the shared
/// runtime's `_gpu_env_site_mismatches` (None when everything matches).
pub fn mismatch_text(v: &serde_json::Value) -> Option<String> {
    let items: Vec<String> = v["mismatches"]
        .as_array()?
        .iter()
        .map(|m| {
            let name = m[0].as_str().unwrap_or("?");
            let want = m[2].as_str().unwrap_or("?");
            match m[1].as_str() {
                Some(have) => format!("{name} {have} is installed; the lock has {want}"),
                None => format!("{name} is not installed; the lock has {want}"),
            }
        })
        .collect();
    (!items.is_empty()).then(|| items.join("; "))
}

pub(super) fn layer(cx: &Ctx) -> Layer {
    let mut l = Layer::new("python");
    let t = cx.t;
    let redist = super::redist_dir(cx.lock, cx.opts.redist_dir.as_deref());
    let Some(py) = cx.python.as_deref() else {
        return Layer::skip("python", "no python3 on PATH (give --python)");
    };
    l.details.push(format!("python: {}", py.display()));
    let v = match import_with_lock(t, cx.db, py, &redist, cx.py_timeout) {
        Ok(v) => v,
        Err(e) => return l.fail(e),
    };
    l.set("result", &v);
    for line in v["log"].as_array().into_iter().flatten() {
        l.details.push(line.as_str().unwrap_or("").to_string());
    }
    let Some(installed) = v["installed"].as_str() else {
        let mut s = Layer::skip(
            "python",
            format!(
                "{} is not installed in {} (give --python)",
                t.mxnet.package,
                py.display()
            ),
        );
        s.details = l.details;
        return s;
    };
    if installed != t.mxnet.version {
        return l.fail(format!(
            "{} {installed} is installed; the lock says {}",
            t.mxnet.package, t.mxnet.version
        ));
    }
    if let Some(m) = mismatch_text(&v) {
        return l.fail(m);
    }
    if let Some(e) = v["import_error"].as_str() {
        return l.fail(format!("import mxnet: {e}"));
    }
    python_op_verdict(t, l, &v)
}

/// The python layer's verdict on `import mxnet` that worked: GPUs seen (GPU
/// builds) and one `dot` where the build runs.
fn python_op_verdict(t: &LockedTarget, mut l: Layer, v: &serde_json::Value) -> Layer {
    let gpu = t.mxnet.cuda.is_some();
    let n = v["num_gpus"].as_i64().unwrap_or(0);
    let where_ = if gpu { "mx.gpu(0)" } else { "mx.cpu()" };
    l.details.push(format!(
        "import mxnet {}: num_gpus() = {n}",
        v["version"].as_str().unwrap_or("?")
    ));
    if gpu && n <= 0 {
        return l.fail("mx.context.num_gpus() is 0: MXNet sees no GPU");
    }
    if let Some(e) = v["op_error"].as_str() {
        return l.fail(format!("dot on {where_}: {e}"));
    }
    let want = 64.0 * 64.0 * 64.0;
    match v["op"].as_f64() {
        Some(x) if (x - want).abs() < 1e-3 * want => {
            l.reason = if gpu {
                format!("import mxnet, {n} GPU(s), dot on {where_} = {x}")
            } else {
                format!("import mxnet (CPU build), dot on {where_} = {x}")
            };
            l
        }
        other => l.fail(format!("dot on {where_} gave {other:?}, want {want}")),
    }
}
