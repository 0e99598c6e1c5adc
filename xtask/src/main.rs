//! `cargo xtask`: the thin CLI over the gpu-env library. Parsing and
//! rendering only; every decision lives in the library.

mod check_cmd;
mod cli;
mod doctor_cmd;
mod e2e_cmd;
mod install_cmd;
mod probe_cmd;
mod resolve_cmd;
mod verify_cmd;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
