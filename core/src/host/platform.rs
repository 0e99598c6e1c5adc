//! Which notebook platform this process runs on, by the markers the setup
//! cell uses (`_gpu_env_platform` in emit/cell.py; a test keeps the two
//! lists equal): Kaggle, then Colab, by environment variable or directory.

use std::path::{Path, PathBuf};

/// `(platform, environment variable, directory)`, in the order checked.
pub const MARKERS: [(&str, &str, &str); 2] = [
    ("kaggle", "KAGGLE_KERNEL_RUN_TYPE", "/kaggle/working"),
    ("colab", "COLAB_RELEASE_TAG", "/content"),
];

/// `kaggle`, `colab`, or None elsewhere. Directories are looked up under
/// `GPU_ENV_SYSROOT` when it is set (tests; the probe reads files there).
pub fn notebook() -> Option<&'static str> {
    let root = std::env::var_os("GPU_ENV_SYSROOT").map(PathBuf::from);
    notebook_in(
        |k| std::env::var_os(k).is_some_and(|v| !v.is_empty()),
        root.as_deref(),
    )
}

fn notebook_in(env_set: impl Fn(&str) -> bool, root: Option<&Path>) -> Option<&'static str> {
    let under = |dir: &str| match root {
        Some(r) => r.join(dir.trim_start_matches('/')),
        None => PathBuf::from(dir),
    };
    MARKERS
        .into_iter()
        .find(|(_, var, dir)| env_set(var) || under(dir).is_dir())
        .map(|(platform, _, _)| platform)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_by_variable_or_directory() {
        let none = tempfile::tempdir().unwrap();
        assert_eq!(notebook_in(|_| false, Some(none.path())), None);
        assert_eq!(
            notebook_in(|k| k == "COLAB_RELEASE_TAG", Some(none.path())),
            Some("colab")
        );
        std::fs::create_dir_all(none.path().join("kaggle/working")).unwrap();
        assert_eq!(notebook_in(|_| false, Some(none.path())), Some("kaggle"));
    }
}
