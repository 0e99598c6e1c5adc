//! `resolve --verify-pypi`: every pin cross-checked against PyPI's JSON API,
//! served here from recorded responses on 127.0.0.1 (tests/fixtures/pypi),
//! with an on-disk cache for `--offline`. Plus one live PyPI test that skips,
//! visibly, only when PyPI cannot be reached.

use gpu_env_tests::*;
use std::collections::HashMap;
use std::path::Path;

fn routes() -> HashMap<String, Reply> {
    let dir = fixtures().join("pypi");
    let mut r = HashMap::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pkg) = name.strip_suffix(".json") {
            r.insert(
                format!("/pypi/{pkg}/json"),
                Reply::ok(std::fs::read(e.path()).unwrap()),
            );
        }
    }
    assert!(r.len() >= 10, "fixtures missing");
    r
}

fn resolve(dir: &Path, base: &str, cache: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut c = xtask!();
    c.current_dir(dir)
        .env("GPU_ENV_PYPI_URL", base)
        .env("GPU_ENV_CACHE_DIR", cache)
        .args(["resolve", "--target", "colab", "--verify-pypi"])
        .args(extra);
    run(c)
}

fn written(dir: &Path) -> bool {
    dir.join("gpu-env.lock").exists()
}

#[test]
fn verify_against_recorded_pypi_then_offline_from_cache() {
    let server = Server::start(routes());
    let (work, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (code, out, err) = resolve(work.path(), &server.base, cache.path(), &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(written(work.path()));
    // One request per project, all answered.
    let hits = server.hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 10, "{hits:?}");
    assert!(hits.values().all(|&n| n == 1), "{hits:?}");
    assert!(cache.path().join("pypi/nvidia-cudnn-cu11.json").exists());

    // Offline, PyPI gone: the cache answers.
    let work2 = tempfile::tempdir().unwrap();
    let (code, out, err) = resolve(
        work2.path(),
        "http://127.0.0.1:9",
        cache.path(),
        &["--offline"],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        std::fs::read(work.path().join("gpu-env.lock")).unwrap(),
        std::fs::read(work2.path().join("gpu-env.lock")).unwrap()
    );
}

#[test]
fn offline_without_cache_names_what_is_missing() {
    let (work, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (code, _, err) = resolve(
        work.path(),
        "http://127.0.0.1:9",
        cache.path(),
        &["--offline"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("--offline: no cached PyPI answer for") && err.contains("nothing written"),
        "{err}"
    );
    assert!(!written(work.path()));
}

#[test]
fn hash_mismatch_and_http_errors_write_nothing() {
    let mut r = routes();
    let key = "/pypi/nvidia-cuda-runtime-cu11/json".to_string();
    // Every file of the recorded release gets a different sha256.
    let mut doc: serde_json::Value = serde_json::from_slice(&r[&key].body).unwrap();
    for files in doc["releases"].as_object_mut().unwrap().values_mut() {
        for f in files.as_array_mut().unwrap() {
            f["digests"]["sha256"] = serde_json::Value::String("1".repeat(64));
        }
    }
    r.insert(key.clone(), Reply::ok(serde_json::to_vec(&doc).unwrap()));
    let server = Server::start(r.clone());
    let (work, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (code, _, err) = resolve(work.path(), &server.base, cache.path(), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("differs from PyPI's"), "{err}");
    assert!(!written(work.path()));

    r.insert(key.clone(), Reply::status(503));
    let server = Server::start(r.clone());
    let (code, _, err) = resolve(work.path(), &server.base, cache.path(), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("HTTP 503"), "{err}");
    assert_eq!(server.hits.lock().unwrap()[&key], 3, "retried with backoff");
    assert!(!written(work.path()));

    r.insert(key, Reply::ok("<html>not json</html>"));
    let server = Server::start(r);
    let (code, _, err) = resolve(work.path(), &server.base, cache.path(), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("not PyPI JSON"), "{err}");
    assert!(!written(work.path()));
}

fn pypi_reachable() -> bool {
    use std::net::ToSocketAddrs;
    ("pypi.org", 443)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| {
            std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(5)).is_ok()
        })
}

#[test]
fn live_pypi_confirms_the_colab_pins() {
    if !pypi_reachable() {
        eprintln!("SKIPPED live_pypi_confirms_the_colab_pins: pypi.org:443 cannot be reached");
        return;
    }
    let (work, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (code, out, err) = resolve(work.path(), "https://pypi.org", cache.path(), &[]);
    assert_eq!(code, 0, "{out}\n{err}");
}

/// Benchmark (not a timed test): online pinning against the slowest single
/// PyPI request. Run: `cargo test -p gpu-env-tests --test pypi -- --ignored --nocapture`
#[test]
#[ignore]
fn bench_online_pinning_vs_slowest_request() {
    if !pypi_reachable() {
        eprintln!("SKIPPED: pypi.org unreachable");
        return;
    }
    let names: Vec<String> = routes()
        .keys()
        .map(|k| {
            k.trim_start_matches("/pypi/")
                .trim_end_matches("/json")
                .to_string()
        })
        .collect();
    let client = gpu_env::pypi::Client::with_base("https://pypi.org".into());
    let mut slowest = std::time::Duration::ZERO;
    for n in &names {
        let t = std::time::Instant::now();
        client.project(n).unwrap();
        slowest = slowest.max(t.elapsed());
    }
    let work = tempfile::tempdir().unwrap();
    // Warm up: the first xtask!() call builds the binary.
    let mut c = xtask!();
    c.arg("--version");
    assert_eq!(run(c).0, 0);
    let offline = {
        let t = std::time::Instant::now();
        let mut c = xtask!();
        c.current_dir(work.path())
            .args(["resolve", "--target", "colab", "--offline", "--dry-run"]);
        assert_eq!(run(c).0, 0);
        t.elapsed()
    };
    let online = {
        let cache = tempfile::tempdir().unwrap();
        let t = std::time::Instant::now();
        let (code, _, err) = resolve(
            work.path(),
            "https://pypi.org",
            cache.path(),
            &["--dry-run"],
        );
        assert_eq!(code, 0, "{err}");
        t.elapsed()
    };
    let pinning = online.saturating_sub(offline);
    eprintln!(
        "slowest single request {:.0} ms; resolve offline {:.0} ms, with --verify-pypi {:.0} ms; pinning {:.0} ms = {:.2}x the slowest request (goal <= 1.5x)",
        slowest.as_secs_f64() * 1e3,
        offline.as_secs_f64() * 1e3,
        online.as_secs_f64() * 1e3,
        pinning.as_secs_f64() * 1e3,
        pinning.as_secs_f64() / slowest.as_secs_f64()
    );
}
