//! Companions: packages people install beside MXNet to run someone else's
//! notebooks (d2l's MXNet edition), locked with the stack.
//!
//! A companion's own Requires-Dist pins versions that often cannot install
//! on the target (d2l 1.0.3: `numpy==1.23.5`, which has no wheel for
//! CPython >= 3.12) or break beside what is there (matplotlib 3.7.2 with
//! IPython 9). So the lock takes a *measured* set instead: compat-db
//! `companions/<name>.toml` records venvs in which the companion's module
//! imported and ran the book's code (scripts/companions/measure.py), each
//! with its Python, MXNet, numpy and every package installed for it. The
//! first recorded set that fits the target wins: same Python minor, the
//! stack's MXNet version and numpy, and every package of the set that the
//! target already has (its profile's pip-freeze, or what the stack pins) at
//! the set's version. Its other packages are pinned from compat-db
//! (`companions/pypi/`, a wheel for the target's Python); they install like
//! every locked file (hash-checked, no dependency resolution).
//!
//! Each Requires-Dist entry of the companion that the set does not meet is
//! an override, recorded with the reason: the stack's numpy (and whether the
//! pinned numpy has a wheel for the target's Python), the runtime's
//! preinstalled version, a measured failure of the pinned version, or a
//! package the companion's module does not import (dropped).

use super::numpy::pypi_tags;
use super::Pin;
use crate::db::model::{Companion, CompanionRelease, CompanionRun, PypiFile, PypiRelease};
use crate::db::Db;
use crate::pep440::{self, VersionSpecifiers};
use crate::pep508::{MarkerEnv, Requirement};
use crate::target::Target;
use serde::Serialize;
use std::collections::BTreeMap;

/// A companion as requested: `d2l==1.0.3`, `d2l`, `d2l>=1,<2`.
#[derive(Debug, Clone, PartialEq)]
pub struct CompanionSpec {
    pub text: String,
    /// PEP 503 normalized.
    pub name: String,
    pub spec: Option<VersionSpecifiers>,
}

/// Why a requested companion is not a spec; the text says which request.
#[derive(Debug, thiserror::Error)]
pub enum CompanionSpecError {
    #[error("companion `{0}`: markers are not supported")]
    Marker(String),
    #[error("companion {0}")]
    Requirement(#[from] crate::pep508::RequirementError),
}

impl CompanionSpec {
    /// A project name with an optional PEP 440 specifier; no extras, URLs
    /// or markers.
    pub fn parse(s: &str) -> Result<CompanionSpec, CompanionSpecError> {
        if s.contains(';') {
            return Err(CompanionSpecError::Marker(s.to_string()));
        }
        let r = Requirement::parse(s)?;
        Ok(CompanionSpec {
            text: s.trim().to_string(),
            name: r.name,
            spec: r.spec,
        })
    }
}

/// What the lock does with one Requires-Dist entry of a companion that the
/// locked set does not meet.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Override {
    /// The entry as published: `numpy (==1.23.5)`.
    pub requirement: String,
    /// `numpy 2.1.3 (stack)`, `matplotlib 3.10.0 (preinstalled)`,
    /// `pandas 2.3.3 (pinned)`, `dropped`.
    pub locked: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CompanionChoice {
    /// As requested.
    pub spec: String,
    pub package: String,
    pub version: String,
    pub module: String,
    /// The measured set the lock follows (its `measured` text).
    pub measured: String,
    /// Packages of the set the target already has at the set's version.
    pub preinstalled: BTreeMap<String, String>,
    /// Files to install: the companion (role `companion`), then the rest of
    /// the set by name (role `companion-dep`).
    pub pins: Vec<Pin>,
    pub overrides: Vec<Override>,
}

/// What the stack already fixes on the target: MXNet, numpy and every
/// locked package, by normalized name.
pub struct Stack<'a> {
    pub mxnet: &'a str,
    pub numpy: &'a str,
    pub pinned: BTreeMap<String, String>,
}

fn mm(v: &str) -> String {
    v.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// The wheel of `rel` pip installs on CPython `python` (glibc `glibc`).
pub fn wheel_for<'a>(
    rel: &'a PypiRelease,
    python: &str,
    glibc: Option<&str>,
) -> Option<&'a PypiFile> {
    let ranks = crate::tags::Interpreter::cpython(python, glibc)?.ranks();
    ranks.best(&rel.file, pypi_tags, |f| &f.filename)
}

