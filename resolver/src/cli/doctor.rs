//! `cargo xtask doctor`: diagnose an existing Python environment's MXNet
//! install. Exit codes: 0 nothing wrong, 1 problems found, 2 error (no
//! interpreter, bad compat-db, a `--python` that is no executable).

use crate::doctor::{self, Options};
use crate::exit;
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

fn lock(args: &Args, cwd: &std::path::Path) -> Result<Option<Judged>, String> {
    if args.no_lock {
        return Ok(None);
    }
    let at = args.at.locate(cwd).map_err(|e| e.to_string())?;
    let path = &at.path;
    if args.at.lock.is_none() && !path.exists() {
        return Ok(None);
    }
    let lock = crate::lock::Lock::read(path).map_err(|e| e.to_string())?;
    let index = lock
        .pick(args.at.target.as_deref(), |_| true)
        .map_err(|e| format!("{}: {e}", at.shown))?;
    Ok(Some((lock, index, at)))
}

pub fn run(args: &Args, db: Option<&std::path::Path>) -> ExitCode {
    let python = match args
        .python
        .as_deref()
        .map(|p| pyexe::find(p, pyexe::Advice::Interpreter))
        .transpose()
    {
        Ok(p) => p,
        Err(e) => {
            errln!("error: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    let db = match crate::db::Db::open(db) {
        Ok(d) => d,
        Err(e) => {
            errln!("error: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let (lock, at) = match lock(args, &cwd) {
        Ok(Some((l, i, at))) => (Some((l, i)), Some(at)),
        Ok(None) => (None, None),
        Err(e) => {
            errln!("error: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    let opts = Options {
        python,
        no_import: args.no_import,
        lock,
        lock_path: at.as_ref().and_then(|a| a.named.clone()),
        cell: at.and_then(|a| a.cell),
        ..Default::default()
    };
    match doctor::doctor(&db, &opts) {
        Ok(r) => {
            if args.json {
                outln!("{}", serde_json::to_string_pretty(&r).expect("json"));
            } else {
                out!("{}", doctor::render(&r));
            }
            ExitCode::from(r.exit_code)
        }
        Err(e) => {
            errln!("error: {e}");
            ExitCode::from(exit::ERROR)
        }
    }
}
