//! The environment install acts on: what its interpreter says, the paths
//! written for a lock there, the import hook, and the marker of a finished
//! install.

use super::*;

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
