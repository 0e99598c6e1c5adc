//! `cargo xtask install` on the real path: a lock whose files are tiny real
//! wheels served over HTTPS from 127.0.0.1, pip run by install itself, and a
//! venv (a copy of a cached one with numpy 1.26.4 from PyPI).
//!
//! Why HTTPS and not `gpu_env_tests::Server`: every lock URL is validated
//! as https (`emit::target_json`, the same rule the setup cell and the hook
//! data use), so an `http://` lock is refused before pip runs. The test
//! serves the wheels with Python's `http.server` behind TLS, with a
//! self-signed certificate for IP 127.0.0.1 (`tests/fixtures/tls/`), which pip
//! trusts through `PIP_CERT` (and `REQUESTS_CA_BUNDLE`): the lock keeps real `name @ https://...
//! --hash=sha256:...` lines, exactly what install hands pip for PyPI.

use gpu_env::lock::Lock;
use gpu_env_tests::{cached_venv, make_wheel, run, sha256_hex, site_packages, xtask};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn base_venv() -> PathBuf {
    cached_venv("gpu-env-test-install", "venv", &["numpy==1.26.4"])
}

/// A private copy of the cached venv (install changes it).
fn venv_copy(dir: &Path) -> PathBuf {
    let to = dir.join("venv");
    let st = Command::new("cp")
        .arg("-a")
        .arg(base_venv())
        .arg(&to)
        .status()
        .unwrap();
    assert!(st.success());
    to
}

fn python(venv: &Path) -> PathBuf {
    venv.join("bin/python")
}

/// `python -c code` in the venv, with nothing else set up.
fn py(venv: &Path, code: &str) -> (i32, String, String) {
    let mut c = Command::new(python(venv));
    c.arg("-c").arg(code).env_remove("GPU_ENV_HOOK");
    run(c)
}

/// A wheel with `files` and a dist-info; returns (filename, bytes).
fn wheel(dir: &Path, name: &str, version: &str, files: &[(&str, &str)]) -> (String, Vec<u8>) {
    let dist = name.replace('-', "_");
    let filename = format!("{dist}-{version}-py3-none-any.whl");
    let info = format!("{dist}-{version}.dist-info");
    let mut members: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
        .collect();
    members.push((
        format!("{info}/METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").into_bytes(),
    ));
    members.push((
        format!("{info}/WHEEL"),
        b"Wheel-Version: 1.0\nGenerator: gpu-env-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
            .to_vec(),
    ));
    let mut record: String = members.iter().map(|(p, _)| format!("{p},,\n")).collect();
    record.push_str(&format!("{info}/RECORD,,\n"));
    members.push((format!("{info}/RECORD"), record.into_bytes()));
    let out = dir.join(&filename);
    let refs: Vec<(&str, Vec<u8>)> = members
        .iter()
        .map(|(p, b)| (p.as_str(), b.clone()))
        .collect();
    make_wheel(&out, &refs, false);
    (filename, std::fs::read(&out).unwrap())
}

/// Python's http.server behind TLS on 127.0.0.1, serving `root`.
struct Https {
    child: std::process::Child,
    base: String,
    cert: PathBuf,
}

