//! gpu-env's model: compat-db (`db`), the resolver (`solve`), the lock
//! (`lock`), the repo's config and targets, wheel tags, and the host facts
//! they read (`host`, `binary`). The `gpu-env` crate builds its commands on
//! it and re-exports every module here at its own root; depend on `gpu-env`.

pub mod binary;
pub mod config;
mod config_span;
pub mod db;
pub mod features;
pub mod fsutil;
pub mod generated;
pub mod host;
pub mod lock;
pub mod measure;
pub mod pep440;
pub mod pep508;
pub mod profile;
pub mod solve;
pub mod stamp;
pub mod tags;
pub mod target;
pub mod textual;
pub mod validate;
pub mod versions;
pub mod wheelname;

/// gpu-env's version (its three crates are released together, one version).
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
