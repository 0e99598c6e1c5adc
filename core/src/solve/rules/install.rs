//! What pip checks before anything runs: the user's constraints, the
//! platform tag (and its glibc), Requires-Python and the Python tag.

use super::Breaks;
use crate::db::model::{WheelFile, WheelRelease};
use crate::measure::LIBRARY;
use crate::pep440::{self, Version};
use crate::solve::{Constraints, Ctx, Rule};
use crate::tags::{platform_mismatch, symbols_mismatch, undeclared, Mismatch, WheelTags};
use crate::validate::parse_glibc;

/// Rule `constraint`: the MXNet version specifier and package list. The
/// wheel's version, None when it is not PEP 440 (then broken too).
pub(crate) fn constraint(rel: &WheelRelease, c: &Constraints, b: &mut Breaks) -> Option<Version> {
    let version = match pep440::version(&rel.version) {
        Ok(v) => v,
        Err(e) => {
            b.push(Rule::Constraint, e.to_string());
            return None;
        }
    };
    if let Some(spec) = c.mxnet.as_ref().filter(|s| !s.contains(&version)) {
        b.push(
            Rule::Constraint,
            format!("excluded by the constraint mxnet {spec}"),
        );
    }
    if let Some(p) = c.mxnet_package.as_ref().filter(|p| **p != rel.package) {
        b.push(
            Rule::Constraint,
            format!("excluded by the constraint mxnet: the package is {p}"),
        );
    }
    if let Some(pkgs) = &c.packages {
        if !pkgs
            .iter()
            .any(|p| pep440::normalize_name(p) == rel.package)
        {
            b.push(
                Rule::Constraint,
                format!("excluded by the constraint packages = {pkgs:?}"),
            );
        }
    }
    Some(version)
}

/// Rule `platform`: Linux x86_64, a manylinux level the target's glibc
/// meets (`tags::platform_mismatch`), and a glibc at least as new as the
/// library's measured `GLIBC_*` symbol versions need (`tags::symbols_mismatch`).
pub(crate) fn platform(cx: &Ctx, w: &WheelFile, b: &mut Breaks) {
    let glibc = cx.target.glibc.as_ref().and_then(|g| parse_glibc(&g.value));
    if let Some(m) = platform_mismatch(&wheel_tags(w), glibc) {
        b.push(Rule::Platform, m.to_string());
    } else if let Some(m) = symbols_mismatch(LIBRARY, w.glibc.as_deref(), glibc) {
        b.push(Rule::Platform, m.to_string());
    }
}

fn wheel_tags(w: &WheelFile) -> WheelTags {
    WheelTags::new(&w.python_tag, &w.abi_tag, &w.platform_tag)
}

/// Rule `python`: the target's Python installs the wheel's tags (pip's
/// rule, `tags::Ranks`), its Requires-Python admits it, and the project
/// supports it (compat-db/python.toml).
pub(crate) fn python(cx: &Ctx, rel: &WheelRelease, w: &WheelFile, b: &mut Breaks) {
    let (Some(py), Some(ranks)) = (&cx.python, &cx.tags) else {
        return b.push(
            Rule::Python,
            "the target's Python version is unknown (pass --python-version)",
        );
    };
    if let Err(m @ Mismatch::Python { .. }) = ranks.rank(&wheel_tags(w)) {
        b.push(Rule::Python, m.to_string());
    }
    if let Some(spec) = &w.requires_python {
        if !spec.contains(py) {
            b.push(
                Rule::Python,
                format!("requires Python {spec}; the target has {py}"),
            );
        }
    }
    if let Ok(release) = pep440::version(&rel.version) {
        if let Some(d) = undeclared(&cx.db.python, "mxnet", &release, py) {
            b.push(
                Rule::Python,
                format!(
                    "MXNet {} supports Python {}, not {py}: {}",
                    rel.version, d.python, d.why
                ),
            );
        }
    }
}
