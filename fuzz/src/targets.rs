//! The fuzz targets: each takes raw bytes, feeds one of gpu-env's readers
//! (or a chain: config -> solve -> lock -> rendered files), and returns a
//! coarse signature, or `Err` when an invariant other than "no panic" broke.

use crate::{coarse, fixtures_dir, Target};
use gpu_env::binary::{elf, fatbin, zip};
use gpu_env::host::{cuda as driver, python};
use gpu_env::probe::{libs, smi, toolkit};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub fn all() -> Vec<Target> {
    let mut v = binary_targets();
    v.extend(probe_targets());
    v.extend(data_targets());
    v.extend(crate::targets_files::all());
    v
}

fn text(input: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(input)
}

fn ok_or_coarse<T, E: std::fmt::Display>(kind: &str, r: &Result<T, E>) -> String {
    match r {
        Ok(_) => format!("{kind}:ok"),
        Err(e) => coarse(kind, &e.to_string()),
    }
}

/// Files of `tests/fixtures/<dir>` whose names end with one of `exts`.
fn fixture_files(dir: &str, exts: &[&str]) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join(dir))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| exts.iter().any(|x| p.to_string_lossy().ends_with(x)))
        .collect();
    paths.sort();
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

use crate::db;

// ---- binary readers: zip, wheel (zip + ELF + fatbin), ELF, fatbin ----

const BINARY_DICT: &[&[u8]] = &[
    b"PK\x03\x04",
    b"PK\x01\x02",
    b"PK\x05\x06",
    b"PK\x06\x07",
    b"\x7fELF",
    b"\x50\xed\x55\xba",
    b".nv_fatbin",
    b"mxnet/libmxnet.so",
    b"\x01\x00\x10\x00",
];

fn binary_targets() -> Vec<Target> {
    vec![
        Target {
            name: "zip",
            about: "binary/zip.rs: open, then read every member (CRC, sizes, bounds)",
            max_len: 64 << 10,
            seeds: zip_seeds,
            dict: BINARY_DICT,
            run: run_zip,
        },
        Target {
            name: "wheel",
            about: "measure.rs over a whole wheel: the input is libmxnet.so, zipped with METADATA (CRCs right, so mutations reach the ELF and fatbin readers)",
            max_len: 64 << 10,
            seeds: || vec![seed_file("fuzz/seeds/libmxnet.so")],
            dict: BINARY_DICT,
            run: run_wheel,
        },
        Target {
            name: "elf",
            about: "binary/elf.rs: dynamic section, section headers, .nv_fatbin range",
            max_len: 64 << 10,
            seeds: || vec![seed_file("fuzz/seeds/libmxnet.so")],
            dict: BINARY_DICT,
            run: run_elf,
        },
        Target {
            name: "fatbin",
            about: "binary/fatbin.rs: containers and entries, scanned for the magic",
            max_len: 16 << 10,
            seeds: fatbin_seeds,
            dict: BINARY_DICT,
            run: |b| {
                let c = fatbin::read_fatbins(b);
                Ok(format!(
                    "containers={} sass={} ptx={}",
                    c.containers.min(3),
                    c.sass.len().min(3),
                    c.ptx.len().min(3)
                ))
            },
        },
    ]
}

fn seed_file(rel: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(rel)).unwrap_or_default()
}

fn zip_seeds() -> Vec<Vec<u8>> {
    vec![seed_file("fuzz/seeds/fixture.whl")]
}

fn fatbin_seeds() -> Vec<Vec<u8>> {
    let one = fatbin::build_container(&[(2, 75, b"sass"), (1, 86, b".target sm_86")]);
    let mut two = one.clone();
    two.extend(fatbin::build_container(&[(2, 90, &[0u8; 40])]));
    vec![one, two, seed_file("fuzz/seeds/libmxnet.so")]
}

/// The zip reader takes a path: each input is written to one scratch file
/// per process (in /dev/shm when there is one: no disk wear), removed by
/// [`remove_scratch_file`] at the end of a run.
fn scratch_file(input: &[u8]) -> &'static Path {
    let p = SCRATCH.get_or_init(|| {
        let base = Path::new("/dev/shm");
        let base = if base.is_dir() {
            base.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        base.join(format!(
            "gpu-env-fuzz-{}-mxnet_cu112-1.9.1-py3-none-manylinux2014_x86_64.whl",
            std::process::id()
        ))
    });
    std::fs::write(p, input).expect("the fuzzer's scratch file can be written");
    p
}

