//! The MXNet constraint (`--mxnet`, the config's `constraints.mxnet`): a
//! bare PEP 440 specifier (`>=1.6,<1.8`) or a requirement as users write it
//! for pip (`mxnet-cu112==1.9.1`, `mxnet-cu121`, `mxnet>=1.6,<1.8`), read
//! with the PEP 508 parser. `mxnet` names MXNet in any flavour (the solver
//! picks the CPU or CUDA build); any other name is one distribution.
//!
//! A constraint no published wheel meets is explained here: a package
//! PyPI does not have, or a specifier no release of the package matches
//! (with the nearest releases and the PEP 440 reason).

use super::{Constraints, Resolution};
use crate::db::Db;
use crate::pep440::{self, Version, VersionSpecifiers};
use crate::pep508::Requirement;
use crate::target::Target;
use std::collections::BTreeSet;

/// The project name that stands for MXNet in any flavour.
const ANY_FLAVOUR: &str = "mxnet";

/// A parsed MXNet constraint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MxnetConstraint {
    /// The distribution the requirement names (`mxnet-cu112`); None for a
    /// bare specifier or `mxnet`.
    pub package: Option<String>,
    pub spec: Option<VersionSpecifiers>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConstraintError {
    #[error("`{input}`: {source}; write a PEP 440 specifier (`>=1.6,<1.8`) or a requirement as for pip (`mxnet-cu112==1.9.1`, `mxnet>=1.6`)")]
    Parse {
        input: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("`{input}` names `{name}`, which is not MXNet; name `mxnet` (any flavour) or one distribution such as `mxnet-cu112`")]
    NotMxnet { input: String, name: String },
    #[error(
        "`{input}`: environment markers (`; ...`) do not apply to a constraint; leave them out"
    )]
    Marker { input: String },
}

impl MxnetConstraint {
    pub fn parse(input: &str) -> Result<MxnetConstraint, ConstraintError> {
        let s = input.trim();
        let parse_err = |source: Box<dyn std::error::Error + Send + Sync>| ConstraintError::Parse {
            input: input.to_string(),
            source,
        };
        if s.starts_with(['<', '>', '=', '!', '~']) {
            let spec = pep440::specifiers(s).map_err(|e| parse_err(Box::new(e)))?;
            return Ok(MxnetConstraint {
                package: None,
                spec: Some(spec),
            });
        }
        let r = Requirement::parse(s).map_err(|e| parse_err(Box::new(e)))?;
        if r.marker.is_some() {
            return Err(ConstraintError::Marker {
                input: input.to_string(),
            });
        }
        if r.name != ANY_FLAVOUR && !r.name.starts_with("mxnet-") {
            return Err(ConstraintError::NotMxnet {
                input: input.to_string(),
                name: r.name,
            });
        }
        Ok(MxnetConstraint {
            package: Some(r.name).filter(|n| n != ANY_FLAVOUR),
            spec: r.spec,
        })
    }
}

/// Why no wheel met the MXNet constraint, when that is why the target is
/// unsatisfiable: a package PyPI does not have, or a specifier no release
/// of it matches. Empty when the constraint is met by some wheel.
pub(crate) fn explain(db: &Db, target: &Target, c: &Constraints) -> Vec<String> {
    let packages: BTreeSet<&str> = db.wheels.iter().map(|(_, r)| r.package.as_str()).collect();
    if let Some(p) = c.mxnet_package.as_deref() {
        if !packages.contains(p) {
            let list = packages.iter().copied().collect::<Vec<_>>().join(", ");
            return vec![format!(
                "{p}: no such package on PyPI; MXNet's Linux packages there are {list}; {}",
                fits(db, target, c)
            )];
        }
    }
    let Some(spec) = &c.mxnet else {
        return vec![];
    };
    let releases: Vec<(&str, Version)> = db
        .wheels
        .iter()
        .map(|(_, r)| r)
        .filter(|r| c.mxnet_package.as_deref().is_none_or(|p| p == r.package))
        .filter(|r| r.wheel.iter().any(|w| !w.placeholder))
        .filter_map(|r| Some((r.package.as_str(), pep440::version(&r.version).ok()?)))
        .collect();
    if releases.iter().any(|(_, v)| spec.contains(v)) {
        return vec![];
    }
    let of = c.mxnet_package.as_deref().unwrap_or("any MXNet package");
    let mut versions: Vec<&Version> = releases.iter().map(|(_, v)| v).collect();
    versions.sort();
    versions.dedup();
    let mut out = vec![format!(
        "mxnet {spec} matches no published release of {of}; nearest: {}",
        nearest(&versions, spec)
    )];
    out.extend(post_release_reason(&versions, spec));
    out.extend(other_flavours(db, c, spec));
    out.push(fits(db, target, c));
    out
}

