//! The product CLI behind `cargo xtask` (feature `cli`): every command a
//! repo that uses gpu-env runs (`probe`, `resolve`, `check`, `verify`,
//! `doctor`, `install`, `init`, `db check|export`). Parsing and rendering
//! only; every decision lives in the rest of the library.
//!
//! A repo's own xtask embeds them by flattening [`Command`] into its own
//! subcommands and handing the parsed command to [`run`]:
//!
//! ```no_run
//! use clap::{Parser, Subcommand};
//! #[derive(Parser)]
//! #[command(name = "cargo xtask", bin_name = "cargo xtask")]
//! struct Cli {
//!     #[command(flatten)]
//!     global: gpu_env::cli::GlobalArgs,
//!     #[command(subcommand)]
//!     task: Task,
//! }
//! #[derive(Subcommand)]
//! enum Task {
//!     #[command(flatten)]
//!     GpuEnv(gpu_env::cli::Command),
//!     /// A task of this repo.
//!     Hello,
//! }
//! fn main() -> std::process::ExitCode {
//!     let cli = Cli::parse();
//!     match cli.task {
//!         Task::GpuEnv(c) => gpu_env::cli::run(c, cli.global.db.as_deref()),
//!         Task::Hello => std::process::ExitCode::SUCCESS,
//!     }
//! }
//! ```
//!
//! Exit statuses are [`crate::exit`]'s. Output goes through [`out`]: a
//! closed pipe (`cargo xtask db export --json | head -1`) ends the command
//! quietly instead of panicking.

use crate::db::Db;
use crate::exit;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `print!` to stdout through [`out`] (a closed pipe exits quietly).
/// Defined before the submodules, which use it by textual scope.
macro_rules! out {
    ($($t:tt)*) => { $crate::cli::out(format_args!($($t)*)) };
}
/// `outln!` to stdout through [`out`] (a closed pipe exits quietly).
macro_rules! outln {
    () => { $crate::cli::out(format_args!("\n")) };
    ($($t:tt)*) => { $crate::cli::out(format_args!("{}\n", format_args!($($t)*))) };
}

/// `eprintln!` through [`err`]: every line gpu-env prints on stderr.
macro_rules! errln {
    ($($t:tt)*) => { $crate::cli::err(format_args!("{}\n", format_args!($($t)*))) };
}

pub mod check;
pub mod doctor;
mod error;
pub mod init;
pub mod install;
pub mod matrix;
pub mod probe;
pub mod resolve;
pub mod setup;
pub mod verify;

pub use error::{CliError, CliResult};

/// What `cargo xtask --help` says gpu-env is.
pub const ABOUT: &str = "Make a GPU Python stack (MXNet, CUDA, cuDNN, numpy) work the first time";

/// Write to stdout. When the reader has gone (`| head -1`: EPIPE), the
/// process ends quietly with status 0, as the reader asked for no more;
/// any other write error ends it with [`exit::ERROR`].
/// Control and hidden format characters are escaped
/// ([`crate::validate::terminal_text`]): a GPU name or a command's output
/// with escape sequences shows as text and never acts on the terminal.
pub fn out(args: std::fmt::Arguments) {
    use std::io::Write;
    let text = as_called(crate::validate::terminal_text(&args.to_string()));
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_all(text.as_bytes()).and_then(|_| o.flush()) {
        closed(e)
    }
}

/// Write to stderr, escaped as [`out`]; a failed write is ignored (there
/// is nowhere left to report it).
pub fn err(args: std::fmt::Arguments) {
    use std::io::Write;
    let text = as_called(crate::validate::terminal_text(&args.to_string()));
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// How the commands are called in a repo's xtask, and in every command
/// the library's messages name (`run `cargo xtask resolve` first`).
pub const CARGO_XTASK: &str = "cargo xtask";

/// The name this process was called by ([`main_as`]); [`CARGO_XTASK`]
/// unless set.
static PROGRAM: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// The name usage and printed commands show: `gpu-env` for the wheel's
/// binary, `cargo xtask` for a repo's xtask.
pub fn program() -> &'static str {
    PROGRAM.get().copied().unwrap_or(CARGO_XTASK)
}

/// `text` with every command it names as this process is called: the
/// library words its advice for `cargo xtask`, and the `gpu-env` binary
/// runs the same commands under its own name, so that advice followed
/// literally works under either.
fn as_called(text: String) -> String {
    match program() {
        CARGO_XTASK => text,
        name => text.replace(&format!("{CARGO_XTASK} "), &format!("{name} ")),
    }
}

