//! One install run: site packages with pip, redistributables into their
//! own directory, then the hook; a second run of the same lock is a no-op.

use super::*;

/// A finished install.
#[derive(Debug, Clone)]
pub struct Installed {
    pub env: PyEnv,
    pub paths: Paths,
    /// Nothing to do: the marker and the installed versions match the lock.
    pub already: bool,
    /// `already`, but the hook files were missing or out of date and were rewritten.
    pub hook_rewritten: bool,
    pub files: usize,
    pub bytes: u64,
    pub secs: f64,
}

impl Installed {
    /// `installed 10 files, 2144 MB in 31 s (69 MB/s)`.
    pub fn summary(&self) -> String {
        if self.already {
            return format!(
                "already installed ({} files of the lock in {}){}",
                self.files,
                self.env.prefix,
                if self.hook_rewritten {
                    "; the hook was rewritten"
                } else {
                    ""
                }
            );
        }
        let mb = self.bytes as f64 / 1e6;
        let rate = if self.secs > 0.0 { mb / self.secs } else { 0.0 };
        format!(
            "installed {} files, {mb:.0} MB in {:.0} s ({rate:.0} MB/s)",
            self.files, self.secs
        )
    }
}

fn utf8(p: &Path) -> Result<&str, InstallError> {
    p.to_str().ok_or_else(|| InstallError::NotUtf8 {
        path: p.display().to_string(),
    })
}

pub(super) fn req_line(p: &Pin) -> String {
    // Values validated by target_json (PEP 508 name, https URL without
    // spaces, quotes or `#`, 64 hex digits): one requirement per line.
    format!("{} @ {} --hash=sha256:{}", p.name, p.url, p.sha256)
}

fn pip_install_args(req_file: &Path, extra: &[String]) -> Vec<String> {
    let mut a: Vec<String> = [
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--require-hashes",
        "--only-binary=:all:",
        "--no-input",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "-r",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push(req_file.display().to_string());
    a.extend(extra.iter().cloned());
    a
}

/// Per-file progress of one pip run over `set` (bytes, rate, ETA), from
/// the lines pip prints.
fn file_progress(set: &[&Pin]) -> crate::progress::Files {
    crate::progress::Files::new(set.iter().map(|p| (p.filename.clone(), p.size)).collect())
}

fn site_versions_match(env: &PyEnv, site: &[&Pin]) -> bool {
    site.iter()
        .all(|p| env.versions.get(&p.name).cloned().flatten().as_deref() == Some(&p.version))
}

fn read_marker(path: &Path) -> Option<Marker> {
    serde_json::from_str(&crate::fsutil::read_text(path).ok()?).ok()
}

/// What changed in site-packages between two probes, in words.
pub(super) fn site_changes(before: &PyEnv, after: Option<&PyEnv>, site: &[&Pin]) -> String {
    let Some(after) = after else {
        return "site-packages: state unknown (the interpreter could not be asked again)".into();
    };
    let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "not installed".into());
    let changed: Vec<String> = site
        .iter()
        .filter_map(|p| {
            let b = before.versions.get(&p.name).cloned().flatten();
            let a = after.versions.get(&p.name).cloned().flatten();
            (a != b).then(|| format!("{}: {} -> {}", p.name, show(b.as_ref()), show(a.as_ref())))
        })
        .collect();
    if changed.is_empty() {
        "site-packages: unchanged".into()
    } else {
        format!("site-packages changed: {}", changed.join(", "))
    }
}

/// What one install run works from once the interpreter has answered;
/// each step takes this instead of a long parameter list.
struct InstallRun<'a> {
    t: &'a LockedTarget,
    opts: &'a Options,
    hash: String,
    /// Every locked distribution: what the interpreter is asked about.
    names: Vec<&'a str>,
    /// The environment before anything changed (to say what changed).
    env: PyEnv,
    paths: Paths,
    hook: String,
    site: Vec<&'a Pin>,
    redist: Vec<&'a Pin>,
}

/// Said in every error after the redist step: how to get back to a clean state.
const RETRY: &str = "no hook was written, so `import mxnet` is as before; retry with `cargo xtask install`, or undo with `cargo xtask install --uninstall`";

