//! The Python interpreter: version, glibc (platform tags), installed
//! distributions (mxnet*, numpy, nvidia-*), site-packages, Colab — one small
//! `python -c` script.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The one introspection script probe, verify and doctor run: one JSON line.
pub const SCRIPT: &str = r#"
import json, os, platform, sys, sysconfig
out = {"version": platform.python_version(), "executable": sys.executable,
       "implementation": sys.implementation.name, "machine": platform.machine(),
       "dists": [], "numpy": None}
try:
    lib, ver = platform.libc_ver()
    out["glibc"] = ver if lib == "glibc" and ver else None
except Exception:
    out["glibc"] = None
pk = {}
seen = set()
try:
    import importlib.metadata as md
    for d in md.distributions():
        n = (d.metadata.get("Name") or "").lower().replace("_", "-")
        if n == "numpy":
            out["numpy"] = out["numpy"] or d.version
        if n.startswith("mxnet") or n == "numpy" or n.startswith("nvidia-"):
            pk.setdefault(n, d.version)
        if not n.startswith("mxnet"):
            continue
        loc = str(d.locate_file(""))
        if (n, loc) in seen:
            continue
        seen.add((n, loc))
        h = None
        for f in (d.files or []):
            if str(f).replace("\\", "/") == "mxnet/libmxnet.so" and f.hash:
                h = f.hash.mode + "=" + f.hash.value
        out["dists"].append({"name": n, "version": d.version, "location": loc, "libmxnet_hash": h})
except Exception as e:
    out["packages_error"] = str(e)
out["packages"] = pk
p = sysconfig.get_paths()
sp = [p[k] for k in ("purelib", "platlib") if p.get(k)]
try:
    import site
    sp.append(site.getusersitepackages())
except Exception:
    pass
out["site_packages"] = [x for i, x in enumerate(sp) if x not in sp[:i] and os.path.isdir(x)]
try:
    import importlib.util
    s = importlib.util.find_spec("mxnet")
    out["mxnet_dir"] = os.path.dirname(s.origin) if s and s.origin else None
except Exception:
    out["mxnet_dir"] = None
colab = bool(os.environ.get("COLAB_RELEASE_TAG"))
if not colab:
    try:
        import importlib.util
        colab = importlib.util.find_spec("google.colab") is not None
    except Exception:
        colab = False
out["colab"] = colab
print(json.dumps(out))
"#;

/// One installed `mxnet*` distribution.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Dist {
    pub name: String,
    pub version: String,
    pub location: String,
    /// RECORD entry of `mxnet/libmxnet.so`: `sha256=<urlsafe b64>`.
    #[serde(default)]
    pub libmxnet_hash: Option<String>,
    /// doctor's verdict: its files are the ones on disk (RECORD hash
    /// matches libmxnet.so). Not set by the script.
    #[serde(default)]
    pub effective: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PythonInfo {
    pub executable: String,
    pub version: String,
    #[serde(default)]
    pub implementation: String,
    #[serde(default)]
    pub machine: String,
    pub glibc: Option<String>,
    /// Wheel platform tags this interpreter accepts, best first.
    #[serde(default)]
    pub platform_tags: Vec<String>,
    /// mxnet*, numpy and nvidia-* distributions: name -> version.
    pub packages: BTreeMap<String, String>,
    #[serde(default)]
    pub packages_error: Option<String>,
    /// Every `mxnet*` distribution, one per (name, location).
    #[serde(default)]
    pub dists: Vec<Dist>,
    /// The numpy `import numpy` would find first.
    #[serde(default)]
    pub numpy: Option<String>,
    /// purelib, platlib, user site: those that exist, in that order.
    pub site_packages: Vec<PathBuf>,
    /// Where `import mxnet` would load from.
    #[serde(default)]
    pub mxnet_dir: Option<PathBuf>,
    pub colab: bool,
}

/// How long gpu-env waits for an interpreter to describe itself (doctor,
/// install and verify alike): a Python that starts in seconds answers in
/// well under it; a hung one is killed then.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// Run [`SCRIPT`] in `exe` (with `env` added) and parse its answer.
pub fn introspect(
    exe: &Path,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<PythonInfo, PythonError> {
    let o = crate::host::exec::run(exe, &["-c", SCRIPT], env, timeout)?;
    parse(&o.stdout).map_err(|e| PythonError::Parse {
        exe: exe.to_path_buf(),
        source: e,
    })
}

/// The interpreter's site-packages dirs (purelib, platlib, user site).
pub fn site_packages(exe: &Path, timeout: Duration) -> Result<Vec<PathBuf>, PythonError> {
    introspect(exe, &[], timeout).map(|i| i.site_packages)
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PythonError {
    #[error(transparent)]
    Exec(#[from] crate::host::exec::ExecError),
    #[error("{}: {source}", .exe.display())]
    Parse {
        exe: PathBuf,
        source: PythonParseError,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised output of the Python probe script: {0}")]
pub struct PythonParseError(pub String);

pub fn parse(stdout: &str) -> Result<PythonInfo, PythonParseError> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| PythonParseError(crate::validate::shown(stdout, 120)))?;
    let mut info: PythonInfo =
        serde_json::from_str(line).map_err(|e| PythonParseError(e.to_string()))?;
    if let Some(g) = info.glibc.as_deref() {
        if crate::validate::parse_glibc(g).is_none() {
            return Err(PythonParseError(format!(
                "glibc `{}` is not a glibc version (2.N with N at most {})",
                crate::validate::escape_control(&g.chars().take(40).collect::<String>()),
                crate::validate::MAX_GLIBC_MINOR
            )));
        }
    }
    info.platform_tags = platform_tags(&info.machine, info.glibc.as_deref());
    Ok(info)
}

/// The platform tags of the interpreter's machine and glibc, best first
/// (`tags::linux_platforms`).
pub fn platform_tags(machine: &str, glibc: Option<&str>) -> Vec<String> {
    let arch = if machine.is_empty() {
        crate::tags::ARCH
    } else {
        machine
    };
    crate::tags::linux_platforms(arch, glibc.and_then(crate::validate::parse_glibc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_script_output() {
        let i = parse(r#"{"version": "3.11.7", "executable": "/usr/bin/python3", "implementation": "cpython", "machine": "x86_64", "glibc": "2.35", "packages": {"numpy": "1.26.4", "mxnet-cu112": "1.9.1"}, "site_packages": ["/x/site-packages"], "colab": false}"#).unwrap();
        assert_eq!(i.version, "3.11.7");
        assert_eq!(i.packages["mxnet-cu112"], "1.9.1");
        assert_eq!(i.platform_tags[0], "manylinux_2_35_x86_64");
        assert!(i
            .platform_tags
            .contains(&"manylinux2014_x86_64".to_string()));
        assert!(parse("Traceback (most recent call last):").is_err());
    }

    #[test]
    fn absurd_glibc_is_an_error_not_a_loop() {
        // D9: glibc 2.4294967295 looped in platform_tags until allocation failed.
        for g in ["2.4294967295", "2.99999999", "2.100", "3.1"] {
            let out = format!(
                r#"{{"version": "3.11.7", "executable": "/p", "machine": "x86_64", "glibc": "{g}", "packages": {{}}, "site_packages": [], "colab": false}}"#
            );
            let e = parse(&out).unwrap_err();
            assert!(e.to_string().contains("not a glibc version"), "{g}: {e}");
            assert_eq!(platform_tags("x86_64", Some(g)), vec!["linux_x86_64"]);
        }
        assert_eq!(
            platform_tags("x86_64", Some("2.99")).len(),
            99 - 5 + 1 + 3 + 1
        );
    }
}
