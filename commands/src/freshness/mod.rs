//! Is a lock current? The typed comparison of a lock with what it answers:
//! the config's request ([`crate::request`]), compat-db, and the files
//! rendered from it. `check` renders the [`Finding`]s and picks the way out
//! ([`Report::way_out`]); nothing here prints.

mod diff;
mod drift;
mod stale;

pub use diff::diff_targets;
pub use drift::reproduce;

use crate::config::Loaded;
use crate::db::Db;
use crate::lock::Lock;
use crate::request::BeyondConfig;
use std::collections::BTreeMap;
use std::path::Path;

/// One way a lock or its outputs differ from what gpu-env would write now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The lock was resolved against another compat-db than this gpu-env's.
    CompatDbChanged {
        lock: String,
        locked: String,
        carried: String,
    },
    /// A target was locked with flags or variables the config lacks.
    NotInConfig {
        lock: String,
        target: String,
        typed: Vec<String>,
    },
    /// The locked targets are not the configured ones.
    TargetsChanged {
        lock: String,
        locked: Vec<String>,
        configured: Vec<String>,
    },
    /// A target's constraints are not the config's.
    ConstraintsChanged {
        target: String,
        locked: BTreeMap<String, String>,
        configured: BTreeMap<String, String>,
    },
    /// Re-resolving the target fails.
    NoLongerResolves { target: String, error: String },
    /// Re-resolving the target finds no stack.
    Unsatisfiable { target: String },
    /// Re-resolving the target gives another stack (`path: lock -> now`).
    ResolvesDifferently {
        target: String,
        changes: Vec<String>,
    },
    /// A `local` target pins a file compat-db no longer has.
    NotInDb { package: String, version: String },
    /// A `local` target pins a file whose sha256 compat-db does not record.
    HashChanged {
        package: String,
        version: String,
        filename: String,
        sha256: String,
    },
    /// A generated file is not as the lock renders it.
    Stale { path: String, why: Stale },
    /// The Colab cell cannot be rendered from the lock.
    CellInvalid { error: String },
}

/// Why a generated file is stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// The lock itself re-renders to other bytes.
    HandEdited,
    /// Rendered from another lock (the current lock's hash).
    OtherLock {
        lock_hash: String,
    },
    Missing,
    Unreadable {
        error: String,
    },
    /// A file `cargo xtask matrix` writes (the compatibility page, its
    /// screenshot, a setup cell) is not current: why, from its stamp.
    Docs {
        why: String,
    },
}

/// What kind of change a finding asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    CompatDb,
    NotInConfig,
    ConfigChanged,
    Drift,
    Stale,
    /// The docs `cargo xtask matrix` writes.
    Docs,
}

impl Finding {
    pub fn class(&self) -> Class {
        match self {
            Finding::CompatDbChanged { .. } => Class::CompatDb,
            Finding::NotInConfig { .. } => Class::NotInConfig,
            Finding::TargetsChanged { .. } | Finding::ConstraintsChanged { .. } => {
                Class::ConfigChanged
            }
            Finding::Stale {
                why: Stale::Docs { .. },
                ..
            } => Class::Docs,
            Finding::Stale { .. } | Finding::CellInvalid { .. } => Class::Stale,
            _ => Class::Drift,
        }
    }
}

/// Everything that differs, and what the lock asked beyond the config.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Empty for another lock than the config's (it is not compared with
    /// the config).
    pub beyond: BeyondConfig,
    /// Every file compared, with the [`crate::check_record::state_of`] of
    /// what was read: what a passed check records. None when the verdict
    /// depends on more than these files (a repo that keeps gpu-env's docs).
    pub compared: Option<Vec<(std::path::PathBuf, String)>>,
    /// The sha256 of the lock as rendered ([`Lock::hash`]); None when it
    /// cannot be rendered.
    pub lock_hash: Option<String>,
}

/// The one way out of a report with findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WayOut {
    /// Record the flags in the config, or resolve without them.
    RecordOrDrop,
    /// Run this resolve (it repeats what the lock records) and commit.
    Resolve { command: String, effect: Effect },
}

/// What running the way out's resolve changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// It locks what the config now says.
    ConfigChanged,
    /// It changes the stack as the drift findings show.
    StackChanges,
    /// The resolution stays; the lock's recorded hashes are rewritten.
    HashesOnly,
    /// The resolution stays; hashes and generated files are rewritten.
    HashesAndFiles,
    /// The lock and its files are current; the docs are rewritten.
    DocsOnly,
}

impl Report {
    pub fn is_current(&self) -> bool {
        self.findings.is_empty()
    }

    fn any(&self, class: Class) -> bool {
        self.findings.iter().any(|f| f.class() == class)
    }

