//! `cargo xtask verify`: prove the locked stack on this machine, layer by
//! layer (docs/verify.md). Exit codes: 0 every layer passed, 1 a layer
//! failed, 2 usage/input error, 3 no NVIDIA driver or GPU (device layers
//! skipped).
//!
//! The lock is found the way `resolve` writes it: `--lock PATH` (relative to
//! the current directory), else the config's `output.lock` (relative to the
//! workspace root of `--manifest-path`, or of the Cargo.toml found walking
//! up from the current directory), else `gpu-env.lock` there.

use crate::host::pyexe;
use crate::verify::{self, Options};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct Args {
    #[command(flatten)]
    pub at: super::LockArgs,
    /// JSON output (schema: docs/verify.md).
    #[arg(long)]
    pub json: bool,
    /// Interpreter for the python layer (default: python3 on PATH).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// Directory holding the lock's redistributables (default: where the
    /// generated setup installs them).
    #[arg(long, value_name = "DIR")]
    pub redist_dir: Option<PathBuf>,
    /// Extra directory to search for libnvrtc first (repeatable).
    #[arg(long, value_name = "DIR")]
    pub nvrtc_dir: Vec<PathBuf>,
    /// Skip the python layer.
    #[arg(long)]
    pub no_python: bool,
}

pub fn run(args: &Args, db: Option<&Path>) -> super::CliResult {
    let python = args
        .python
        .as_deref()
        .map(|p| pyexe::find(p, pyexe::Advice::Interpreter))
        .transpose()?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let (lock, at) = args.at.read(&cwd)?;
    let shown = &at.shown;
    let index = lock
        .pick(args.at.target.as_deref(), |_| true)
        .map_err(|e| format!("{shown}: {e}"))?;
    let db = crate::db::Db::open(db)?;
    let report = verify::verify(
        &lock,
        shown,
        index,
        &db,
        &Options {
            python,
            redist_dir: args.redist_dir.clone(),
            nvrtc_dirs: args.nvrtc_dir.clone(),
            no_python: args.no_python,
            lock_path: at.named.clone(),
            cell: at.cell.clone(),
            ..Default::default()
        },
    );
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        out!("{}", verify::render(&report));
    }
    Ok(ExitCode::from(report.exit_code))
}
