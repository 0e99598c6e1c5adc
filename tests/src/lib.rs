//! Shared helpers for gpu-env's end-to-end tests: a tiny HTTP server that
//! replays recorded responses on 127.0.0.1, the test tool venv (real nvcc and
//! NVRTC from PyPI), and paths to the built CLI.
//!
//! The rules every test in this package keeps:
//!
//! - Network: a test that needs PyPI runs by default and FAILS with a clear
//!   message when PyPI cannot be reached ([`require_pypi`], [`cached_venv`]);
//!   none returns early and reports ok. A download too large for every run
//!   (an MXNet wheel of ~500 MB) is `#[ignore = "<what it downloads>; run:
//!   <command>"]`, so `cargo test` lists it as ignored with the command.
//! - Machine-dependent facts (a real NVIDIA driver or not): the test asks
//!   the same source the code under test asks and asserts that branch, so
//!   it checks something on every machine.
//! - No wall-clock asserts. A call that could hang forever runs under
//!   [`hang_guard`], a generous bound that fails with "hung"; speed is
//!   measured in `tests/benches/` (`cargo bench -p gpu-env-tests`).
//! - Every `#[ignore]` carries its reason and the command that runs it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A canned HTTP response. `declared_len` lets a test lie about
/// Content-Length to simulate a truncated body.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub declared_len: Option<usize>,
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            body: body.into(),
            declared_len: None,
        }
    }
    pub fn status(status: u16) -> Self {
        Self {
            status,
            body: b"error".to_vec(),
            declared_len: None,
        }
    }
}

/// Serves fixed replies by request path; counts hits per path.
pub struct Server {
    pub base: String,
    pub hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    pub fn start(routes: HashMap<String, Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let h = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let routes = routes.clone();
                let h = h.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    loop {
                        let mut l = String::new();
                        if reader.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                            break;
                        }
                    }
                    *h.lock().unwrap().entry(path.clone()).or_default() += 1;
                    let reply = routes.get(&path).cloned().unwrap_or(Reply::status(404));
                    let len = reply.declared_len.unwrap_or(reply.body.len());
                    let head = format!(
                        "HTTP/1.1 {} X\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                        reply.status
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(&reply.body);
                    let _ = stream.flush();
                });
            }
        });
        Self { base, hits }
    }
}

/// `cargo xtask` as cargo built it for this test binary
/// (`CARGO_BIN_EXE_gpu-env-xtask`: the tests package's copy of the xtask
/// program), with no PyPI test hook set.
#[macro_export]
macro_rules! xtask {
    () => {
        $crate::xtask_at(env!("CARGO_BIN_EXE_gpu-env-xtask"))
    };
}

/// The command for the binary at `exe` (see [`xtask!`]).
pub fn xtask_at(exe: &str) -> Command {
    let mut c = Command::new(exe);
    c.env_remove("GPU_ENV_PYPI_URL");
    c
}

/// Fail, with what the test needs and why, unless pypi.org:443 answers a
/// TCP connect within 10 s. For tests that need PyPI: they fail offline
/// rather than pass without checking (see the rules above).
pub fn require_pypi(what: &str) {
    use std::net::ToSocketAddrs;
    let r = ("pypi.org", 443)
        .to_socket_addrs()
        .map_err(|e| format!("resolving pypi.org: {e}"))
        .and_then(|mut a| {
            a.next()
                .ok_or_else(|| "pypi.org has no address".to_string())
        })
        .and_then(|a| {
            std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(10))
                .map_err(|e| format!("connecting to {a}: {e}"))
        });
    if let Err(e) = r {
        panic!("{what} needs PyPI (https://pypi.org), which cannot be reached: {e}");
    }
}

/// Run `f` on its own thread and return what it returns; if it has not
/// returned within `limit`, fail with "`what` hung". A hang guard for calls
/// that would otherwise block the test run forever, not a speed assert:
/// `limit` is far above any normal run (speed lives in `tests/benches/`).
/// A panic in `f` is the test's panic.
pub fn hang_guard<T: Send + 'static>(
    what: &str,
    limit: std::time::Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    use std::sync::mpsc::RecvTimeoutError;
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => {
            let _ = h.join();
            v
        }
        Err(RecvTimeoutError::Timeout) => {
            panic!("{what} hung: no result within {limit:?} (hang guard)")
        }
        Err(RecvTimeoutError::Disconnected) => match h.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => panic!("{what}: its thread ended without a result"),
        },
    }
}

