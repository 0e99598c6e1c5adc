//! `cargo xtask verify`: prove the locked stack on this machine, layer by
//! layer (docs/verify.md). Exit codes: 0 every layer passed, 1 a layer
//! failed, 2 usage/input error, 3 no NVIDIA driver or GPU (device layers
//! skipped).

use gpu_env::verify::{self, Options};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct Args {
    /// The lock to verify.
    #[arg(long, value_name = "PATH", default_value = "gpu-env.lock")]
    pub lock: PathBuf,
    /// Which target of the lock (0-based; default the first).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub target_index: usize,
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

fn error(m: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {m}");
    ExitCode::from(verify::EXIT_ERROR)
}

pub fn run(args: &Args, db: Option<&std::path::Path>) -> ExitCode {
    let lock = match gpu_env::lock::Lock::read(&args.lock) {
        Ok(l) => l,
        Err(e) => return error(e),
    };
    if args.target_index >= lock.target.len() {
        return error(format!(
            "--target-index {}: {} has {} target(s)",
            args.target_index,
            args.lock.display(),
            lock.target.len()
        ));
    }
    let db = match gpu_env::db::Db::open(db) {
        Ok(d) => d,
        Err(e) => return error(e),
    };
    let report = verify::verify(
        &lock,
        &args.lock.display().to_string(),
        args.target_index,
        &db,
        &Options {
            python: args.python.clone(),
            redist_dir: args.redist_dir.clone(),
            nvrtc_dirs: args.nvrtc_dir.clone(),
            no_python: args.no_python,
            ..Default::default()
        },
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        print!("{}", verify::render(&report));
    }
    ExitCode::from(report.exit_code)
}