/// The published releases just below and just above the specifier's
/// first version.
fn nearest(versions: &[&Version], spec: &VersionSpecifiers) -> String {
    let Some(want) = spec.iter().next().map(|s| s.version()) else {
        return "none".into();
    };
    let below = versions.iter().rev().find(|v| **v < want);
    let above = versions.iter().find(|v| **v >= want);
    let names: Vec<String> = below
        .into_iter()
        .chain(above)
        .map(|v| v.to_string())
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// `==X.Y.Z` where only `X.Y.Z.postN` is published: PEP 440's version
/// matching is strict equality, so a post-release does not match.
fn post_release_reason(versions: &[&Version], spec: &VersionSpecifiers) -> Option<String> {
    let s = spec.iter().next()?;
    if s.operator().to_string() != "==" || spec.iter().count() != 1 {
        return None;
    }
    let want = s.version();
    let post = versions
        .iter()
        .find(|v| v.post().is_some() && v.release() == want.release() && want.post().is_none())?;
    Some(format!(
        "PEP 440: `=={want}` is strict equality and does not match the post-release {post}; write `=={post}` (or `=={want}.*`)"
    ))
}

/// The releases matching the specifier in other flavours, when a package
/// was named.
fn other_flavours(db: &Db, c: &Constraints, spec: &VersionSpecifiers) -> Option<String> {
    let p = c.mxnet_package.as_deref()?;
    let others: BTreeSet<String> = db
        .wheels
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r.package != p && r.wheel.iter().any(|w| !w.placeholder))
        .filter(|r| pep440::version(&r.version).is_ok_and(|v| spec.contains(&v)))
        .map(|r| format!("{} {}", r.package, r.version))
        .collect();
    (!others.is_empty()).then(|| {
        format!(
            "{spec} is published for other flavours only: {}",
            others.into_iter().collect::<Vec<_>>().join(", ")
        )
    })
}

/// The flavour the target resolves to without the MXNet constraint.
fn fits(db: &Db, target: &Target, c: &Constraints) -> String {
    let free = Constraints {
        mxnet: None,
        mxnet_package: None,
        ..c.clone()
    };
    let r: Resolution = super::resolve(db, target, &free);
    match r.chosen {
        Some(ch) => format!(
            "the one that fits this target is {} {} (`--mxnet {}=={}`)",
            ch.package, ch.version, ch.package, ch.version
        ),
        None => "no MXNet package fits this target without other changes (the fixes below)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specifiers_and_requirements() {
        let c = MxnetConstraint::parse(">=1.6,<1.8").unwrap();
        assert_eq!(c.package, None);
        assert!(c.spec.is_some());
        let c = MxnetConstraint::parse("mxnet-cu112==1.9.1").unwrap();
        assert_eq!(c.package.as_deref(), Some("mxnet-cu112"));
        assert_eq!(c.spec.unwrap().to_string(), "==1.9.1");
        let c = MxnetConstraint::parse("mxnet_CU121").unwrap();
        assert_eq!(c.package.as_deref(), Some("mxnet-cu121"));
        assert_eq!(c.spec, None);
        let c = MxnetConstraint::parse("mxnet>=1.6,<1.8").unwrap();
        assert_eq!(c.package, None);
        assert!(c.spec.unwrap().contains(&pep440::version("1.7.0").unwrap()));
    }

    #[test]
    fn refuses_what_is_not_an_mxnet_constraint() {
        let e = MxnetConstraint::parse("torch==2.0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not MXNet"), "{e}");
        let e = MxnetConstraint::parse("> =1").unwrap_err().to_string();
        assert!(e.contains("PEP 440 specifier"), "{e}");
        let e = MxnetConstraint::parse("mxnet==1.9; python_version<'3'")
            .unwrap_err()
            .to_string();
        assert!(e.contains("markers"), "{e}");
    }

    #[test]
    fn post_release_is_not_matched_by_equality() {
        let spec = pep440::specifiers("==1.8.0").unwrap();
        let post = pep440::version("1.8.0.post0").unwrap();
        assert!(!spec.contains(&post));
        assert!(pep440::specifiers("==1.8.0.*").unwrap().contains(&post));
        let v = [&post];
        let why = post_release_reason(&v, &spec).unwrap();
        assert!(why.contains("`==1.8.0.post0`"), "{why}");
    }
}
