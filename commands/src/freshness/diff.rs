//! Field-level differences between two locked targets, `path: old -> new`.

use crate::lock::LockedTarget;
use serde_json::Value;

/// Field-level differences, `path: old -> new`; array items that carry a
/// `name`/`soname`/`id` are matched by it.
pub fn diff_targets(old: &LockedTarget, new: &LockedTarget) -> Vec<String> {
    let a = serde_json::to_value(old).expect("serializes");
    let b = serde_json::to_value(new).expect("serializes");
    let mut out = Vec::new();
    diff(&mut out, "", &a, &b);
    out
}

fn key_of(v: &Value) -> Option<String> {
    ["name", "soname", "id"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_string))
}

fn join(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}.{k}")
    }
}

fn diff(out: &mut Vec<String>, path: &str, a: &Value, b: &Value) {
    if a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = join(path, k);
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => diff(out, &p, u, v),
                    (Some(u), None) => out.push(format!("{p}: {u} -> (absent)")),
                    (None, Some(v)) => out.push(format!("{p}: (absent) -> {v}")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.iter().chain(y).all(|v| key_of(v).is_some()) => {
            diff_keyed(out, path, x, y)
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                diff(out, &format!("{path}[{i}]"), u, v);
            }
        }
        _ => out.push(format!("{path}: {a} -> {b}")),
    }
}

/// Arrays whose items all carry a key: matched by it, not by position.
fn diff_keyed(out: &mut Vec<String>, path: &str, x: &[Value], y: &[Value]) {
    for u in x {
        let k = key_of(u).unwrap_or_default();
        let p = format!("{path}[{k}]");
        match y.iter().find(|v| key_of(v).as_deref() == Some(&k)) {
            Some(v) => diff(out, &p, u, v),
            None => out.push(format!("{p}: removed")),
        }
    }
    for v in y {
        let k = key_of(v).unwrap_or_default();
        if !x.iter().any(|u| key_of(u).as_deref() == Some(&k)) {
            out.push(format!("{path}[{k}]: added"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_matches_array_items_by_name_and_reports_paths() {
        let mut out = Vec::new();
        let a = json!({"mxnet": {"version": "1.9.1"}, "package": [{"name": "a", "v": 1}, {"name": "b", "v": 1}], "n": [1, 2]});
        let b = json!({"mxnet": {"version": "1.8.0"}, "package": [{"name": "b", "v": 2}, {"name": "c", "v": 1}], "n": [1, 3], "x": true});
        diff(&mut out, "", &a, &b);
        assert_eq!(
            out,
            [
                "mxnet.version: \"1.9.1\" -> \"1.8.0\"",
                "n[1]: 2 -> 3",
                "package[a]: removed",
                "package[b].v: 1 -> 2",
                "package[c]: added",
                "x: (absent) -> true",
            ]
        );
    }
}
