//! The lock against the config and compat-db: every target re-resolved
//! from exactly what the lock records.

use super::Finding;
use crate::config::Loaded;
use crate::db::Db;
use crate::job::{self, Request};
use crate::lock::{Lock, LockedTarget};
use crate::request::BeyondConfig;
use crate::validate::shell_word;

/// Each cause on its own: compat-db, the config (None for another lock than
/// the config's: it is not compared with the config), each target.
pub(super) fn drift(
    db: &Db,
    db_hash: &str,
    loaded: &Loaded,
    lock: &Lock,
    shown: &str,
    beyond: Option<&BeyondConfig>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if lock.db != db_hash {
        out.push(Finding::CompatDbChanged {
            lock: shown.to_string(),
            locked: lock.db.clone(),
            carried: db_hash.to_string(),
        });
    }
    if let Some(beyond) = beyond {
        out.extend(config_changes(loaded, lock, beyond, shown));
    }
    for locked in &lock.target {
        if locked.spec == "local" {
            out.extend(local_drift(db, locked));
        } else {
            out.extend(target_drift(db, db_hash, loaded, locked));
        }
    }
    out
}

/// The lock against the config, the request: targets and facts given by
/// flags or variables, a target list that differs, constraints that moved.
fn config_changes(
    loaded: &Loaded,
    lock: &Lock,
    beyond: &BeyondConfig,
    shown: &str,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for t in &lock.target {
        let typed: Vec<String> = beyond
            .flags
            .iter()
            .filter(|f| f.target == t.spec)
            .map(|f| f.as_typed())
            .collect();
        if !typed.is_empty() {
            out.push(Finding::NotInConfig {
                lock: shown.to_string(),
                target: t.spec.clone(),
                typed,
            });
        }
    }
    if let Some((have, want)) = &beyond.targets {
        out.push(Finding::TargetsChanged {
            lock: shown.to_string(),
            locked: have.clone(),
            configured: want.clone(),
        });
    }
    for t in &lock.target {
        let (now, _) = recorded_constraints(loaded, t);
        let now = crate::config::constraint_map(&now);
        if now != t.constraints {
            out.push(Finding::ConstraintsChanged {
                target: t.spec.clone(),
                locked: t.constraints.clone(),
                configured: now,
            });
        }
    }
    out
}

/// The constraints a re-resolve of `t` uses: the config's, with the ones
/// the lock records from flags, and those flags' sources.
fn recorded_constraints(
    loaded: &Loaded,
    t: &LockedTarget,
) -> (
    crate::config::ConfigConstraints,
    std::collections::BTreeMap<String, String>,
) {
    let mut c = loaded.config.constraints.clone();
    let mut sources = std::collections::BTreeMap::new();
    if let Some(o) = t.r#override.iter().find(|o| o.name == "mxnet") {
        c.mxnet = Some(o.value.clone());
        sources.insert("mxnet".to_string(), o.source.clone());
    }
    if let Some(o) = t.r#override.iter().find(|o| o.name == "companions") {
        c.companions = crate::config::split_companions(&o.value);
        sources.insert("companions".to_string(), o.source.clone());
    }
    (c, sources)
}

/// Re-resolve one locked target with exactly what the lock records (spec,
/// overrides with their sources, constraints) and diff the result.
fn target_drift(db: &Db, db_hash: &str, loaded: &Loaded, locked: &LockedTarget) -> Vec<Finding> {
    let target = locked.spec.clone();
    let facts = locked
        .r#override
        .iter()
        .filter(|o| o.name != "mxnet" && o.name != "companions")
        .map(|o| (o.name.as_str(), o.value.as_str(), o.source.as_str()));
    let overrides = match crate::target::Overrides::from_entries(facts) {
        Ok(o) => o,
        Err(e) => {
            return vec![Finding::NoLongerResolves {
                target,
                error: e.to_string(),
            }]
        }
    };
    let (constraints, constraint_sources) = recorded_constraints(loaded, locked);
    let req = Request {
        targets: vec![target.clone()],
        overrides,
        constraints,
        constraint_sources,
        lock_only: true,
        ..Default::default()
    };
    let now = match job::run(db, db_hash, &req) {
        Err(e) => {
            return vec![Finding::NoLongerResolves {
                target,
                error: e.to_string(),
            }]
        }
        Ok(o) => o.lock.and_then(|l| l.target.into_iter().next()),
    };
    match now {
        None => vec![Finding::Unsatisfiable { target }],
        Some(now) if now != *locked => vec![Finding::ResolvesDifferently {
            target,
            changes: super::diff_targets(locked, &now),
        }],
        Some(_) => vec![],
    }
}

