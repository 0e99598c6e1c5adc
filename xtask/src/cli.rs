//! gpu-env's commands plus this repo's tasks. `db ingest` joins gpu-env's
//! `db` subcommands and `e2e` its top level, so `cargo xtask --help` lists
//! everything; the rest is `gpu_env::cli::run`.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use gpu_env::cli::GlobalArgs;
use std::process::ExitCode;
#[cfg(feature = "net")]
use {
    clap::Args,
    std::path::{Path, PathBuf},
};

#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about = gpu_env::cli::ABOUT)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    task: Task,
}

// Parsed once per run; the product commands' arguments are the large variant.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Task {
    #[command(flatten)]
    GpuEnv(gpu_env::cli::Command),
    /// Opt-in end-to-end tests in real venvs (downloads about 2 GB).
    E2e(crate::e2e_cmd::Args),
}

/// `db ingest`: this repo's task under gpu-env's `db`.
#[cfg(feature = "net")]
#[derive(Args)]
struct Ingest {
    /// Wheel files or URLs (files must be the exact PyPI artifacts).
    sources: Vec<String>,
    /// Walk PyPI's listing of every MXNet variant compat-db covers.
    #[arg(long)]
    all: bool,
    /// Re-measure wheels whose record already has the same sha256.
    #[arg(long)]
    force: bool,
}

/// `db gpu-code`: the GPU code of every shared library in wheel files.
#[derive(clap::Args)]
struct GpuCode {
    /// Wheel files (a cuDNN redistributable, an MXNet wheel).
    #[arg(required = true)]
    wheels: Vec<std::path::PathBuf>,
}

fn command() -> clap::Command {
    let cmd = Cli::command().mut_subcommand("db", |db| {
        db.subcommand(
            <GpuCode as clap::Args>::augment_args(clap::Command::new("gpu-code")).about(
                "Print the SASS/PTX architectures of every shared library in wheel files (read as `db ingest` reads libmxnet.so).",
            ),
        )
    });
    #[cfg(feature = "net")]
    let cmd = cmd.mut_subcommand("db", |db| {
        db.subcommand(
            Ingest::augment_args(clap::Command::new("ingest"))
                .about("Measure MXNet wheels (paths or URLs) and write their records."),
        )
    });
    cmd
}

