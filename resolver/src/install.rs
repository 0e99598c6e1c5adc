//! `cargo xtask install`: install exactly one locked target's files into a
//! Python environment and make a plain `import mxnet` work there.
//!
//! Site packages go in with `pip install --no-deps --require-hashes`; CUDA
//! redistributables (`install = "redist"`) go with `--target` into a
//! directory of their own, `<sys.prefix>/gpu-env-redist/<lock sha256[:16]>`,
//! filled as `.partial` and then renamed (as the setup cell does), so they
//! never overwrite other `nvidia-*` files in site-packages. Then
//! `gpu_env.pth` and `_gpu_env_hook.py` are written into the environment's
//! purelib: the hook runs the shared runtime's preloads and shims
//! ([`crate::emit::RUNTIME_PY`]) the first time `mxnet` is imported. A
//! marker in the redist directory (lock sha256, `sys.prefix`, target) makes
//! a second run a no-op. Every value from the lock is validated
//! ([`crate::emit::target_json`]) before anything is changed.

mod stream;

use crate::db::Db;
use crate::emit::{pyquote, EmitError};
use crate::host::exec::{self, ExecError};
use crate::lock::{Lock, LockedTarget};
use crate::solve::Pin;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use stream::RunError;

/// The hook's own code, after the runtime and the data block.
pub const HOOK_PY: &str = include_str!("install_hook.py");
/// The `.pth` file and the module it imports, in the environment's purelib.
pub const PTH_NAME: &str = "gpu_env.pth";
pub const HOOK_NAME: &str = "_gpu_env_hook.py";
pub const PTH_TEXT: &str = "import _gpu_env_hook\n";
/// First line of every hook gpu-env writes (uninstall removes only those).
const HOOK_HEAD: &str = "# gpu-env install hook:";
/// Directory under `sys.prefix` holding one redist directory per lock.
pub const REDIST_BASE: &str = "gpu-env-redist";
/// Marker file inside the redist directory.
pub const MARKER: &str = ".gpu-env-installed";

/// Limits for the subprocesses install runs.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Asking the interpreter about itself.
    pub probe: Duration,
    /// One `pip install` (downloads of about 2 GB on a slow link).
    pub pip: Duration,
    /// One `pip uninstall`.
    pub pip_uninstall: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            probe: crate::host::python::ASK_TIMEOUT,
            pip: Duration::from_secs(30 * 60),
            pip_uninstall: Duration::from_secs(10 * 60),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    Pick(#[from] crate::lock::PickError),
    /// The interpreter is not one the target's wheels install and import on.
    #[error("{0}")]
    PythonMismatch(String),
    #[error("{0}")]
    Invalid(#[from] EmitError),
    #[error("{python}: cannot ask the interpreter about its environment: {source}")]
    Probe { python: String, source: ExecError },
    #[error("{python}: unexpected answer about its environment: {message}")]
    ProbeOutput { python: String, message: String },
    #[error("{python}: pip is not available ({message}); install it with `{python} -m ensurepip`")]
    NoPip { python: String, message: String },
    #[error("{path} is not writable for this user; nothing was changed (use a virtual environment, or run as the owner)")]
    NotWritable { path: String },
    #[error("{path}: the path is not UTF-8; nothing was changed")]
    NotUtf8 { path: String },
    #[error("the redist step failed: {source}\nnothing in site-packages changed{}", redist_left(.partial_left))]
    Redist {
        source: Box<RunError>,
        partial_left: Option<String>,
    },
    #[error("the site step failed: {source}\n{left}")]
    Site { source: Box<RunError>, left: String },
    #[error("{what} {path}: {source}\n{left}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
        left: String,
    },
    #[error("after pip, {python} sees {found} instead of the locked versions\n{left}")]
    NotLocked {
        python: String,
        found: String,
        left: String,
    },
    #[error("pip uninstall failed: {source}\n{left}")]
    Uninstall { source: Box<RunError>, left: String },
}

fn redist_left(partial: &Option<String>) -> String {
    match partial {
        Some(p) => format!("; {p} could not be removed, delete it by hand"),
        None => "; the partial redist directory was removed".into(),
    }
}

/// The target to install: [`Lock::pick`], preferring by default the first
/// `local` target that `fits` (the interpreter's Python).
pub fn pick_target<'a>(
    lock: &'a Lock,
    want: Option<&str>,
    fits: impl Fn(&LockedTarget) -> bool,
) -> Result<&'a LockedTarget, InstallError> {
    Ok(&lock.target[lock.pick(want, fits)?])
}