static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

/// Remove this process's scratch file, if a zip target made one, and the
/// file targets' scratch directory.
pub fn remove_scratch_file() {
    if let Some(p) = SCRATCH.get() {
        let _ = std::fs::remove_file(p);
    }
    crate::targets_files::remove_scratch_dir();
}

fn run_zip(input: &[u8]) -> Result<String, String> {
    let mut z = match zip::ZipArchive::open(scratch_file(input)) {
        Ok(z) => z,
        Err(e) => return Ok(coarse("open", &e.to_string())),
    };
    let entries: Vec<zip::Entry> = z.entries().iter().take(16).cloned().collect();
    let mut sig = format!("entries={}", entries.len().min(5));
    for e in &entries {
        let r = z.read(e);
        sig.push(' ');
        sig.push_str(&ok_or_coarse("read", &r));
    }
    Ok(sig)
}

fn run_wheel(input: &[u8]) -> Result<String, String> {
    let metadata = b"Metadata-Version: 2.1\nName: mxnet-cu112\nRequires-Python: >=3.7\nRequires-Dist: numpy (<2.0.0,>1.16.0)\n\n";
    let path = scratch_file(&stored_zip(&[
        ("mxnet_cu112-1.9.1.dist-info/METADATA", metadata),
        ("mxnet/libmxnet.so", input),
        ("mxnet/libopenblas.so.0", b""),
    ]));
    let name = "mxnet_cu112-1.9.1-py3-none-manylinux2014_x86_64.whl";
    match gpu_env::measure::measure_wheel(path, name) {
        Ok(m) => {
            let shape = format!(
                "ok placeholder={} needed={} sass={} ptx={}",
                m.placeholder,
                m.needed.len().min(3),
                m.code.sass.len().min(3),
                m.code.ptx.len().min(3)
            );
            let _ = m.into_record(
                "https://example.invalid/x.whl".into(),
                "0".repeat(64),
                input.len() as u64,
                "fuzz".into(),
            );
            Ok(shape)
        }
        Err(e) => Ok(coarse("measure", &e.to_string())),
    }
}

/// A zip of stored members with right CRCs and sizes.
fn stored_zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let crc = crc32(data);
        let offset = z.len() as u32;
        let fixed = |sig: u32, central: bool| {
            let mut h = sig.to_le_bytes().to_vec();
            if central {
                h.extend([20, 0]);
            }
            h.extend([20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            h.extend(crc.to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend((name.len() as u16).to_le_bytes());
            h.extend([0, 0]);
            h
        };
        z.extend(fixed(0x0403_4b50, false));
        z.extend(name.as_bytes());
        z.extend(*data);
        central.extend(fixed(0x0201_4b50, true));
        central.extend([0u8; 10]); // comment length, disk, attributes
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let (cd_offset, cd_size, n) = (z.len() as u32, central.len() as u32, members.len() as u16);
    z.extend(central);
    z.extend(0x0605_4b50u32.to_le_bytes());
    z.extend([0, 0, 0, 0]);
    z.extend(n.to_le_bytes());
    z.extend(n.to_le_bytes());
    z.extend(cd_size.to_le_bytes());
    z.extend(cd_offset.to_le_bytes());
    z.extend([0, 0]);
    z
}

fn crc32(data: &[u8]) -> u32 {
    static TABLE: OnceLock<[u32; 256]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        std::array::from_fn(|i| {
            (0..8).fold(i as u32, |c, _| {
                if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                }
            })
        })
    });
    !data.iter().fold(!0u32, |c, b| {
        table[((c ^ u32::from(*b)) & 0xff) as usize] ^ (c >> 8)
    })
}