impl Drop for Https {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SERVE_PY: &str = r#"
import http.server, os, ssl, sys
os.chdir(sys.argv[1])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// The committed test certificate for IP 127.0.0.1 (tests/fixtures/tls/).
fn tls_fixture() -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

fn serve_https(root: &Path) -> Https {
    let (cert, key) = tls_fixture();
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(SERVE_PY)
        .arg(root)
        .arg(&cert)
        .arg(&key)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().expect("server port");
    Https {
        child,
        base: format!("https://127.0.0.1:{port}"),
        cert,
    }
}

/// The served wheels and a lock pointing at them.
struct Fixture {
    tmp: tempfile::TempDir,
    server: Https,
    mxnet: (String, Vec<u8>),
    redist: (String, Vec<u8>),
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("www");
    std::fs::create_dir_all(&root).unwrap();
    // Imports only once the lock's shim `numpy.bool = bool` is applied
    // (numpy 1.24 to 1.26 have no `numpy.bool`).
    let mxnet = wheel(
        &root,
        "mxnet",
        "1.9.1",
        &[(
            "mxnet/__init__.py",
            "import numpy\nnumpy.bool\n__version__ = '1.9.1'\n",
        )],
    );
    let redist = wheel(
        &root,
        "nvidia-x-cu11",
        "11.8.89",
        &[("nvidia/x/lib/README", "a CUDA redistributable stand-in\n")],
    );
    let server = serve_https(&root);
    Fixture {
        tmp,
        server,
        mxnet,
        redist,
    }
}

impl Fixture {
    /// A lock for a local CPU target: mxnet into site-packages, one
    /// redistributable into its own directory, the numpy bool shim.
    /// `bad` names a package whose sha256 is made wrong.
    fn lock(&self, bad: Option<&str>) -> (PathBuf, Lock) {
        let pkg = |name: &str, version: &str, (file, bytes): &(String, Vec<u8>), install: &str| {
            let mut sha = sha256_hex(bytes);
            if bad == Some(name) {
                sha = "0".repeat(64);
            }
            serde_json::json!({
                "name": name, "version": version, "filename": file,
                "url": format!("{}/{file}", self.server.base),
                "sha256": sha, "size": bytes.len(),
                "role": if install == "redist" { "cuda-redist" } else { "mxnet" },
                "install": install,
            })
        };
        let target = serde_json::json!({
            "spec": "local", "name": "local", "kind": "local",
            "fact": [{"name": "python", "value": "3.11.7", "source": "probe"}],
            "mxnet": {
                "package": "mxnet", "version": "1.9.1", "filename": self.mxnet.0,
                "sha256": sha256_hex(&self.mxnet.1), "gpu_code": [], "sass": [], "ptx": [],
            },
            "driver": {"why": "CPU build"},
            "numpy": {"version": "1.26.4", "preinstalled": true, "meets_requires_dist": true},
            "package": [
                pkg("mxnet", "1.9.1", &self.mxnet, "site"),
                pkg("nvidia-x-cu11", "11.8.89", &self.redist, "redist"),
            ],
            "provider": [],
            "shim": [{"id": "numpy-bool", "statements": ["numpy.bool = bool"],
                      "reason": "numpy 1.24 removed numpy.bool"}],
        });
        let lock: Lock = serde_json::from_value(serde_json::json!({
            "format": gpu_env::lock::FORMAT, "db": "0".repeat(64), "target": [target],
        }))
        .unwrap();
        let path = self
            .tmp
            .path()
            .join(format!("gpu-env-{}.lock", bad.unwrap_or("ok")));
        std::fs::write(&path, lock.render()).unwrap();
        (path, lock)
    }

    fn install(&self, venv: &Path, lock: &Path, extra: &[&str]) -> (i32, String, String) {
        let mut c = xtask!();
        c.arg("install")
            .arg("--python")
            .arg(python(venv))
            .arg("--lock")
            .arg(lock)
            .args(extra)
            // requests prefers REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE to pip's --cert.
            .env("PIP_CERT", &self.server.cert)
            .env("REQUESTS_CA_BUNDLE", &self.server.cert)
            .env("CURL_CA_BUNDLE", &self.server.cert)
            .env_remove("PIP_FIND_LINKS")
            .env("PIP_CACHE_DIR", self.tmp.path().join("pip-cache"))
            .env("PIP_NO_INDEX", "1")
            .env("NO_PROXY", "127.0.0.1")
            .env("no_proxy", "127.0.0.1")
            .current_dir(self.tmp.path());
        run(c)
    }
}

fn redist_dir(venv: &Path, lock: &Lock) -> PathBuf {
    venv.join("gpu-env-redist").join(&lock.hash()[..16])
}

#[test]
fn install_makes_plain_import_work_is_idempotent_and_uninstalls() {
    let fx = fixture();
    let venv = venv_copy(fx.tmp.path());
    let (lock_path, lock) = fx.lock(None);
    let site = site_packages(&venv);
    let (code, _, err) = py(&venv, "import mxnet");
    assert_ne!(code, 0);
    assert!(err.contains("ModuleNotFoundError"), "{err}");

    let (code, out, err) = fx.install(&venv, &lock_path, &[]);
    println!("{out}");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("[1/3] redist: 1 file(s)"), "{out}");
    assert!(out.contains("[2/3] site: 1 file(s)"), "{out}");
    assert!(out.contains("[3/3] hook:"), "{out}");
    assert!(out.contains("installed 2 files, "), "{out}");
    assert!(out.contains("MB/s)"), "{out}");

