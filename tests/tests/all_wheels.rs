//! Every Linux x86_64 MXNet wheel on PyPI is in compat-db, measured from its
//! binaries, and the solver decides what the pre-1.0 and CPU wheels reveal:
//! one wheel per CPython (`cp36-cp36m`), cuDNN linked dynamically
//! (`libcudnn.so.5`), and a release that links a library it does not ship.
//! Each case is a replayed thread, on the CLI.

use gpu_env::db::Db;
use gpu_env_tests::*;
use std::collections::BTreeMap;

fn db() -> Db {
    Db::from_dir(&workspace_root().join("compat-db")).expect("compat-db valid")
}

/// PyPI's listing of every package `db ingest --all` walks, against the
/// records: each wheel recorded with PyPI's sha256. Needs PyPI.
#[test]
fn every_linux_wheel_on_pypi_is_recorded_with_its_sha256() {
    require_pypi("the PyPI listing of every MXNet package");
    let planned = gpu_env::ingest::all_wheels(&gpu_env::pypi::Client::new()).unwrap();
    let db = db();
    let recorded: BTreeMap<&str, &str> = db
        .wheel_files()
        .map(|(_, w)| (w.filename.as_str(), w.sha256.as_str()))
        .collect();
    let missing: Vec<&str> = planned
        .iter()
        .filter(|p| !recorded.contains_key(p.filename.as_str()))
        .map(|p| p.filename.as_str())
        .collect();
    assert!(missing.is_empty(), "not in compat-db: {missing:#?}");
    assert!(planned.len() >= 320, "{} wheels on PyPI", planned.len());
    // The CPU packages and the pre-1.0 CUDA releases are among them.
    for f in [
        "mxnet-1.8.0-py2.py3-none-manylinux2014_x86_64.whl",
        "mxnet_mkl-1.6.0-py2.py3-none-manylinux1_x86_64.whl",
        "mxnet_cu80-0.9.3a0-cp27-cp27mu-manylinux1_x86_64.whl",
        "mxnet_cu90mkl-0.12.1-py2.py3-none-manylinux1_x86_64.whl",
    ] {
        assert!(recorded.contains_key(f), "{f}");
    }
}

/// `resolve ... --dry-run --json --explain` on a target given flag by flag.
fn resolve(args: &[&str]) -> serde_json::Value {
    let mut c = xtask!();
    c.args(["resolve", "--offline", "--dry-run", "--json", "--explain"]);
    c.args(args);
    let (code, out, err) = run(c);
    assert!(code == 0 || code == 1, "{args:?}: {out}{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"))
}

/// Every rule reason given for `filename`.
fn reasons(v: &serde_json::Value, filename: &str) -> Vec<String> {
    v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["filename"] == filename)
        .flat_map(|x| x["rules"].as_array().unwrap().iter())
        .map(|b| {
            format!(
                "{}: {}",
                b["rule"].as_str().unwrap(),
                b["reason"].as_str().unwrap()
            )
        })
        .collect()
}

/// apache/mxnet#20068 (`OSError: libopenblas.so.0: cannot open shared
/// object file` with mxnet 1.8.0, fixed by apache/mxnet#20086 in
/// 1.8.0.post0): the 1.8.0 wheel links libopenblas.so.0 and does not ship
/// it (measured); the record names the defect and its source, and the
/// solver takes the post-release.
#[test]
fn a_release_that_links_a_library_it_does_not_ship_yields_to_its_fix() {
    let target = [
        "--target",
        "colab-2023.11",
        "--no-gpu",
        "--mxnet",
        "mxnet>=1.8,<1.9",
    ];
    let v = resolve(&target);
    assert_eq!(v["mxnet"]["version"], "1.8.0.post0", "{v:#}");
    let why = reasons(&v, "mxnet-1.8.0-py2.py3-none-manylinux2014_x86_64.whl");
    assert!(
        why.iter().any(
            |w| w.starts_with("soname: libopenblas.so.0 has no provider")
                && w.contains("https://github.com/apache/mxnet/issues/20068")
                && w.contains("mxnet 1.8.0.post0 ships it")
        ),
        "{why:#?}"
    );
}