fn run_elf(input: &[u8]) -> Result<String, String> {
    match elf::read_elf(input) {
        Ok(f) => {
            // As measure.rs does: the section's range, else the whole file.
            let code = match &f.fatbin_section {
                Some(r) => fatbin::read_fatbins(&input[r.clone()]),
                None => fatbin::read_fatbins(input),
            };
            Ok(format!(
                "ok needed={} rpath={} section={} bad_sh={} sass={}",
                f.needed.len().min(3),
                f.rpath.len().min(3),
                f.fatbin_section.is_some(),
                f.bad_section_headers,
                code.sass.len().min(3)
            ))
        }
        Err(e) => Ok(coarse("elf", &e.to_string())),
    }
}

// ---- probe parsers: nvcc, nvidia-smi, /proc and /sys, cuDNN header, python ----

const PROBE_DICT: &[&[u8]] = &[
    b"\n",
    b", ",
    b"release ",
    b"V12.4.131",
    b"Cuda compilation tools",
    b"NVRM version:",
    b"Kernel Module",
    b"#define CUDNN_MAJOR ",
    b"#define CUDNN_MINOR ",
    b"compute_cap",
    b" MiB",
    b"Driver Version: ",
    b"CUDA Version: ",
    b"\"glibc\": \"2.",
    b"\"machine\": \"",
    b"{\"",
    b"\": ",
    b"null",
];

fn probe_targets() -> Vec<Target> {
    vec![
        Target {
            name: "nvcc",
            about: "probe/toolkit.rs: `nvcc --version` output",
            max_len: 8 << 10,
            seeds: || fixture_files("probe", &[".txt"]),
            dict: PROBE_DICT,
            run: |b| Ok(ok_or_coarse("nvcc", &toolkit::parse_nvcc_version(&text(b)))),
        },
        Target {
            name: "nvidia-smi",
            about: "probe/smi.rs: the CSV query (with and without compute_cap), the banner, the R470 refusal",
            max_len: 8 << 10,
            seeds: || {
                let mut s = fixture_files("probe", &[".csv", ".txt"]);
                s.extend(fixture_files("runtimes", &[".smi"]));
                s
            },
            dict: PROBE_DICT,
            run: run_smi,
        },
        Target {
            name: "proc",
            about: "host/cuda.rs and probe/libs.rs: /proc/driver/nvidia/version, /sys/module/nvidia/version, cudnn_version.h",
            max_len: 8 << 10,
            seeds: || {
                let mut s = fixture_files("probe", &["proc-version-open.txt", "proprietary.txt"]);
                s.push(b"550.54.14\n".to_vec());
                s.push(b"#define CUDNN_MAJOR 8\n#define CUDNN_MINOR 9\n#define CUDNN_PATCHLEVEL 6\n".to_vec());
                s
            },
            dict: PROBE_DICT,
            run: run_proc,
        },
        Target {
            name: "python",
            about: "host/python.rs: the interpreter probe's JSON line, glibc, platform tags",
            max_len: 8 << 10,
            seeds: python_seeds,
            dict: PROBE_DICT,
            run: run_python,
        },
    ]
}

fn run_smi(input: &[u8]) -> Result<String, String> {
    let t = text(input);
    let with = smi::parse_csv(&t, true);
    let without = smi::parse_csv(&t, false);
    let banner = smi::parse_banner(&t);
    let rejects = smi::rejects_compute_cap(&t, &t);
    Ok(format!(
        "{} {} banner={} rejects={rejects}",
        ok_or_coarse("cc", &with),
        ok_or_coarse("nocc", &without),
        format!("{banner:?}").len().min(80) / 20
    ))
}

fn run_proc(input: &[u8]) -> Result<String, String> {
    let t = text(input);
    let proc = driver::parse_proc_version(&t);
    let sys = driver::parse_sys_version(&t);
    let cudnn = libs::parse_cudnn_header(&t);
    if let Some(v) = &proc {
        // Any driver version read is one the rest of gpu-env can use.
        let _ = (v.major(), gpu_env::target::driver_cuda_for(db(), v));
    }
    Ok(format!(
        "proc={} sys={} cudnn={}",
        proc.is_some(),
        sys.is_some(),
        cudnn.is_some()
    ))
}

fn python_seeds() -> Vec<Vec<u8>> {
    let line = r#"{"executable": "/usr/bin/python3", "version": "3.11.13", "implementation": "cpython", "machine": "x86_64", "glibc": "2.35", "packages": {"numpy": "2.0.2", "mxnet-cu112": "1.9.1"}, "site_packages": ["/usr/lib/python3/dist-packages"], "colab": true}"#;
    vec![
        format!("warning: something\n{line}\n").into_bytes(),
        line.replace("\"2.35\"", "null").into_bytes(),
    ]
}