    // A plain interpreter start: the hook applies the shim before mxnet.
    let (code, out2, err) = py(
        &venv,
        "import os, mxnet; print(mxnet.__version__, os.environ['GPU_ENV_TARGET'])",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out2.trim(), "1.9.1 local");
    // Without the hook (so without the shim) the stand-in does not import.
    let mut c = Command::new(python(&venv));
    c.args(["-c", "import mxnet"]).env("GPU_ENV_HOOK", "0");
    let (code, _, err) = run(c);
    assert_ne!(code, 0);
    assert!(err.contains("numpy") && err.contains("bool"), "{err}");
    // The redistributable is in its own directory, not in site-packages.
    let redist = redist_dir(&venv, &lock);
    assert!(redist.join("nvidia/x/lib/README").is_file());
    assert!(redist.join(".gpu-env-installed").is_file());
    assert!(!site.join("nvidia").exists());
    assert_eq!(
        std::fs::read_to_string(site.join("gpu_env.pth")).unwrap(),
        "import _gpu_env_hook\n"
    );

    // Again: nothing to do.
    let (code, out, err) = fx.install(&venv, &lock_path, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("already installed"), "{out}");
    assert!(!out.contains("| "), "pip ran again: {out}");
    // A lost hook is put back without pip.
    std::fs::remove_file(site.join("_gpu_env_hook.py")).unwrap();
    let (code, out, _) = fx.install(&venv, &lock_path, &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("already installed") && out.contains("hook was rewritten"),
        "{out}"
    );
    assert_eq!(py(&venv, "import mxnet").0, 0);

    let (code, out, err) = fx.install(&venv, &lock_path, &["--uninstall"]);
    println!("{out}");
    assert_eq!(code, 0, "{out}\n{err}");
    for what in [
        "gpu_env.pth",
        "_gpu_env_hook.py",
        "gpu-env-redist",
        "mxnet 1.9.1",
    ] {
        assert!(out.contains(what), "{what} not in {out}");
    }
    assert!(!site.join("gpu_env.pth").exists());
    assert!(!site.join("_gpu_env_hook.py").exists());
    assert!(!redist.exists());
    let (code, _, err) = py(&venv, "import mxnet");
    assert_ne!(code, 0);
    assert!(err.contains("No module named 'mxnet'"), "{err}");
    // numpy (not installed by the lock) stays.
    assert_eq!(py(&venv, "import numpy").0, 0);
    let (code, out, _) = fx.install(&venv, &lock_path, &["--uninstall"]);
    assert_eq!(code, 0);
    assert!(out.contains("nothing of gpu-env's to remove"), "{out}");
}

#[test]
fn failed_steps_say_what_is_left() {
    let fx = fixture();
    let venv = venv_copy(fx.tmp.path());
    let site = site_packages(&venv);

    // The redist file fails its hash: nothing anywhere changes.
    let (bad_redist, lock) = fx.lock(Some("nvidia-x-cu11"));
    let (code, out, err) = fx.install(&venv, &bad_redist, &[]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("the redist step failed"), "{err}");
    assert!(err.contains("nothing in site-packages changed"), "{err}");
    assert!(
        err.contains("THESE PACKAGES DO NOT MATCH THE HASHES"),
        "{err}"
    );
    let redist = redist_dir(&venv, &lock);
    assert!(!redist.exists());
    assert!(!PathBuf::from(format!("{}.partial", redist.display())).exists());
    assert!(!site.join("gpu_env.pth").exists());

    // The site file fails after the redist step: say so, and how to go on.
    let (bad_site, lock) = fx.lock(Some("mxnet"));
    let (code, out, err) = fx.install(&venv, &bad_site, &[]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("the site step failed"), "{err}");
    assert!(
        err.contains(&format!(
            "the CUDA redistributables are installed in {}",
            redist_dir(&venv, &lock).display()
        )),
        "{err}"
    );
    assert!(err.contains("site-packages: unchanged"), "{err}");
    assert!(err.contains("--uninstall"), "{err}");
    assert!(!site.join("gpu_env.pth").exists());
    assert!(!site.join("mxnet").exists());
    let (code, out, _) = fx.install(&venv, &bad_site, &["--uninstall"]);
    assert_eq!(code, 0);
    assert!(out.contains("gpu-env-redist"), "{out}");
    assert!(!venv.join("gpu-env-redist").exists());
}