/// Target `t` against interpreter `python` of CPython `version`
/// ([`Lock::python_mismatch`]): an error before anything is changed.
pub fn check_python(
    db: &Db,
    lock: &Lock,
    t: &LockedTarget,
    python: &Path,
    version: &str,
) -> Result<(), InstallError> {
    match lock.python_mismatch(t, &db.python, python, version) {
        None => Ok(()),
        Some(m) => Err(InstallError::PythonMismatch(format!(
            "{} Nothing was installed. {} and install again",
            m.what, m.fix
        ))),
    }
}

/// What the interpreter says about its environment.
#[derive(Debug, Clone, Deserialize)]
pub struct PyEnv {
    pub executable: String,
    pub version: String,
    pub prefix: String,
    pub purelib: String,
    pub prefix_writable: bool,
    pub purelib_writable: bool,
    /// Installed version of each asked-for distribution (None: absent).
    pub versions: BTreeMap<String, Option<String>>,
}

const PROBE_PY: &str = r#"
import json, os, sys, sysconfig
import importlib, importlib.metadata as md
importlib.invalidate_caches()
def v(n):
    try:
        return md.version(n)
    except md.PackageNotFoundError:
        return None
purelib = sysconfig.get_paths()["purelib"]
names = json.loads(sys.argv[1])
print(json.dumps({
    "executable": sys.executable,
    "version": "%d.%d.%d" % sys.version_info[:3],
    "prefix": sys.prefix,
    "purelib": purelib,
    "prefix_writable": os.access(sys.prefix, os.W_OK),
    "purelib_writable": os.access(purelib, os.W_OK),
    "versions": dict((n, v(n)) for n in names),
}))
"#;

/// Ask `python` for its prefix, purelib and the installed versions of
/// `names` (data passed as an argument, never as code).
pub fn probe_env(python: &Path, names: &[&str], timeout: Duration) -> Result<PyEnv, InstallError> {
    let shown = python.display().to_string();
    let arg = serde_json::to_string(names).expect("json");
    // GPU_ENV_HOOK=0: asking must not depend on a hook already installed.
    let env = [("GPU_ENV_HOOK".to_string(), "0".to_string())];
    let o = exec::run(python, &["-c", PROBE_PY, &arg], &env, timeout).map_err(|source| {
        InstallError::Probe {
            python: shown.clone(),
            source,
        }
    })?;
    let last = o.stdout.trim().lines().last().unwrap_or("");
    serde_json::from_str(last).map_err(|e| InstallError::ProbeOutput {
        python: shown,
        message: format!("{e}: {}", o.stdout.trim()),
    })
}

/// The paths install writes for a lock in an environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Paths {
    pub redist_dir: PathBuf,
    pub pth: PathBuf,
    pub hook: PathBuf,
    pub marker: PathBuf,
}

impl Paths {
    pub fn new(env: &PyEnv, lock_sha256: &str) -> Paths {
        let redist_dir = Path::new(&env.prefix)
            .join(REDIST_BASE)
            .join(&lock_sha256[..16.min(lock_sha256.len())]);
        let purelib = Path::new(&env.purelib);
        Paths {
            marker: redist_dir.join(MARKER),
            redist_dir,
            pth: purelib.join(PTH_NAME),
            hook: purelib.join(HOOK_NAME),
        }
    }
}

/// The hook module for target `t`: the shared runtime, the target's data
/// (the JSON `target_json` makes, embedded as one escaped string literal and
/// parsed with `json.loads`, so no lock value is ever code) and the finder.
pub fn render_hook(
    db: &Db,
    t: &LockedTarget,
    lock_sha256: &str,
    redist_dir: &str,
) -> Result<String, InstallError> {
    let data = crate::emit::target_json(db, t)?;
    let json = serde_json::to_string(&data).expect("json");
    Ok(format!(
        "{HOOK_HEAD} written by `cargo xtask install` for target {name}\n\
         # from a lock with sha256 {sha}. Do not edit by hand: run `cargo xtask install` again,\n\
         # or `cargo xtask install --uninstall` to remove it.\n\n\
         {runtime}\n\n\
         import json as _gpu_env_json\n\
         _gpu_env_T = _gpu_env_json.loads({data})\n\
         _gpu_env_redist_dir = {dir}\n\
         _gpu_env_lock_sha256 = {sha_lit}\n\
         del _gpu_env_json\n\n\n\
         {HOOK_PY}",
        name = pyquote::str_lit(&t.name),
        sha = pyquote::str_lit(lock_sha256),
        runtime = crate::emit::RUNTIME_PY.trim_end(),
        data = pyquote::str_lit(&json),
        dir = pyquote::str_lit(redist_dir),
        sha_lit = pyquote::str_lit(lock_sha256),
    ))
}

/// What the marker records: the same keys the setup cell writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Marker {
    lock_sha256: String,
    prefix: String,
    target: String,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub python: PathBuf,
    pub limits: Limits,
}

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

