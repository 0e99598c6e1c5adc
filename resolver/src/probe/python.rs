//! The Python interpreter: version, glibc (platform tags), installed
//! distributions (mxnet*, numpy, nvidia-*), site-packages, Colab — one small
//! `python -c` script.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub const SCRIPT: &str = r#"
import json, os, platform, sys, sysconfig
out = {"version": platform.python_version(), "executable": sys.executable,
       "implementation": sys.implementation.name, "machine": platform.machine()}
try:
    lib, ver = platform.libc_ver()
    out["glibc"] = ver if lib == "glibc" and ver else None
except Exception:
    out["glibc"] = None
pk = {}
try:
    import importlib.metadata as md
    for d in md.distributions():
        n = (d.metadata.get("Name") or "").lower().replace("_", "-")
        if n.startswith("mxnet") or n == "numpy" or n.startswith("nvidia-"):
            pk[n] = d.version
except Exception as e:
    out["packages_error"] = str(e)
out["packages"] = pk
p = sysconfig.get_paths()
out["site_packages"] = sorted({p[k] for k in ("purelib", "platlib") if p.get(k)})
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
    pub site_packages: Vec<PathBuf>,
    pub colab: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised output of the Python probe script: {0}")]
pub struct PythonParseError(pub String);

pub fn parse(stdout: &str) -> Result<PythonInfo, PythonParseError> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| PythonParseError(stdout.chars().take(120).collect()))?;
    let mut info: PythonInfo =
        serde_json::from_str(line).map_err(|e| PythonParseError(e.to_string()))?;
    info.platform_tags = platform_tags(&info.machine, info.glibc.as_deref());
    Ok(info)
}

/// `manylinux_2_X_<arch>` for X from the glibc minor down to 17, then the
/// legacy aliases (PEP 600), then `linux_<arch>`.
pub fn platform_tags(machine: &str, glibc: Option<&str>) -> Vec<String> {
    let arch = if machine.is_empty() {
        "x86_64"
    } else {
        machine
    };
    let mut tags = Vec::new();
    if let Some((2, minor)) = glibc.and_then(|g| {
        let (a, b) = g.split_once('.')?;
        Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?))
    }) {
        for m in (5..=minor).rev() {
            tags.push(format!("manylinux_2_{m}_{arch}"));
            match m {
                17 => tags.push(format!("manylinux2014_{arch}")),
                12 => tags.push(format!("manylinux2010_{arch}")),
                5 => tags.push(format!("manylinux1_{arch}")),
                _ => {}
            }
        }
    }
    tags.push(format!("linux_{arch}"));
    tags
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
}