fn run_python(input: &[u8]) -> Result<String, String> {
    match python::parse(&text(input)) {
        Ok(info) => {
            // Bounded: glibc minors are at most 99 (D9: no endless tags).
            if info.platform_tags.len() > 200 {
                return Err(format!("{} platform tags", info.platform_tags.len()));
            }
            Ok(format!("ok tags={}", info.platform_tags.len().min(2)))
        }
        Err(e) => Ok(coarse("python", &e.to_string())),
    }
}

// ---- data: lock, config (-> solve -> lock -> files), versions, targets, names, compat-db ----

const DATA_DICT: &[&[u8]] = &[
    b"\n",
    b"[[target]]\n",
    b"[[target.package]]\n",
    b"[workspace.metadata.gpu-env]\n",
    b"[[workspace.metadata.gpu-env.target]]\n",
    b"[workspace.metadata.gpu-env.output]\n",
    b" = ",
    b"\"",
    b"'''",
    b"\\u0000",
    b"\\n",
    b"[",
    b"]",
    b"{",
    b"}",
    b"colab:",
    b"kaggle:",
    b"@2025.07",
    b"sm_",
    b"A100",
    b"local",
    b"format = 2\n",
    b"spec = \"colab:A100\"\n",
    b"gpu = [\"T4\", \"T4\"]\n",
    b"driver = \"",
    b"cuda-toolkit = \"",
    b"python-version = \"",
    b"no-gpu = true\n",
];

fn data_targets() -> Vec<Target> {
    let mut v = lock_targets();
    v.extend(crate::targets_spec::all());
    v
}

fn lock_targets() -> Vec<Target> {
    vec![
        Target {
            name: "lock",
            about: "the lock: read -> render -> reparse -> render (stable), then every file rendered from it",
            max_len: 64 << 10,
            seeds: || {
                let mut s = fixture_files("emit", &[".lock"]);
                s.extend(fixture_files("verify", &[".lock"]));
                s
            },
            dict: DATA_DICT,
            run: run_lock,
        },
        Target {
            name: "config",
            about: "config.rs: [workspace.metadata.gpu-env] -> job::run (solve, lock) -> rendered outputs",
            max_len: 8 << 10,
            seeds: config_seeds,
            dict: DATA_DICT,
            run: run_config,
        },
        Target {
            name: "compat-db",
            about: "db/load.rs: one compat-db file (first line names it) replaced in the fixture db",
            max_len: 32 << 10,
            seeds: compat_db_seeds,
            dict: DATA_DICT,
            run: run_compat_db,
        },
    ]
}

fn run_lock(input: &[u8]) -> Result<String, String> {
    let lock = match gpu_env::lock::Lock::parse("fuzz.lock", &text(input)) {
        Ok(l) => l,
        Err(e) => return Ok(coarse("parse", &e.to_string())),
    };
    let first = lock.render();
    let again = gpu_env::lock::Lock::parse("fuzz.lock", &first)
        .map_err(|e| format!("a rendered lock does not parse back: {e}"))?;
    let second = again.render();
    if first != second {
        return Err("render -> parse -> render is not stable".into());
    }
    let loaded = fuzz_loaded(gpu_env::config::Config::default());
    let outputs = gpu_env::job::rendered_outputs(
        db(),
        &loaded,
        &loaded.path(Path::new("gpu-env.lock")),
        &lock,
    );
    Ok(format!(
        "ok targets={} {}",
        lock.target.len().min(3),
        ok_or_coarse("outputs", &outputs)
    ))
}

/// A repo root that does not exist: rendering checks output paths against
/// it, nothing is ever written.
fn fuzz_loaded(config: gpu_env::config::Config) -> gpu_env::config::Loaded {
    let root = PathBuf::from("/nonexistent/gpu-env-fuzz-repo");
    gpu_env::config::Loaded {
        config,
        manifest: Some(root.join("Cargo.toml")),
        root,
    }
}

