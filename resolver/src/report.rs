//! The `resolve --json` document (schema in README "Reading a rejection"
//! and docs/solver.md). Rule names are `Rule::name`, as in the text output.

use crate::solve::{Resolution, Status};
use serde_json::{json, Value};

pub fn resolution_json(spec: &str, r: &Resolution) -> Value {
    let c = r.chosen.as_ref();
    let mut doc = json!({
        "status": match r.status { Status::Resolved => "resolved", Status::Unsatisfiable => "unsatisfiable" },
        "spec": spec,
        "target": r.target,
        "mxnet": c.map(|c| json!({
            "package": c.package,
            "version": c.version,
            "filename": c.wheel.filename,
            "sha256": c.wheel.sha256,
            "cuda": c.wheel.cuda.map(|v| v.to_string()),
            "gpu_code": c.gpu_code,
        })),
        "cudnn": c.and_then(|c| c.cudnn.as_ref()).map(|d| json!({
            "version": d.version,
            "soname": d.soname,
            "provider": d.provider.to_string(),
        })),
        "driver": c.map(|c| json!({
            "min": c.driver.min.as_ref().map(|v| v.to_string()),
            "found": c.driver.found.as_ref().map(|v| v.to_string()),
            "ok": c.driver.ok,
            "why": c.driver.why,
        })),
        "numpy": c.map(|c| json!({
            "version": c.numpy.version,
            "preinstalled": c.numpy.file.is_none(),
            "meets_requires_dist": c.numpy.meets_requires_dist,
        })),
        "providers": c.map(|c| c.providers.iter().map(|(s, p)| json!({"soname": s, "provider": p.to_string()})).collect::<Vec<_>>()),
        "packages": c.map(|c| c.packages.iter().map(|p| json!({
            "name": p.name, "version": p.version, "sha256": p.sha256, "url": p.url, "size": p.size, "role": p.role,
        })).collect::<Vec<_>>()).unwrap_or_default(),
        "shims": c.map(|c| c.shims.iter().map(|b| json!({"id": b.id, "statements": b.shim, "reason": b.error})).collect::<Vec<_>>()).unwrap_or_default(),
        "needs": c.map(|c| c.needs.clone()).unwrap_or_default(),
        "env": c.map(|c| c.env.clone()).unwrap_or_default(),
        "warnings": c.map(|c| c.warnings.clone()).unwrap_or_default(),
        "rejected": r.rejected.iter().map(|x| json!({
            "package": x.package, "version": x.version, "filename": x.filename, "rule": x.rule, "reason": x.reason, "rules": x.rules,
        })).collect::<Vec<_>>(),
        "fixes": r.fixes,
    });
    // Only with companions (`--with`, config `companions`): each with its
    // measured set and every Requires-Dist entry the lock overrides.
    if let Some(cs) = c.map(|c| &c.companions).filter(|cs| !cs.is_empty()) {
        doc["companions"] = serde_json::to_value(cs).expect("serializable");
    }
    doc
}