fn closed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(exit::OK as i32)
    }
    errln!("error: writing to stdout: {e}");
    std::process::exit(exit::ERROR as i32)
}

/// Options every command takes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    #[arg(long, global = true, value_name = "DIR", help = HELP_DB)]
    pub db: Option<PathBuf>,
}

/// `--db`'s help, shared by every command (a global option).
pub const HELP_DB: &str =
    "Use the compat-db in DIR (a copy of compat-db/) instead of the one embedded in this binary";

/// `cargo xtask` with gpu-env's commands only: `fn main() -> ExitCode {
/// crate::cli::main() }` is a whole xtask.
#[derive(clap::Parser, Debug)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about = ABOUT)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Parse the command line as [`Cli`] and run it.
pub fn main() -> ExitCode {
    use clap::Parser;
    let cli = Cli::parse();
    run(cli.command, cli.global.db.as_deref())
}

/// [`main`] for a program called `name` (the `gpu-env` binary of the
/// wheel): usage, errors and every command a message names say `name`.
pub fn main_as(name: &'static str) -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let _ = PROGRAM.set(name);
    let matches = Cli::command().name(name).bin_name(name).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    run(cli.command, cli.global.db.as_deref())
}

/// gpu-env's commands; flatten into a repo's own subcommands.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Command {
    /// Work with the compatibility database.
    #[command(subcommand)]
    Db(DbCommand),
    /// Tell what this machine's GPU stack has, every fact with its source.
    Probe(probe::ProbeArgs),
    /// Choose a pinned, explained MXNet GPU stack for a target and lock it.
    Resolve(resolve::Args),
    /// Pre-commit check (offline, no GPU): compat-db, lock and generated files are current.
    Check(check::Args),
    /// Prove the locked stack on this machine's GPU, layer by layer.
    Verify(verify::Args),
    /// Diagnose an existing Python environment's MXNet install.
    Doctor(doctor::Args),
    /// Install the locked stack into a Python environment (or --uninstall it).
    Install(install::Args),
    /// In Colab or Kaggle: install the locked stack for this runtime by
    /// running its setup cell with the notebook's Python (the committed
    /// lock here, else a fresh resolve for this runtime).
    Setup(setup::Args),
    /// Add this xtask to a repo: workspace member, cargo alias, config table,
    /// pre-commit hook (creates or merges; never overwrites a file).
    Init(init::Args),
    /// Write the compatibility page (docs/matrix.html): which wheel for a
    /// GPU on Colab, Kaggle or one's own machine, a setup cell per runtime
    /// and GPU (docs/cells/), wheels against GPU architectures and runtime
    /// profiles, driver floors; and its screenshot (docs/matrix.png).
    Matrix(matrix::Args),
}

/// `db` subcommands every repo has (this repo's xtask adds `ingest`).
#[derive(clap::Subcommand, Debug, Clone)]
pub enum DbCommand {
    /// Validate every file: schema, unknown keys, cross-references, provenance.
    Check,
    /// Print the whole database as one JSON document.
    Export {
        /// JSON output (the only format).
        #[arg(long, required = true)]
        json: bool,
    },
}

/// Run one command; `db_dir` is `--db` (None: the embedded compat-db).
/// The one place a command's error is rendered and its status picked.
pub fn run(command: Command, db_dir: Option<&Path>) -> ExitCode {
    finish(dispatch(command, db_dir))
}

/// A command's exit code, its error rendered ([`CliError::render`]).
pub fn finish(result: CliResult) -> ExitCode {
    result.unwrap_or_else(|e| e.render())
}

fn dispatch(command: Command, db_dir: Option<&Path>) -> CliResult {
    match command {
        Command::Db(cmd) => db(cmd, db_dir),
        Command::Probe(args) => probe::run(&args, db_dir),
        Command::Resolve(args) => resolve::run(&args, db_dir),
        Command::Check(args) => check::run(&args, db_dir),
        Command::Verify(args) => verify::run(&args, db_dir),
        Command::Doctor(args) => doctor::run(&args, db_dir),
        Command::Install(args) => install::run(&args, db_dir),
        Command::Setup(args) => setup::run(&args, db_dir),
        Command::Init(args) => init::run(&args),
        Command::Matrix(args) => matrix::run(&args, db_dir),
    }
}