fn req_line(p: &Pin) -> String {
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

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

fn site_versions_match(env: &PyEnv, site: &[&Pin]) -> bool {
    site.iter()
        .all(|p| env.versions.get(&p.name).cloned().flatten().as_deref() == Some(&p.version))
}

fn read_marker(path: &Path) -> Option<Marker> {
    serde_json::from_str(&crate::fsutil::read_text(path).ok()?).ok()
}

/// What changed in site-packages between two probes, in words.
fn site_changes(before: &PyEnv, after: Option<&PyEnv>, site: &[&Pin]) -> String {
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
            mb(set_bytes),
            dir.display()
        ));
        let req = self.write_req(tmp, "redist.txt", &self.redist, nothing)?;
        let partial = PathBuf::from(format!("{}.partial", dir.display()));
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial).map_err(io_err("cannot create", &partial, nothing))?;
        let args = pip_install_args(&req, &["--target".into(), utf8(&partial)?.into()]);
        if let Err(e) = stream::run(self.py(), &args, self.opts.limits.pip, &mut |l| {
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
            mb(set_bytes),
            self.env.purelib
        ));
        let left = self.left_after_site("site-packages: unchanged");
        let req = self.write_req(tmp, "site.txt", &self.site, &left)?;
        let args = pip_install_args(&req, &[]);
        stream::run(self.py(), &args, self.opts.limits.pip, &mut |l| {
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
        mb(bytes),
        t.name
    ));
    let tmp = tempfile::Builder::new()
        .prefix("gpu-env-install-")
        .tempdir()
        .map_err(io_err(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::*;

    /// Built from JSON so that fields added to the lock later with
    /// defaults do not break these tests.
    pub(crate) fn target(fact_gpus: &str) -> LockedTarget {
        let pkg = |name: &str, install: &str| {
            serde_json::json!({
                "name": name,
                "version": "1.9.1",
                "filename": format!("{}-1.9.1-py3-none-any.whl", name.replace('-', "_")),
                "url": format!("https://files.example.org/{name}-1.9.1-py3-none-any.whl"),
                "sha256": "ab".repeat(32),
                "size": 1000,
                "role": "mxnet",
                "install": install,
            })
        };
        serde_json::from_value(serde_json::json!({
            "spec": "local",
            "name": "local",
            "kind": "local",
            "fact": [{"name": "gpus", "value": fact_gpus, "source": "probe"}],
            "mxnet": {
                "package": "mxnet",
                "version": "1.9.1",
                "filename": "mxnet-1.9.1-py3-none-any.whl",
                "sha256": "ab".repeat(32),
                "gpu_code": [],
                "sass": [],
                "ptx": [],
            },
            "driver": {"why": "CPU build"},
            "numpy": {"version": "1.26.4", "preinstalled": true, "meets_requires_dist": true},
            "package": [pkg("mxnet", "site"), pkg("nvidia-x-cu11", "redist")],
            "provider": [],
            "shim": [{
                "id": "numpy-bool",
                "statements": ["numpy.bool = bool"],
                "reason": "removed in numpy 1.24",
            }],
        }))
        .unwrap()
    }

    fn lock(t: LockedTarget) -> Lock {
        serde_json::from_value(serde_json::json!({
            "format": FORMAT,
            "db": "0".repeat(64),
            "target": [t],
        }))
        .unwrap()
    }

    fn python() -> Option<&'static str> {
        let ok = std::process::Command::new("python3")
            .arg("-c")
            .arg("pass")
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some("python3")
    }

    #[test]
    fn picks_targets_by_spec_name_and_default() {
        let mut colab = target("x");
        colab.spec = "colab".into();
        colab.name = "colab-2026.08:T4".into();
        colab.kind = "colab".into();
        let mut l = lock(colab);
        l.target.push(target("x"));
        assert_eq!(pick_target(&l, None, |_| true).unwrap().spec, "local");
        assert_eq!(
            pick_target(&l, Some("colab"), |_| true).unwrap().spec,
            "colab"
        );
        assert_eq!(
            pick_target(&l, Some("colab-2026.08:T4"), |_| true)
                .unwrap()
                .spec,
            "colab"
        );
        // Two local targets (two interpreters): the one the interpreter fits.
        let mut other = target("x");
        other.name = "local-3.13".into();
        l.target.push(other);
        let fits = |t: &LockedTarget| t.name == "local-3.13";
        assert_eq!(pick_target(&l, None, fits).unwrap().name, "local-3.13");
        assert_eq!(pick_target(&l, None, |_| false).unwrap().name, "local");
        l.target.pop();
        let e = pick_target(&l, Some("kaggle"), |_| true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("colab (colab-2026.08:T4), local (local)"), "{e}");
        l.target.remove(1);
        assert_eq!(pick_target(&l, None, |_| true).unwrap().spec, "colab");
        l.target.clear();
        assert!(matches!(
            pick_target(&l, None, |_| true),
            Err(InstallError::Pick(crate::lock::PickError::NoTargets))
        ));
    }

    #[test]
    fn hook_parses_and_hostile_values_stay_data() {
        let db = Db::open(None).unwrap();
        let hostile =
            "x'''\"\"\"); __import__('os').system('touch /tmp/gpu-env-pwned') #\n\\\u{2028}\u{0}é";
        let t = target(hostile);
        let dir = tempfile::tempdir().unwrap();
        let redist = format!("{}/it's \"redist\"\n", dir.path().display());
        let hook = render_hook(&db, &t, &"cd".repeat(32), &redist).unwrap();
        assert!(hook.starts_with(HOOK_HEAD));
        assert!(hook.contains(crate::emit::RUNTIME_PY.trim_end()));
        assert!(hook.ends_with(HOOK_PY));
        assert!(
            !hook.contains("__import__('os')"),
            "hostile text appears unescaped"
        );
        // The target's data is exactly what target_json gives.
        let Some(py) = python() else {
            eprintln!("skipped the Python half: no python3");
            return;
        };
        let file = dir.path().join("hook.py");
        std::fs::write(&file, &hook).unwrap();
        let check = r#"
import ast, json, sys
src = open(sys.argv[1]).read()
tree = ast.parse(src)
# Top level: only definitions, imports, assignments of constants or of
# json.loads(<one string constant>), the finder install call, del.
for node in tree.body:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Import, ast.Delete)):
        continue
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
            and getattr(node.value.func, "id", "") == "_gpu_env_hook_install":
        continue
    assert isinstance(node, ast.Assign), ast.dump(node)
    v = node.value
    if isinstance(v, ast.Call):
        assert ast.unparse(v.func) == "_gpu_env_json.loads", ast.dump(v)
        assert len(v.args) == 1 and isinstance(v.args[0], ast.Constant)
    else:
        assert isinstance(v, ast.Constant), ast.dump(v)
