//! `gpu_env::tags` against the reference implementation, packaging 25.0
//! from PyPI (what current pip vendors; pip 23's packaging 21.3 lacks the
//! `cpXY-none-any` tag): for every real CPython on this machine, the
//! supported tags in pip's order (`packaging.tags.sys_tags()`) equal
//! `Interpreter::supported()` for that Python and glibc, tag for tag; and
//! wheel file names split into the tag sets packaging's
//! `parse_wheel_filename` gives.

use gpu_env::tags::{Interpreter, Tag};
use gpu_env::wheelname::WheelName;
use gpu_env_tests::{cached_venv, site_packages};
use std::path::PathBuf;
use std::process::Command;

/// packaging 25.0 (pure Python), put on each interpreter's PYTHONPATH.
fn packaging() -> PathBuf {
    site_packages(&cached_venv(
        "gpu-env-test-tags",
        "packaging",
        &["packaging==25.0"],
    ))
}

const SYS_TAGS: &str = r#"
import json, os, platform
import packaging
from packaging import tags
assert packaging.__version__ == "25.0", packaging.__version__
print(json.dumps({
    "version": platform.python_version(),
    "glibc": os.confstr("CS_GNU_LIBC_VERSION").split()[1],
    "executable": os.path.realpath(__import__("sys").executable),
    "tags": [str(t) for t in tags.sys_tags()],
}))
"#;

/// `sys_tags()` of each interpreter on PATH (python3, python3.N), once per
/// real executable.
fn interpreters() -> Vec<serde_json::Value> {
    let mut seen = std::collections::BTreeSet::new();
    let names = ["python3"]
        .into_iter()
        .map(String::from)
        .chain((6..=14).map(|m| format!("python3.{m}")));
    let mut out = Vec::new();
    let path = packaging();
    for name in names {
        let run = Command::new(&name)
            .arg("-c")
            .arg(SYS_TAGS)
            .env("PYTHONPATH", &path)
            .output();
        let Ok(o) = run else {
            continue;
        };
        if !o.status.success() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("sys_tags JSON");
        if seen.insert(v["executable"].as_str().unwrap().to_string()) {
            out.push(v);
        }
    }
    out
}

#[test]
fn supported_tags_equal_pips_sys_tags_for_every_interpreter_here() {
    let found = interpreters();
    assert!(
        !found.is_empty(),
        "no python3 on PATH runs packaging 25.0 (README's set-up names Python 3)"
    );
    for v in found {
        let version = v["version"].as_str().unwrap();
        let glibc = v["glibc"].as_str().unwrap();
        let ours: Vec<String> = Interpreter::cpython(version, Some(glibc))
            .expect("a CPython version")
            .supported()
            .iter()
            .map(|t: &Tag| format!("{}-{}-{}", t.interpreter, t.abi, t.platform))
            .collect();
        let pips: Vec<String> = v["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        if let Some(i) = (0..ours.len().max(pips.len())).find(|&i| ours.get(i) != pips.get(i)) {
            panic!(
                "{} (Python {version}, glibc {glibc}): tag {i} differs: ours {:?}, pip's {:?} ({} vs {} tags)",
                v["executable"],
                ours.get(i),
                pips.get(i),
                ours.len(),
                pips.len()
            );
        }
    }
}

#[test]
fn wheel_file_names_split_as_packaging_does() {
    let names = [
        "foo-1.0-py3-none-any.whl",
        "foo-1.0-1000-py3-none-any.whl",
        "foo-1.0-py2.py3-none-any.whl",
        "Foo.Bar-1.0-py3-none-any.whl",
        "mxnet_cu112-1.9.1-py3-none-manylinux2014_x86_64.whl",
        "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "mxnet_cu80-0.12.1-cp27-cp27mu-manylinux1_x86_64.whl",
    ];
    let script = r#"
import json, sys
from packaging import utils
print(json.dumps([sorted(str(t) for t in utils.parse_wheel_filename(n)[3]) for n in sys.argv[1:]]))
"#;
    let o = Command::new("python3")
        .env("PYTHONPATH", packaging())
        .arg("-c")
        .arg(script)
        .args(names)
        .output()
        .expect("python3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pips: Vec<Vec<String>> = serde_json::from_slice(&o.stdout).unwrap();
    for (name, pip) in names.iter().zip(pips) {
        let mut ours: Vec<String> = WheelName::parse(name)
            .unwrap()
            .tags()
            .tags()
            .map(|t| format!("{}-{}-{}", t.interpreter, t.abi, t.platform))
            .collect();
        ours.sort();
        assert_eq!(ours, pip, "{name}");
    }
}
