//! `cargo xtask check`: the pre-commit check. Offline, no GPU, writes
//! nothing in the repo; a pass is recorded in gpu-env's cache
//! ([`crate::check_record`]), and a check with the same inputs compares file
//! hashes instead of re-resolving. Exit 0 when compat-db is valid, the lock parses, is current
//! with the repo's config and compat-db, and every generated file matches
//! the lock; 1 on drift or a stale file (with what changed); 2 when an
//! input cannot be read (corrupted lock, unreadable compat-db or config).
//! The comparison is [`crate::freshness`]'s; this renders it.

use super::CliResult;
use crate::config::Loaded;
use crate::exit;
use crate::freshness::{self, Report, WayOut};
use crate::lock::{Lock, LockError};
use crate::validate::shell_word;
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
    freshness::shown(p, root)
}

pub fn run(args: &Args, db_dir: Option<&Path>) -> CliResult {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let loaded = crate::config::load(args.manifest_path.as_deref(), &cwd)?;
    let lock_path = args
        .lock
        .clone()
        .map(|p| cwd.join(p))
        .unwrap_or_else(|| loaded.path(&loaded.config.output.lock));
    // The same inputs as a passed check: its verdict, from file hashes.
    let (record, passed) = match lock_path.exists() {
        true => recorded(db_dir, &loaded, &lock_path),
        false => (None, None),
    };
    if let Some(line) = passed {
        outln!("{line}");
        return Ok(ExitCode::SUCCESS);
    }
    full(db_dir, &loaded, &lock_path, record)
}

/// The record of a passed check with these inputs ([`crate::check_record`]) and
/// its verdict line when it still holds (read under the writers' lock; a
/// resolve's unfinished renames are left to the full check, which reports
/// them).
fn recorded(
    db_dir: Option<&Path>,
    loaded: &Loaded,
    lock_path: &Path,
) -> (Option<crate::check_record::Record>, Option<String>) {
    let db_hash = crate::db::Db::source_hash(db_dir).ok();
    let record = db_hash.and_then(|h| {
        crate::check_record::Record::new(&h, &loaded.root, loaded.manifest.as_deref(), lock_path)
    });
    let guard_dir = crate::job::guard_dir(loaded, lock_path);
    let holds = || {
        let _guard =
            crate::fsutil::DirLock::acquire(&guard_dir, crate::job::WRITE_LOCK_TIMEOUT).ok()?;
        let journal = lock_path.parent()?.join(crate::fsutil::JOURNAL);
        if journal.exists() {
            return None;
        }
        record.as_ref()?.verdict()
    };
    let verdict = holds();
    (record, verdict)
}

/// The check in full: compat-db loaded, the lock re-resolved and every
/// generated file re-rendered and compared; a pass is recorded in `record`.
fn full(
    db_dir: Option<&Path>,
    loaded: &Loaded,
    lock_path: &Path,
    record: Option<crate::check_record::Record>,
) -> CliResult {
    // compat-db: readable (2) and valid (1). The embedded copy is the text
    // CI validates with `db check`; `--db DIR` is validated in full here.
    let (db, db_hash) = match crate::db::Db::open_with_hash(db_dir) {
        Ok(x) => x,
        Err(crate::db::DbError::Invalid(diags)) => {
            for d in &diags {
                errln!("{d}");
            }
            errln!("check: compat-db: {} error(s)", diags.len());
            return Ok(ExitCode::from(exit::NO));
        }
        Err(e) => return Err(e.into()),
    };
    let shown = rel(lock_path, &loaded.root);
    if !lock_path.exists() {
        if loaded.config.targets.is_empty() {
            outln!("check: compat-db OK; no lock ({shown}) and no targets configured: nothing else to check");
            return Ok(ExitCode::SUCCESS);
        }
        errln!("check: {shown} is missing but [workspace.metadata.gpu-env] lists targets; {FIX}");
        return Ok(ExitCode::from(exit::NO));
    }
    // Another lock than the config's records its own request: it is
    // re-resolved from that, not compared with the config's targets.
    let other = crate::job::is_other_lock(loaded, lock_path);
    let Some((_guard, lock)) = read_lock(loaded, lock_path, &shown, other)? else {
        return Ok(ExitCode::from(exit::NO));
    };
    let report = freshness::compare(&db, &db_hash, loaded, lock_path, &lock, other);
    // The process ends with the check: freeing compat-db's many small
    // records one by one would cost more than a tenth of the check.
    std::mem::forget(db);
    let code = verdict(&report, loaded, &lock, &shown, other);
    if code == ExitCode::SUCCESS {
        if let (Some(r), Some(files)) = (record, &report.compared) {
            r.record(files, &ok_line(&report, &lock, &shown));
        }
    }
    Ok(code)
}