ns = {"__name__": "_gpu_env_hook"}
exec(compile(src, sys.argv[1], "exec"), ns)
sys.meta_path.remove(ns["_GpuEnvFinder"])
print(json.dumps({"T": ns["_gpu_env_T"], "dir": ns["_gpu_env_redist_dir"],
                  "sha": ns["_gpu_env_lock_sha256"]}))
"#;
        let o = std::process::Command::new(py)
            .arg("-c")
            .arg(check)
            .arg(&file)
            .env("GPU_ENV_HOOK", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["T"], crate::emit::target_json(&db, &t).unwrap());
        assert_eq!(v["T"]["expect"]["gpus"], hostile);
        assert_eq!(v["dir"], redist.as_str());
        assert_eq!(v["sha"], "cd".repeat(32));
        assert!(!Path::new("/tmp/gpu-env-pwned").exists());
    }

    #[test]
    fn invalid_lock_values_are_refused_before_anything_runs() {
        let db = Db::open(None).unwrap();
        let mut t = target("x");
        t.package[0].url = "http://127.0.0.1:1/x.whl".into();
        let e = render_hook(&db, &t, &"cd".repeat(32), "/r").unwrap_err();
        assert!(e.to_string().contains("https URL"), "{e}");
        let l = lock(t.clone());
        let opts = Options {
            python: "/nonexistent/python".into(),
            limits: Limits::default(),
        };
        // Refused on the lock, not on the missing interpreter.
        let e = install(&db, &l, &t, &opts, &mut |_| {}).unwrap_err();
        assert!(matches!(e, InstallError::Invalid(_)), "{e:?}");
    }

    #[test]
    fn summary_and_requirement_lines() {
        let t = target("x");
        assert_eq!(
            req_line(&t.package[0]),
            format!(
                "mxnet @ https://files.example.org/mxnet-1.9.1-py3-none-any.whl --hash=sha256:{}",
                "ab".repeat(32)
            )
        );
        let env = PyEnv {
            executable: "/v/bin/python".into(),
            version: "3.11.7".into(),
            prefix: "/v".into(),
            purelib: "/v/lib/python3.11/site-packages".into(),
            prefix_writable: true,
            purelib_writable: true,
            versions: Default::default(),
        };
        let paths = Paths::new(&env, &"0123456789abcdef".repeat(4));
        assert_eq!(
            paths.redist_dir,
            Path::new("/v/gpu-env-redist/0123456789abcdef")
        );
        assert_eq!(
            paths.pth,
            Path::new("/v/lib/python3.11/site-packages/gpu_env.pth")
        );
        let i = Installed {
            env,
            paths,
            already: false,
            hook_rewritten: false,
            files: 10,
            bytes: 2_144_000_000,
            secs: 31.0,
        };
        assert_eq!(i.summary(), "installed 10 files, 2144 MB in 31 s (69 MB/s)");
    }
}
