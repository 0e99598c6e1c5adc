//! The fault matrix of issue 13 as tests, through the CLI: kill -9 during
//! resolve writes, concurrent resolves into one directory, a read-only
//! output directory, a full disk, hostile config values, hostile tools on
//! PATH, a PyPI that accepts and never answers, and hostile wheels for
//! `db ingest`; the memory reproducers run under RLIMIT_AS = 1.5 GB (what
//! `prlimit --as=1500000000` sets). tests/tests/hostile.rs has one test
//! per defect (D1-D23), mostly through the library; these extend it to
//! the whole matrix.

use gpu_env_tests::{hang_guard, python3_zipfile, run_with_timeout, xtask, Reply, Server};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The outputs of a resolve with the default config, relative to the repo.
const OUTPUTS: [&str; 5] = [
    "gpu-env.lock",
    "requirements-gpu.txt",
    "pylock.toml",
    "colab/setup_cell.py",
    "colab/gpu-env-setup.ipynb",
];

const MANIFEST: &str = "[workspace]\n\n[workspace.metadata.gpu-env]\ntargets = [\"colab\"]\n";

/// The two targets whose output sets the write tests alternate between.
const OLD: &str = "colab";
const NEW: &str = "colab:A100";

/// Hang guard only (never a timing assertion): far above any run here.
const HANG_GUARD: Duration = Duration::from_secs(120);

/// What `prlimit --as=1500000000` sets.
const AS_LIMIT: u64 = 1_500_000_000;

fn repo() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("Cargo.toml"), MANIFEST).unwrap();
    d
}

/// `resolve --target <target> --offline` in `dir`, with no overrides from
/// the caller's environment.
fn resolve(dir: &Path, target: &str) -> Command {
    let mut c = xtask!();
    c.current_dir(dir)
        .args(["resolve", "--target", target, "--offline"]);
    for k in ["GPU", "DRIVER", "CUDA_TOOLKIT", "CUDNN", "PYTHON", "NO_GPU"] {
        c.env_remove(format!("GPU_ENV_OVERRIDE_{k}"));
    }
    c
}

fn ok(c: Command) {
    let (code, out) = run_with_timeout(c, HANG_GUARD);
    assert_eq!(code, 0, "{out}");
}

type Snapshot = Vec<Option<Vec<u8>>>;

fn snapshot(dir: &Path) -> Snapshot {
    OUTPUTS
        .iter()
        .map(|o| std::fs::read(dir.join(o)).ok())
        .collect()
}

