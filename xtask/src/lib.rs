//! `cargo xtask` of the gpu-env repo: gpu-env's product commands
//! (`gpu_env::cli`, what every repo that uses gpu-env gets) and this repo's
//! own tasks on top of them: `db ingest` (measure wheels into the source
//! tree's compat-db) and `e2e`. A library so that the tests package can
//! build the same program as its own binary (`CARGO_BIN_EXE_*`).

/// `println!` through `gpu_env::cli::out` (a closed pipe exits quietly).
macro_rules! outln {
    ($($t:tt)*) => { gpu_env::cli::out(format_args!("{}\n", format_args!($($t)*))) };
}

mod cli;
mod e2e_cmd;
mod e2e_d2l;

use std::process::ExitCode;

/// The whole command line: parse `std::env::args`, run, exit status.
pub fn main() -> ExitCode {
    cli::run()
}
