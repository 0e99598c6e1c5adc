//! A Python 2.7 target gets only wheels that install and import there: the
//! wheel's tags (`gpu_env::tags`, pip's rule) and MXNet's declared support
//! (compat-db/python.toml: 1.6 is the last release for Python 2), on the
//! embedded compat-db through the CLI.

use gpu_env_tests::{run, xtask};

fn resolve(args: &[&str]) -> serde_json::Value {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("Cargo.toml"), "[workspace]\n").unwrap();
    let mut c = xtask!();
    c.current_dir(tmp.path())
        .args([
            "resolve",
            "--offline",
            "--dry-run",
            "--json",
            "--target",
            "local",
        ])
        .args(args);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}\n{err}");
    serde_json::from_str(&out).unwrap()
}

/// The chosen wheel's python tags, and every rejection with rule `python`.
fn check_py2(v: &serde_json::Value) {
    let file = v["mxnet"]["filename"].as_str().unwrap();
    let py = file.rsplit('-').nth(2).unwrap();
    assert!(
        py.split('.').any(|t| t == "py2" || t == "cp27"),
        "{file} is not for Python 2"
    );
    let version = v["mxnet"]["version"].as_str().unwrap();
    let release = gpu_env::pep440::version(version).unwrap();
    assert!(
        release < gpu_env::pep440::version("1.7").unwrap(),
        "MXNet {version} does not support Python 2"
    );
    let rejected = v["rejected"].as_array().unwrap();
    let declared = rejected.iter().find(|r| {
        r["rules"].as_array().unwrap().iter().any(|x| {
            x["reason"]
                .as_str()
                .unwrap()
                .contains("MXNet 1.6 is the last release to support Python 2")
        })
    });
    assert!(
        declared.is_some(),
        "no release was refused for its declared support"
    );
}

#[test]
fn cpu_python_27_gets_a_release_that_supports_it() {
    let v = resolve(&["--no-gpu", "--python-version", "2.7.18"]);
    check_py2(&v);
    let rejected = v["rejected"].as_array().unwrap();
    let py3_only = rejected
        .iter()
        .find(|r| r["filename"] == "mxnet-1.9.1-py3-none-manylinux2014_x86_64.whl")
        .expect("mxnet 1.9.1 is a candidate");
    let reasons = py3_only["rules"].to_string();
    assert!(
        reasons.contains("do not install on CPython 2.7"),
        "{reasons}"
    );
}

#[test]
fn gpu_python_27_on_cuda_10_gets_a_release_that_supports_it() {
    let v = resolve(&[
        "--gpu",
        "RTX 2080",
        "--driver",
        "450.80.02",
        "--cuda-toolkit",
        "10.0",
        "--python-version",
        "2.7.18",
    ]);
    check_py2(&v);
    assert!(v["mxnet"]["package"]
        .as_str()
        .unwrap()
        .starts_with("mxnet-cu100"));
}
