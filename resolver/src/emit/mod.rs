//! Colab setup cell and notebook generated from a lock (issue 5). STUB.

use crate::config::Loaded;
use crate::lock::Lock;
use std::path::{Path, PathBuf};

/// The Colab cell and notebook for the first Colab target of `lock`, as
/// (path, contents); empty when the lock has no Colab target.
pub fn colab_outputs(_loaded: &Loaded, _lock_path: &Path, _lock: &Lock) -> Vec<(PathBuf, String)> {
    Vec::new()
}
