//! `cargo xtask install`: install one locked target into a Python
//! environment (or `--uninstall` it); the work is `crate::install`.

use crate::host::pyexe;
use crate::install::{self, Limits, Options};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct Args {
    /// The interpreter whose environment gets the stack (default: python3 on PATH).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    #[command(flatten)]
    pub at: super::LockArgs,
    /// Remove what install wrote (hook, .pth, redist directory) and pip-uninstall
    /// the locked site packages that are installed at their locked version.
    #[arg(long)]
    pub uninstall: bool,
    /// Install a notebook (Colab, Kaggle) target into this Python anyway;
    /// its installer is the setup cell, and its files are large.
    #[arg(long)]
    pub yes: bool,
}

pub fn run(args: &Args, db_dir: Option<&Path>) -> super::CliResult {
    let given = args
        .python
        .clone()
        .unwrap_or_else(|| PathBuf::from("python3"));
    let python = pyexe::find(&given, pyexe::Advice::Interpreter)?;
    // Python first: which interpreter this acts on, before the lock is
    // matched and anything is downloaded or changed.
    let limits = Limits::default();
    let version = install::probe_env(&python, &[], limits.probe)?.version;
    let db = crate::db::Db::open(db_dir)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let (lock, at) = args.at.read(&cwd)?;
    let shown = &at.shown;
    let fits = |t: &crate::lock::LockedTarget| t.accepts_python(&db.python, &version);
    let t = install::pick_target(&lock, args.at.target.as_deref(), fits)?;
    if !args.uninstall {
        // A notebook target asks first: its Python is the runtime's, not
        // this interpreter's, and its files are large.
        notebook_consent(args, t, &at, &python)?;
        install::check_python(&db, &lock, t, &python, &version)?;
    }
    outln!(
        "gpu-env install: {shown} (sha256 {}), target {} [{}]",
        &lock.hash()[..16],
        t.name,
        t.spec
    );
    let opts = Options { python, limits };
    let mut say = |l: &str| outln!("{l}");
    if args.uninstall {
        let r = install::uninstall(&lock, t, &opts, &mut say)?;
        outln!("{}", r.summary());
        return Ok(ExitCode::SUCCESS);
    }
    let r = install::install(&db, &lock, t, &opts, &mut say)?;
    outln!("{}", r.summary());
    if !r.already {
        outln!(
            "`{} -c \"import mxnet\"` now preloads and shims through {}",
            opts.python.display(),
            r.paths.pth.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A notebook (Colab, Kaggle) target installs into a local Python only with
/// `--yes`, after saying the download size; its installer is the cell.
fn notebook_consent(
    args: &Args,
    t: &crate::lock::LockedTarget,
    at: &super::Located,
    python: &Path,
) -> Result<(), String> {
    if !crate::target::is_notebook_kind(&t.kind) {
        return Ok(());
    }
    let bytes: u64 = t.package.iter().map(|p| p.size).sum();
    let what = format!(
        "{} is a {} target: its installer is the notebook cell ({}); installing it into {} downloads {:.1} GB ({} files)",
        t.name,
        t.kind,
        at.cell
            .as_deref()
            .unwrap_or(Path::new(crate::config::DEFAULT_COLAB_CELL))
            .display(),
        python.display(),
        bytes as f64 / 1e9,
        t.package.len()
    );
    if !args.yes {
        return Err(format!(
            "{what}: pass --yes to install it anyway, or lock this machine with `cargo xtask resolve --target local`"
        ));
    }
    outln!("note: {what}");
    Ok(())
}
