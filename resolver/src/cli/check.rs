//! `cargo xtask check`: the pre-commit check. Offline, no GPU, writes
//! nothing. Exit 0 when compat-db is valid, the lock parses, is current
//! with the repo's config and compat-db, and every generated file matches
//! the lock; 1 on drift or a stale file (with what changed); 2 when an
//! input cannot be read (corrupted lock, unreadable compat-db or config).

use crate::config::Loaded;
use crate::exit;
use crate::job::{self, Request};
use crate::lock::{Lock, LockError, LockedTarget};
use crate::validate::shell_word;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct Args {
    #[arg(long, value_name = "PATH", help = super::HELP_LOCK)]
    pub lock: Option<PathBuf>,
    #[arg(long, value_name = "PATH", help = super::HELP_MANIFEST_PATH)]
    pub manifest_path: Option<PathBuf>,
}

const FIX: &str = "run `cargo xtask resolve` and commit the result";

fn rel(p: &Path, root: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

pub fn run(args: &Args, db_dir: Option<&Path>) -> ExitCode {
    // compat-db: readable (2) and valid (1). The embedded copy is the text
    // CI validates with `db check`; `--db DIR` is validated in full here.
    let (db, db_hash) = match crate::db::Db::open_with_hash(db_dir) {
        Ok(x) => x,
        Err(crate::db::DbError::Invalid(diags)) => {
            for d in &diags {
                errln!("{d}");
            }
            errln!("check: compat-db: {} error(s)", diags.len());
            return ExitCode::from(exit::NO);
        }
        Err(e) => {
            errln!("error: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let loaded = match crate::config::load(args.manifest_path.as_deref(), &cwd) {
        Ok(l) => l,
        Err(e) => {
            errln!("error: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    let lock_path = args
        .lock
        .clone()
        .map(|p| cwd.join(p))
        .unwrap_or_else(|| loaded.path(&loaded.config.output.lock));
    let shown = rel(&lock_path, &loaded.root);
    if !lock_path.exists() {
        if loaded.config.targets.is_empty() {
            outln!("check: compat-db OK; no lock ({shown}) and no targets configured: nothing else to check");
            return ExitCode::SUCCESS;
        }
        errln!("check: {shown} is missing but [workspace.metadata.gpu-env] lists targets; {FIX}");
        return ExitCode::from(exit::NO);
    }
    // Another lock than the config's records its own request: it is
    // re-resolved from that, not compared with the config's targets.
    let other = crate::job::is_other_lock(&loaded, &lock_path);
    let (_guard, lock) = match read_lock(&loaded, &lock_path, &shown, other) {
        Ok(x) => x,
        Err(code) => return code,
    };
    verdict(&db, &db_hash, &loaded, &lock_path, &lock, other)
}

/// Every problem of the lock and its files, then the one way out that fits.
fn verdict(
    db: &crate::db::Db,
    db_hash: &str,
    loaded: &Loaded,
    lock_path: &Path,
    lock: &Lock,
    other: bool,
) -> ExitCode {
    let shown = rel(lock_path, &loaded.root);
    let mut problems = Vec::new();
    let beyond = match other {
        true => Default::default(),
        false => crate::request::beyond_config(&loaded.config, lock),
    };
    let drifted = drift(
        db,
        db_hash,
        loaded,
        lock,
        &shown,
        (!other).then_some(&beyond),
    );
    let changes_stack = drifted.iter().any(|p| p.starts_with("drift:"));
    let config_changed = drifted.iter().any(|p| p.starts_with("config changed:"));
    problems.extend(drifted);
    problems.extend(stale(db, loaded, lock_path, lock));
    if problems.is_empty() {
        outln!(
            "check: OK: compat-db valid; {shown} current ({} target(s), sha256 {}); generated files up to date",
            lock.target.len(),
            &lock.hash()[..16]
        );
        ExitCode::SUCCESS
    } else {
        for p in &problems {
            errln!("{p}");
        }
        if !beyond.is_empty() {
            let text = beyond_config_text(&beyond, lock, loaded, &shown);
            errln!("check: {} problem(s); {text}", problems.len());
            return ExitCode::from(exit::NO);
        }
        // The command that remakes this lock from what it records, and what
        // running it would change.
        let cmd = if config_changed {
            "cargo xtask resolve".to_string()
        } else {
            reproduce(lock, loaded, other.then_some(shown.as_str()))
        };
        let effect = if config_changed {
            "it locks what the config now says, as the `config changed` lines above show"
        } else if changes_stack {
            "it changes the stack as the drift lines above show"
        } else if other {
            "the resolution stays the same: it rewrites the lock's recorded hashes"
        } else {
            "the resolution stays the same: it rewrites the lock's recorded hashes and the generated files"
        };
        errln!(
            "check: {} problem(s); run `{cmd}` and commit the result ({effect})",
            problems.len()
        );
        ExitCode::from(exit::NO)
    }
}

/// The lock, read under the writers' advisory lock (held while the guard
/// lives), after finishing an interrupted resolve's renames; Err: the exit
/// status, the reason printed.
fn read_lock(
    loaded: &Loaded,
    lock_path: &Path,
    shown: &str,
    other: bool,
) -> Result<(crate::fsutil::DirLock, Lock), ExitCode> {
    // Read under the writers' advisory lock: a resolve writing now
    // finishes its whole set first.
    let guard_dir = crate::job::guard_dir(loaded, lock_path);
    let guard = match crate::fsutil::DirLock::acquire(&guard_dir, crate::job::WRITE_LOCK_TIMEOUT) {
        Ok(g) => g,
        Err(e) => {
            errln!("error: {e}; another gpu-env run is writing these files: run check again when it is done");
            return Err(ExitCode::from(exit::ERROR));
        }
    };
    // A resolve killed between its renames left a mix of two sets: its
    // journal finishes the newer one, as the next resolve would.
    if let Some(dir) = lock_path.parent() {
        let n = crate::fsutil::finish_interrupted(dir);
        if n > 0 {
            outln!("check: finished the writes of an interrupted resolve ({n} file(s))");
        }
    }
    let lock = match Lock::read(lock_path) {
        Ok(l) => l,
        Err(e @ LockError::Newer { .. }) => {
            errln!("error: {e}");
            return Err(ExitCode::from(exit::ERROR));
        }
        // Written by an older gpu-env: stale, not corrupted; resolve rewrites it.
        Err(e @ LockError::Older { .. }) => {
            errln!("check: stale: {e}");
            if other {
                errln!(
                    "check: this is not the config's lock: add `--lock {}` to that command",
                    shell_word(shown)
                );
            }
            return Err(ExitCode::from(exit::NO));
        }
        Err(e) => {
            errln!("error: {e}");
            errln!("check: the lock is corrupted and was left untouched; restore it from version control or {FIX}");
            return Err(ExitCode::from(exit::ERROR));
        }
    };
    Ok((guard, lock))
}

/// The lock against the config and the current compat-db, each cause
/// reported on its own: `compat-db changed:`, `config changed:`, `drift:`.
fn drift(
    db: &crate::db::Db,
    db_hash: &str,
    loaded: &Loaded,
    lock: &Lock,
    shown: &str,
    // None for another lock than the config's: it is not compared with the config.
    beyond: Option<&crate::request::BeyondConfig>,
) -> Vec<String> {
    let mut out = Vec::new();
    if lock.db != db_hash {
        out.push(format!(
            "compat-db changed: {shown} was resolved against compat-db {} and this gpu-env carries {}",
            short(&lock.db),
            short(db_hash)
        ));
    }
    if let Some(beyond) = beyond {
        out.extend(config_changes(loaded, lock, beyond, shown));
    }
    for locked in &lock.target {
        if locked.spec == "local" {
            out.extend(local_drift(db, locked));
            continue;
        }
        out.extend(target_drift(db, db_hash, loaded, locked));
    }
    out
}

fn short(h: &str) -> &str {
    h.get(..16).unwrap_or(h)
}

/// The lock against the config, the request: targets and facts given by
/// flags or variables, a target list that differs, constraints that moved.
fn config_changes(
    loaded: &Loaded,
    lock: &Lock,
    beyond: &crate::request::BeyondConfig,
    shown: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    for t in &lock.target {
        let typed: Vec<String> = beyond
            .flags
            .iter()
            .filter(|f| f.target == t.spec)
            .map(|f| f.as_typed())
            .collect();
        if !typed.is_empty() {
            out.push(format!(
                "not in config: {shown}: target `{}` was locked with `{}`, which the config does not give",
                t.spec,
                typed.join(" ")
            ));
        }
    }
    if let Some((have, want)) = &beyond.targets {
        out.push(format!(
            "config changed: {shown} locks targets [{}] but the config asks for [{}]",
            have.join(", "),
            want.join(", ")
        ));
    }
    for t in &lock.target {
        let now = expected_constraints(loaded, t);
        if now != t.constraints {
            out.push(format!(
                "config changed: target `{}` was locked with constraints {:?}; the config now gives {:?}",
                t.spec, t.constraints, now
            ));
        }
    }
    out
}

/// The two ways out of a lock that asked beyond the config: the config
/// lines that record its request, or the plain `resolve` that drops it.
pub fn beyond_config_text(
    beyond: &crate::request::BeyondConfig,
    lock: &Lock,
    loaded: &Loaded,
    shown: &str,
) -> String {
    let table = loaded.table();
    let manifest = loaded
        .manifest
        .as_deref()
        .map(|m| rel(m, &loaded.root))
        .unwrap_or_else(|| "Cargo.toml".into());
    // As typed: the targets when they are not the config's, then the flags.
    let mut typed: Vec<String> = Vec::new();
    if beyond.targets.is_some() {
        typed.extend(
            lock.target
                .iter()
                .map(|t| format!("--target {}", shell_word(&t.spec))),
        );
    }
    typed.extend(beyond.flags.iter().map(|f| f.as_typed()));
    let what = match (&beyond.targets, beyond.flags.is_empty()) {
        (Some((have, want)), true) => format!(
            "locks [{}] and {manifest} asks for [{}] (the config changed, or the lock was made with `{}`)",
            have.join(", "),
            want.join(", "),
            typed.join(" ")
        ),
        _ => format!(
            "was made with `{}`, which {manifest} does not ask for",
            typed.join(" ")
        ),
    };
    let lines: String = crate::request::config_lines(lock, table)
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect();
    format!(
        "{shown} {what}; `cargo xtask check` fails until they agree. \
         Either record it in {manifest} (these lines replace its `targets` and \
         `[[{table}.target]]` tables), then run `cargo xtask resolve`:\n{lines}\
         or drop it: run `cargo xtask resolve` with no flags and commit the result"
    )
}

/// The constraints a re-resolve of `t` uses: the config's, with the ones
/// the lock records from flags.
fn expected_constraints(
    loaded: &Loaded,
    t: &LockedTarget,
) -> std::collections::BTreeMap<String, String> {
    let mut c = loaded.config.constraints.clone();
    if let Some(o) = t.r#override.iter().find(|o| o.name == "mxnet") {
        c.mxnet = Some(o.value.clone());
    }
    if let Some(o) = t.r#override.iter().find(|o| o.name == "companions") {
        c.companions = crate::config::split_companions(&o.value);
    }
    crate::config::constraint_map(&c)
}

/// Re-resolve one locked target with exactly what the lock records (spec,
/// overrides with their sources, constraints) and diff the result.
fn target_drift(
    db: &crate::db::Db,
    db_hash: &str,
    loaded: &Loaded,
    locked: &LockedTarget,
) -> Vec<String> {
    let facts = locked
        .r#override
        .iter()
        .filter(|o| o.name != "mxnet" && o.name != "companions")
        .map(|o| (o.name.as_str(), o.value.as_str(), o.source.as_str()));
    let overrides = match crate::target::Overrides::from_entries(facts) {
        Ok(o) => o,
        Err(e) => return vec![format!("drift: target `{}`: {e}", locked.spec)],
    };
    let mut constraints = loaded.config.constraints.clone();
    let mut constraint_sources = std::collections::BTreeMap::new();
    if let Some(o) = locked.r#override.iter().find(|o| o.name == "mxnet") {
        constraints.mxnet = Some(o.value.clone());
        constraint_sources.insert("mxnet".to_string(), o.source.clone());
    }
    if let Some(o) = locked.r#override.iter().find(|o| o.name == "companions") {
        constraints.companions = crate::config::split_companions(&o.value);
        constraint_sources.insert("companions".to_string(), o.source.clone());
    }
    let req = Request {
        targets: vec![locked.spec.clone()],
        overrides,
        constraints,
        constraint_sources,
        ..Default::default()
    };
    match job::run(db, db_hash, &req) {
        Err(e) => vec![format!(
            "drift: target `{}` no longer resolves: {e}",
            locked.spec
        )],
        Ok(o) => match o.lock.and_then(|l| l.target.into_iter().next()) {
            None => vec![format!(
                "drift: target `{}` is unsatisfiable with the current config and compat-db",
                locked.spec
            )],
            Some(now) if now != *locked => {
                let lines = diff_targets(locked, &now);
                let mut out = vec![format!(
                    "drift: target `{}` resolves differently now ({} change(s), lock -> now):",
                    locked.spec,
                    lines.len()
                )];
                out.extend(lines.into_iter().map(|l| format!("  {l}")));
                out
            }
            Some(_) => vec![],
        },
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
    let mut seen = std::collections::BTreeSet::new();
    for o in lock.target.iter().flat_map(|t| &t.r#override) {
        let Some(src) = o.source.strip_prefix("override:") else {
            continue;
        };
        if !seen.insert((src.to_string(), o.value.clone())) {
            continue;
        }
        if src.starts_with("GPU_ENV_") {
            env.push(format!("{src}={}", shell_word(&o.value)));
        } else if o.name == "no_gpu" {
            flags.push(src.to_string());
        } else if o.name == "companions" {
            for c in crate::config::split_companions(&o.value) {
                flags.push(format!("{src} {}", shell_word(&c)));
            }
        } else {
            flags.push(format!("{src} {}", shell_word(&o.value)));
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
fn local_drift(db: &crate::db::Db, t: &LockedTarget) -> Vec<String> {
    use crate::pep440::normalize_name as norm;
    let mut out = Vec::new();
    for p in &t.package {
        let name = norm(&p.name);
        let mut known: Vec<&str> = Vec::new();
        for (rel, w) in db.wheel_files() {
            if norm(&rel.package) == name && rel.version == p.version {
                known.push(&w.sha256);
            }
        }
        for (_, r) in &db.redist {
            if norm(&r.package) == name {
                for rel in r.release.iter().filter(|x| x.version == p.version) {
                    known.push(&rel.sha256);
                }
            }
        }
        for (_, r) in db.pypi.iter().chain(&db.companion_pypi) {
            if norm(&r.package) == name {
                for rel in r.release.iter().filter(|x| x.version == p.version) {
                    known.extend(rel.file.iter().map(|f| f.sha256.as_str()));
                }
            }
        }
        for (_, c) in &db.companions {
            if norm(&c.package) == name {
                for rel in c.release.iter().filter(|x| x.version == p.version) {
                    known.extend(rel.file.iter().map(|f| f.sha256.as_str()));
                }
            }
        }
        if known.is_empty() {
            out.push(format!(
                "drift: target `local`: {} {} is no longer in compat-db",
                p.name, p.version
            ));
        } else if !known.contains(&p.sha256.as_str()) {
            out.push(format!(
                "drift: target `local`: {} {} ({}): sha256 {} is not the one compat-db records",
                p.name, p.version, p.filename, p.sha256
            ));
        }
    }
    out
}

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
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                diff(out, &format!("{path}[{i}]"), u, v);
            }
        }
        _ => out.push(format!("{path}: {a} -> {b}")),
    }
}

/// Every generated file against what the lock renders to now.
fn stale(db: &crate::db::Db, loaded: &Loaded, lock_path: &Path, lock: &Lock) -> Vec<String> {
    let mut out = Vec::new();
    let outputs = match job::rendered_outputs(db, loaded, lock_path, lock) {
        Ok(o) => o,
        Err(e) => {
            out.push(format!("invalid: the Colab cell cannot be generated: {e}"));
            return out;
        }
    };
    for (i, (path, text)) in outputs.iter().enumerate() {
        let shown = rel(path, &loaded.root);
        match crate::fsutil::read_text_bytes(path) {
            Ok(bytes) if bytes == text.as_bytes() => {}
            Ok(_) if i == 0 => out.push(format!(
                "stale: {shown} is not as `cargo xtask resolve` writes it (edited by hand?)"
            )),
            Ok(_) => out.push(format!(
                "stale: {shown} does not match the lock (sha256 {})",
                &lock.hash()[..16]
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.push(format!("stale: {shown} is missing"))
            }
            Err(e) => out.push(format!(
                "stale: {shown} cannot be read ({e}); move it away and run `cargo xtask resolve`"
            )),
        }
    }
    // The compatibility page, in repos that keep one (this one); a page
    // of the repo's own at that path is not gpu-env's.
    let page = loaded.root.join(crate::matrix::DEFAULT_OUT);
    let found = crate::fsutil::read_text_bytes(&page).ok();
    if found.as_deref().is_some_and(|b| {
        crate::generated::may_replace(crate::generated::Kind::Matrix, b) && !b.is_empty()
    }) && found.as_deref() != Some(crate::matrix::render(db).as_bytes())
    {
        out.push(format!(
            "stale: {} is not as `cargo xtask matrix` writes it",
            rel(&page, &loaded.root)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::target::{Overrides, Sourced};
    use serde_json::json;

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
    fn lock_of(overrides: Overrides) -> (crate::db::Db, String, Lock) {
        let (db, hash) = crate::db::Db::open_with_hash(None).unwrap();
        let req = Request {
            targets: vec!["colab".into()],
            overrides,
            ..Default::default()
        };
        let lock = job::run(&db, &hash, &req).unwrap().lock.unwrap();
        (db, hash, lock)
    }

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

    #[test]
    fn current_lock_has_no_drift_and_an_edited_one_shows_fields() {
        let (db, hash, lock) = lock_of(Overrides::default());
        let l = loaded(&["colab"]);
        let none = crate::request::BeyondConfig::default();
        assert_eq!(
            drift(&db, &hash, &l, &lock, "gpu-env.lock", Some(&none)),
            Vec::<String>::new()
        );
        let mut edited = lock.clone();
        edited.target[0].mxnet.version = "1.8.0".into();
        let lines = drift(&db, &hash, &l, &edited, "gpu-env.lock", Some(&none));
        assert!(
            lines[0].starts_with(
                "drift: target `colab` resolves differently now (1 change(s), lock -> now):"
            ),
            "{lines:?}"
        );
        assert_eq!(lines[1], "  mxnet.version: \"1.8.0\" -> \"1.9.1\"");
        assert_eq!(
            diff_targets(&edited.target[0], &lock.target[0]),
            ["mxnet.version: \"1.8.0\" -> \"1.9.1\""]
        );
        let mut old_db = lock.clone();
        old_db.db = "0123456789abcdef0123".into();
        let lines = drift(&db, &hash, &l, &old_db, "gpu-env.lock", Some(&none));
        assert!(lines[0].starts_with("compat-db changed: gpu-env.lock was resolved against compat-db 0123456789abcdef and"), "{lines:?}");
    }

    #[test]
    fn config_changes_name_both_target_lists() {
        let (_, _, lock) = lock_of(Overrides::default());
        let changes = |l: &Loaded| {
            let beyond = crate::request::beyond_config(&l.config, &lock);
            config_changes(l, &lock, &beyond, "l")
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
}
