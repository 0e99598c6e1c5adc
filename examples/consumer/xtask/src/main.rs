//! This repo's tasks: gpu-env's commands (`cargo xtask resolve`, `check`,
//! `verify`, `doctor`, `install`, ...) next to the repo's own.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", about = "This repo's tasks")]
struct Cli {
    #[command(flatten)]
    global: gpu_env::cli::GlobalArgs,
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    #[command(flatten)]
    GpuEnv(gpu_env::cli::Command),
    // This repo's own tasks go here.
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.task {
        Task::GpuEnv(command) => gpu_env::cli::run(command, cli.global.db.as_deref()),
    }
}
