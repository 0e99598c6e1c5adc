//! What pip checks before anything runs: the user's constraints, the
//! platform tag (and its glibc), Requires-Python and the Python tag.

use super::Breaks;
use crate::db::model::{WheelFile, WheelRelease};
use crate::pep440::{self, Version};
use crate::solve::numpy::{glibc_tuple, manylinux_glibc};
use crate::solve::{Constraints, Ctx, Rule};

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

/// Rule `platform`: Linux x86_64, and a manylinux level the target's glibc meets.
pub(crate) fn platform(cx: &Ctx, w: &WheelFile, b: &mut Breaks) {
    match crate::wheelname::WheelName::parse(&w.filename) {
        Err(e) => return b.push(Rule::Platform, e.to_string()),
        Ok(name) if !name.is_linux_x86_64_or_any() => {
            return b.push(
                Rule::Platform,
                format!("platform {} is not Linux x86_64", w.platform_tag),
            )
        }
        Ok(_) => {}
    }
    let have = cx.target.glibc.as_ref().and_then(|g| glibc_tuple(&g.value));
    if let (Some(need), Some(have)) = (manylinux_glibc(&w.platform_tag), have) {
        if need > have {
            b.push(
                Rule::Platform,
                format!(
                    "{} needs glibc {}.{}; the target has {}.{}",
                    w.platform_tag, need.0, need.1, have.0, have.1
                ),
            );
        }
    }
}

/// Rule `python`: a known Python 3 the wheel's Requires-Python admits.
pub(crate) fn python(cx: &Ctx, w: &WheelFile, b: &mut Breaks) {
    if !w
        .python_tag
        .split('.')
        .any(|t| t == "py3" || t.starts_with("cp3"))
    {
        b.push(
            Rule::Python,
            format!("python tag {} is not for Python 3", w.python_tag),
        );
    }
    let Some(py) = &cx.python else {
        return b.push(
            Rule::Python,
            "the target's Python version is unknown (pass --python-version)",
        );
    };
    if let Some(spec) = &w.requires_python {
        if !spec.contains(py) {
            b.push(
                Rule::Python,
                format!("requires Python {spec}; the target has {py}"),
            );
        }
    }
}