    /// The way out that fits: `other_lock` is the lock as shown when it is
    /// not the config's.
    pub fn way_out(&self, lock: &Lock, loaded: &Loaded, other_lock: Option<&str>) -> WayOut {
        if !self.beyond.is_empty() {
            return WayOut::RecordOrDrop;
        }
        if self.findings.iter().all(|f| f.class() == Class::Docs) {
            return WayOut::Resolve {
                command: "cargo xtask matrix".into(),
                effect: Effect::DocsOnly,
            };
        }
        let config_changed = self.any(Class::ConfigChanged);
        let command = match config_changed {
            true => "cargo xtask resolve".to_string(),
            false => reproduce(lock, loaded, other_lock),
        };
        let effect = if config_changed {
            Effect::ConfigChanged
        } else if self.any(Class::Drift) {
            Effect::StackChanges
        } else if other_lock.is_some() {
            Effect::HashesOnly
        } else {
            Effect::HashesAndFiles
        };
        WayOut::Resolve { command, effect }
    }
}

/// Compare `lock` (at `lock_path`) with the config, compat-db and its
/// generated files. `other`: the lock is not the config's; it records its
/// own request and is re-resolved from that alone.
pub fn compare(
    db: &Db,
    db_hash: &str,
    loaded: &Loaded,
    lock_path: &Path,
    lock: &Lock,
    other: bool,
) -> Report {
    let shown = shown(lock_path, &loaded.root);
    let beyond = match other {
        true => BeyondConfig::default(),
        false => crate::request::beyond_config(&loaded.config, lock),
    };
    let mut findings = drift::drift(
        db,
        db_hash,
        loaded,
        lock,
        &shown,
        (!other).then_some(&beyond),
    );
    let mut compared = Some(Vec::new());
    let mut lock_hash = None;
    findings.extend(stale::stale(
        db,
        db_hash,
        loaded,
        (lock_path, lock),
        &mut compared,
        &mut lock_hash,
    ));
    Report {
        findings,
        beyond,
        compared,
        lock_hash,
    }
}

/// `p` as shown to the user: relative to the repo root.
pub fn shown(p: &Path, root: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

fn short(h: &str) -> &str {
    h.get(..16).unwrap_or(h)
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::CompatDbChanged { lock, locked, carried } => write!(
                f,
                "compat-db changed: {lock} was resolved against compat-db {} and this gpu-env carries {}",
                short(locked),
                short(carried)
            ),
            Finding::NotInConfig { lock, target, typed } => write!(
                f,
                "not in config: {lock}: target `{target}` was locked with `{}`, which the config does not give",
                typed.join(" ")
            ),
            Finding::TargetsChanged { lock, locked, configured } => write!(
                f,
                "config changed: {lock} locks targets [{}] but the config asks for [{}]",
                locked.join(", "),
                configured.join(", ")
            ),
            Finding::ConstraintsChanged { target, locked, configured } => write!(
                f,
                "config changed: target `{target}` was locked with constraints {locked:?}; the config now gives {configured:?}"
            ),
            Finding::NoLongerResolves { target, error } => {
                write!(f, "drift: target `{target}` no longer resolves: {error}")
            }
            Finding::Unsatisfiable { target } => write!(
                f,
                "drift: target `{target}` is unsatisfiable with the current config and compat-db"
            ),
            Finding::ResolvesDifferently { target, changes } => {
                write!(
                    f,
                    "drift: target `{target}` resolves differently now ({} change(s), lock -> now):",
                    changes.len()
                )?;
                changes.iter().try_for_each(|c| write!(f, "\n  {c}"))
            }
            Finding::NotInDb { package, version } => write!(
                f,
                "drift: target `local`: {package} {version} is no longer in compat-db"
            ),
            Finding::HashChanged { package, version, filename, sha256 } => write!(
                f,
                "drift: target `local`: {package} {version} ({filename}): sha256 {sha256} is not the one compat-db records"
            ),
            Finding::Stale { path, why } => match why {
                Stale::HandEdited => write!(
                    f,
                    "stale: {path} is not as `cargo xtask resolve` writes it (edited by hand?)"
                ),
                Stale::OtherLock { lock_hash } => write!(
                    f,
                    "stale: {path} does not match the lock (sha256 {})",
                    short(lock_hash)
                ),
                Stale::Missing => write!(f, "stale: {path} is missing"),
                Stale::Unreadable { error } => write!(
                    f,
                    "stale: {path} cannot be read ({error}); move it away and run `cargo xtask resolve`"
                ),
                Stale::Docs { why } => {
                    write!(f, "stale: {path} {why}; run `cargo xtask matrix`")
                }
            },
            Finding::CellInvalid { error } => {
                write!(f, "invalid: the Colab cell cannot be generated: {error}")
            }
        }
    }
}

impl std::fmt::Display for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Effect::ConfigChanged => {
                "it locks what the config now says, as the `config changed` lines above show"
            }
            Effect::StackChanges => "it changes the stack as the drift lines above show",
            Effect::HashesOnly => {
                "the resolution stays the same: it rewrites the lock's recorded hashes"
            }
            Effect::HashesAndFiles => {
                "the resolution stays the same: it rewrites the lock's recorded hashes and the generated files"
            }
            Effect::DocsOnly => {
                "the lock and its files are current: it rewrites the compatibility page, its screenshot and setup cells"
            }
        })
    }
}