/// Write an executable `#!/bin/sh` script (parent directories made).
pub fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A tests/fixtures/probe file's body: its leading `#` provenance lines removed.
pub fn probe_fixture(name: &str) -> String {
    let text = std::fs::read_to_string(fixtures().join("probe").join(name)).unwrap();
    text.lines()
        .skip_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Copy a directory tree (regular files and directories).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// A temporary repo whose outputs `cargo xtask resolve --target colab`
/// wrote, against a copy of the test compat-db (tests/fixtures/emit/db).
pub struct ColabRepo {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub db: PathBuf,
}

/// The config of a [`ColabRepo`].
pub const COLAB_MANIFEST: &str =
    "[workspace]\n\n[workspace.metadata.gpu-env]\ntargets = [\"colab\"]\n";

/// Make a [`ColabRepo`] with `xtask` (the binary's command, `xtask!()`):
/// the resolve must succeed and write the lock and its four outputs.
pub fn colab_repo(mut xtask: Command) -> ColabRepo {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("Cargo.toml"), COLAB_MANIFEST).unwrap();
    let db = tmp.path().join("db");
    copy_dir(&fixtures().join("emit/db"), &db);
    xtask
        .current_dir(&root)
        .arg("--db")
        .arg(&db)
        .args(["resolve", "--target", "colab"]);
    let (code, out, err) = run(xtask);
    assert_eq!(code, 0, "resolve failed:\n{out}\n{err}");
    for f in [
        "gpu-env.lock",
        "requirements-gpu.txt",
        "pylock.toml",
        "colab/setup_cell.py",
        "colab/gpu-env-setup.ipynb",
    ] {
        assert!(root.join(f).exists(), "resolve did not write {f}");
    }
    ColabRepo {
        _tmp: tmp,
        root,
        db,
    }
}

/// Run a command, returning (exit code, stdout, stderr).
pub fn run(mut c: Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Packages of the test tool venv: a real nvcc 13 (the unsuffixed wheels;
/// the -cu11/-cu12 nvcc wheels carry only ptxas) and NVRTC 12.
pub const TOOL_PACKAGES: &[&str] = &[
    "nvidia-cuda-nvcc",
    "nvidia-cuda-crt",
    "nvidia-cuda-cccl",
    "nvidia-cuda-runtime",
    "nvidia-nvvm",
    "nvidia-cuda-nvrtc-cu12",
];

/// A venv under `target/<group>/<name>` with `pip install <pip_args>` done
/// once (a stamp file records it), behind a file lock since test binaries
/// run in parallel. PyPI must be reachable the first time.
pub fn cached_venv(group: &str, name: &str, pip_args: &[&str]) -> PathBuf {
    cached_venv_no_deps(group, name, pip_args, &[])
}

/// [`cached_venv`], then `pip install --no-deps` of `no_deps`: wheels a
/// runtime preinstalls with a dependency set of its own (Colab's
/// `nvidia-*-cu12` next to its torch), installed without pip resolving one.
pub fn cached_venv_no_deps(
    group: &str,
    name: &str,
    pip_args: &[&str],
    no_deps: &[&str],
) -> PathBuf {
    let dir = workspace_root().join("target").join(group);
    std::fs::create_dir_all(&dir).unwrap();
    let lock = std::fs::File::create(dir.join(format!(".{name}.lock"))).unwrap();
    lock.lock().unwrap();
    let venv = dir.join(name);
    let stamp = dir.join(format!("{name}.installed"));
    if !stamp.exists() {
        let _ = std::fs::remove_dir_all(&venv);
        let st = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap();
        assert!(st.success(), "python3 -m venv {} failed", venv.display());
        let st = Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "--disable-pip-version-check"])
            .args(pip_args)
            .status()
            .unwrap();
        assert!(
            st.success(),
            "pip install {pip_args:?} failed (PyPI must be reachable for these tests)"
        );
        if !no_deps.is_empty() {
            let st = Command::new(venv.join("bin/pip"))
                .args(["install", "-q", "--disable-pip-version-check", "--no-deps"])
                .args(no_deps)
                .status()
                .unwrap();
            assert!(
                st.success(),
                "pip install --no-deps {no_deps:?} failed (PyPI must be reachable for these tests)"
            );
        }
        std::fs::write(&stamp, [pip_args, no_deps].concat().join("\n")).unwrap();
    }
    venv
}

/// A venv with real CUDA tools from PyPI (nvcc 13, NVRTC 12), made once.
pub fn tools_venv() -> PathBuf {
    cached_venv("gpu-env-test-tools", "venv", TOOL_PACKAGES)
}

/// A venv's `lib/pythonX.Y/site-packages`.
pub fn site_packages(venv: &Path) -> PathBuf {
    let lib = venv.join("lib");
    let py = std::fs::read_dir(&lib)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("python"))
        .unwrap();
    py.path().join("site-packages")
}

/// `site-packages/nvidia` inside the tools venv.
pub fn nvidia_dir(venv: &Path) -> PathBuf {
    site_packages(venv).join("nvidia")
}

/// Path to the real nvcc in the tools venv.
pub fn nvcc(venv: &Path) -> PathBuf {
    let n = nvidia_dir(venv);
    for cand in ["cu13/bin/nvcc", "cuda_nvcc/bin/nvcc"] {
        if n.join(cand).exists() {
            return n.join(cand);
        }
    }
    // Search one level down for bin/nvcc.
    for e in std::fs::read_dir(&n).unwrap().flatten() {
        let p = e.path().join("bin/nvcc");
        if p.exists() {
            return p;
        }
    }
    panic!("no nvcc under {}", n.display());
}