fn config_seeds() -> Vec<Vec<u8>> {
    let repo = fixtures_dir().join("..");
    let mut s: Vec<Vec<u8>> = ["../Cargo.toml", "../examples/consumer/Cargo.toml"]
        .iter()
        .filter_map(|p| std::fs::read(repo.join(p)).ok())
        .collect();
    s.push(
        br#"[workspace]
[workspace.metadata.gpu-env]
targets = ["colab", "kaggle:P100"]
constraints = { mxnet = ">=1.9", packages = ["mxnet-cu112"] }
[[workspace.metadata.gpu-env.target]]
spec = "colab:A100"
driver = "535.104.05"
cuda-toolkit = "12.2"
cudnn = "8.9.6"
python-version = "3.10"
[[workspace.metadata.gpu-env.target]]
spec = "colab"
gpu = ["T4", "sm_75"]
no-gpu = false
[workspace.metadata.gpu-env.output]
lock = "locks/gpu-env.lock"
colab_cell = "nb/cell.py"
"#
        .to_vec(),
    );
    s.push(
        b"[package]\nname = \"x\"\n[package.metadata.gpu-env]\ntargets = [\"colab-2025.07:L4\"]\n"
            .to_vec(),
    );
    s
}

fn run_config(input: &[u8]) -> Result<String, String> {
    let manifest = Path::new("/nonexistent/gpu-env-fuzz-repo/Cargo.toml");
    let config = match gpu_env::config::parse_manifest(manifest, &text(input)) {
        Ok(Some(c)) => c,
        Ok(None) => return Ok("none".into()),
        Err(e) => return Ok(coarse("config", &e.to_string())),
    };
    // `local` would probe this machine: slow and not the config's doing.
    let requests: Vec<_> = config
        .target_requests()
        .into_iter()
        .filter(|(spec, _)| {
            gpu_env::profile::TargetSpec::parse(spec) != gpu_env::profile::TargetSpec::Local
        })
        .take(3)
        .collect();
    let req = gpu_env::job::Request {
        targets: requests.iter().map(|(s, _)| s.clone()).collect(),
        per_target: requests.into_iter().map(|(_, o)| o).collect(),
        constraints: config.constraints.clone(),
        ..Default::default()
    };
    let outcome = match gpu_env::job::run(db(), gpu_env::db::embedded_hash(), &req) {
        Ok(o) => o,
        Err(e) => return Ok(coarse("job", &e.to_string())),
    };
    let Some(lock) = outcome.lock else {
        return Ok(format!(
            "unresolved targets={}",
            outcome.results.len().min(3)
        ));
    };
    let loaded = fuzz_loaded(config);
    let lock_path = loaded.path(&loaded.config.output.lock);
    let outputs = gpu_env::job::rendered_outputs(db(), &loaded, &lock_path, &lock);
    Ok(format!("locked {}", ok_or_coarse("outputs", &outputs)))
}

/// Each compat-db file of the fixture db as `<relative path>\n<text>`.
fn compat_db_seeds() -> Vec<Vec<u8>> {
    fixture_db_files()
        .iter()
        .map(|f| format!("{}\n{}", f.path, f.text).into_bytes())
        .collect()
}

fn fixture_db_files() -> &'static [gpu_env::db::SourceFile] {
    static FILES: OnceLock<Vec<gpu_env::db::SourceFile>> = OnceLock::new();
    FILES.get_or_init(|| {
        gpu_env::db::source_files(Some(&fixtures_dir().join("emit/db"))).unwrap_or_default()
    })
}

fn run_compat_db(input: &[u8]) -> Result<String, String> {
    let t = text(input);
    let (name, body) = t.split_once('\n').unwrap_or(("gpus.toml", &t));
    let mut files = fixture_db_files().to_vec();
    match files.iter_mut().find(|f| f.path == name) {
        Some(f) => f.text = body.to_string(),
        None => files.push(gpu_env::db::SourceFile {
            path: name.to_string(),
            text: body.to_string(),
        }),
    }
    match gpu_env::db::load_files(&files) {
        Ok(db) => Ok(format!("ok runtimes={}", db.runtimes.len().min(3))),
        Err(d) => Ok(coarse(
            "db",
            &d.first().map(|d| d.message.clone()).unwrap_or_default(),
        )),
    }
}