pub(crate) fn run() -> ExitCode {
    let matches = command().get_matches();
    if let Some(("db", db)) = matches.subcommand() {
        if let Some(("gpu-code", m)) = db.subcommand() {
            let a = GpuCode::from_arg_matches(m).unwrap_or_else(|e| e.exit());
            return gpu_code(&a.wheels);
        }
    }
    #[cfg(feature = "net")]
    if let Some(("db", db)) = matches.subcommand() {
        if let Some(("ingest", m)) = db.subcommand() {
            let a = Ingest::from_arg_matches(m).unwrap_or_else(|e| e.exit());
            let dir = m.get_one::<PathBuf>("db").map(PathBuf::as_path);
            return gpu_env::cli::finish(ingest(a.sources, a.all, a.force, dir));
        }
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let db = cli.global.db.as_deref();
    match cli.task {
        Task::GpuEnv(c) => gpu_env::cli::run(c, db),
        Task::E2e(args) => gpu_env::cli::finish(crate::e2e_cmd::run(&args, db)),
    }
}

/// One line per library: member, sha256, SASS, PTX, modules, where read.
fn gpu_code(wheels: &[std::path::PathBuf]) -> ExitCode {
    for w in wheels {
        match gpu_env::measure::libraries_code(w) {
            Ok(libs) => {
                for l in libs {
                    println!(
                        "{}: {} sha256 {} sass {:?} ptx {:?} modules {} ({})",
                        w.display(),
                        l.member,
                        l.sha256,
                        l.code.sass,
                        l.code.ptx,
                        l.code.containers,
                        l.how
                    );
                }
            }
            Err(e) => {
                eprintln!("error: {}: {e}", w.display());
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}

#[cfg(feature = "net")]
/// The source tree's compat-db, where `db ingest` writes by default.
fn source_db_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compat-db");
    dir.canonicalize().unwrap_or(dir)
}

#[cfg(feature = "net")]
fn ingest(
    sources: Vec<String>,
    all: bool,
    force: bool,
    dir: Option<&Path>,
) -> gpu_env::cli::CliResult {
    use gpu_env::ingest::{self, Planned};
    let client = gpu_env::pypi::Client::new();
    let db_dir = dir.map(Path::to_path_buf).unwrap_or_else(source_db_dir);
    // Sizes are known for --all (PyPI's listing); 0 for given sources.
    let mut plan: Vec<Planned> = sources
        .into_iter()
        .map(|url| Planned {
            filename: url.rsplit('/').next().unwrap_or(&url).to_string(),
            url,
            size: 0,
        })
        .collect();
    if all {
        plan.extend(ingest::all_wheels(&client)?);
    }
    if plan.is_empty() {
        return Err("nothing to ingest: give wheel paths or URLs, or --all".into());
    }
    let total_bytes: u64 = plan.iter().map(|p| p.size).sum();
    let (mut failed, mut done_bytes, mut streamed) = (0, 0u64, 0u64);
    let start = std::time::Instant::now();
    let total = plan.len();
    for (i, p) in plan.iter().enumerate() {
        eprintln!(
            "[{}/{}] {} ({})",
            i + 1,
            total,
            p.filename,
            gpu_env::progress::bytes(p.size)
        );
        let outcome = ingest::ingest(&client, &p.url, &db_dir, force);
        done_bytes += p.size;
        match outcome {
            Ok(o) => {
                if matches!(o, ingest::Outcome::Written { .. }) && gpu_env::pypi::is_url(&p.url) {
                    streamed += p.size;
                }
                report(&o, &p.filename);
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
        if total_bytes > 0 {
            eprintln!(
                "  overall: {} of {total} wheels; {} streamed; {}",
                i + 1,
                gib(streamed),
                gpu_env::progress::status(done_bytes, total_bytes, start.elapsed())
            );
        }
    }
    eprintln!(
        "streamed {} in {:.0} s",
        gib(streamed),
        start.elapsed().as_secs_f64()
    );
    if failed > 0 {
        let e = format!("{failed} of {total} wheel(s) failed; nothing was written for them");
        Err(e.into())
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

#[cfg(feature = "net")]
fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / f64::from(1u32 << 30))
}

#[cfg(feature = "net")]
fn report(o: &gpu_env::ingest::Outcome, short: &str) {
    use gpu_env::ingest::Outcome;
    match o {
        Outcome::Written { record, wheel } => outln!(
            "wrote {} ({}: needed {}, sass {:?}, ptx {:?}, modules {}{}{}{})",
            record.display(),
            wheel.filename,
            wheel.needed.len(),
            wheel.sass,
            wheel.ptx,
            wheel.modules.map_or("-".into(), |m| m.to_string()),
            wheel
                .static_cudnn
                .as_ref()
                .map_or(String::new(), |c| format!(", static cuDNN {c}")),
            wheel
                .packed
                .as_ref()
                .map_or(String::new(), |p| format!(", packed {p}")),
            if wheel.placeholder {
                ", placeholder"
            } else {
                ""
            }
        ),
        Outcome::Unchanged { record } => {
            outln!("unchanged {} ({short})", record.display())
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_lists_product_commands_and_repo_tasks() {
        let cmd = super::command();
        cmd.clone().debug_assert();
        let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
        for n in [
            "db", "probe", "resolve", "check", "verify", "doctor", "install", "init", "e2e",
        ] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
        let db = cmd.find_subcommand("db").unwrap();
        let db: Vec<&str> = db.get_subcommands().map(|c| c.get_name()).collect();
        assert!(db.contains(&"check") && db.contains(&"export"), "{db:?}");
        #[cfg(feature = "net")]
        assert!(db.contains(&"ingest"), "{db:?}");
    }
}
