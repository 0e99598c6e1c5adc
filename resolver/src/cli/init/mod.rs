//! `cargo xtask init [DIR]`: add a gpu-env xtask to a repo: the `xtask`
//! crate (a workspace member whose `main.rs` embeds [`super::Command`]),
//! the `xtask` cargo alias, the `[workspace.metadata.gpu-env]` table and a
//! pre-commit hook running `cargo xtask check`.
//!
//! It never overwrites a file: each file is created when absent; when
//! present it is merged only where the merge is unambiguous (a key or
//! table that does not exist yet, a member appended to `[workspace]
//! members`, a hook appended to `repos:`), and the change is printed;
//! otherwise that file is refused and the exact lines to add are printed.
//! Exit 0 when every file is in place, 1 when a file was refused, 2 when
//! DIR cannot be used. A second run changes nothing.

use std::path::PathBuf;

#[cfg(feature = "init")]
mod edit;
#[cfg(feature = "init")]
pub use edit::*;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct Args {
    /// The repo's root directory (default: the current directory).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Depend on gpu-env from this git repository (default: a path
    /// dependency on the gpu-env source this binary was built from).
    #[arg(long, value_name = "URL")]
    pub git: Option<String>,
    /// With --git: the tag to build.
    #[arg(long, value_name = "TAG", requires = "git", conflicts_with = "rev")]
    pub tag: Option<String>,
    /// With --git: the commit to build.
    #[arg(long, value_name = "REV", requires = "git")]
    pub rev: Option<String>,
    /// Targets of a new config table (repeatable; default: colab).
    #[arg(long = "target", value_name = "TARGET")]
    pub targets: Vec<String>,
    /// An optional part of gpu-env to build besides the commands
    /// (repeatable): `net` for `resolve --verify-pypi` (HTTP), `cuda` for the
    /// CUDA driver API in `probe` and `verify`. Default: neither, the light
    /// build that `check` and an offline `resolve` need.
    #[arg(long = "feature", value_name = "FEATURE", value_parser = crate::features::OPTIONAL)]
    pub features: Vec<String>,
}

/// The crates a gpu-env dependency builds: this one and the two layers
/// under it (cargo takes a profile per package, never per dependency tree).
pub const CRATES: [&str; 3] = ["gpu-env", "gpu-env-commands", "gpu-env-core"];

/// Without the `init` feature: the one message a command gives when its
/// build lacks a feature.
#[cfg(not(feature = "init"))]
pub fn run(_: &Args) -> super::CliResult {
    Err(crate::features::missing("init", "`init`").into())
}
