//! gpu-env: make a GPU Python stack (Apache MXNet wheels, CUDA, cuDNN, numpy)
//! work the first time. Library behind `cargo xtask`; the CLI only parses
//! arguments and renders results.
//!
//! Three crates, one layer each (ARCHITECTURE.md): `gpu-env-core` is the
//! model (compat-db, resolver, lock, host facts), `gpu-env-commands` what
//! each command does, and this crate the CLI. Every module of the two is
//! re-exported here, so a path is `gpu_env::db`, `gpu_env::job`, ...

pub use gpu_env_commands::{
    binary, check_record, config, db, doctor, emit, exit, features, freshness, fsutil, generated,
    host, install, job, lock, matrix, measure, pep440, pep508, probe, profile, progress, report,
    request, setup, solve, stamp, tags, target, textual, validate, verify, version, versions,
    wheelname,
};
#[cfg(feature = "net")]
pub use gpu_env_commands::{hashes, ingest, pypi};

#[cfg(feature = "cli")]
pub mod cli;