fn pin(name: &str, version: &str, f: &PypiFile, role: &str) -> Pin {
    Pin {
        name: name.to_string(),
        version: version.to_string(),
        filename: f.filename.clone(),
        url: f.url.clone(),
        sha256: f.sha256.clone(),
        size: f.size,
        role: role.into(),
        install: "site".into(),
    }
}

/// Why `run` does not fit the target, or None when it does.
fn misfit(run: &CompanionRun, target: &Target, stack: &Stack, python: &str) -> Option<String> {
    if mm(&run.python) != mm(python) {
        return Some(format!("measured on Python {}", run.python));
    }
    if run.mxnet != stack.mxnet {
        return Some(format!("measured with mxnet {}", run.mxnet));
    }
    if run.numpy != stack.numpy {
        return Some(format!("measured with numpy {}", run.numpy));
    }
    for (p, v) in &run.packages {
        let have = target
            .preinstalled
            .value
            .get(p)
            .map(|h| (h, "installed"))
            .or_else(|| stack.pinned.get(p).map(|h| (h, "locked")));
        if let Some((h, how)) = have {
            if h != v {
                return Some(format!(
                    "measured with {p} {v}; the target has {p} {h} {how}"
                ));
            }
        }
    }
    None
}

/// Lock `spec` for `target` on top of `stack`: the companion's file, the
/// rest of the first fitting measured set, and the overrides.
pub fn choose(
    db: &Db,
    target: &Target,
    stack: &Stack,
    spec: &CompanionSpec,
) -> Result<CompanionChoice, String> {
    let python = target
        .python
        .as_ref()
        .map(|p| p.value.clone())
        .ok_or("the target's Python version is unknown")?;
    let Some((file, comp)) = db
        .companions
        .iter()
        .find(|(_, c)| pep440::normalize_name(&c.package) == spec.name)
    else {
        let known: Vec<&str> = db
            .companions
            .iter()
            .map(|(_, c)| c.package.as_str())
            .collect();
        return Err(format!(
            "compat-db has no measurements of {} (compat-db/companions/{}.toml); measured companions: {}",
            spec.name,
            spec.name,
            known.join(", ")
        ));
    };
    let mut releases: Vec<(pep440::Version, &CompanionRelease)> = comp
        .release
        .iter()
        .filter_map(|r| Some((pep440::version(&r.version).ok()?, r)))
        .filter(|(v, _)| spec.spec.as_ref().is_none_or(|s| s.contains(v)))
        .collect();
    releases.sort_by(|a, b| b.0.cmp(&a.0));
    if releases.is_empty() {
        let mut measured: Vec<(pep440::Version, &str)> = comp
            .release
            .iter()
            .filter(|r| r.run.iter().any(|run| run.ok))
            .filter_map(|r| Some((pep440::version(&r.version).ok()?, r.version.as_str())))
            .collect();
        measured.sort_by(|a, b| b.0.cmp(&a.0));
        let listed: Vec<&str> = measured.iter().map(|(_, v)| *v).collect();
        let fix = match listed.first() {
            Some(newest) => format!(
                "; measured: {}; use one (`--with {}=={newest}`)",
                listed.join(", "),
                comp.package
            ),
            None => "; none is measured to run".to_string(),
        };
        return Err(format!(
            "no release of {} in {file} meets `{}`{fix}",
            comp.package, spec.text
        ));
    }
    let mut why = Vec::new();
    for (_, rel) in &releases {
        for run in rel.run.iter().filter(|r| r.ok) {
            match misfit(run, target, stack, &python) {
                Some(w) => why.push(format!("{} {}: {w}", comp.package, rel.version)),
                None => return lock_set(db, target, stack, comp, rel, run, spec, &python),
            }
        }
        if !rel.run.iter().any(|r| r.ok) {
            why.push(format!(
                "{} {}: no passing measurement",
                comp.package, rel.version
            ));
        }
    }
    Err(format!(
        "no measured set of {} fits {} (Python {python}, mxnet {}, numpy {}): {}; measure one with scripts/companions/measure.py (docs/companions.md, \"Measuring another companion or target\")",
        spec.text,
        target.name,
        stack.mxnet,
        stack.numpy,
        why.join("; ")
    ))
}

