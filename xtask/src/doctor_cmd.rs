//! `cargo xtask doctor`: diagnose an existing Python environment's MXNet
//! install. Exit codes: 0 nothing wrong, 1 problems found, 2 error (no
//! interpreter, bad compat-db).

use gpu_env::doctor::{self, Options};
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
}

pub fn run(args: &Args, db: Option<&std::path::Path>) -> ExitCode {
    let db = match gpu_env::db::Db::open(db) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(doctor::EXIT_ERROR);
        }
    };
    let opts = Options {
        python: args.python.clone(),
        no_import: args.no_import,
        ..Default::default()
    };
    match doctor::doctor(&db, &opts) {
        Ok(r) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&r).expect("json"));
            } else {
                print!("{}", doctor::render(&r));
            }
            ExitCode::from(r.exit_code)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(doctor::EXIT_ERROR)
        }
    }
}
