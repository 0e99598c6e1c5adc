//! Which interpreters a locked target takes, and the mismatch install and
//! doctor report before acting.

use super::{Lock, LockedTarget};
use std::path::Path;

/// An interpreter the chosen target does not take: both named, and the way
/// to an install that works (another target of the lock, or the config
/// lines that lock for this interpreter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonMismatch {
    /// What is wrong, in one sentence.
    pub what: String,
    /// What to do.
    pub fix: String,
}

impl std::fmt::Display for PythonMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.what, self.fix)
    }
}

impl Lock {
    /// Target `t` of this lock against interpreter `python` (CPython
    /// `version`): None when it takes it.
    pub fn python_mismatch(
        &self,
        t: &LockedTarget,
        declared: &[crate::db::model::PythonSupport],
        python: &Path,
        version: &str,
    ) -> Option<PythonMismatch> {
        let i = crate::tags::Interpreter::cpython(version, None);
        let accepted = t.accepted_pythons(declared);
        if i.is_some_and(|i| accepted.iter().any(|r| r.contains((i.major, i.minor)))) {
            return None;
        }
        let ranges: Vec<String> = accepted.iter().map(|r| r.to_string()).collect();
        let takes = match ranges.is_empty() {
            true => "no Python".to_string(),
            false => format!("Python {}", ranges.join(", ")),
        };
        let what = format!(
            "{} is Python {version}, and the lock's target `{}` ({}) takes {takes} (it was made for Python {}).",
            python.display(),
            t.spec,
            t.name,
            t.fact_value("python").unwrap_or("?"),
        );
        let others: Vec<String> = self
            .target
            .iter()
            .filter(|o| !std::ptr::eq(*o, t) && o.accepts_python(declared, version))
            .map(|o| format!("`--target {}`", o.spec))
            .collect();
        let minor: Vec<&str> = version.split('.').take(2).collect();
        let fix = match others.is_empty() {
            true => format!(
                "Lock for this interpreter: add to the config\n    [[{}.target]]\n    spec = \"local\"\n    python-version = \"{}\"\nthen run `cargo xtask resolve`",
                crate::config::WORKSPACE_TABLE,
                minor.join(".")
            ),
            false => format!("The lock's {} takes it: use that", others.join(", ")),
        };
        Some(PythonMismatch { what, fix })
    }
}

impl LockedTarget {
    /// The Python versions that install every pinned wheel (its tags, on
    /// the target's glibc) and that MXNet declares it supports: the one
    /// answer the cell, install and doctor check an interpreter against.
    pub fn accepted_pythons(
        &self,
        declared: &[crate::db::model::PythonSupport],
    ) -> Vec<crate::tags::PythonRange> {
        let wheels: Vec<crate::tags::WheelTags> = self
            .package
            .iter()
            .filter_map(|p| crate::wheelname::WheelName::parse(&p.filename).ok())
            .map(|n| n.tags())
            .collect();
        let glibc = self.fact_value("glibc");
        crate::tags::accepting_pythons(&wheels, glibc, declared, "mxnet", &self.mxnet.version)
    }

    /// The value of fact `name` (`python`, `glibc`), if recorded.
    pub fn fact_value(&self, name: &str) -> Option<&str> {
        self.fact
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }

    /// Whether CPython `version` (`3.12.3`) is one it accepts.
    pub fn accepts_python(
        &self,
        declared: &[crate::db::model::PythonSupport],
        version: &str,
    ) -> bool {
        let Some(i) = crate::tags::Interpreter::cpython(version, None) else {
            return false;
        };
        self.accepted_pythons(declared)
            .iter()
            .any(|r| r.contains((i.major, i.minor)))
    }
}