#[allow(clippy::too_many_arguments)]
fn lock_set(
    db: &Db,
    target: &Target,
    stack: &Stack,
    comp: &Companion,
    rel: &CompanionRelease,
    run: &CompanionRun,
    spec: &CompanionSpec,
    python: &str,
) -> Result<CompanionChoice, String> {
    let glibc = target.glibc.as_ref().map(|g| g.value.as_str());
    let name = pep440::normalize_name(&comp.package);
    let own = wheel_for_companion(rel, python, glibc).ok_or_else(|| {
        format!(
            "{} {} has no wheel for CPython {python} in compat-db",
            comp.package, rel.version
        )
    })?;
    let mut pins = vec![pin(&name, &rel.version, own, "companion")];
    let mut preinstalled = BTreeMap::new();
    for (p, v) in run.packages.iter().filter(|(p, _)| **p != name) {
        if target.preinstalled.value.get(p) == Some(v) {
            preinstalled.insert(p.clone(), v.clone());
            continue;
        }
        if stack.pinned.contains_key(p) {
            continue;
        }
        let rec = db
            .companion_pypi
            .iter()
            .flat_map(|(_, r)| r.release.iter().map(move |x| (r, x)))
            .find(|(r, x)| pep440::normalize_name(&r.package) == *p && x.version == *v);
        let f = rec
            .and_then(|(_, x)| wheel_for(x, python, glibc))
            .ok_or_else(|| {
                format!(
                    "the measured set of {} {} has {p} {v}, and compat-db/companions/pypi has no wheel of it for CPython {python}",
                    comp.package, rel.version
                )
            })?;
        pins.push(pin(p, v, f, "companion-dep"));
    }
    let overrides = overrides(db, target, stack, comp, rel, run, python);
    Ok(CompanionChoice {
        spec: spec.text.clone(),
        package: name,
        version: rel.version.clone(),
        module: comp.module.clone(),
        measured: run.measured.clone(),
        preinstalled,
        pins,
        overrides,
    })
}

fn wheel_for_companion<'a>(
    rel: &'a CompanionRelease,
    python: &str,
    glibc: Option<&str>,
) -> Option<&'a PypiFile> {
    let as_pypi = PypiRelease {
        version: rel.version.clone(),
        requires_python: rel.requires_python.clone(),
        requires_dist: vec![],
        file: rel.file.clone(),
    };
    let f = wheel_for(&as_pypi, python, glibc)?;
    rel.file.iter().find(|x| x.filename == f.filename)
}

/// Each Requires-Dist entry of the companion the locked set does not meet,
/// with what the lock has instead and why.
fn overrides(
    db: &Db,
    target: &Target,
    stack: &Stack,
    comp: &Companion,
    rel: &CompanionRelease,
    run: &CompanionRun,
    python: &str,
) -> Vec<Override> {
    let Some(env) = MarkerEnv::new(python) else {
        return vec![];
    };
    let mut out = Vec::new();
    for dep in &rel.requires_dist {
        let r = dep.requirement();
        if !r.applies(&env) {
            continue;
        }
        let (have, how) = if r.name == "numpy" {
            (Some(stack.numpy.to_string()), "stack")
        } else if let Some(v) = run.packages.get(&r.name) {
            let how = if target.preinstalled.value.get(&r.name) == Some(v) {
                "preinstalled"
            } else {
                "pinned"
            };
            (Some(v.clone()), how)
        } else if let Some(v) = stack.pinned.get(&r.name) {
            (Some(v.clone()), "stack")
        } else if let Some(v) = target.preinstalled.value.get(&r.name) {
            (Some(v.clone()), "preinstalled")
        } else {
            (None, "dropped")
        };
        let Some(have) = have else {
            out.push(Override {
                requirement: dep.to_string(),
                locked: "dropped".into(),
                reason: format!(
                    "{} does not import {} (its imports: {}), and the measured set ran without it",
                    comp.module,
                    r.name,
                    rel.imports.join(", ")
                ),
            });
            continue;
        };
        let meets =
            pep440::version(&have).is_ok_and(|v| r.spec.as_ref().is_none_or(|s| s.contains(&v)));
        if meets {
            continue;
        }
        out.push(Override {
            requirement: dep.to_string(),
            locked: format!("{} {have} ({how})", r.name),
            reason: pin_reason(db, target, comp, rel, r, &have, how, python),
        });
    }
    out
}