#[test]
fn input_errors_exit_2_before_anything_changes() {
    let fx = fixture();
    let venv = base_venv();
    let (lock_path, mut lock) = fx.lock(None);
    let (code, _, err) = fx.install(&venv, &lock_path, &["--target", "colab"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no target `colab`; it has: local (local)"),
        "{err}"
    );
    // http URLs are refused (the lock's https rule), naming the value.
    lock.target[0].package[0].url = lock.target[0].package[0].url.replace("https://", "http://");
    let http = fx.tmp.path().join("http.lock");
    std::fs::write(&http, lock.render()).unwrap();
    let (code, _, err) = fx.install(&venv, &http, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("url of mxnet") && err.contains("https URL"),
        "{err}"
    );
    assert!(!site_packages(&venv).join("gpu_env.pth").exists());
    let (code, _, err) = fx.install(&venv, &fx.tmp.path().join("none.lock"), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("no such lock"), "{err}");
}

/// Python first: a lock whose wheels need CPython 3.13, installed into a
/// 3.11 venv, fails before anything is downloaded or changed, naming both
/// Pythons and the config lines that lock for this interpreter.
#[test]
fn a_lock_for_another_python_fails_before_any_download() {
    let fx = fixture();
    let venv = venv_copy(fx.tmp.path());
    let (_, mut lock) = fx.lock(None);
    let t = &mut lock.target[0];
    let mut numpy = t.package[0].clone();
    numpy.name = "numpy".into();
    numpy.version = "2.1.3".into();
    numpy.filename =
        "numpy-2.1.3-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl".into();
    numpy.url = format!("{}/{}", fx.server.base, numpy.filename);
    t.package.push(numpy);
    t.fact[0].value = "3.13.1".into();
    let path = fx.tmp.path().join("gpu-env-py313.lock");
    std::fs::write(&path, lock.render()).unwrap();
    let (code, out, err) = fx.install(&venv, &path, &[]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("is Python 3.11."), "{err}");
    assert!(
        err.contains("takes Python 3.13 (it was made for Python 3.13.1). Nothing was installed."),
        "{err}"
    );
    assert!(err.contains("python-version = \"3.11\""), "{err}");
    assert!(!out.contains("[1/3]"), "install went on: {out}");
    assert!(!fx.tmp.path().join("pip-cache").exists(), "pip ran");
    assert!(!site_packages(&venv).join("gpu_env.pth").exists());
    // doctor asks the same question first, and says only that.
    let mut c = xtask!();
    c.arg("doctor")
        .arg("--python")
        .arg(python(&venv))
        .arg("--lock")
        .arg(&path)
        .arg("--json");
    let (code, out, err) = run(c);
    assert_eq!(code, 1, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{out}");
    assert_eq!(findings[0]["check"], "python");
    assert!(
        findings[0]["message"]
            .as_str()
            .unwrap()
            .contains("is Python 3.11."),
        "{out}"
    );
    assert!(
        v["fix"][0]
            .as_str()
            .unwrap()
            .contains("python-version = \"3.11\""),
        "{out}"
    );
}

#[test]
fn a_notebook_lock_asks_for_yes_and_says_the_download_size_first() {
    let repo = gpu_env_tests::colab_repo(xtask!());
    let mut c = xtask!();
    c.current_dir(&repo.root)
        .arg("--db")
        .arg(&repo.db)
        .args(["install", "--python", "python3"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("is a colab target: its installer is the notebook cell (colab/setup_cell.py)")
            && err.contains(" GB (")
            && err.contains("pass --yes to install it anyway"),
        "{err}"
    );
}
