//! Lock format 3 stored GPUs as data (`[[target.gpu]]`: name and compute
//! capability) instead of text verify parsed back. An older lock is refused
//! with the command that rewrites it, and resolve may replace it.

use gpu_env::lock::{DeviceFit, Lock, LockError, FORMAT};
use gpu_env_tests::*;

fn committed() -> String {
    std::fs::read_to_string(workspace_root().join("gpu-env.lock")).unwrap()
}

#[test]
fn the_lock_stores_gpus_as_name_and_compute_capability() {
    assert_eq!(FORMAT, 4);
    let lock = Lock::parse("gpu-env.lock", &committed()).unwrap();
    let t = &lock.target[0];
    assert!(
        !t.gpu.is_empty(),
        "the committed lock has no [[target.gpu]]"
    );
    assert_eq!(
        t.gpu_capabilities(),
        t.gpu
            .iter()
            .map(|g| g.compute_capability)
            .collect::<Vec<_>>()
    );
}

#[test]
fn an_older_lock_names_the_command_that_rewrites_it_and_may_be_replaced() {
    let old = committed().replacen("format = 4\n", "format = 3\n", 1);
    let err = Lock::parse("gpu-env.lock", &old).unwrap_err();
    assert!(matches!(err, LockError::Older { found: 3, .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("older gpu-env"), "{text}");
    assert!(text.contains("run `cargo xtask resolve`"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gpu-env.lock");
    std::fs::write(&path, old).unwrap();
    Lock::check_overwritable(&path).unwrap();
}

/// Format 4: the lock stores the code of MXNet's own kernels, which the
/// solver judged, so the cell and `verify` decide a device as it did.
/// mxnet-cu80 1.5.0 (measured): the union of its fatbin modules has PTX
/// compute_61 from a statically linked library's module; its own kernels
/// have SASS sm_30..sm_61 and no PTX. On a V100 (7.0) they cannot run.
#[test]
fn the_lock_judges_a_device_by_the_wheels_own_kernels() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("Cargo.toml"), "[workspace]\n").unwrap();
    let mut c = xtask!();
    c.current_dir(tmp.path()).args([
        "resolve",
        "--target",
        "local",
        "--gpu",
        "GTX 1080",
        "--driver",
        "384.81",
        "--cuda-toolkit",
        "8.0",
        "--cudnn",
        "7.0.5",
        "--python-version",
        "3.6.8",
        "--offline",
        "--lock",
        "gpu-env.lock",
    ]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(tmp.path().join("gpu-env.lock")).unwrap();
    let lock = Lock::parse("gpu-env.lock", &text).unwrap();
    let t = &lock.target[0];
    assert_eq!(
        t.mxnet.filename,
        "mxnet_cu80-1.5.0-py2.py3-none-manylinux1_x86_64.whl"
    );
    let record = std::fs::read_to_string(
        workspace_root().join("compat-db/wheels/mxnet/mxnet-cu80-1.5.0.toml"),
    )
    .unwrap();
    assert!(record.contains("ptx = [61]"), "the union has compute_61");
    assert_eq!(t.mxnet.sass, [30, 35, 50, 60, 61]);
    assert!(t.mxnet.ptx.is_empty(), "{:?}", t.mxnet.ptx);
    let v100 = "7.0".parse().unwrap();
    assert!(
        matches!(t.fit(v100), DeviceFit::NoCode),
        "{:?}",
        t.fit(v100)
    );
    let gtx1080 = "6.1".parse().unwrap();
    assert!(matches!(t.fit(gtx1080), DeviceFit::Runs(_)));
}

/// One view of a choice: what `resolve --json` prints for the chosen stack
/// is what the lock stores, field for field.
#[test]
fn resolve_json_prints_the_stack_as_the_lock_stores_it() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("Cargo.toml"), "[workspace]\n").unwrap();
    let resolve = |extra: &[&str]| {
        let mut c = xtask!();
        c.current_dir(tmp.path())
            .args(["resolve", "--target", "colab", "--offline"])
            .args(extra);
        let (code, out, err) = run(c);
        assert_eq!(code, 0, "{out}{err}");
        out
    };
    let json: serde_json::Value =
        serde_json::from_str(&resolve(&["--dry-run", "--json", "--with", "d2l==1.0.3"])).unwrap();
    resolve(&["--lock", "gpu-env.lock", "--with", "d2l==1.0.3"]);
    let text = std::fs::read_to_string(tmp.path().join("gpu-env.lock")).unwrap();
    let lock = Lock::parse("gpu-env.lock", &text).unwrap();
    let t = &lock.target[0];
    let v = |x: Result<serde_json::Value, serde_json::Error>| x.unwrap();
    use serde_json::to_value as val;
    for (key, locked) in [
        ("mxnet", v(val(&t.mxnet))),
        ("driver", v(val(&t.driver))),
        ("cudnn", v(val(&t.cudnn))),
        ("numpy", v(val(&t.numpy))),
        ("providers", v(val(&t.provider))),
        ("packages", v(val(&t.package))),
        ("shims", v(val(&t.shim))),
        ("needs", v(val(&t.need))),
        ("env", v(val(&t.env))),
        ("companions", v(val(&t.companion))),
    ] {
        assert_eq!(json[key], locked, "{key}");
    }
    assert_eq!(json["mxnet"]["gpu_code"][0]["code"]["kind"], "sass");
}
