//! What a command prints to get a locked target into an environment.

use super::{Lock, LockedTarget};
use std::path::Path;

impl LockedTarget {
    /// How the target's system libraries (not pinned by the lock) are
    /// provided: the toolkit (`fact` = `cuda_toolkit`) or cuDNN (`cudnn`)
    /// the lock was resolved with, as its facts record them.
    pub fn system_library_advice(&self, fact: &str) -> String {
        let what = match self.fact.iter().find(|f| f.name == fact) {
            Some(f) if fact == "cudnn" => format!("cuDNN {} ({})", f.value, f.source),
            Some(f) => format!("the CUDA {} toolkit ({})", f.value, f.source),
            None => "the system libraries the lock's target had".into(),
        };
        format!("install {what}, or add the directory that holds them to LD_LIBRARY_PATH")
    }
}

/// How target `index` of `lock` gets into `py`'s environment (doctor and
/// verify print it). A notebook target of the config's lock (`lock_path`
/// None): the setup cell, which is generated from that lock, on the
/// platform it was resolved for; elsewhere a `local` target to resolve, as
/// the notebook target's facts (Python, driver, preinstalled packages) are
/// not this machine's. Otherwise the `cargo xtask install` command that
/// picks this very lock and target. `lock_path`: the lock as the user
/// named it (None: the default lock).
/// `cell`: the config's setup cell as shown (None: the default path).
pub fn install_advice(
    lock: &Lock,
    index: usize,
    lock_path: Option<&Path>,
    cell: Option<&Path>,
    py: &Path,
) -> String {
    let t = &lock.target[index];
    let py_word = crate::validate::shell_word(&py.display().to_string());
    if crate::target::is_notebook_kind(&t.kind) && lock_path.is_none() {
        if crate::host::platform::notebook() == Some(t.kind.as_str()) {
            return format!(
                "run the setup cell ({}) first in a fresh runtime: it installs {}",
                cell.unwrap_or(Path::new(crate::config::DEFAULT_COLAB_CELL))
                    .display(),
                t.name
            );
        }
        return format!(
            "the lock's target {} was resolved for a {} runtime (its Python, driver and preinstalled packages), and this machine is not one: add \"local\" to `targets` under [workspace.metadata.gpu-env] in Cargo.toml, run `cargo xtask resolve`, then `cargo xtask install --target local --python {py_word}`",
            t.name, t.kind
        );
    }
    let mut cmd = String::from("cargo xtask install");
    if let Some(p) = lock_path {
        cmd += &format!(
            " --lock {}",
            crate::validate::shell_word(&p.display().to_string())
        );
    }
    if lock.target.len() > 1 {
        cmd += &format!(" --target {}", crate::validate::shell_word(&t.name));
    }
    cmd + &format!(" --python {py_word}")
}
