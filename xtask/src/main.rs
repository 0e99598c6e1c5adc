//! `cargo xtask`: the thin CLI over the gpu-env library. Parsing and
//! rendering only; every decision lives in the library.

mod cli;
mod probe_cmd;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
