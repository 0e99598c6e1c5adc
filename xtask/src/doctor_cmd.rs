//! `cargo xtask doctor`: diagnose an existing Python environment's MXNet
//! install. Exit codes: 0 nothing wrong, 1 problems found, 2 error (no
//! interpreter, bad compat-db, a `--python` that is no executable).

use crate::cli::EXIT_ERROR;
use gpu_env::doctor::{self, Options};
use gpu_env::pyexe;
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
    let python = match args
        .python
        .as_deref()
        .map(|p| pyexe::find(p, pyexe::Advice::Interpreter))
        .transpose()
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let db = match gpu_env::db::Db::open(db) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let opts = Options {
        python,
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
            ExitCode::from(EXIT_ERROR)
        }
    }
}