/// gpu-env temporary files left in the output directories.
fn temps(dir: &Path) -> Vec<PathBuf> {
    [dir.to_path_buf(), dir.join("colab")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .filter(|e| gpu_env::fsutil::is_temp_name(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect()
}

/// The complete output sets of OLD and NEW (made in repos of their own).
fn reference_sets() -> (Snapshot, Snapshot) {
    let make = |target: &str| {
        let r = repo();
        ok(resolve(r.path(), target));
        snapshot(r.path())
    };
    let (old, new) = (make(OLD), make(NEW));
    assert!(
        old.iter().chain(&new).all(Option::is_some),
        "a reference output is missing"
    );
    assert_ne!(old[0], new[0], "the two targets must lock differently");
    // Outputs do not depend on where the repo is (else the comparisons
    // below would be meaningless).
    assert_eq!(old, make(OLD), "outputs differ between two repos");
    (old, new)
}

/// Each output is byte for byte one of the two complete versions.
fn assert_each_whole(dir: &Path, old: &Snapshot, new: &Snapshot, when: &str) {
    for (i, now) in snapshot(dir).iter().enumerate() {
        assert!(
            now == &old[i] || now == &new[i],
            "{when}: {} is neither the old nor the new file ({} bytes): torn",
            OUTPUTS[i],
            now.as_ref().map_or(0, Vec::len)
        );
    }
}

/// splitmix64 for the kill delays: the same sequence on every run.
fn next(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb) ^ (z >> 31)
}

// ---- writes ----

#[test]
fn kill_9_during_resolve_leaves_whole_files_and_the_next_resolve_cleans_up() {
    let (old, new) = reference_sets();
    let r = repo();
    ok(resolve(r.path(), OLD));
    // Delays spread over a whole run (start-up, solve, every write), from
    // a sample of how long one takes here: a sampling range, not a bound.
    let sample = repo();
    let t = std::time::Instant::now();
    ok(resolve(sample.path(), OLD));
    let span = (t.elapsed().as_micros() as u64 * 3 / 2).max(1000);
    let mut seed = 13;
    let (mut killed, mut leftovers) = (0, 0);
    for i in 0..40 {
        let target = if i % 2 == 0 { NEW } else { OLD };
        let mut child = resolve(r.path(), target)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(next(&mut seed) % span));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        killed += usize::from(status.code().is_none());
        leftovers += temps(r.path()).len();
        assert_each_whole(r.path(), &old, &new, &format!("kill {i} ({status})"));
        // After the next reader (check finishes an interrupted set), the
        // set is one run's: all old or all new.
        let mut c = xtask!();
        c.current_dir(r.path()).arg("check");
        let _ = run_with_timeout(c, HANG_GUARD);
        let now = snapshot(r.path());
        assert!(
            now == old || now == new,
            "kill {i} ({status}): a mixed set after check"
        );
    }
    eprintln!(
        "{killed} of 40 runs killed before they ended; {leftovers} temp files seen after kills"
    );
    assert!(
        killed > 0,
        "no run was killed mid-way: the delays never hit a run"
    );
    ok(resolve(r.path(), NEW));
    assert_eq!(
        temps(r.path()),
        Vec::<PathBuf>::new(),
        "left after the next resolve"
    );
    assert!(
        snapshot(r.path()) == new,
        "the next resolve did not write the whole new set"
    );
}

#[test]
fn concurrent_resolves_into_one_directory_end_with_one_runs_set() {
    let (old, new) = reference_sets();
    let r = repo();
    let children: Vec<_> = (0..8)
        .map(|i| {
            resolve(r.path(), if i % 2 == 0 { OLD } else { NEW })
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let end = snapshot(r.path());
    assert!(
        end == old || end == new,
        "a mixed set after concurrent resolves"
    );
    assert_eq!(temps(r.path()), Vec::<PathBuf>::new());
}

fn is_root() -> bool {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::os::unix::fs::MetadataExt::uid(&f.as_file().metadata().unwrap()) == 0
}

/// A tmpfs mounted for one test (root only), unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, options: &str) -> Option<Tmpfs> {
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "gpu-env-test"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        st.success().then(|| Tmpfs(at.to_path_buf()))
    }
    fn remount(&self, options: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(st.success(), "remount {options} failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A failed resolve: a clear error, no panic, the old set whole, no temps.
fn assert_refused_keeping(dir: &Path, c: Command, old: &Snapshot, expect: &[&str]) -> String {
    let (code, out) = run_with_timeout(c, HANG_GUARD);
    assert!(code != 0 && code != 101, "exit {code}: {out}");
    assert!(!out.contains("panicked"), "{out}");
    assert!(
        expect.iter().any(|e| out.contains(e)),
        "wanted one of {expect:?}: {out}"
    );
    assert!(snapshot(dir) == *old, "the old set changed: {out}");
    assert_eq!(temps(dir), Vec::<PathBuf>::new(), "{out}");
    out
}

#[test]
fn a_read_only_output_directory_keeps_the_old_set() {
    let (old, new) = reference_sets();
    let r = repo();
    let colab = r.path().join("colab");
    std::fs::create_dir_all(&colab).unwrap();
    // Root writes into a 0555 directory, so as root it is a read-only mount.
    let mount = if is_root() {
        Some(Tmpfs::mount(&colab, "size=8m").expect("root but cannot mount a tmpfs"))
    } else {
        None
    };
    ok(resolve(r.path(), OLD));
    assert!(snapshot(r.path()) == old);
    match &mount {
        Some(m) => m.remount("ro"),
        None => std::fs::set_permissions(&colab, std::fs::Permissions::from_mode(0o555)).unwrap(),
    }
    let expect = ["Read-only file system", "Permission denied"];
    assert_refused_keeping(r.path(), resolve(r.path(), NEW), &old, &expect);
    match &mount {
        Some(m) => m.remount("rw"),
        None => std::fs::set_permissions(&colab, std::fs::Permissions::from_mode(0o755)).unwrap(),
    }
    ok(resolve(r.path(), NEW));
    assert!(snapshot(r.path()) == new);
}

extern "C" {
    fn setrlimit(resource: i32, limit: *const [u64; 2]) -> i32;
    fn signal(sig: i32, handler: usize) -> usize;
}
const RLIMIT_FSIZE: i32 = 1;
const RLIMIT_AS: i32 = 9;
const SIGXFSZ: i32 = 25;
const SIG_IGN: usize = 1;

/// Run `c` under a resource limit (as `prlimit --<resource>` would).
fn limited(c: &mut Command, resource: i32, limit: u64) {
    // SAFETY: setrlimit and signal are async-signal-safe; nothing else runs
    // between fork and exec.
    unsafe {
        c.pre_exec(move || {
            if resource == RLIMIT_FSIZE {
                // A write past the limit then fails with EFBIG (as on a
                // full disk) instead of killing the process.
                signal(SIGXFSZ, SIG_IGN);
            }
            if setrlimit(resource, &[limit, limit]) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn a_full_disk_keeps_the_old_set_and_the_next_resolve_succeeds() {
    let (old, new) = reference_sets();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // A 512 KiB tmpfs (the outputs take about 100 KiB; a replace needs room
    // for the old and the new set at once) filled up; without
    // mount rights, RLIMIT_FSIZE on the child (prlimit --fsize) instead.
    let mount = if is_root() {
        Tmpfs::mount(root, "size=512k")
    } else {
        None
    };
    std::fs::write(root.join("Cargo.toml"), MANIFEST).unwrap();
    ok(resolve(root, OLD));
    let mut c = resolve(root, NEW);
    if mount.is_some() {
        fill(&root.join("filler"));
        eprintln!("full disk: a full 512 KiB tmpfs");
    } else {
        limited(&mut c, RLIMIT_FSIZE, 20_000);
        eprintln!("full disk: simulated with RLIMIT_FSIZE = 20000 on the child (no mount rights)");
    }
    let expect = ["No space left on device", "File too large"];
    assert_refused_keeping(root, c, &old, &expect);
    let _ = std::fs::remove_file(root.join("filler"));
    ok(resolve(root, NEW));
    assert!(snapshot(root) == new);
    assert_eq!(temps(root), Vec::<PathBuf>::new());
}

/// Write zeros to `path` until the file system is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let block = [0u8; 4096];
    while f.write_all(&block).is_ok() {}
    let _ = f.write_all(&[0u8; 1]);
}

// ---- hostile config ----

#[test]
fn hostile_config_values_are_clear_errors_that_write_nothing() {
    let cases: &[(&str, &str)] = &[
        ("targets = \"colab\"", "expected a sequence"),
        ("targets = [\"colab\\u0000x\"]", "unknown target `colab\\u{0}x`"),
        ("colour = 1", "unknown field `colour`"),
        ("targets = [\"colab\"]\nconstraints = { mxnet = \">=>=1\" }", "invalid PEP 440 specifier"),
        ("[[workspace.metadata.gpu-env.target]]\nspec = \"colab\"\ndriver = \"99999999999999999999\"", "invalid driver version"),
        ("[[workspace.metadata.gpu-env.target]]\nspec = \"colab\"\npython-version = \"3.\\u001b[31m\"", "is not a Python version"),
        ("[[workspace.metadata.gpu-env.target]]\nspec = \"colab\"\ngpu = \"999999999.9\"", "is not a GPU"),
        ("targets = [\"colab\"]\n[workspace.metadata.gpu-env.output]\nlock = \"/etc/passwd\"", "outside the repo root"),
        ("targets = [\"colab\"]\n[workspace.metadata.gpu-env.output]\nnotebook = \".\"", "names no file"),
        ("targets = [\"colab\"]\n[workspace.metadata.gpu-env.output]\nrequirements = \"Cargo.lock\"", "would replace Cargo.lock"),
        ("targets = [\"colab\"]\n[workspace.metadata.gpu-env.output]\nlock = \"colab\"", "colab"),
    ];
    let deep = format!(
        "targets = [\"colab\"]\nx = {}{}",
        "[".repeat(20000),
        "]".repeat(20000)
    );
    let huge = format!("targets = [\"{}\"]", "A".repeat(1 << 20));
    let mut all: Vec<(String, &str)> = cases.iter().map(|(t, e)| (t.to_string(), *e)).collect();
    all.push((deep, "TOML parse error"));
    all.push((huge, "unknown target"));
    for (table, expect) in all {
        let r = repo();
        std::fs::create_dir_all(r.path().join("colab")).unwrap();
        let manifest = format!("[workspace]\n\n[workspace.metadata.gpu-env]\n{table}\n");
        std::fs::write(r.path().join("Cargo.toml"), &manifest).unwrap();
        let mut c = xtask!();
        c.current_dir(r.path()).args(["resolve", "--offline"]);
        limited(&mut c, RLIMIT_AS, AS_LIMIT);
        let (code, out) = run_with_timeout(c, HANG_GUARD);
        let shown = &table[..table.len().min(80)];
        assert_eq!(code, 2, "{shown}: {}", &out[..out.len().min(2000)]);
        assert!(
            out.contains(expect),
            "{shown}: wanted {expect:?}: {}",
            &out[..out.len().min(2000)]
        );
        assert!(
            out.len() < 4 << 20,
            "{shown}: {} bytes of output",
            out.len()
        );
        assert!(
            !r.path().join("gpu-env.lock").exists(),
            "{shown}: a lock was written"
        );
    }
}

#[test]
fn an_unreadable_manifest_is_an_error_never_ignored() {
    // A manifest that is not UTF-8, a FIFO (would block a plain read) or
    // /dev/zero (endless): each a clear error naming it, never a resolve of
    // the default `local` target as if there were no config.
    type Make = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Make)> = vec![
        (
            "non-UTF-8",
            Box::new(|p: &Path| {
                std::fs::write(
                    p,
                    b"[workspace]\n[workspace.metadata.gpu-env]\ntargets = [\"col\xffab\"]\n",
                )
                .unwrap()
            }),
        ),
        (
            "a FIFO",
            Box::new(|p: &Path| assert!(Command::new("mkfifo").arg(p).status().unwrap().success())),
        ),
        (
            "/dev/zero",
            Box::new(|p: &Path| std::os::unix::fs::symlink("/dev/zero", p).unwrap()),
        ),
    ];
    for (what, make) in cases {
        let d = tempfile::tempdir().unwrap();
        make(&d.path().join("Cargo.toml"));
        let mut c = xtask!();
        c.current_dir(d.path()).args(["resolve", "--offline"]);
        limited(&mut c, RLIMIT_AS, AS_LIMIT);
        let (code, out) = run_with_timeout(c, HANG_GUARD);
        assert_eq!(code, 2, "{what}: {out}");
        assert!(out.contains("Cargo.toml"), "{what}: {out}");
        assert!(
            !d.path().join("gpu-env.lock").exists(),
            "{what}: resolved without its config"
        );
    }
}

// ---- hostile tools on PATH ----

/// `probe --json --timeout 2` with nvcc, nvidia-smi and python3 on PATH all
/// running `body`, an empty sysroot, under RLIMIT_AS.
fn probe_with_tools(body: &str) -> serde_json::Value {
    let d = tempfile::tempdir().unwrap();
    let (bin, root) = (d.path().join("bin"), d.path().join("root"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    for tool in ["nvcc", "nvidia-smi", "python3"] {
        let p = bin.join(tool);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut c = xtask!();
    c.args(["probe", "--json", "--timeout", "2"])
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("GPU_ENV_SYSROOT", &root)
        .env_remove("CUDA_HOME")
        .env_remove("CUDA_PATH")
        .env_remove("LD_LIBRARY_PATH");
    limited(&mut c, RLIMIT_AS, AS_LIMIT);
    // Hang guard: three commands with a 2 s limit each, plus slack.
    let (code, out) = run_with_timeout(c, HANG_GUARD);
    assert_eq!(code, 0, "{body}: {}", &out[..out.len().min(3000)]);
    json_in(&out)
}

/// The JSON document in a command's combined output (after any warnings).
fn json_in(out: &str) -> serde_json::Value {
    let at = out
        .find("{\n")
        .unwrap_or_else(|| panic!("no JSON in: {out}"));
    let mut docs = serde_json::Deserializer::from_str(&out[at..]).into_iter();
    docs.next()
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn hostile_tools_on_path_are_bounded_and_reported() {
    let cases: &[(&str, &str)] = &[
        ("exec yes garbage", "printed more than 4194304 bytes"),
        (
            "exec yes garbage >&2",
            "printed more than 4194304 bytes on stderr",
        ),
        (
            "head -c 10000000 /dev/zero | tr '\\0' a",
            "printed more than 4194304 bytes",
        ),
        ("exec sleep 600", "no answer within 2.0 s"),
        // Exits at once, a grandchild keeps stdout open: still bounded.
        ("sleep 600 &\necho partial", ""),
        (
            "while :; do printf x; sleep 0.1; done",
            "no answer within 2.0 s",
        ),
        ("head -c 100000 /dev/urandom", "unrecognised"),
    ];
    for (body, expect) in cases {
        let j = probe_with_tools(body);
        let p = &j["probe"];
        for fact in ["toolkit", "driver", "python"] {
            let e = p[fact]["error"]
                .as_str()
                .unwrap_or_else(|| panic!("{body}: {fact} has no error: {}", p[fact]));
            assert!(e.contains(expect), "{body}: {fact}: {e}");
            assert!(
                e.len() < 4096,
                "{body}: {fact}: an error of {} bytes",
                e.len()
            );
        }
    }
}

#[test]
fn python_reporting_an_absurd_glibc_is_refused_in_bounded_memory() {
    // D9 through the CLI under RLIMIT_AS: glibc 2.4294967295 made probe
    // allocate platform tags until it aborted.
    let j = probe_with_tools(
        r#"echo '{"executable": "/x", "version": "3.11.0", "machine": "x86_64", "glibc": "2.4294967295", "packages": {}, "site_packages": [], "colab": false}'"#,
    );
    let e = j["probe"]["python"]["error"].as_str().unwrap();
    assert!(e.contains("is not a glibc version"), "{e}");
}

#[test]
fn sysroot_fifo_and_dev_zero_are_errors_in_bounded_time_and_memory() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    std::fs::create_dir_all(root.join("proc/driver/nvidia")).unwrap();
    std::fs::create_dir_all(root.join("sys/module/nvidia")).unwrap();
    assert!(Command::new("mkfifo")
        .arg(root.join("proc/driver/nvidia/version"))
        .status()
        .unwrap()
        .success());
    std::os::unix::fs::symlink("/dev/zero", root.join("sys/module/nvidia/version")).unwrap();
    let mut c = xtask!();
    c.args(["probe", "--json", "--timeout", "2"])
        .env("PATH", "/nonexistent")
        .env("GPU_ENV_SYSROOT", root);
    limited(&mut c, RLIMIT_AS, AS_LIMIT);
    let (code, out) = run_with_timeout(c, HANG_GUARD);
    assert_eq!(code, 0, "{out}");
    let j = json_in(&out);
    let readings = j["probe"]["driver_readings"].to_string();
    assert!(
        readings.matches("not a regular file").count() >= 2,
        "{readings}"
    );
}

// ---- network ----

/// A download whose body stops arriving is an error after the stall limit
/// (`pypi::STALL_TIMEOUT`, 120 s; 1 s here), not after the client's 30
/// minutes: the server sends headers and 10 of 1000 bytes, then holds.
#[test]
fn a_stalled_download_ends_with_a_clear_error() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            let mut s = s.unwrap();
            let mut req = [0u8; 4096];
            let _ = s.read(&mut req);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
            let _ = s.flush();
            held.push(s); // and nothing more
        }
    });
    let url = format!("{base}/packages/x.whl");
    let r = hang_guard("stalled download", Duration::from_secs(120), move || {
        let client =
            gpu_env::pypi::Client::with_base(base).with_stall_timeout(Duration::from_secs(1));
        let mut f = tempfile::tempfile().unwrap();
        client
            .download(&url, &mut f, 1000, &"0".repeat(64))
            .map_err(|e| e.to_string())
    });
    let e = r.unwrap_err();
    assert!(
        e.contains("download stalled: no data for 1 s after 10 bytes"),
        "{e}"
    );
    assert!(e.contains("/packages/x.whl"), "{e}");
}

#[test]
fn a_pypi_that_accepts_and_never_answers_ends_ingest_with_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s); // accepted, never answered
        }
    });
    let d = tempfile::tempdir().unwrap();
    let wheel = d.path().join(FILENAME);
    std::fs::write(&wheel, b"PK").unwrap();
    let mut c = xtask!();
    c.env("GPU_ENV_PYPI_URL", &base)
        .arg("--db")
        .arg(d.path().join("db"))
        .args(["db", "ingest"])
        .arg(&wheel);
    // Hang guard: 3 tries of the 30 s JSON limit, plus slack.
    let (code, out) = run_with_timeout(c, Duration::from_secs(200));
    assert!(code != 0 && code != 101, "{out}");
    assert!(out.contains(&base) && !out.contains("panicked"), "{out}");
    assert!(!d.path().join("db/wheels").exists(), "{out}");
}

