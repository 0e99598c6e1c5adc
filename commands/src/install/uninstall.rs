//! `--uninstall`: what install wrote for a lock, removed; nothing else.

use super::run::site_changes;
use super::*;

/// What `--uninstall` did.
#[derive(Debug, Clone)]
pub struct Removed {
    pub env: PyEnv,
    /// Each thing removed, in words.
    pub removed: Vec<String>,
    /// Things left in place, with why.
    pub kept: Vec<String>,
}

impl Removed {
    pub fn summary(&self) -> String {
        let mut s = if self.removed.is_empty() {
            format!("nothing of gpu-env's to remove in {}", self.env.prefix)
        } else {
            format!(
                "uninstalled from {}: {}",
                self.env.prefix,
                self.removed.join("; ")
            )
        };
        for k in &self.kept {
            s.push_str(&format!("\nleft in place: {k}"));
        }
        s
    }
}

/// What uninstall has done so far, and what it leaves in place; every
/// error says what was already removed.
#[derive(Default)]
struct Removal {
    removed: Vec<String>,
    kept: Vec<String>,
}

impl Removal {
    fn left(&self) -> String {
        if self.removed.is_empty() {
            "nothing was removed".to_string()
        } else {
            format!("removed so far: {}", self.removed.join("; "))
        }
    }

    /// Remove one file; one already gone is not an error.
    fn rm_file(&mut self, path: &Path) -> Result<(), InstallError> {
        match std::fs::remove_file(path) {
            Ok(()) => {
                self.removed.push(path.display().to_string());
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(InstallError::Io {
                what: "cannot remove",
                path: path.display().to_string(),
                source,
                left: self.left(),
            }),
        }
    }

    /// The `.pth` and the hook, each only when it is what gpu-env writes,
    /// and the hook's cached bytecode.
    fn remove_hook(&mut self, paths: &Paths, purelib: &str) -> Result<(), InstallError> {
        // The .pth first: from then on no interpreter start imports the hook.
        match crate::fsutil::read_text(&paths.pth) {
            Ok(text) if text == PTH_TEXT => self.rm_file(&paths.pth)?,
            Ok(_) => self.kept.push(format!(
                "{} (not as gpu-env writes it)",
                paths.pth.display()
            )),
            Err(_) => {}
        }
        match crate::fsutil::read_text(&paths.hook) {
            Ok(text) if text.starts_with(HOOK_HEAD) => self.rm_file(&paths.hook)?,
            Ok(_) => self
                .kept
                .push(format!("{} (not written by gpu-env)", paths.hook.display())),
            Err(_) => {}
        }
        let cache = Path::new(purelib).join("__pycache__");
        if let Ok(entries) = std::fs::read_dir(&cache) {
            for e in entries.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with("_gpu_env_hook.") && n.ends_with(".pyc") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }

    /// This lock's redist directory and any `.partial` a failed install
    /// left, then the base directory if no other lock uses it.
    fn remove_redist(&mut self, paths: &Paths) -> Result<(), InstallError> {
        let partial = PathBuf::from(format!("{}.partial", paths.redist_dir.display()));
        for dir in [&paths.redist_dir, &partial] {
            if dir.exists() {
                std::fs::remove_dir_all(dir).map_err(|source| InstallError::Io {
                    what: "cannot remove",
                    path: dir.display().to_string(),
                    source,
                    left: self.left(),
                })?;
                self.removed.push(dir.display().to_string());
            }
        }
        if let Some(base) = paths.redist_dir.parent() {
            // Only when empty (other locks' directories stay).
            let _ = std::fs::remove_dir(base);
        }
        Ok(())
    }

    /// The site packages installed at their locked version (others were
    /// not installed by this lock and are kept, with why).
    fn locked_installed<'p>(&mut self, env: &PyEnv, site: &[&'p Pin]) -> Vec<&'p Pin> {
        let mut drop = Vec::new();
        for p in site {
            match env.versions.get(&p.name).cloned().flatten() {
                Some(v) if v == p.version => drop.push(*p),
                Some(v) => self.kept.push(format!(
                    "{} {v} (the lock pins {}; not installed by this lock)",
                    p.name, p.version
                )),
                None => {}
            }
        }
        drop
    }
}

/// Undo [`install`] for target `t` of `lock`: remove the `.pth`, the hook
/// and the redist directory, then `pip uninstall -y` each locked site
/// package whose installed version is the locked one.
pub fn uninstall(
    lock: &Lock,
    t: &LockedTarget,
    opts: &Options,
    say: &mut dyn FnMut(&str),
) -> Result<Removed, InstallError> {
    let hash = lock.hash();
    let site: Vec<&Pin> = t.package.iter().filter(|p| p.install != "redist").collect();
    let names: Vec<&str> = site.iter().map(|p| p.name.as_str()).collect();
    let py = opts.python.as_path();
    let env = probe_env(py, &names, opts.limits.probe)?;
    say(&format!(
        "python {} ({}), environment {}",
        env.executable, env.version, env.prefix
    ));
    let paths = Paths::new(&env, &hash);
    let mut r = Removal::default();
    r.remove_hook(&paths, &env.purelib)?;
    r.remove_redist(&paths)?;
    let drop = r.locked_installed(&env, &site);
    if !drop.is_empty() {
        let shown: Vec<String> = drop
            .iter()
            .map(|p| format!("{} {}", p.name, p.version))
            .collect();
        say(&format!("pip uninstall: {}", shown.join(", ")));
        let mut args: Vec<String> = [
            "-m",
            "pip",
            "uninstall",
            "-y",
            "--no-input",
            "--disable-pip-version-check",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(drop.iter().map(|p| p.name.clone()));
        if let Err(e) = stream::run(py, &args, opts.limits.pip_uninstall, &mut |l| {
            say(&format!("  | {l}"))
        }) {
            let after = probe_env(py, &names, opts.limits.probe).ok();
            return Err(InstallError::Uninstall {
                source: Box::new(e),
                left: format!(
                    "{}; {}",
                    r.left(),
                    site_changes(&env, after.as_ref(), &site)
                ),
            });
        }
        r.removed.extend(shown);
    }
    Ok(Removed {
        env,
        removed: r.removed,
        kept: r.kept,
    })
}
