//! `db ingest` against a PyPI replayed on 127.0.0.1: a good wheel is
//! measured and written; truncated downloads, HTTP errors, non-wheels, zip64
//! archives and hash mismatches are clear errors that write nothing.

use gpu_env::binary::fatbin;
use gpu_env_tests::*;
use std::collections::HashMap;
use std::path::Path;

struct Case {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    wheel_bytes: Vec<u8>,
}

const FILENAME: &str = "mxnet_cu112-9.9.9-py3-none-manylinux2014_x86_64.whl";

/// A fake but structurally real MXNet wheel: libmxnet.so built by gcc with
/// CUDA 11 DT_NEEDED entries and a fatbin section.
fn wheel(dir: &Path, zip64: bool) -> Vec<u8> {
    let blob = fatbin::build_container(&[(2, 70, b"sass"), (2, 80, b"sass"), (1, 80, b"ptx")]);
    let so = build_so(
        &dir.join("so"),
        &["libcudart.so.11.0", "libcudnn.so.8"],
        "$ORIGIN",
        Some(&blob),
    );
    let out = dir.join(FILENAME);
    make_wheel(
        &out,
        &[
            ("mxnet/__init__.py", b"".to_vec()),
            ("mxnet/libmxnet.so", std::fs::read(so).unwrap()),
            ("mxnet/libopenblas.so.0", b"not really".to_vec()),
            ("mxnet_cu112-9.9.9.dist-info/METADATA", b"Metadata-Version: 2.1\nName: mxnet-cu112\nVersion: 9.9.9\nRequires-Dist: numpy (<2.0.0,>1.16.0)\nRequires-Dist: pytest ; extra == \"test\"\n\nbody\n".to_vec()),
        ],
        zip64,
    );
    std::fs::read(out).unwrap()
}

fn project_json(base: &str, sha: &str, size: usize) -> String {
    format!(
        r#"{{"info":{{}},"releases":{{"9.9.9":[{{"filename":"{FILENAME}","url":"{base}/files/{FILENAME}","digests":{{"sha256":"{sha}"}},"size":{size},"requires_python":null,"yanked":false}}]}}}}"#
    )
}

fn setup(zip64: bool) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let wheel_bytes = wheel(dir.path(), zip64);
    let db = dir.path().join("db");
    std::fs::create_dir_all(&db).unwrap();
    Case {
        _dir: dir,
        db,
        wheel_bytes,
    }
}

/// Start a server whose JSON advertises `advertised` (sha, size) and whose
/// file route serves `file`.
fn serve(json_for: impl Fn(&str) -> String, file: Reply) -> Server {
    // The JSON must name the server's own address: start once to learn a
    // base, then serve the real routes from a second server.
    let mut routes = HashMap::new();
    routes.insert(
        "/pypi/mxnet-cu112/json".to_string(),
        Reply::ok(json_for("BASE")),
    );
    routes.insert(format!("/files/{FILENAME}"), file);
    let s = Server::start(routes.clone());
    // Re-start with the real base substituted.
    let mut routes2 = routes;
    let json = String::from_utf8(routes2["/pypi/mxnet-cu112/json"].body.clone())
        .unwrap()
        .replace("BASE", &s.base);
    routes2.insert("/pypi/mxnet-cu112/json".to_string(), Reply::ok(json));
    Server::start(routes2)
}

fn ingest(case: &Case, server: &Server, source: &str) -> (i32, String, String) {
    let mut c = xtask!();
    c.env("GPU_ENV_PYPI_URL", &server.base)
        .arg("--db")
        .arg(&case.db)
        .args(["db", "ingest", source]);
    run(c)
}

fn record_files(db: &Path) -> Vec<String> {
    let dir = db.join("wheels/mxnet");
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => vec![],
    }
}