/// Why the companion's own version of `r` is not what the lock has.
#[allow(clippy::too_many_arguments)]
fn pin_reason(
    db: &Db,
    target: &Target,
    comp: &Companion,
    rel: &CompanionRelease,
    r: &Requirement,
    have: &str,
    how: &str,
    python: &str,
) -> String {
    let mut why = Vec::new();
    let pinned = r.spec.as_ref().map(|s| s.to_string()).unwrap_or_default();
    let exact = pinned.strip_prefix("==").map(str::to_string);
    if let Some(want) = &exact {
        let records = db.pypi.iter().chain(db.companion_pypi.iter());
        let rec = records
            .flat_map(|(_, p)| p.release.iter().map(move |x| (p, x)))
            .find(|(p, x)| pep440::normalize_name(&p.package) == r.name && x.version == *want);
        let glibc = target.glibc.as_ref().map(|g| g.value.as_str());
        match rec {
            Some((_, x)) if wheel_for(x, python, glibc).is_none() => why.push(format!(
                "{} {want} has no wheel for CPython {}",
                r.name,
                mm(python)
            )),
            _ => {}
        }
        let has = |run: &&CompanionRun| {
            run.packages.get(&r.name) == Some(want) || run.stack.get(&r.name) == Some(want)
        };
        // A failure is the pin's only when no passing set had that version.
        match (
            rel.run.iter().filter(|x| x.ok).find(has),
            rel.run.iter().filter(|x| !x.ok).find(has),
        ) {
            (Some(ok), _) => why.push(format!(
                "{} {want} also ran the book's code (measured set on CPython {}), but that set does not fit this target",
                r.name, ok.python
            )),
            (None, Some(f)) => why.push(format!(
                "measured: {} {} with {} {want} fails on CPython {}: {}",
                comp.package,
                rel.version,
                r.name,
                f.python,
                f.error.as_deref().unwrap_or("(no error recorded)")
            )),
            (None, None) => {}
        }
    }
    let source = match how {
        "stack" if r.name == "numpy" => format!(
            "the stack locks numpy {have} for mxnet on CPython {}",
            mm(python)
        ),
        "stack" => format!("the stack locks {} {have}", r.name),
        "preinstalled" => format!("{} {have} is preinstalled on {}", r.name, target.name),
        _ => format!("the measured set has {} {have}", r.name),
    };
    why.push(format!(
        "{source}; {} {} ran the book's code with it (compat-db/companions/{}.toml)",
        comp.package,
        rel.version,
        pep440::normalize_name(&comp.package)
    ));
    why.join("; ")
}

/// Lock each companion on top of the chosen stack `c` (its files join
/// `c.packages`); the first that cannot be locked is the error.
pub(crate) fn add(
    db: &Db,
    target: &Target,
    c: &mut super::Choice,
    specs: &[CompanionSpec],
) -> Result<(), String> {
    for spec in specs {
        let stack = Stack {
            mxnet: &c.version,
            numpy: &c.numpy.version,
            pinned: c
                .packages
                .iter()
                .map(|p| (pep440::normalize_name(&p.name), p.version.clone()))
                .collect(),
        };
        let got = choose(db, target, &stack, spec)
            .map_err(|e| format!("companion {}: {e}", spec.text))?;
        c.packages.extend(got.pins.iter().cloned());
        c.companions.push(got);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let s = CompanionSpec::parse("d2l==1.0.3").unwrap();
        assert_eq!(s.name, "d2l");
        assert!(s.spec.unwrap().contains(&pep440::version("1.0.3").unwrap()));
        assert!(CompanionSpec::parse("D2L").unwrap().spec.is_none());
        assert!(CompanionSpec::parse("d2l; python_version < '3.12'").is_err());
        assert!(CompanionSpec::parse("d2l[extra]").is_err());
        assert!(CompanionSpec::parse("==1").is_err());
    }
}
