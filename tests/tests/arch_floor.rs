//! What a GPU's architecture needs at minimum (cuda.toml: the first CUDA
//! release whose nvcc targets it, and that release's driver): a CUDA build
//! older than the device's architecture and a driver branch older than the
//! device are rejected for that reason, on the CLI, with what works.

use gpu_env_tests::*;

/// `resolve --target local --dry-run --json --explain` with every fact given.
fn resolve(gpu: &str, driver: &str, toolkit: &str, mxnet: Option<&str>) -> serde_json::Value {
    let mut c = xtask!();
    c.args([
        "resolve", "--target", "local", "--gpu", gpu, "--driver", driver,
    ]);
    c.args(["--cuda-toolkit", toolkit, "--python-version", "3.8.10"]);
    c.args(["--offline", "--dry-run", "--json"]);
    if let Some(m) = mxnet {
        c.args(["--mxnet", m]);
    }
    let (code, out, err) = run(c);
    assert!(code == 0 || code == 1, "{gpu}: {out}{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{gpu}: {e}: {out}{err}"))
}

/// The reasons `rule` gave for every rejected wheel of `package`.
fn reasons(v: &serde_json::Value, package: &str, rule: &str) -> Vec<String> {
    v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["package"] == package)
        .flat_map(|x| x["rules"].as_array().unwrap().iter())
        .filter(|b| b["rule"] == rule)
        .map(|b| b["reason"].as_str().unwrap().to_string())
        .collect()
}

/// apache/mxnet#21027: mxnet-cu101 on an RTX 3060 (sm_86) stalls at the
/// first `nd.ones(..., ctx=gpu())`; #20758: an A100 blocks in
/// `load_params` with a CUDA 10 container. CUDA 10.x predates compute
/// capability 8.x (first in CUDA 11.0): the wheel is rejected for that,
/// and a CUDA 11 build is chosen.
#[test]
fn a_cuda_10_build_on_ampere_is_older_than_the_gpu() {
    for gpu in ["RTX 3060", "A100"] {
        let v = resolve(gpu, "470.82.01", "11.4", None);
        let why = reasons(&v, "mxnet-cu101", "gpu_code");
        assert!(
            why.iter()
                .any(|w| w.contains("a CUDA 10.1 build is older than")
                    && w.contains("compute capability 8.x first came with CUDA 11.0")),
            "{gpu}: {why:#?}"
        );
        let chosen = v["mxnet"]["package"].as_str().unwrap();
        assert!(chosen.starts_with("mxnet-cu11"), "{gpu}: {chosen}");
    }
}

/// apache/mxnet#13337: mxnet-cu80 on an RTX 2080 (Turing, sm_75) fails
/// ("Failed to find any forward convolution algorithm"). CUDA 8.0 predates
/// compute capability 7.x (first in CUDA 9.0).
#[test]
fn a_cuda_8_build_on_turing_is_older_than_the_gpu() {
    let v = resolve("RTX 2080", "410.78", "10.0", Some("mxnet-cu80"));
    let why = reasons(&v, "mxnet-cu80", "gpu_code");
    assert!(
        why.iter()
            .any(|w| w.contains("a CUDA 8.0 build is older than") && w.contains("CUDA 9.0")),
        "{why:#?}"
    );
}

/// A driver branch older than the device: an A100 is first targeted by
/// CUDA 11.0, whose driver is 450.36.06 (NVIDIA's toolkit/driver table in
/// cuda.toml), so driver 418 cannot run it, whatever CUDA the wheel was
/// built for. The fix names a driver that works.
#[test]
fn a_driver_older_than_the_gpu_is_rejected_with_the_driver_that_works() {
    let v = resolve("A100", "418.67", "10.1", None);
    assert_eq!(v["status"], "unsatisfiable", "{v:#}");
    let why = reasons(&v, "mxnet-cu101", "driver");
    assert!(
        why.iter().any(|w| w
            .contains("is first supported by CUDA 11.0, whose driver is 450.36.06")
            && w.contains("install driver >= 450.36.06")),
        "{why:#?}"
    );
    let fixes: Vec<&str> = v["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        fixes.iter().any(|f| f.contains("driver")),
        "a fix names a driver: {fixes:#?}"
    );
    // The same driver on a Pascal GPU (first in CUDA 8.0, driver 367.48) is fine.
    let v = resolve("GTX 1080", "418.67", "10.1", None);
    assert!(reasons(&v, "mxnet-cu101", "driver").is_empty(), "{v:#}");
}

/// The fix for a GPU no wheel has SASS for, on the CLI: apache/mxnet#21190
/// (CUDA 12.1 source builds fail in src/executor/cuda_graphs.h, the same
/// call 1.9.1 makes) rules out every toolkit that targets Blackwell, so no
/// build route is offered for it; for Hopper the one older toolkit that
/// targets it, CUDA 11.8, is named as untried, not recommended. Both name
/// what works: the CPU wheel and the GPUs the 1.9.1 wheels cover. Drivers
/// as replayed in tests/fixtures/probe/smi-h100-580.csv and
/// tests/fixtures/runtimes/colab-g4.smi.
#[test]
fn gpus_no_wheel_covers_get_no_route_known_to_fail() {
    for (gpu, route) in [
        ("H100", "no source build is known to work: MXNet 1.9.1 does not compile with CUDA 12.0 or later"),
        ("12.0", "no route to build one is known: nvcc targets sm_120 from CUDA 12.8 on"),
        ("B200", "no route to build one is known: nvcc targets sm_100 from CUDA 12.8 on"),
    ] {
        let v = resolve(gpu, "580.82.07", "12.8", None);
        let fixes = v["fixes"].to_string();
        assert!(fixes.contains(route), "{gpu}: {fixes}");
        assert!(fixes.contains("https://github.com/apache/mxnet/issues/21190"), "{gpu}: {fixes}");
        assert!(
            fixes.contains("What works: the CPU wheel (`cargo xtask resolve --no-gpu`)"),
            "{gpu}: {fixes}"
        );
        if gpu != "H100" {
            assert!(!fixes.contains("MXNET_CUDA_ARCH"), "{gpu}: {fixes}");
        }
    }
}

/// mxnet-cu102 1.6/1.7 link cuDNN 7.6.5 statically (measured marker); its
/// CUDA 10.2 build carries SASS sm_30 .. sm_75 only (cudnn.toml row measured
/// from the same NVIDIA library in cupy-cuda102 7.8.0), so an Ampere device
/// is outside what that cuDNN supports, and the reason cites the row. A
/// Turing device is inside it.
#[test]
fn a_static_cudnn_7_6_5_for_cuda_10_2_stops_at_turing() {
    let row = "cuDNN 7.6.5 (linked statically into libmxnet.so) for CUDA 10.2 supports compute capability 3.0 to 7.5";
    let v = resolve("A100", "470.82.01", "11.4", Some("mxnet-cu102"));
    let why = reasons(&v, "mxnet-cu102", "gpu_code");
    assert!(
        why.iter()
            .any(|w| w.contains(row) && w.contains("https://pypi.org/pypi/cupy-cuda102/json")),
        "{why:#?}"
    );
    let v = resolve("T4", "440.33.01", "10.2", Some("mxnet-cu102"));
    let why = reasons(&v, "mxnet-cu102", "gpu_code");
    assert!(!why.iter().any(|w| w.contains("cuDNN 7.6.5")), "{why:#?}");
}
