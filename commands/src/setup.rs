//! `setup`: a notebook sets itself up (`!pip install gpu-env`, then
//! `!gpu-env setup`). It installs the locked stack for the runtime it runs
//! on by running the setup cell rendered for the lock ([`crate::emit::cell`])
//! with the notebook's Python: the very program the generated cell is, so
//! the runtime probe, the fit, the install and every stop line are the
//! cell's own. The lock is the repo's when one is committed in the working
//! directory (the config's `output.lock`, default `gpu-env.lock`), else a
//! fresh resolve for the notebook platform detected here.

use crate::db::Db;
use crate::lock::Lock;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The most one run of the cell may take: pip downloads and installs the
/// whole stack (about 2.4 GB for a CUDA 11 stack) within it.
pub const CELL_TIMEOUT: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}: {1}")]
    Lock(String, String),
    #[error("no lock in {dir} (the config's output.lock, default gpu-env.lock) and this is not a notebook runtime (Colab sets COLAB_RELEASE_TAG, Kaggle KAGGLE_KERNEL_RUN_TYPE), so there is no runtime to resolve for: run setup in the notebook, pass --lock PATH, or on this machine run `cargo xtask resolve --target local` in your repo, then `cargo xtask install`")]
    NoRuntime { dir: String },
    #[error("resolving for {spec}: {message}")]
    Resolve { spec: String, message: String },
    #[error("{spec}: no MXNet wheel works on this runtime; `cargo xtask resolve --target {spec} --offline --dry-run` shows every reason and the nearest fixes")]
    Unsatisfiable { spec: String },
    #[error("{lock}: {message}")]
    Emit { lock: String, message: String },
    #[error("{lock} has no notebook target (colab, kaggle), and setup runs the notebook setup cell: add \"colab\" or \"kaggle\" to `targets` and run `cargo xtask resolve`, or install a local lock with `cargo xtask install`")]
    NoNotebookTarget { lock: String },
    #[error("writing {path}: {message}")]
    Write { path: String, message: String },
    #[error(transparent)]
    Run(#[from] crate::install::stream::RunError),
}

/// Where the lock setup installs comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum LockFrom {
    /// A lock file: `--lock`, or the one committed in the working directory.
    File(PathBuf),
    /// None there: a fresh resolve for this notebook platform (`colab`, `kaggle`).
    Fresh(&'static str),
}

/// The lock to install: `lock` (against `cwd`), else the config's lock
/// found from `cwd` when it exists, else a fresh resolve for `notebook`
/// (the platform detected here, [`crate::host::platform::notebook`]).
pub fn choose(
    lock: Option<&Path>,
    cwd: &Path,
    notebook: Option<&'static str>,
) -> Result<LockFrom, SetupError> {
    let (path, _) = crate::config::locate_lock(lock, None, cwd)?;
    if lock.is_some() || path.exists() {
        return Ok(LockFrom::File(path));
    }
    match notebook {
        Some(platform) => Ok(LockFrom::Fresh(platform)),
        None => Err(SetupError::NoRuntime {
            dir: cwd.display().to_string(),
        }),
    }
}

/// Read a lock file, its errors naming it.
pub fn read(path: &Path) -> Result<Lock, SetupError> {
    Lock::read(path).map_err(|e| SetupError::Lock(path.display().to_string(), e.to_string()))
}

/// Resolve `spec` (a notebook platform: its newest runtime profile) on the
/// embedded facts, as `resolve --target SPEC` with no flags would.
pub fn resolve(db: &Db, db_hash: &str, spec: &str) -> Result<Lock, SetupError> {
    let req = crate::job::Request {
        targets: vec![spec.to_string()],
        ..Default::default()
    };
    let outcome = crate::job::run(db, db_hash, &req).map_err(|e| SetupError::Resolve {
        spec: spec.to_string(),
        message: e.to_string(),
    })?;
    outcome.lock.ok_or_else(|| SetupError::Unsatisfiable {
        spec: spec.to_string(),
    })
}

/// The setup cell for `lock` (shown as `shown`), as `resolve` writes it.
pub fn cell(db: &Db, lock: &Lock, shown: &str) -> Result<String, SetupError> {
    match crate::emit::cell(db, lock, Path::new(shown)) {
        Ok(Some(cell)) => Ok(cell),
        Ok(None) => Err(SetupError::NoNotebookTarget {
            lock: shown.to_string(),
        }),
        Err(e) => Err(SetupError::Emit {
            lock: shown.to_string(),
            message: e.to_string(),
        }),
    }
}

/// Where the cell for a lock is written: a directory of its own under the
/// system's temporary directory, named by the lock's hash, so that the
/// notebook can `%run` the same file afterwards.
pub fn cell_path(lock: &Lock) -> PathBuf {
    let short: String = lock.hash().chars().take(16).collect();
    std::env::temp_dir()
        .join(format!("gpu-env-{short}"))
        .join("setup_cell.py")
}

/// Write `cell` to `path` (as one unit) and run it with `python`; `line`
/// gets every line it prints. Ok(true) when it ended with status 0 (the
/// stack works), Ok(false) when it stopped (its stop line was printed).
pub fn run_cell(
    python: &Path,
    cell: &str,
    path: &Path,
    line: &mut dyn FnMut(&str),
) -> Result<bool, SetupError> {
    let write_err = |message: String| SetupError::Write {
        path: path.display().to_string(),
        message,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| write_err(e.to_string()))?;
    }
    crate::fsutil::write_atomic(path, cell.as_bytes()).map_err(|e| write_err(e.to_string()))?;
    let args = [path.display().to_string()];
    match crate::install::stream::run(python, &args, CELL_TIMEOUT, line) {
        Ok(()) => Ok(true),
        Err(crate::install::stream::RunError::Failed { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_in_the_working_directory_wins_over_a_fresh_resolve() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            choose(None, dir.path(), Some("colab")).unwrap(),
            LockFrom::Fresh("colab")
        );
        assert!(matches!(
            choose(None, dir.path(), None),
            Err(SetupError::NoRuntime { .. })
        ));
        std::fs::write(dir.path().join("gpu-env.lock"), "").unwrap();
        assert_eq!(
            choose(None, dir.path(), Some("colab")).unwrap(),
            LockFrom::File(dir.path().join("gpu-env.lock"))
        );
        let given = choose(Some(Path::new("x.lock")), dir.path(), None).unwrap();
        assert_eq!(given, LockFrom::File(dir.path().join("x.lock")));
    }
}