/// An `Io` error for `path` with `left` describing what is left behind.
fn io_err(
    what: &'static str,
    path: &Path,
    left: &str,
) -> impl FnOnce(std::io::Error) -> InstallError {
    let path = path.display().to_string();
    let left = left.to_string();
    move |source| InstallError::Io {
        what,
        path,
        source,
        left,
    }
}

impl<'a> InstallRun<'a> {
    /// Validate the lock's values, ask the interpreter, and work out paths,
    /// hook text and the two package sets; nothing is changed yet.
    fn plan(
        db: &Db,
        lock: &Lock,
        t: &'a LockedTarget,
        opts: &'a Options,
        say: &mut dyn FnMut(&str),
    ) -> Result<Self, InstallError> {
        let hash = lock.hash();
        // Validate every lock value before anything is asked or changed.
        crate::emit::target_json(db, t)?;
        let names: Vec<&str> = t.package.iter().map(|p| p.name.as_str()).collect();
        let env = probe_env(&opts.python, &names, opts.limits.probe)?;
        check_python(db, lock, t, &opts.python, &env.version)?;
        say(&format!(
            "python {} ({}), environment {}",
            env.executable, env.version, env.prefix
        ));
        let paths = Paths::new(&env, &hash);
        let hook = render_hook(db, t, &hash, utf8(&paths.redist_dir)?)?;
        let (redist, site) = t.package.iter().partition(|p| p.install == "redist");
        Ok(InstallRun {
            t,
            opts,
            hash,
            names,
            env,
            paths,
            hook,
            site,
            redist,
        })
    }

