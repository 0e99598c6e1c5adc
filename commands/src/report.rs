//! The `resolve --json` document (schema in README "Reading a rejection"
//! and docs/solver.md). Rule names are `Rule::name`, as in the text output.

use crate::solve::{Resolution, Status};
use serde_json::{json, Value};

pub fn resolution_json(spec: &str, r: &Resolution) -> Value {
    // The chosen stack in the lock's own form (one view of a choice);
    // JSON names its lists in the plural.
    let c = r.chosen.as_ref();
    let s = c.map(crate::lock::locked_choice);
    let s = s.as_ref();
    let mut doc = json!({
        "status": match r.status { Status::Resolved => "resolved", Status::Unsatisfiable => "unsatisfiable" },
        "spec": spec,
        "target": r.target,
        "mxnet": s.map(|s| &s.mxnet),
        "cudnn": s.and_then(|s| s.cudnn.as_ref()),
        "driver": s.map(|s| &s.driver),
        "numpy": s.map(|s| &s.numpy),
        "providers": s.map(|s| &s.provider),
        "packages": s.map(|s| s.package.as_slice()).unwrap_or_default(),
        "shims": s.map(|s| s.shim.as_slice()).unwrap_or_default(),
        "needs": s.map(|s| s.need.as_slice()).unwrap_or_default(),
        "env": s.map(|s| s.env.as_slice()).unwrap_or_default(),
        "warnings": c.map(|c| c.warnings.as_slice()).unwrap_or_default(),
        "rejected": r.rejected.iter().map(|x| json!({
            "package": x.package, "version": x.version, "filename": x.filename, "rule": x.rule, "reason": x.reason, "rules": x.rules,
        })).collect::<Vec<_>>(),
        "fixes": r.fixes,
    });
    // Only with companions (`--with`, config `companions`): each with its
    // measured set and every Requires-Dist entry the lock overrides.
    if let Some(cs) = s.map(|s| &s.companion).filter(|cs| !cs.is_empty()) {
        doc["companions"] = serde_json::to_value(cs).expect("serializable");
    }
    doc
}
