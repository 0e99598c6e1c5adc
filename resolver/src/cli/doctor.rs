//! `cargo xtask doctor`: diagnose an existing Python environment's MXNet
//! install. Exit codes: 0 nothing wrong, 1 problems found, 2 error (no
//! interpreter, bad compat-db, a `--python` that is no executable).

use crate::doctor::{self, Options};
use crate::host::pyexe;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct Args {
    /// Interpreter whose environment is examined (default: python3 on PATH).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// JSON output (schema: docs/verify.md#doctor).
    #[arg(long)]
    pub json: bool,
    /// Do not try `import mxnet` in the interpreter.
    #[arg(long)]
    pub no_import: bool,
    #[command(flatten)]
    pub at: super::LockArgs,
    /// Diagnose without any lock (by default doctor judges the environment
    /// against the lock when one exists).
    #[arg(long, conflicts_with_all = ["lock", "target"])]
    pub no_lock: bool,
}

/// The lock doctor judges against, and where it was found: found like
/// resolve writes it; none when `--no-lock`, or when no lock was named and
/// none exists.
type Judged = (crate::lock::Lock, usize, super::Located);

fn lock(args: &Args, cwd: &std::path::Path) -> Result<Option<Judged>, super::CliError> {
    if args.no_lock {
        return Ok(None);
    }
    let at = args.at.locate(cwd)?;
    let path = &at.path;
    if args.at.lock.is_none() && !path.exists() {
        return Ok(None);
    }
    let lock = crate::lock::Lock::read(path)?;
    let index = lock
        .pick(args.at.target.as_deref(), |_| true)
        .map_err(|e| format!("{}: {e}", at.shown))?;
    Ok(Some((lock, index, at)))
}

pub fn run(args: &Args, db: Option<&std::path::Path>) -> super::CliResult {
    let python = args
        .python
        .as_deref()
        .map(|p| pyexe::find(p, pyexe::Advice::Interpreter))
        .transpose()?;
    let db = crate::db::Db::open(db)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let (lock, at) = match lock(args, &cwd)? {
        Some((l, i, at)) => (Some((l, i)), Some(at)),
        None => (None, None),
    };
    let opts = Options {
        python,
        no_import: args.no_import,
        lock,
        lock_path: at.as_ref().and_then(|a| a.named.clone()),
        cell: at.and_then(|a| a.cell),
        ..Default::default()
    };
    let r = doctor::doctor(&db, &opts)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&r).expect("json"));
    } else {
        out!("{}", doctor::render(&r));
    }
    Ok(ExitCode::from(r.exit_code))
}