fn db(cmd: DbCommand, dir: Option<&Path>) -> CliResult {
    match cmd {
        DbCommand::Check => {
            let files = crate::db::source_files(dir)?;
            Ok(match crate::db::load_files(&files) {
                Ok(db) => {
                    outln!(
                        "compat-db OK: {} files, {} CUDA releases, {} GPUs, {} cuDNN releases, {} redist packages, {} MXNet wheels, {} runtimes",
                        files.len(),
                        db.cuda.len(),
                        db.gpus.len(),
                        db.cudnn.len(),
                        db.redist.len(),
                        db.wheel_files().count(),
                        db.runtimes.len()
                    );
                    ExitCode::SUCCESS
                }
                Err(diags) => {
                    for d in &diags {
                        errln!("{d}");
                    }
                    errln!("compat-db: {} error(s)", diags.len());
                    ExitCode::from(exit::NO)
                }
            })
        }
        DbCommand::Export { json: _ } => {
            let db = Db::open(dir)?;
            let json = serde_json::to_string_pretty(&db.export_json()).expect("json");
            outln!("{json}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Where a command that reads a lock finds it: `--lock` (against the current
/// directory), else the config's `output.lock` (`config::locate_lock`);
/// [`LockArgs::locate`].
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LockArgs {
    #[arg(long, value_name = "PATH", help = HELP_LOCK)]
    pub lock: Option<std::path::PathBuf>,
    #[arg(long, value_name = "PATH", help = HELP_MANIFEST_PATH)]
    pub manifest_path: Option<std::path::PathBuf>,
    /// The locked target to act on, by spec (`local`, `colab`) or by the
    /// name resolve prints (`colab-2026.08:T4`); default: the first
    /// `local` target, else the first.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
}

/// `--lock`'s help in every command that takes it.
pub const HELP_LOCK: &str =
    "The lock file (default: the config's output.lock, else gpu-env.lock in the workspace root)";
/// `--manifest-path`'s help in every command that takes it.
pub const HELP_MANIFEST_PATH: &str =
    "Read the config ([workspace.metadata.gpu-env]) of this Cargo.toml instead of the one found from the current directory";

/// Where [`LockArgs`] lead, found with one read of the config: the lock,
/// and what commands printed for it must name.
#[derive(Debug, Clone)]
pub struct Located {
    pub path: std::path::PathBuf,
    /// The lock as shown to the user (relative to the current directory).
    pub shown: String,
    /// The lock to name in a printed command (`cargo xtask install --lock
    /// ...`) so that it runs on this very lock from the same directory:
    /// the `--lock` given, or the lock `--manifest-path` led to; None when
    /// a bare command finds it (the config's lock, discovered).
    pub named: Option<std::path::PathBuf>,
    /// The config's setup cell, relative to the current directory (None
    /// when no config is found: the default path is shown).
    pub cell: Option<std::path::PathBuf>,
}

impl LockArgs {
    pub fn locate(&self, cwd: &std::path::Path) -> Result<Located, crate::config::ConfigError> {
        let (path, loaded) =
            crate::config::locate_lock(self.lock.as_deref(), self.manifest_path.as_deref(), cwd)?;
        let rel = |p: &std::path::Path| p.strip_prefix(cwd).unwrap_or(p).to_path_buf();
        let named = match (&self.lock, &self.manifest_path) {
            (Some(l), _) => Some(l.clone()),
            (None, Some(_)) => Some(rel(&path)),
            (None, None) => None,
        };
        let cell = loaded.map(|l| rel(&l.path(&l.config.output.colab_cell)));
        Ok(Located {
            shown: rel(&path).display().to_string(),
            path,
            named,
            cell,
        })
    }

    /// The lock these arguments name, read, and its path as shown to the
    /// user (relative to `cwd`). A missing lock says how to make one.
    pub fn read(&self, cwd: &std::path::Path) -> Result<(crate::lock::Lock, Located), CliError> {
        let at = self.locate(cwd)?;
        let (path, shown) = (&at.path, &at.shown);
        if !path.exists() {
            let which = if self.lock.is_none() {
                " (the config's output.lock, default gpu-env.lock)"
            } else {
                ""
            };
            return Err(format!(
                "{shown}: no such lock{which}; run `cargo xtask resolve` first, or pass --lock PATH"
            )
            .into());
        }
        let lock = crate::lock::Lock::read(path)?;
        Ok((lock, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent_and_lists_every_command() {
        Cli::command().debug_assert();
        let names: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "db", "probe", "resolve", "check", "verify", "doctor", "install", "setup", "init",
                "matrix"
            ]
        );
    }

    #[test]
    fn global_db_parses_after_the_subcommand() {
        use clap::Parser;
        let c = Cli::try_parse_from(["x", "db", "export", "--json", "--db", "/d"]).unwrap();
        assert_eq!(c.global.db.as_deref(), Some(Path::new("/d")));
        assert!(matches!(
            c.command,
            Command::Db(DbCommand::Export { json: true })
        ));
    }
}
