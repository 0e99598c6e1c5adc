//! The MXNet constraint as users write it for pip (`--mxnet` and the
//! config's `constraints.mxnet`), on the CLI: requirements with a package
//! name, specifiers that match no published release, and package names
//! that PyPI does not have. Each case is a replayed thread.

use gpu_env_tests::*;

/// `resolve --target colab --dry-run` with the given `--mxnet`.
fn resolve(mxnet: &str, json: bool) -> (i32, String, String) {
    let mut c = xtask!();
    c.args(["resolve", "--target", "colab", "--offline", "--dry-run"]);
    c.args(["--mxnet", mxnet]);
    if json {
        c.arg("--json");
    }
    run(c)
}

fn chosen(mxnet: &str) -> (String, String) {
    let (code, out, err) = resolve(mxnet, true);
    assert_eq!(code, 0, "{mxnet}: {out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    (
        v["mxnet"]["package"].as_str().unwrap().to_string(),
        v["mxnet"]["version"].as_str().unwrap().to_string(),
    )
}

/// The pin the d2l book and Colab notebooks write for pip
/// (`pip install mxnet-cu112==1.9.1`) is a requirement, not a bare
/// specifier: it locks that package at that release.
#[test]
fn a_pip_requirement_pins_package_and_version() {
    assert_eq!(
        chosen("mxnet-cu112==1.9.1"),
        ("mxnet-cu112".into(), "1.9.1".into())
    );
    // A name alone restricts the package; the newest release that works.
    assert_eq!(
        chosen("mxnet_cu112"),
        ("mxnet-cu112".into(), "1.9.1".into())
    );
}

/// `mxnet>=1.6,<1.8`: `mxnet` stands for MXNet in any flavour; the
/// version range is what constrains. (A CUDA 10.2 machine: no CUDA 11
/// build of 1.6 or 1.7 was published.)
#[test]
fn mxnet_with_a_range_constrains_the_version_in_any_flavour() {
    let pick = |mxnet: &str| {
        let mut c = xtask!();
        c.args([
            "resolve",
            "--target",
            "local",
            "--gpu",
            "T4",
            "--driver",
            "450.80.02",
        ]);
        c.args([
            "--cuda-toolkit",
            "10.2",
            "--cudnn",
            "7.6.5",
            "--python-version",
            "3.8.10",
        ]);
        c.args(["--offline", "--dry-run", "--json", "--mxnet", mxnet]);
        let (code, out, err) = run(c);
        assert_eq!(code, 0, "{mxnet}: {out}{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let m = &v["mxnet"];
        (
            m["package"].as_str().unwrap().to_string(),
            m["version"].as_str().unwrap().to_string(),
        )
    };
    let (package, version) = pick("mxnet>=1.6,<1.8");
    assert_eq!(
        (package.as_str(), version.as_str()),
        ("mxnet-cu102", "1.7.0.post1")
    );
    assert_eq!(pick(">=1.6,<1.8"), (package, version));
}

/// apache/mxnet#20336: "pip install mxnet-cu112 ... Ditto mxnet-cu112-1.8.0,
/// mxnet-cu112-1.8.0.post0". PyPI has mxnet-cu112 1.8.0.post0 only: `==1.8.0`
/// matches nothing, and PEP 440's strict equality is the reason.
#[test]
fn equality_with_a_post_release_only_names_the_reason_and_the_nearest() {
    let (code, out, err) = resolve("mxnet-cu112==1.8.0", false);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("unsatisfiable"), "{out}");
    assert!(
        out.contains(
            "mxnet ==1.8.0 matches no published release of mxnet-cu112; nearest: 1.8.0.post0"
        ),
        "{out}"
    );
    assert!(
        out.contains("does not match the post-release 1.8.0.post0; write `==1.8.0.post0`"),
        "{out}"
    );
    // 1.8.0 itself exists for other CUDA flavours.
    assert!(
        out.contains(
            "==1.8.0 is published for other flavours only: mxnet 1.8.0, mxnet-cu100 1.8.0"
        ),
        "{out}"
    );
    assert!(
        out.contains("the one that fits this target is mxnet-cu1"),
        "{out}"
    );
}

/// apache/mxnet#19599 and #20118 (`pip install mxnet-cu111`, `mxnet-cu110`:
/// "No matching distribution found") and the CUDA 11.8 / 12.1 flavours
/// forums recommend: `mxnet-cu118` and `mxnet-cu121` were never published.
#[test]
fn a_package_pypi_does_not_have_is_named_so_with_the_one_that_fits() {
    for name in ["mxnet-cu118", "mxnet-cu121==1.9.1"] {
        let (code, out, err) = resolve(name, false);
        assert_eq!(code, 1, "{name}: {out}{err}");
        let pkg = name.split("==").next().unwrap();
        assert!(
            out.contains(&format!("{pkg}: no such package on PyPI")),
            "{name}: {out}"
        );
        assert!(
            out.contains("mxnet-cu117"),
            "{name}: lists what exists: {out}"
        );
        assert!(
            out.contains("the one that fits this target is mxnet-cu1"),
            "{name}: {out}"
        );
    }
}

/// The config's constraint takes the same forms, and refuses a name that
/// is not MXNet with what to write.
#[test]
fn config_constraint_takes_a_requirement() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("Cargo.toml");
    let write = |mxnet: &str| {
        std::fs::write(
            &manifest,
            format!("[workspace]\n[workspace.metadata.gpu-env]\ntargets = [\"colab\"]\nconstraints = {{ mxnet = \"{mxnet}\" }}\n"),
        )
        .unwrap();
    };
    let resolve = || {
        let mut c = xtask!();
        c.current_dir(dir.path());
        c.args(["resolve", "--offline", "--dry-run", "--json"]);
        run(c)
    };
    write("mxnet-cu112==1.9.1");
    let (code, out, err) = resolve();
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["mxnet"]["package"], "mxnet-cu112", "{v:#}");
    write("torch==2.0");
    let (code, out, err) = resolve();
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("constraints.mxnet"), "{err}");
    assert!(err.contains("not MXNet"), "{err}");
}