    fn py(&self) -> &'a Path {
        self.opts.python.as_path()
    }

    fn marker(&self) -> Marker {
        Marker {
            lock_sha256: self.hash.clone(),
            prefix: self.env.prefix.clone(),
            target: self.t.name.clone(),
        }
    }

    /// The marker vouches for this lock, prefix and target, and the site
    /// packages are still the locked versions: pip has nothing to do.
    fn already_installed(&self) -> bool {
        read_marker(&self.paths.marker).as_ref() == Some(&self.marker())
            && site_versions_match(&self.env, &self.site)
    }

    /// Rewrite the hook files unless they are exactly what this lock
    /// writes; true when they were rewritten.
    fn refresh_hook(&self) -> Result<bool, InstallError> {
        let read = |p: &Path| crate::fsutil::read_text(p).ok();
        let current = read(&self.paths.hook).as_deref() == Some(self.hook.as_str())
            && read(&self.paths.pth).as_deref() == Some(PTH_TEXT);
        if !current {
            write_hook(&self.paths, &self.hook, "the locked files are installed")?;
        }
        Ok(!current)
    }

    /// Refuse before changing anything when the environment is not
    /// writable or has no pip.
    fn check_can_install(&self) -> Result<(), InstallError> {
        let env = &self.env;
        for (dir, ok) in [
            (&env.purelib, env.purelib_writable),
            (&env.prefix, env.prefix_writable),
        ] {
            if !ok {
                return Err(InstallError::NotWritable { path: dir.clone() });
            }
        }
        let env = [("GPU_ENV_HOOK".into(), "0".into())];
        exec::run(
            self.py(),
            &["-m", "pip", "--version"],
            &env,
            self.opts.limits.probe,
        )
        .map(|_| ())
        .map_err(|e| InstallError::NoPip {
            python: self.py().display().to_string(),
            message: e.to_string(),
        })
    }

    /// A `--require-hashes` requirements file for `set` in `dir`.
    fn write_req(
        &self,
        dir: &Path,
        name: &str,
        set: &[&Pin],
        left: &str,
    ) -> Result<PathBuf, InstallError> {
        let path = dir.join(name);
        let mut text = format!(
            "# gpu-env lock sha256 {}, target {}\n",
            self.hash, self.t.name
        );
        for p in set {
            text.push_str(&req_line(p));
            text.push('\n');
        }
        std::fs::write(&path, text).map_err(io_err("cannot write", &path, left))?;
        Ok(path)
    }

    /// pip `--target` into `<redist_dir>.partial`, then rename it into
    /// place, so a failed download never leaves a half-filled directory.
    /// With no redist packages the (empty) directory is still created.
    fn install_redist(
        &self,
        tmp: &Path,
        step: &str,
        say: &mut dyn FnMut(&str),
    ) -> Result<(), InstallError> {
        let nothing = "nothing was changed";
        let dir = &self.paths.redist_dir;
        if self.redist.is_empty() {
            return std::fs::create_dir_all(dir).map_err(io_err("cannot create", dir, nothing));
        }
        let set_bytes: u64 = self.redist.iter().map(|p| p.size).sum();
        say(&format!(
            "{step} redist: {} file(s) ({}) into {}",
            self.redist.len(),
            crate::progress::bytes(set_bytes),
            dir.display()
        ));
        let req = self.write_req(tmp, "redist.txt", &self.redist, nothing)?;
        let partial = PathBuf::from(format!("{}.partial", dir.display()));
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial).map_err(io_err("cannot create", &partial, nothing))?;
        let args = pip_install_args(&req, &["--target".into(), utf8(&partial)?.into()]);
        let mut files = file_progress(&self.redist);
        let start = Instant::now();
        if let Err(e) = stream::run(self.py(), &args, self.opts.limits.pip, &mut |l| {
            if let Some(p) = files.on_line(l, start.elapsed()) {
                say(&format!("  {p}"));
            }
            say(&format!("  | {l}"))
        }) {
            let partial_left = std::fs::remove_dir_all(&partial)
                .err()
                .map(|_| partial.display().to_string());
            return Err(InstallError::Redist {
                source: Box::new(e),
                partial_left,
            });
        }
        let left = format!(
            "nothing in site-packages changed; the new redist files are in {} (delete it to undo)",
            partial.display()
        );
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(io_err("cannot replace", dir, &left))?;
        }
        std::fs::rename(&partial, dir).map_err(io_err("cannot rename to", dir, &left))
    }

    /// After the redist step: what is left behind, given what happened in
    /// site-packages.
    fn left_after_site(&self, site_state: &str) -> String {
        let redist_note = if self.redist.is_empty() {
            String::new()
        } else {
            format!(
                "the CUDA redistributables are installed in {}; ",
                self.paths.redist_dir.display()
            )
        };
        format!("{redist_note}{site_state}; {RETRY}")
    }

    /// pip install the site packages (hash-checked, no dependencies); on
    /// failure, ask the interpreter again to say what changed.
    fn install_site(
        &self,
        tmp: &Path,
        step: &str,
        say: &mut dyn FnMut(&str),
    ) -> Result<(), InstallError> {
        let set_bytes: u64 = self.site.iter().map(|p| p.size).sum();
        say(&format!(
            "{step} site: {} file(s) ({}) into {}",
            self.site.len(),
            crate::progress::bytes(set_bytes),
            self.env.purelib
        ));
        let left = self.left_after_site("site-packages: unchanged");
        let req = self.write_req(tmp, "site.txt", &self.site, &left)?;
        let args = pip_install_args(&req, &[]);
        let mut files = file_progress(&self.site);
        let start = Instant::now();
        stream::run(self.py(), &args, self.opts.limits.pip, &mut |l| {
            if let Some(p) = files.on_line(l, start.elapsed()) {
                say(&format!("  {p}"));
            }
            say(&format!("  | {l}"))
        })
        .map_err(|e| {
            let after = probe_env(self.py(), &self.names, self.opts.limits.probe).ok();
            InstallError::Site {
                source: Box::new(e),
                left: self.left_after_site(&site_changes(&self.env, after.as_ref(), &self.site)),
            }
        })
    }

    /// pip may succeed and still leave other versions (another pip, a
    /// constraint file): check what the interpreter now sees.
    fn check_locked(&self, after: &PyEnv) -> Result<(), InstallError> {
        if site_versions_match(after, &self.site) {
            return Ok(());
        }
        let found: Vec<String> = self
            .site
            .iter()
            .map(|p| {
                let v = after.versions.get(&p.name).cloned().flatten();
                format!("{} {}", p.name, v.unwrap_or_else(|| "(absent)".into()))
            })
            .collect();
        Err(InstallError::NotLocked {
            python: self.py().display().to_string(),
            found: found.join(", "),
            left: self.left_after_site(&site_changes(&self.env, Some(after), &self.site)),
        })
    }

    /// The hook, then the marker: the marker last, so it only ever vouches
    /// for a finished install.
    fn finish(&self, step: &str, say: &mut dyn FnMut(&str)) -> Result<(), InstallError> {
        say(&format!(
            "{step} hook: {} and {}",
            self.paths.pth.display(),
            self.paths.hook.display()
        ));
        write_hook(&self.paths, &self.hook, "the locked files are installed")?;
        let marker = serde_json::to_string(&self.marker()).expect("json");
        crate::fsutil::write_atomic(&self.paths.marker, marker.as_bytes()).map_err(|e| InstallError::Io {
            what: "cannot write",
            path: e.path.display().to_string(),
            source: e.source,
            left: "the locked files and the hook are installed; only the marker is missing (the next install runs pip again)".into(),
        })
    }
}