/// Build a shared library with gcc: DT_NEEDED on each of `needed` (stub
/// libraries are made with those sonames), an RPATH, and optionally a
/// `.nv_fatbin` section holding `fatbin` (added with objcopy).
pub fn build_so(dir: &Path, needed: &[&str], rpath: &str, fatbin: Option<&[u8]>) -> PathBuf {
    let stubs = dir.join("stubs");
    std::fs::create_dir_all(&stubs).unwrap();
    std::fs::write(
        dir.join("empty.c"),
        "int gpu_env_fixture(void) { return 42; }\n",
    )
    .unwrap();
    let mut link = Command::new("gcc");
    link.args(["-shared", "-fPIC", "-o"])
        .arg(dir.join("libfixture.so"))
        .arg(dir.join("empty.c"));
    link.arg(format!("-Wl,-rpath,{rpath}"))
        .arg("-Wl,--disable-new-dtags")
        .arg("-Wl,--no-as-needed");
    for (i, soname) in needed.iter().enumerate() {
        let file = stubs.join(format!("libstub{i}.so"));
        let st = Command::new("gcc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(&file)
            .arg(dir.join("empty.c"))
            .arg(format!("-Wl,-soname,{soname}"))
            .status()
            .unwrap();
        assert!(st.success());
        link.arg(&file);
    }
    assert!(link.status().unwrap().success(), "gcc link failed");
    let so = dir.join("libfixture.so");
    if let Some(blob) = fatbin {
        let bin = dir.join("fatbin.bin");
        std::fs::write(&bin, blob).unwrap();
        let st = Command::new("objcopy")
            .arg(format!("--add-section=.nv_fatbin={}", bin.display()))
            .arg("--set-section-flags=.nv_fatbin=alloc,readonly,data")
            .arg(&so)
            .status()
            .unwrap();
        assert!(st.success(), "objcopy failed");
    }
    so
}

/// Remove an ELF64's section header table reference (as sstrip does).
pub fn strip_section_headers(bytes: &mut [u8]) {
    gpu_env::binary::elf::strip_section_headers(bytes)
}

/// Point e_shoff far past the end of the file and e_shnum at garbage, as
/// some shipped MXNet 1.5.x libraries have.
pub fn corrupt_section_headers(bytes: &mut [u8]) {
    bytes[0x28..0x30].copy_from_slice(&u64::MAX.wrapping_sub(1000).to_le_bytes());
    bytes[0x3C..0x3E].copy_from_slice(&0xFFF0u16.to_le_bytes());
}

/// Make a wheel (zip) with python3's zipfile: `members` are (name, file path
/// or inline bytes).
pub fn make_wheel(out: &Path, members: &[(&str, Vec<u8>)], zip64: bool) {
    let dir = out.parent().unwrap().join(format!(
        "{}.members",
        out.file_name().unwrap().to_string_lossy()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut script = String::from("import zipfile,sys\n");
    script.push_str(&format!(
        "z = zipfile.ZipFile({:?}, 'w', zipfile.ZIP_DEFLATED)\n",
        out.display().to_string()
    ));
    for (i, (name, data)) in members.iter().enumerate() {
        let p = dir.join(i.to_string());
        std::fs::write(&p, data).unwrap();
        script.push_str(&format!(
            "with z.open({name:?}, 'w', force_zip64={}) as f: f.write(open({:?}, 'rb').read())\n",
            if zip64 { "True" } else { "False" },
            p.display().to_string()
        ));
    }
    script.push_str("z.close()\n");
    python3_zipfile(&script);
}

/// Run a python3 `zipfile` script (wheels the tests make); it must succeed.
pub fn python3_zipfile(script: &str) {
    let st = Command::new("python3")
        .arg("-c")
        .arg(script)
        .status()
        .unwrap();
    assert!(st.success(), "python3 zipfile failed");
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    gpu_env::fsutil::sha256_hex(bytes)
}

/// Run a command with stdout and stderr going to one file (so their lines
/// keep the order they were written in) and a wall-clock limit: past
/// `limit` the command's whole process group is killed and the test fails
/// with what it printed so far. Returns (exit code, combined output).
pub fn run_with_timeout(mut c: Command, limit: std::time::Duration) -> (i32, String) {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("output");
    let f = std::fs::File::create(&log).unwrap();
    c.stdin(Stdio::null())
        .stdout(Stdio::from(f.try_clone().unwrap()))
        .stderr(Stdio::from(f))
        .process_group(0);
    let start = std::time::Instant::now();
    let mut child = c
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"));
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            // The group holds the command and anything it started (pip).
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("{c:?} ran past {limit:?} and was killed; its output:\n{text}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let text = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    (status.code().unwrap_or(-1), text)
}
