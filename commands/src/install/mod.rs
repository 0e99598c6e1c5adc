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

mod env;
mod run;
pub mod stream;
mod uninstall;

use crate::db::Db;
use crate::emit::{pyquote, EmitError};
use crate::host::exec::{self, ExecError};
use crate::lock::{Lock, LockedTarget};
use crate::solve::Pin;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use env::{probe_env, render_hook, Paths, PyEnv};
pub use run::{install, Installed};
pub use stream::RunError;
pub use uninstall::{uninstall, Removed};

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

#[derive(Debug, Clone)]
pub struct Options {
    pub python: PathBuf,
    pub limits: Limits,
}

#[cfg(test)]
mod tests {
    use super::env::*;
    use super::run::*;
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