/// Install target `t` of `lock` into the environment of `opts.python`.
/// `say` gets every progress line (pip's output indented).
pub fn install(
    db: &Db,
    lock: &Lock,
    t: &LockedTarget,
    opts: &Options,
    say: &mut dyn FnMut(&str),
) -> Result<Installed, InstallError> {
    let start = Instant::now();
    let run = InstallRun::plan(db, lock, t, opts, say)?;
    let files = t.package.len();
    let bytes: u64 = t.package.iter().map(|p| p.size).sum();
    if run.already_installed() {
        let hook_rewritten = run.refresh_hook()?;
        return Ok(Installed {
            env: run.env,
            paths: run.paths,
            already: true,
            hook_rewritten,
            files,
            bytes,
            secs: start.elapsed().as_secs_f64(),
        });
    }
    run.check_can_install()?;
    say(&format!(
        "installing {files} locked files ({}) for target {}, hash-checked, without dependency resolution",
        crate::progress::bytes(bytes),
        t.name
    ));
    let tmp = crate::fsutil::TempDir::new("gpu-env-install-").map_err(io_err(
        "cannot create a temporary directory in",
        &std::env::temp_dir(),
        "nothing was changed",
    ))?;
    // Steps are numbered only when they run: redist and site may be empty.
    let has_redist = usize::from(!run.redist.is_empty());
    let steps = 1 + has_redist + usize::from(!run.site.is_empty());
    let pip_start = Instant::now();
    run.install_redist(tmp.path(), &format!("[1/{steps}]"), say)?;
    // The site step is about to change what the marker vouched for.
    let _ = std::fs::remove_file(&run.paths.marker);
    if !run.site.is_empty() {
        run.install_site(tmp.path(), &format!("[{}/{steps}]", 1 + has_redist), say)?;
    }
    let pip_secs = pip_start.elapsed().as_secs_f64();
    let after = probe_env(run.py(), &run.names, opts.limits.probe)?;
    run.check_locked(&after)?;
    run.finish(&format!("[{steps}/{steps}]"), say)?;
    Ok(Installed {
        env: after,
        paths: run.paths,
        already: false,
        hook_rewritten: false,
        files,
        bytes,
        secs: pip_secs,
    })
}

/// The hook module first, then the `.pth` that imports it: a half-done
/// write never leaves a `.pth` importing a missing module.
fn write_hook(paths: &Paths, hook: &str, done: &str) -> Result<(), InstallError> {
    let left = format!("{done}; the hook is not (run `cargo xtask install` again)");
    for (path, text) in [(&paths.hook, hook), (&paths.pth, PTH_TEXT)] {
        crate::fsutil::write_atomic(path, text.as_bytes()).map_err(|e| InstallError::Io {
            what: "cannot write",
            path: e.path.display().to_string(),
            source: e.source,
            left: left.clone(),
        })?;
    }
    Ok(())
}

/// What the marker records: the same keys the setup cell writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Marker {
    lock_sha256: String,
    prefix: String,
    target: String,
}