#[test]
fn good_wheel_is_measured_and_written() {
    let case = setup(false);
    let sha = sha256_hex(&case.wheel_bytes);
    let n = case.wheel_bytes.len();
    let server = serve(
        |b| project_json(b, &sha, n),
        Reply::ok(case.wheel_bytes.clone()),
    );
    let url = format!("{}/files/{FILENAME}", server.base);
    let (code, out, err) = ingest(&case, &server, &url);
    assert_eq!(code, 0, "{out}\n{err}");
    let text =
        std::fs::read_to_string(case.db.join("wheels/mxnet/mxnet-cu112-9.9.9.toml")).unwrap();
    let rec: gpu_env::db::model::WheelRelease = toml::from_str(&text).unwrap();
    let w = &rec.wheel[0];
    assert_eq!(w.sha256, sha);
    assert_eq!(w.sass, vec![70, 80]);
    assert_eq!(w.ptx, vec![80]);
    assert_eq!(w.modules, Some(1));
    assert_eq!(
        w.module_code,
        vec![gpu_env::db::model::ModuleCode {
            modules: 1,
            sass: vec![70, 80],
            ptx: vec![80]
        }]
    );
    assert_eq!(
        (w.packed.as_deref(), w.static_cudnn.as_deref()),
        (None, None)
    );
    assert_eq!(w.cuda.unwrap().to_string(), "11.2");
    assert!(w
        .needed
        .starts_with(&["libcudart.so.11.0".into(), "libcudnn.so.8".into()]));
    assert_eq!(w.rpath, vec!["$ORIGIN"]);
    assert_eq!(w.bundled, vec!["libopenblas.so.0"]);
    // The `extra == "test"` entry is left out, not a refusal of the wheel.
    assert_eq!(
        w.requires_dist
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>(),
        vec!["numpy (<2.0.0,>1.16.0)"]
    );
    assert!(text.starts_with("# Written by `cargo xtask db ingest`"));

    // Second run: unchanged, no download.
    let (code, out, _) = ingest(&case, &server, &url);
    assert_eq!(code, 0);
    assert!(out.contains("unchanged"), "{out}");
    assert_eq!(
        server
            .hits
            .lock()
            .unwrap()
            .get(&format!("/files/{FILENAME}")),
        Some(&1)
    );

    // A local copy of the same file gives the same record, byte for byte.
    let local = case.db.join(FILENAME);
    std::fs::write(&local, &case.wheel_bytes).unwrap();
    let mut c = xtask!();
    c.env("GPU_ENV_PYPI_URL", &server.base)
        .arg("--db")
        .arg(&case.db)
        .args(["db", "ingest", "--force"])
        .arg(&local);
    let (code, _, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(case.db.join("wheels/mxnet/mxnet-cu112-9.9.9.toml")).unwrap(),
        text
    );
}

fn assert_fails_writes_nothing(case: &Case, server: &Server, source: &str, expect: &str) {
    let (code, out, err) = ingest(case, server, source);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains(expect), "stderr lacks {expect:?}:\n{err}");
    assert!(record_files(&case.db).is_empty(), "a record was written");
}

#[test]
fn truncated_download() {
    let case = setup(false);
    let sha = sha256_hex(&case.wheel_bytes);
    let n = case.wheel_bytes.len();
    let half = case.wheel_bytes[..n / 2].to_vec();
    let server = serve(
        |b| project_json(b, &sha, n),
        Reply {
            status: 200,
            body: half,
            declared_len: Some(n),
        },
    );
    assert_fails_writes_nothing(
        &case,
        &server,
        &format!("{}/files/{FILENAME}", server.base),
        "download truncated",
    );
}

#[test]
fn http_error() {
    let case = setup(false);
    let sha = sha256_hex(&case.wheel_bytes);
    let n = case.wheel_bytes.len();
    let server = serve(|b| project_json(b, &sha, n), Reply::status(404));
    assert_fails_writes_nothing(
        &case,
        &server,
        &format!("{}/files/{FILENAME}", server.base),
        "HTTP 404",
    );
    let server = serve(|_| "not json".into(), Reply::status(200));
    assert_fails_writes_nothing(
        &case,
        &server,
        &format!("{}/files/{FILENAME}", server.base),
        "not PyPI JSON",
    );
}