// ---- hostile wheels for db ingest ----

const FILENAME: &str = "mxnet_cu112-9.9.9-py3-none-manylinux2014_x86_64.whl";

/// A wheel made by python3's zipfile whose libmxnet.so is `zeros` bytes of
/// zeros (deflated: a bomb when large).
fn zeros_wheel(out: &Path, zeros: u64) {
    let script = format!(
        "import zipfile\nz = zipfile.ZipFile({out:?}, 'w', zipfile.ZIP_DEFLATED, compresslevel=9)\n\
         z.writestr('mxnet_cu112-9.9.9.dist-info/METADATA', 'Metadata-Version: 2.1\\nName: mxnet-cu112\\n\\n')\n\
         z.writestr('mxnet/__init__.py', '')\n\
         with z.open('mxnet/libmxnet.so', 'w') as f:\n    n = {zeros}\n    block = bytes(1 << 20)\n\
         \x20   while n > 0:\n        f.write(block[:min(n, len(block))]); n -= len(block)\nz.close()\n",
        out = out.display().to_string()
    );
    python3_zipfile(&script);
}

/// Set the declared (uncompressed) size of `member` in its local header
/// and central directory entry.
fn declare_size(zip: &mut [u8], member: &[u8], size: u32) {
    let mut patched = 0;
    for at in 0..zip.len().saturating_sub(member.len()) {
        if &zip[at..at + member.len()] != member {
            continue;
        }
        let sig = |off: usize| at.checked_sub(off).map(|s| &zip[s..s + 4]);
        if sig(30) == Some(b"PK\x03\x04") {
            zip[at - 30 + 22..at - 30 + 26].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        } else if sig(46) == Some(b"PK\x01\x02") {
            zip[at - 46 + 24..at - 46 + 28].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "member headers not found");
}

/// `db ingest <wheel>` against a PyPI on 127.0.0.1 that lists the wheel
/// with its real sha256, under RLIMIT_AS: a clear error, nothing written.
fn assert_ingest_refused(wheel: &Path, expect: &str) -> String {
    let bytes = std::fs::read(wheel).unwrap();
    let sha = gpu_env_tests::sha256_hex(&bytes);
    let json = format!(
        r#"{{"info":{{}},"releases":{{"9.9.9":[{{"filename":"{FILENAME}","url":"https://example.invalid/{FILENAME}","digests":{{"sha256":"{sha}"}},"size":{},"requires_python":null,"yanked":false}}]}}}}"#,
        bytes.len()
    );
    let server = Server::start([("/pypi/mxnet-cu112/json".to_string(), Reply::ok(json))].into());
    let db = wheel.parent().unwrap().join("db");
    let mut c = xtask!();
    c.env("GPU_ENV_PYPI_URL", &server.base)
        .arg("--db")
        .arg(&db)
        .args(["db", "ingest"])
        .arg(wheel);
    limited(&mut c, RLIMIT_AS, AS_LIMIT);
    let (code, out) = run_with_timeout(c, HANG_GUARD);
    assert_eq!(code, 2, "{}: {out}", wheel.display());
    assert!(out.contains(expect), "wanted {expect:?}: {out}");
    assert!(!db.join("wheels").exists(), "{out}");
    out
}

#[test]
fn hostile_wheels_for_db_ingest_are_clear_errors_in_bounded_memory() {
    let d = tempfile::tempdir().unwrap();
    let wheel = d.path().join(FILENAME);
    // A deflate bomb lying about its size: 1 GiB of zeros declared 1000 bytes.
    zeros_wheel(&wheel, 1 << 30);
    let mut bytes = std::fs::read(&wheel).unwrap();
    declare_size(&mut bytes, b"mxnet/libmxnet.so", 1000);
    std::fs::write(&wheel, &bytes).unwrap();
    assert_ingest_refused(&wheel, "inflated to more than 1000 bytes");
    // A tiny member declaring 4 GiB.
    zeros_wheel(&wheel, 100);
    let mut bytes = std::fs::read(&wheel).unwrap();
    declare_size(&mut bytes, b"mxnet/libmxnet.so", 0xFFFF_FFF0);
    std::fs::write(&wheel, &bytes).unwrap();
    assert_ingest_refused(&wheel, "more than");
    // Truncated archives: cut inside the data, and inside the directory.
    zeros_wheel(&wheel, 100_000);
    let whole = std::fs::read(&wheel).unwrap();
    for cut in [whole.len() / 2, whole.len() - 30] {
        std::fs::write(&wheel, &whole[..cut]).unwrap();
        assert_ingest_refused(&wheel, "not a zip archive");
    }
}

#[test]
fn an_honest_one_gib_member_is_read_or_refused_under_the_memory_limit() {
    // 1 GiB of zeros declared as such (a bomb that tells the truth): under
    // RLIMIT_AS 1.5 GB it is measured or refused with a clear error, never
    // an abort (exit 134) from a failed allocation.
    let d = tempfile::tempdir().unwrap();
    let wheel = d.path().join(FILENAME);
    zeros_wheel(&wheel, 1 << 30);
    let out = assert_ingest_refused(&wheel, "libmxnet.so");
    eprintln!(
        "{}",
        out.lines().find(|l| l.contains("error")).unwrap_or(&out)
    );
}

/// `resolve` in `dir` with `args`, under RLIMIT_AS: (exit code, output).
fn resolve_limited(dir: &Path, args: &[String]) -> (i32, String) {
    let mut c = xtask!();
    c.current_dir(dir).arg("resolve").args(args);
    limited(&mut c, RLIMIT_AS, AS_LIMIT);
    run_with_timeout(c, HANG_GUARD)
}

#[test]
fn memory_stays_bounded_with_the_number_of_targets_and_companions() {
    // 5,000 distinct targets in the config: refused before any resolves.
    let r = repo();
    let tables: String = (0..5000)
        .map(|i| {
            format!(
                "[[workspace.metadata.gpu-env.target]]\nspec = \"colab\"\ndriver = \"{}.1\"\n",
                450 + i
            )
        })
        .collect();
    std::fs::write(
        r.path().join("Cargo.toml"),
        format!("[workspace]\n\n{tables}"),
    )
    .unwrap();
    let (code, out) = resolve_limited(r.path(), &["--offline".into()]);
    assert_ne!(code, 0, "{}", &out[..out.len().min(2000)]);
    assert!(
        out.contains("5000 distinct targets requested"),
        "{}",
        &out[..out.len().min(2000)]
    );
    assert!(!r.path().join("gpu-env.lock").exists());
    // 3,000 `--target colab` flags: one target, resolved once.
    let r = repo();
    let mut args: Vec<String> = vec!["--offline".into()];
    for _ in 0..3000 {
        args.extend(["--target".into(), "colab".into()]);
    }
    let (code, out) = resolve_limited(r.path(), &args);
    assert_eq!(code, 0, "{}", &out[..out.len().min(2000)]);
    let lock = std::fs::read_to_string(r.path().join("gpu-env.lock")).unwrap();
    assert_eq!(lock.matches("\n[[target]]\n").count(), 1, "{lock}");
    // 20,000 companions: refused at once.
    let r = repo();
    let mut args: Vec<String> = vec!["--offline".into(), "--target".into(), "colab".into()];
    for i in 0..20000 {
        args.extend(["--with".into(), format!("d2l==1.0.{i}")]);
    }
    let (code, out) = resolve_limited(r.path(), &args);
    assert_ne!(code, 0, "{}", &out[..out.len().min(2000)]);
    assert!(
        out.contains("20000 distinct companions requested"),
        "{}",
        &out[..out.len().min(2000)]
    );
}

#[test]
fn check_during_concurrent_resolves_never_sees_a_mixed_set() {
    let r = repo();
    ok(resolve(r.path(), OLD));
    let dir = r.path().to_path_buf();
    let writer = std::thread::spawn(move || {
        for i in 0..8 {
            ok(resolve(&dir, if i % 2 == 0 { NEW } else { OLD }));
        }
    });
    let mut seen = Vec::new();
    while !writer.is_finished() {
        let mut c = xtask!();
        c.current_dir(r.path()).arg("check");
        let (_, out) = run_with_timeout(c, HANG_GUARD);
        assert!(
            !out.contains("edited by hand") && !out.contains("does not match the lock"),
            "check saw a resolve half-written:\n{out}"
        );
        seen.push(out);
    }
    writer.join().unwrap();
    assert!(!seen.is_empty());
}

#[test]
fn install_and_doctor_give_a_hung_interpreter_one_deadline() {
    let tmp = tempfile::tempdir().unwrap();
    let py = tmp.path().join("python");
    gpu_env_tests::script(&py, "exec sleep 600\n");
    let lock = gpu_env_tests::fixtures().join("emit/colab-cu112.lock");
    let want = format!(
        "no answer within {:.1} s",
        gpu_env::host::python::ASK_TIMEOUT.as_secs_f64()
    );
    for args in [
        vec![
            "install".into(),
            "--lock".into(),
            lock.display().to_string(),
        ],
        vec!["doctor".into()],
    ] {
        let mut c = xtask!();
        c.current_dir(tmp.path())
            .args(&args)
            .arg("--python")
            .arg(&py);
        let (code, out) = run_with_timeout(c, HANG_GUARD);
        assert_ne!(code, 0, "{args:?}: {out}");
        assert!(out.contains(&want), "{args:?}: wanted {want:?}: {out}");
    }
}