/// The resolve command that remakes `lock` from what it records: the
/// config's targets need no flags; targets and facts given by flags or
/// `GPU_ENV_OVERRIDE_*` variables are repeated. `other_lock`: the lock as
/// shown when it is not the config's (its targets and `--lock` repeated).
pub fn reproduce(lock: &Lock, loaded: &Loaded, other_lock: Option<&str>) -> String {
    let mut env = Vec::new();
    let mut flags = Vec::new();
    let configured: Vec<String> = loaded
        .config
        .target_requests()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    let specs: Vec<String> = lock.target.iter().map(|t| t.spec.clone()).collect();
    if specs != configured || other_lock.is_some() {
        for s in &specs {
            flags.push(format!("--target {}", shell_word(s)));
        }
    }
    // Each flag or variable once, variables before the command.
    let mut seen = std::collections::BTreeSet::new();
    let given = lock.target.iter().flat_map(|t| {
        let flags = t.r#override.iter();
        flags.filter_map(|o| crate::request::Flag::of(&t.spec, o))
    });
    for f in given {
        if !seen.insert((f.given_by.clone(), f.value.clone())) {
            continue;
        }
        match f.given_by.starts_with("GPU_ENV_") {
            true => env.push(f.as_typed()),
            false => flags.push(f.as_typed()),
        }
    }
    if let Some(l) = other_lock {
        flags.push(format!("--lock {}", shell_word(l)));
    }
    let mut words = env;
    words.push("cargo xtask resolve".into());
    words.extend(flags);
    words.join(" ")
}

/// `local` targets are probed, not re-resolved here: every pinned file must
/// still be in compat-db with the same sha256.
fn local_drift(db: &Db, t: &LockedTarget) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in &t.package {
        let known = known_hashes(db, &p.name, &p.version);
        if known.is_empty() {
            out.push(Finding::NotInDb {
                package: p.name.clone(),
                version: p.version.clone(),
            });
        } else if !known.contains(&p.sha256.as_str()) {
            out.push(Finding::HashChanged {
                package: p.name.clone(),
                version: p.version.clone(),
                filename: p.filename.clone(),
                sha256: p.sha256.clone(),
            });
        }
    }
    out
}

