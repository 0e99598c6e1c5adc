//! `cargo xtask verify` (STUB: being implemented).

use std::process::ExitCode;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct Args {}

pub fn run(_args: &Args, _db: Option<&std::path::Path>) -> ExitCode {
    eprintln!("verify: not implemented yet");
    ExitCode::from(2)
}
