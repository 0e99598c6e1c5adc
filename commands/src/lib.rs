//! gpu-env's commands without their argument parsing: what `resolve`
//! (`job`), the generated files (`emit`), `check` (`freshness`), `probe`,
//! `verify`, `doctor`, `install` and `matrix` do, on gpu-env-core's model.
//! The `gpu-env` crate's CLI runs them and re-exports every module here at
//! its own root; depend on `gpu-env`.

// The model's modules at this crate's root, so a path is `crate::db`
// here as in the `gpu-env` crate.
pub use gpu_env_core::{
    binary, config, db, features, fsutil, generated, host, lock, measure, pep440, pep508, profile,
    solve, stamp, tags, target, textual, validate, version, versions, wheelname,
};

pub mod check_record;
pub mod doctor;
pub mod emit;
pub mod exit;
pub mod freshness;
#[cfg(feature = "net")]
pub mod hashes;
#[cfg(feature = "net")]
pub mod ingest;
pub mod install;
pub mod job;
pub mod matrix;
pub mod probe;
pub mod progress;
#[cfg(feature = "net")]
pub mod pypi;
pub mod report;
pub mod request;
pub mod setup;
pub mod verify;
