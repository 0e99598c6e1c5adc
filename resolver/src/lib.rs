//! gpu-env: make a GPU Python stack (Apache MXNet wheels, CUDA, cuDNN, numpy)
//! work the first time. Library behind `cargo xtask`; the CLI only parses
//! arguments and renders results.

pub mod binary;
pub mod db;
pub mod pep440;
pub mod pep508;
pub mod textual;
pub mod versions;

pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
pub mod check_record;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
mod config_span;
pub mod doctor;
pub mod emit;
pub mod exit;
pub mod features;
pub mod freshness;
pub mod fsutil;
pub mod generated;
#[cfg(feature = "net")]
pub mod hashes;
pub mod host;
#[cfg(feature = "net")]
pub mod ingest;
pub mod install;
pub mod job;
pub mod lock;
pub mod matrix;
pub mod measure;
pub mod probe;
pub mod profile;
pub mod progress;
#[cfg(feature = "net")]
pub mod pypi;
pub mod report;
pub mod request;
pub mod setup;
pub mod solve;
pub mod stamp;
pub mod tags;
pub mod target;
pub mod validate;
pub mod verify;
pub mod wheelname;
