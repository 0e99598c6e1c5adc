//! `resolve --verify-pypi`: every pin cross-checked against PyPI's JSON API,
//! served here from recorded responses on 127.0.0.1 (tests/fixtures/pypi),
//! with an on-disk cache for `--offline`. Plus one live PyPI test, which
//! fails when PyPI cannot be reached. Online pinning speed:
//! `cargo bench -p gpu-env-tests -- pypi` (tests/benches/cli.rs).

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
    if !dir.join("Cargo.toml").exists() {
        std::fs::write(dir.join("Cargo.toml"), "[workspace]\n").unwrap();
    }
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

/// Needs PyPI: fails, saying so, when pypi.org cannot be reached (the
/// network rule in tests/src/lib.rs).
#[test]
fn live_pypi_confirms_the_colab_pins() {
    require_pypi("live_pypi_confirms_the_colab_pins");
    let (work, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (code, out, err) = resolve(work.path(), "https://pypi.org", cache.path(), &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(written(work.path()));
}
