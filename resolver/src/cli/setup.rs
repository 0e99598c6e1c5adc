//! `setup`: in Colab or Kaggle, install the locked stack for this runtime
//! by running its setup cell with the notebook's Python
//! ([`crate::setup`]); the lock committed in the working directory when
//! there is one, else a fresh resolve for the platform detected here.

use crate::db::Db;
use crate::exit;
use crate::setup::{self, LockFrom};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The notebook's Python, which the cell runs with and installs into.
    #[arg(long, value_name = "PATH", default_value = "python3")]
    pub python: PathBuf,
    /// The lock to install (default: the config's output.lock found from
    /// the current directory, else gpu-env.lock here; with neither, a fresh
    /// resolve for this notebook runtime).
    #[arg(long, value_name = "PATH")]
    pub lock: Option<PathBuf>,
}

pub fn run(args: &Args, db_dir: Option<&Path>) -> super::CliResult {
    let python = crate::host::pyexe::find(&args.python, crate::host::pyexe::Advice::Interpreter)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let (db, db_hash) = Db::open_with_hash(db_dir)?;
    let from = setup::choose(
        args.lock.as_deref(),
        &cwd,
        crate::host::platform::notebook(),
    )?;
    let (lock, shown) = match from {
        LockFrom::File(path) => {
            let shown = path
                .strip_prefix(&cwd)
                .unwrap_or(&path)
                .display()
                .to_string();
            let lock = setup::read(&path)?;
            outln!("gpu-env setup: lock {shown} (sha256 {})", lock.hash());
            if lock.db != db_hash {
                outln!("gpu-env setup: note: {shown} was resolved on another compat-db than this gpu-env embeds; `cargo xtask check` in the repo tells whether it is current");
            }
            (lock, shown)
        }
        LockFrom::Fresh(platform) => {
            outln!("gpu-env setup: no lock here; resolving for this {platform} runtime");
            let lock = setup::resolve(&db, &db_hash, platform)?;
            for t in &lock.target {
                outln!(
                    "gpu-env setup: {} -> {} {} (lock sha256 {})",
                    t.name,
                    t.mxnet.package,
                    t.mxnet.version,
                    lock.hash()
                );
            }
            (lock, "gpu-env.lock".to_string())
        }
    };
    let cell = setup::cell(&db, &lock, &shown)?;
    let path = setup::cell_path(&lock);
    outln!(
        "gpu-env setup: running the setup cell {} with {}",
        path.display(),
        python.display()
    );
    let ok = setup::run_cell(&python, &cell, &path, &mut |l| outln!("{l}"))?;
    if !ok {
        return Ok(ExitCode::from(exit::NO));
    }
    outln!(
        "gpu-env setup: done; load the stack into this notebook's Python with `%run {}` in a cell (it finds the files installed, preloads the CUDA libraries, applies the numpy shims and imports mxnet as mx)",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