/// Every sha256 compat-db records for a package release, of any kind.
fn known_hashes<'d>(db: &'d Db, package: &str, version: &str) -> Vec<&'d str> {
    use crate::pep440::normalize_name as norm;
    let name = norm(package);
    let mut known: Vec<&str> = Vec::new();
    for (rel, w) in db.wheel_files() {
        if norm(&rel.package) == name && rel.version == version {
            known.push(&w.sha256);
        }
    }
    for (_, r) in &db.redist {
        if norm(&r.package) == name {
            let rels = r.release.iter().filter(|x| x.version == version);
            known.extend(rels.map(|rel| rel.sha256.as_str()));
        }
    }
    for (_, r) in db.pypi.iter().chain(&db.companion_pypi) {
        if norm(&r.package) == name {
            for rel in r.release.iter().filter(|x| x.version == version) {
                known.extend(rel.file.iter().map(|f| f.sha256.as_str()));
            }
        }
    }
    for (_, c) in &db.companions {
        if norm(&c.package) == name {
            for rel in c.release.iter().filter(|x| x.version == version) {
                known.extend(rel.file.iter().map(|f| f.sha256.as_str()));
            }
        }
    }
    known
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::target::{Overrides, Sourced};
    use std::path::PathBuf;

    fn loaded(targets: &[&str]) -> Loaded {
        Loaded {
            config: Config {
                targets: targets.iter().map(|t| t.to_string()).collect(),
                ..Default::default()
            },
            root: PathBuf::from("/repo"),
            manifest: None,
        }
    }

    /// A real lock of `colab` from the embedded compat-db.
    fn lock_of(overrides: Overrides) -> (Db, String, Lock) {
        let (db, hash) = Db::open_with_hash(None).unwrap();
        let req = Request {
            targets: vec!["colab".into()],
            overrides,
            ..Default::default()
        };
        let lock = job::run(&db, &hash, &req).unwrap().lock.unwrap();
        (db, hash, lock)
    }

    fn lines(findings: &[Finding]) -> Vec<String> {
        findings.iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn current_lock_has_no_drift_and_an_edited_one_shows_fields() {
        let (db, hash, lock) = lock_of(Overrides::default());
        let l = loaded(&["colab"]);
        let none = BeyondConfig::default();
        assert_eq!(
            drift(&db, &hash, &l, &lock, "gpu-env.lock", Some(&none)),
            []
        );
        let mut edited = lock.clone();
        edited.target[0].mxnet.version = "1.8.0".into();
        let found = drift(&db, &hash, &l, &edited, "gpu-env.lock", Some(&none));
        assert_eq!(
            found,
            [Finding::ResolvesDifferently {
                target: "colab".into(),
                changes: vec!["mxnet.version: \"1.8.0\" -> \"1.9.1\"".into()],
            }]
        );
        assert_eq!(
            lines(&found),
            ["drift: target `colab` resolves differently now (1 change(s), lock -> now):\n  mxnet.version: \"1.8.0\" -> \"1.9.1\""]
        );
        let mut old_db = lock.clone();
        old_db.db = "0123456789abcdef0123".into();
        let found = lines(&drift(&db, &hash, &l, &old_db, "gpu-env.lock", Some(&none)));
        assert!(found[0].starts_with("compat-db changed: gpu-env.lock was resolved against compat-db 0123456789abcdef and"), "{found:?}");
    }

    #[test]
    fn config_changes_name_both_target_lists() {
        let (_, _, lock) = lock_of(Overrides::default());
        let changes = |l: &Loaded| {
            let beyond = crate::request::beyond_config(&l.config, &lock);
            lines(&config_changes(l, &lock, &beyond, "l"))
        };
        assert!(changes(&loaded(&["colab"])).is_empty());
        assert_eq!(
            changes(&loaded(&["colab", "kaggle"])),
            ["config changed: l locks targets [colab] but the config asks for [colab, kaggle]"]
        );
    }

    #[test]
    fn reproduce_repeats_flags_and_variables_only() {
        let (_, _, lock) = lock_of(Overrides::default());
        assert_eq!(
            reproduce(&lock, &loaded(&["colab"]), None),
            "cargo xtask resolve"
        );
        assert_eq!(
            reproduce(&lock, &loaded(&[]), None),
            "cargo xtask resolve --target colab"
        );
        let (_, _, lock) = lock_of(Overrides {
            python: Some(Sourced::new(
                "3.12".to_string(),
                "override:GPU_ENV_OVERRIDE_PYTHON",
            )),
            driver: Some(Sourced::new("550.54.15".to_string(), "override:--driver")),
            ..Default::default()
        });
        assert_eq!(
            reproduce(&lock, &loaded(&["colab"]), None),
            "GPU_ENV_OVERRIDE_PYTHON=3.12 cargo xtask resolve --driver 550.54.15"
        );
        assert_eq!(shell_word("a b'c"), "'a b'\\''c'");
        assert_eq!(shell_word("colab:A100@2025.07"), "colab:A100@2025.07");
    }

    /// Stale docs alone: the way out is `cargo xtask matrix`, the lock and
    /// its files being current; with another finding, the resolve.
    #[test]
    fn docs_alone_ask_for_matrix() {
        let (_, _, lock) = lock_of(Overrides::default());
        let l = loaded(&["colab"]);
        let docs = Finding::Stale {
            path: "docs/matrix.png".into(),
            why: crate::freshness::Stale::Docs {
                why: "is missing".into(),
            },
        };
        assert_eq!(
            docs.to_string(),
            "stale: docs/matrix.png is missing; run `cargo xtask matrix`"
        );
        let report = |findings| crate::freshness::Report {
            findings,
            beyond: BeyondConfig::default(),
            compared: None,
            lock_hash: None,
        };
        assert_eq!(
            report(vec![docs.clone()]).way_out(&lock, &l, None),
            crate::freshness::WayOut::Resolve {
                command: "cargo xtask matrix".into(),
                effect: crate::freshness::Effect::DocsOnly,
            }
        );
        let missing = Finding::Stale {
            path: "requirements-gpu.txt".into(),
            why: crate::freshness::Stale::Missing,
        };
        assert!(matches!(
            report(vec![docs, missing]).way_out(&lock, &l, None),
            crate::freshness::WayOut::Resolve { command, .. } if command.starts_with("cargo xtask resolve")
        ));
    }
}
