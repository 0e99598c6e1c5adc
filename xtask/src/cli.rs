use clap::{Parser, Subcommand};
use gpu_env::db::Db;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit codes: 0 success; 1 the answer is "no" (check failed, unsatisfiable,
/// verify failed); 2 usage or input error (bad file, network, bad arguments).
pub const EXIT_NO: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    version,
    about = "Make a GPU Python stack (MXNet, CUDA, cuDNN, numpy) work the first time"
)]
struct Cli {
    /// Use the compat-db in DIR instead of the copy embedded in this binary.
    #[arg(long, global = true, value_name = "DIR")]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with the compatibility database.
    #[command(subcommand)]
    Db(DbCommand),
    /// Tell what this machine's GPU stack has, every fact with its source.
    Probe(crate::probe_cmd::ProbeArgs),
    /// Choose a pinned, explained MXNet GPU stack for a target and lock it.
    Resolve(crate::resolve_cmd::Args),
    /// Pre-commit check (offline, no GPU): compat-db, lock and generated files are current.
    Check(crate::check_cmd::Args),
    /// Prove the locked stack on this machine's GPU, layer by layer.
    Verify(crate::verify_cmd::Args),
    /// Diagnose an existing Python environment's MXNet install.
    Doctor(crate::doctor_cmd::Args),
    /// Opt-in end-to-end tests in real venvs (downloads about 2 GB).
    E2e(crate::e2e_cmd::Args),
    /// Install the locked stack into a Python environment (or --uninstall it).
    Install(crate::install_cmd::Args),
}

#[derive(Subcommand)]
enum DbCommand {
    /// Validate every file: schema, unknown keys, cross-references, provenance.
    Check,
    /// Measure MXNet wheels (paths or URLs) and write their records.
    #[cfg(feature = "net")]
    Ingest {
        /// Wheel files or URLs (files must be the exact PyPI artifacts).
        sources: Vec<String>,
        /// Walk PyPI's listing of every MXNet variant compat-db covers.
        #[arg(long)]
        all: bool,
        /// Re-measure wheels whose record already has the same sha256.
        #[arg(long)]
        force: bool,
    },
    /// Print the whole database as one JSON document.
    Export {
        /// JSON output (the only format).
        #[arg(long, required = true)]
        json: bool,
    },
}

#[cfg(feature = "net")]
/// The source tree's compat-db, where `db ingest` writes by default.
fn source_db_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compat-db");
    dir.canonicalize().unwrap_or(dir)
}

fn open_db(dir: Option<&Path>) -> Result<Db, ExitCode> {
    Db::open(dir).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_ERROR)
    })
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Db(cmd) => db(cmd, cli.db.as_deref()),
        Command::Probe(args) => crate::probe_cmd::run(&args, cli.db.as_deref()),
        Command::Resolve(args) => crate::resolve_cmd::run(&args, cli.db.as_deref()),
        Command::Check(args) => crate::check_cmd::run(&args, cli.db.as_deref()),
        Command::Verify(args) => crate::verify_cmd::run(&args, cli.db.as_deref()),
        Command::Doctor(args) => crate::doctor_cmd::run(&args, cli.db.as_deref()),
        Command::E2e(args) => crate::e2e_cmd::run(&args, cli.db.as_deref()),
        Command::Install(args) => crate::install_cmd::run(&args, cli.db.as_deref()),
    }
}

fn db(cmd: DbCommand, dir: Option<&Path>) -> ExitCode {
    match cmd {
        DbCommand::Check => {
            let files = match gpu_env::db::source_files(dir) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(EXIT_ERROR);
                }
            };
            match gpu_env::db::load_files(&files) {
                Ok(db) => {
                    println!(
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
                        eprintln!("{d}");
                    }
                    eprintln!("compat-db: {} error(s)", diags.len());
                    ExitCode::from(EXIT_NO)
                }
            }
        }
        #[cfg(feature = "net")]
        DbCommand::Ingest {
            sources,
            all,
            force,
        } => ingest(sources, all, force, dir),
        DbCommand::Export { json: _ } => match open_db(dir) {
            Ok(db) => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&db.export_json()).expect("json")
                );
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
    }
}

#[cfg(feature = "net")]
fn ingest(mut sources: Vec<String>, all: bool, force: bool, dir: Option<&Path>) -> ExitCode {
    use gpu_env::ingest::{self, Outcome};
    let client = gpu_env::pypi::Client::new();
    let db_dir = dir.map(Path::to_path_buf).unwrap_or_else(source_db_dir);
    if all {
        match ingest::all_urls(&client) {
            Ok(urls) => sources.extend(urls),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_ERROR);
            }
        }
    }
    if sources.is_empty() {
        eprintln!("error: nothing to ingest: give wheel paths or URLs, or --all");
        return ExitCode::from(EXIT_ERROR);
    }
    let mut failed = 0;
    let total = sources.len();
    for (i, s) in sources.iter().enumerate() {
        let short = s.rsplit('/').next().unwrap_or(s);
        eprintln!("[{}/{}] {short}", i + 1, total);
        match ingest::ingest(&client, s, &db_dir, force) {
            Ok(Outcome::Written { record, wheel }) => println!(
                "wrote {} ({}: needed {}, sass {:?}, ptx {:?}{})",
                record.display(),
                wheel.filename,
                wheel.needed.len(),
                wheel.sass,
                wheel.ptx,
                if wheel.placeholder {
                    ", placeholder"
                } else {
                    ""
                }
            ),
            Ok(Outcome::Unchanged { record }) => {
                println!("unchanged {} ({short})", record.display())
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {total} wheel(s) failed; nothing was written for them");
        ExitCode::from(EXIT_ERROR)
    } else {
        ExitCode::SUCCESS
    }
}
