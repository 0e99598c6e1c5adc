//! `doctor`. The tests that run doctor on a real MXNet install download
//! MXNet wheels from PyPI (~570 MB together) and are ignored with that
//! reason; run them with
//!   cargo test -p gpu-env-tests --test doctor -- --ignored

use gpu_env_tests::*;
use std::path::{Path, PathBuf};

/// A venv under target/ with `packages` installed --no-deps (once).
fn venv(name: &str, packages: &[&str]) -> PathBuf {
    let args: Vec<&str> = std::iter::once("--no-deps")
        .chain(packages.iter().copied())
        .collect();
    cached_venv("gpu-env-test-doctor", name, &args)
}

fn doctor(python: &Path, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let mut c = xtask!();
    c.args(["doctor", "--json", "--python"])
        .arg(python)
        .args(extra);
    let (code, out, err) = run(c);
    assert!(!err.contains("panicked"), "{err}");
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    (code, v, err)
}

fn findings(v: &serde_json::Value, check: &str, severity: &str) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check && f["severity"] == severity)
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn record_hashes_decode() {
    // sha256 of the empty string, as a RECORD writes it.
    assert_eq!(
        gpu_env::doctor::b64_to_hex("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU").unwrap(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn no_mxnet_installed_is_reported_with_the_fix() {
    let venv = tools_venv();
    let py = venv.join("bin/python");
    // Without a lock (this repo has one, which doctor would judge against).
    let (code, v, _) = doctor(&py, &["--no-lock"]);
    assert_eq!(code, 1);
    assert!(findings(&v, "distribution", "error")[0].contains("no mxnet"));
    let fix = v["fix"].as_array().unwrap();
    assert!(fix[0]
        .as_str()
        .unwrap()
        .starts_with("cargo xtask resolve --target local --python "));
}

#[test]
#[ignore = "downloads mxnet 1.9.1 and numpy 1.26.4 (~70 MB) from PyPI; run: cargo test -p gpu-env-tests --test doctor -- --ignored"]
fn cpu_mxnet_with_numpy_1_26_reports_the_bool_alias_break() {
    let venv = venv("cpu-191", &["mxnet==1.9.1", "numpy==1.26.4"]);
    let (code, v, _) = doctor(&venv.join("bin/python"), &["--no-lock"]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["effective"], "mxnet 1.9.1");
    assert_eq!(v["gpu_build"], false);
    assert_eq!(v["numpy"], "1.26.4");
    let np = findings(&v, "numpy", "error");
    assert!(
        np.iter()
            .any(|m| m.contains("'bool'") && m.contains("numpy.bool = bool")),
        "{np:?}"
    );
    // The real import agrees.
    assert!(
        v["import"].as_str().unwrap().contains("bool"),
        "{}",
        v["import"]
    );
    assert!(v["fix"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f.as_str().unwrap().starts_with("cargo xtask resolve")));
}

#[test]
#[ignore = "downloads mxnet-cu112 1.9.1 (~500 MB) from PyPI; run: cargo test -p gpu-env-tests --test doctor -- --ignored"]
fn cu112_without_redistributables_names_the_first_missing_soname_and_its_package() {
    let venv = venv("cu112-191", &["mxnet-cu112==1.9.1", "numpy==1.23.5"]);
    let (code, v, _) = doctor(&venv.join("bin/python"), &["--no-import", "--no-lock"]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["effective"], "mxnet-cu112 1.9.1");
    assert_eq!(v["gpu_build"], true);
    assert_eq!(
        v["wheel"], "mxnet_cu112-1.9.1-py3-none-manylinux2014_x86_64.whl",
        "identified by libmxnet.so's sha256"
    );
    // libopenblas/libgfortran are bundled ($ORIGIN); the first CUDA need is cuDNN.
    assert_eq!(v["first_missing"]["soname"], "libcudnn.so.8");
    let missing = v["missing"].as_array().unwrap();
    let pkg = |s: &str| {
        missing
            .iter()
            .find(|m| m["soname"] == s)
            .map(|m| m["package"].clone())
            .unwrap_or_else(|| panic!("{s} not missing: {missing:?}"))
    };
    assert_eq!(pkg("libcudart.so.11.0"), "nvidia-cuda-runtime-cu11");
    assert_eq!(pkg("libcublas.so.11"), "nvidia-cublas-cu11");
    let libs = findings(&v, "libraries", "error");
    assert!(libs[0].contains("libcudnn.so.8"), "{libs:?}");
    let rpath_hit = v["needed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["soname"] == "libopenblas.so.0")
        .unwrap();
    assert_eq!(rpath_hit["via"], "rpath");
}

/// With the repo's Colab lock, doctor's fix depends on where it runs: on
/// Colab the setup cell; elsewhere (the Colab target's Python, driver and
/// preinstalled packages are not this machine's) a local
/// target to resolve and install. Judged by the cell's own markers.
#[test]
fn a_notebook_lock_off_the_notebook_advises_a_local_target() {
    let empty = tempfile::tempdir().unwrap();
    let fix = |colab: bool| {
        let mut c = xtask!();
        c.current_dir(workspace_root())
            .args(["doctor", "--json", "--no-import"])
            .env("GPU_ENV_SYSROOT", empty.path())
            .env_remove("KAGGLE_KERNEL_RUN_TYPE")
            .env_remove("COLAB_RELEASE_TAG");
        if colab {
            c.env("COLAB_RELEASE_TAG", "release-colab_20260801-060000_RC00");
        }
        let (_, out, err) = run(c);
        let v: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
        v["fix"].to_string()
    };
    let elsewhere = fix(false);
    assert!(
        elsewhere.contains("was resolved for a colab runtime (its Python, driver and preinstalled packages), and this machine is not one"),
        "{elsewhere}"
    );
    assert!(
        elsewhere.contains("then `cargo xtask install --target local --python "),
        "{elsewhere}"
    );
    let on_colab = fix(true);
    assert!(
        on_colab.contains("run the setup cell (colab/setup_cell.py) first"),
        "{on_colab}"
    );
}

/// The install command doctor prints names the lock `--manifest-path` led
/// to, so it runs on that lock from the same directory.
#[test]
fn the_install_advice_keeps_the_lock_a_manifest_path_found() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
    std::fs::copy(
        fixtures().join("verify/cu112-t4.lock"),
        repo.join("gpu-env.lock"),
    )
    .unwrap();
    let mut c = xtask!();
    c.current_dir(tmp.path()).args([
        "doctor",
        "--json",
        "--no-import",
        "--manifest-path",
        "repo/Cargo.toml",
    ]);
    let (_, out, err) = run(c);
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    let fix = v["fix"].to_string();
    assert!(
        fix.contains("cargo xtask install --lock repo/gpu-env.lock --python "),
        "{fix}"
    );
}

/// On the notebook, the setup cell doctor names is the config's
/// `output.colab_cell`, where resolve writes it.
#[test]
fn the_setup_cell_advice_names_the_configured_cell() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("Cargo.toml"),
        "[workspace]\nmembers = []\n[workspace.metadata.gpu-env.output]\ncolab_cell = \"nb/first_cell.py\"\n",
    )
    .unwrap();
    std::fs::copy(
        workspace_root().join("gpu-env.lock"),
        tmp.path().join("gpu-env.lock"),
    )
    .unwrap();
    let mut c = xtask!();
    c.current_dir(tmp.path())
        .args(["doctor", "--json", "--no-import"])
        .env("COLAB_RELEASE_TAG", "release-colab_20260801-060000_RC00");
    let (_, out, err) = run(c);
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    let fix = v["fix"].to_string();
    assert!(
        fix.contains("run the setup cell (nb/first_cell.py) first"),
        "{fix}"
    );
}