#[test]
fn hash_mismatch() {
    let case = setup(false);
    let n = case.wheel_bytes.len();
    let server = serve(
        |b| project_json(b, &"0".repeat(64), n),
        Reply::ok(case.wheel_bytes.clone()),
    );
    assert_fails_writes_nothing(
        &case,
        &server,
        &format!("{}/files/{FILENAME}", server.base),
        "does not match PyPI",
    );
}

#[test]
fn non_wheel() {
    let case = setup(false);
    let junk = b"<html>this is not a zip</html>".to_vec();
    let sha = sha256_hex(&junk);
    let n = junk.len();
    let server = serve(|b| project_json(b, &sha, n), Reply::ok(junk));
    assert_fails_writes_nothing(
        &case,
        &server,
        &format!("{}/files/{FILENAME}", server.base),
        "not a zip archive",
    );
    // And a name that is not a wheel name at all.
    let (code, _, err) = ingest(&case, &server, "/tmp/notes.txt");
    assert_eq!(code, 2);
    assert!(err.contains("is not a wheel file name"), "{err}");
}

#[test]
fn zip64_archive() {
    let case = setup(true);
    let sha = sha256_hex(&case.wheel_bytes);
    let n = case.wheel_bytes.len();
    let server = serve(
        |b| project_json(b, &sha, n),
        Reply::ok(case.wheel_bytes.clone()),
    );
    assert_fails_writes_nothing(
        &case,
        &server,
        &format!("{}/files/{FILENAME}", server.base),
        "zip64 archive",
    );
}

/// Opt-in (downloads ~500 MB): re-ingest the real mxnet-cu112 1.9.1 wheel
/// from PyPI and compare with the committed record byte for byte.
#[test]
#[ignore = "downloads mxnet-cu112 1.9.1 (~500 MB) from PyPI; run: cargo test -p gpu-env-tests --test ingest -- --ignored"]
fn reingest_real_wheel_reproduces_committed_record() {
    let root = workspace_root();
    let committed =
        std::fs::read_to_string(root.join("compat-db/wheels/mxnet/mxnet-cu112-1.9.1.toml"))
            .unwrap();
    let rec: gpu_env::db::model::WheelRelease = toml::from_str(&committed).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut c = xtask!();
    c.arg("--db")
        .arg(dir.path())
        .args(["db", "ingest"])
        .arg(&rec.wheel[0].url);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}\n{err}");
    let fresh =
        std::fs::read_to_string(dir.path().join("wheels/mxnet/mxnet-cu112-1.9.1.toml")).unwrap();
    assert_eq!(fresh, committed);
}

/// A library that says it is UPX-packed but cannot be unpacked (no pack
/// header) is recorded as packed with its GPU code unmeasured: never as
/// "no GPU code".
#[test]
fn packed_library_that_cannot_be_unpacked_is_unmeasured_not_codeless() {
    let dir = tempfile::tempdir().unwrap();
    let mut blob = b"junk ".to_vec();
    blob.extend_from_slice(gpu_env::binary::upx::INFO);
    let so = build_so(
        &dir.path().join("so"),
        &["libcudart.so.10.1"],
        "$ORIGIN",
        Some(&blob),
    );
    let out = dir.path().join(FILENAME);
    make_wheel(
        &out,
        &[
            ("mxnet/libmxnet.so", std::fs::read(so).unwrap()),
            (
                "mxnet_cu112-9.9.9.dist-info/METADATA",
                b"Name: mxnet-cu112\n\n".to_vec(),
            ),
        ],
        false,
    );
    let m = gpu_env::measure::measure_wheel(&out, FILENAME).unwrap();
    assert_eq!(m.packed.as_deref(), Some("upx"));
    let why = m.unmeasured.clone().unwrap();
    assert!(
        why.contains("UPX-packed") && why.contains("unmeasured"),
        "{why}"
    );
    assert!(m.needed.contains(&"libcudart.so.10.1".to_string()));
    let rec = m.into_record("u".into(), "s".into(), 1, "p".into());
    assert!(!rec.no_gpu_code);
    assert_eq!(rec.modules, None);
    assert!(rec.module_code.is_empty());
}