/// What a passed check prints.
fn ok_line(report: &Report, lock: &Lock, shown: &str) -> String {
    let hash = report.lock_hash.clone().unwrap_or_else(|| lock.hash());
    format!(
        "check: OK: compat-db valid; {shown} current ({} target(s), sha256 {}); generated files up to date",
        lock.target.len(),
        &hash[..16]
    )
}

/// Every problem of the lock and its files, then the one way out that fits.
fn verdict(report: &Report, loaded: &Loaded, lock: &Lock, shown: &str, other: bool) -> ExitCode {
    if report.is_current() {
        outln!("{}", ok_line(report, lock, shown));
        return ExitCode::SUCCESS;
    }
    for f in &report.findings {
        errln!("{f}");
    }
    let n = report.findings.len();
    match report.way_out(lock, loaded, other.then_some(shown)) {
        WayOut::RecordOrDrop => {
            let text = beyond_config_text(&report.beyond, lock, loaded, shown);
            errln!("check: {n} problem(s); {text}");
        }
        WayOut::Resolve { command, effect } => {
            errln!("check: {n} problem(s); run `{command}` and commit the result ({effect})");
        }
    }
    ExitCode::from(exit::NO)
}

/// The lock, read under the writers' advisory lock (held while the guard
/// lives), after finishing an interrupted resolve's renames. None: a lock
/// from an older gpu-env, stale, with the reason printed.
fn read_lock(
    loaded: &Loaded,
    lock_path: &Path,
    shown: &str,
    other: bool,
) -> Result<Option<(crate::fsutil::DirLock, Lock)>, super::CliError> {
    // Read under the writers' advisory lock: a resolve writing now
    // finishes its whole set first.
    let guard_dir = crate::job::guard_dir(loaded, lock_path);
    let guard = crate::fsutil::DirLock::acquire(&guard_dir, crate::job::WRITE_LOCK_TIMEOUT)
        .map_err(|e| {
            super::CliError::from(format!(
                "{e}; another gpu-env run is writing these files: run check again when it is done"
            ))
        })?;
    // A resolve killed between its renames left a mix of two sets: its
    // journal finishes the newer one, as the next resolve would.
    if let Some(dir) = lock_path.parent() {
        let n = crate::fsutil::finish_interrupted(dir);
        if n > 0 {
            outln!("check: finished the writes of an interrupted resolve ({n} file(s))");
        }
    }
    match Lock::read(lock_path) {
        Ok(lock) => Ok(Some((guard, lock))),
        Err(e @ LockError::Newer { .. }) => Err(e.into()),
        // Written by an older gpu-env: stale, not corrupted; resolve rewrites it.
        Err(e @ LockError::Older { .. }) => {
            errln!("check: stale: {e}");
            if other {
                errln!(
                    "check: this is not the config's lock: add `--lock {}` to that command",
                    shell_word(shown)
                );
            }
            Ok(None)
        }
        Err(e) => Err(super::CliError::from(e).hint(format!(
            "check: the lock is corrupted and was left untouched; restore it from version control or {FIX}"
        ))),
    }
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