/// apache/mxnet#5835: `pip install mxnet-cu80` (0.9.3a3) on CUDA 8 with
/// cuDNN 6 fails with `OSError: libcudnn.so.5`. The 0.9.x CUDA wheels link
/// cuDNN dynamically (measured DT_NEEDED), so the cudnn rule asks for
/// cuDNN 5, not any cuDNN.
#[test]
fn pre_1_0_cuda_wheels_need_their_cudnn_major() {
    let v = resolve(&[
        "--target",
        "local",
        "--gpu",
        "GTX 1080",
        "--driver",
        "375.26",
        "--cuda-toolkit",
        "8.0",
        "--python-version",
        "2.7.12",
        "--mxnet",
        "mxnet-cu80==0.9.3a3",
    ]);
    let why = reasons(&v, "mxnet_cu80-0.9.3a3-cp27-cp27mu-manylinux1_x86_64.whl");
    assert!(
        why.iter()
            .any(|w| w.contains("needs cuDNN 5 (libcudnn.so.5)")),
        "{why:#?}"
    );
}

/// apache/mxnet#6023 and #8447 ("Could not find a version that satisfies
/// the requirement mxnet-cu80==0.11.0", pip 9 on Python 2.7): the 0.9.x
/// releases have one wheel per CPython (`cp27mu`, `cp34m` .. `cp36m`);
/// a wheel for another CPython is rejected by the python rule (the wheel
/// tags, `gpu_env::tags`), naming its tags.
#[test]
fn cpython_specific_wheels_fit_only_their_python() {
    let v = resolve(&[
        "--target",
        "local",
        "--no-gpu",
        "--python-version",
        "3.6.9",
        "--mxnet",
        "mxnet==0.9.5",
    ]);
    assert_eq!(
        v["mxnet"]["filename"], "mxnet-0.9.5-cp36-cp36m-manylinux1_x86_64.whl",
        "{v:#}"
    );
    for other in ["cp35-cp35m", "cp27-cp27mu"] {
        let f = format!("mxnet-0.9.5-{other}-manylinux1_x86_64.whl");
        let why = reasons(&v, &f);
        assert!(
            why.iter().any(|w| w.starts_with("python: ")
                && w.contains(other)
                && w.contains("do not install on CPython 3.6")),
            "{f}: {why:#?}"
        );
    }
}

/// apache/mxnet#15669 ("pypi manylinux1 is not manylinux1"): on CentOS 6
/// (glibc 2.12) `pip install mxnet` (1.5.0, tagged manylinux1: glibc 2.5)
/// installs, and `import mxnet` fails with ``version `GLIBC_2.16' not
/// found``. The measured GLIBC_ symbol versions of its libmxnet.so need
/// 2.16: the platform rule rejects it for that, and the fix names the
/// glibc that loads it. The target's glibc comes from the Python probe
/// (replayed: tests/fixtures/probe/python-centos6-py27.json).
#[test]
fn a_library_needing_a_newer_glibc_than_the_target_is_rejected() {
    let d = tempfile::tempdir().unwrap();
    let py = d.path().join("python2.7");
    let answer = probe_fixture("python-centos6-py27.json");
    script(&py, &format!("cat <<'EOF'\n{answer}EOF"));
    let py = py.to_string_lossy().into_owned();
    let v = resolve(&[
        "--target",
        "local",
        "--no-gpu",
        "--python",
        &py,
        "--mxnet",
        "mxnet==1.5.0",
    ]);
    assert_eq!(v["mxnet"], serde_json::Value::Null, "{v:#}");
    let why = reasons(&v, "mxnet-1.5.0-py2.py3-none-manylinux1_x86_64.whl");
    assert!(
        why.iter().any(|w| w.starts_with("platform: mxnet/libmxnet.so needs glibc 2.16 (its GLIBC_2.16 symbol versions); the target has 2.12")),
        "{why:#?}"
    );
    let fixes = v["fixes"].to_string();
    assert!(
        fixes.contains("use a Linux whose glibc is 2.16 or newer (the target has 2.12; `ldd --version` prints it): enables mxnet==1.5.0"),
        "{fixes}"
    );
}
