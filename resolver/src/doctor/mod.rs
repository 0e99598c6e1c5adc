//! `doctor`: diagnose an existing Python environment's MXNet install
//! (docs/verify.md#doctor). Which mxnet* distribution is installed (and
//! which one's files are actually on disk when several share `mxnet/`), what
//! its `libmxnet.so` needs against what the loader would find, the first
//! missing soname and the pip package that ships it, GPU code against the
//! devices, driver against the wheel's CUDA, numpy alias breakers, and the
//! `cargo xtask resolve` command that fixes it. Everything but the device
//! facts works without a GPU.

use crate::db::model::{Breaker, WheelFile};
use crate::db::Db;
use crate::host::{cuda, loader};
use crate::solve::gpu_code;
use crate::versions::CudaVersion;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const SCHEMA: u32 = 1;
/// Nothing wrong found.
pub const EXIT_OK: u8 = 0;
/// At least one error finding.
pub const EXIT_PROBLEMS: u8 = 1;
/// No interpreter, bad arguments, unreadable compat-db.
pub const EXIT_ERROR: u8 = 2;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub python: Option<PathBuf>,
    /// For each command; zero: 10 s (120 s for the import attempt).
    pub timeout: Duration,
    /// Skip the `import mxnet` attempt.
    pub no_import: bool,
    /// Judge the environment against this lock's target (index): what it
    /// pins, where it puts redistributables, its shims and preloads.
    pub lock: Option<(crate::lock::Lock, usize)>,
}

/// The lock target an environment is judged against, and where its
/// installers put the CUDA redistributables.
struct Locked<'a> {
    t: &'a crate::lock::LockedTarget,
    redist: PathBuf,
    shown: String,
}

impl<'a> Locked<'a> {
    fn new(opts: &'a Options) -> Option<Locked<'a>> {
        let (lock, i) = opts.lock.as_ref()?;
        let t = lock.target.get(*i)?;
        Some(Locked {
            t,
            redist: crate::verify::redist_dir(lock, None),
            shown: format!("the lock's target {}", t.name),
        })
    }

    /// `mxnet-cu112 1.9.1` as installed vs locked: None when they agree.
    fn distribution_problem(&self, name: &str, version: &str) -> Option<String> {
        let m = &self.t.mxnet;
        let same = crate::pep440::normalize_name(name) == crate::pep440::normalize_name(&m.package)
            && version == m.version;
        (!same).then(|| {
            format!(
                "{name} {version} is installed; {} pins {} {}",
                self.shown, m.package, m.version
            )
        })
    }

    /// How this lock's target is installed into `py`'s environment.
    fn install_advice(&self, py: &Path) -> String {
        if crate::emit::is_notebook_kind(&self.t.kind) {
            format!(
                "run the setup cell (colab/setup_cell.py) first in a fresh runtime: it installs {}",
                self.t.name
            )
        } else {
            format!("cargo xtask install --python {}", py.display())
        }
    }

    /// A numpy breaker the lock's shims fix, with numpy at the locked version.
    fn shims_cover(&self, breaker: &Breaker, numpy: &str) -> bool {
        numpy == self.t.numpy.version && self.t.shim.iter().any(|s| s.id == breaker.id)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `error`, `warning` or `ok`.
    pub severity: &'static str,
    /// `distribution`, `libraries`, `gpu_code`, `driver`, `numpy`, `import`.
    pub check: &'static str,
    pub message: String,
}

pub use crate::host::python::Dist;

#[derive(Debug, Clone, Serialize)]
pub struct Missing {
    pub soname: String,
    /// The pip package that ships it (compat-db redist), if any.
    pub package: Option<String>,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub python: String,
    pub python_version: Option<String>,
    pub site_packages: Vec<PathBuf>,
    pub distributions: Vec<Dist>,
    /// The distribution whose `mxnet/` is on disk.
    pub effective: Option<String>,
    pub gpu_build: Option<bool>,
    pub libmxnet: Option<PathBuf>,
    /// The compat-db wheel record matching the library's sha256.
    pub wheel: Option<String>,
    pub numpy: Option<String>,
    pub needed: Vec<loader::Resolved>,
    pub first_missing: Option<Missing>,
    /// Every needed soname that does not resolve, with its pip provider.
    pub missing: Vec<Missing>,
    pub devices: Vec<String>,
    pub driver: Option<String>,
    /// `import mxnet` in a child interpreter: `ok` or the error's last line.
    pub import: Option<String>,
    pub findings: Vec<Finding>,
    /// The command that fixes what was found.
    pub fix: Vec<String>,
    pub exit_code: u8,
}

/// Decode urlsafe base64 without padding (RECORD hashes) to hex.
pub fn b64_to_hex(s: &str) -> Option<String> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = String::new();
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push_str(&format!("{:02x}", (bits >> n) & 0xff));
        }
    }
    Some(out)
}

/// numpy alias breakers: compat-db/breakers.toml is the only source.
pub fn breakers(db: &Db) -> Vec<Breaker> {
    db.breakers.clone()
}

pub fn doctor(db: &Db, opts: &Options) -> Result<Report, String> {
    let timeout = if opts.timeout.is_zero() {
        Duration::from_secs(10)
    } else {
        opts.timeout
    };
    let py = crate::host::python_or_path(opts.python.as_deref())
        .ok_or("no python3 on PATH (give --python)")?;
    let info = crate::host::python::introspect(&py, &[], timeout).map_err(|e| e.to_string())?;
    let mut r = Report {
        schema: SCHEMA,
        python: py.display().to_string(),
        python_version: Some(info.version.clone()),
        site_packages: info.site_packages.clone(),
        distributions: info.dists.clone(),
        effective: None,
        gpu_build: None,
        libmxnet: None,
        wheel: None,
        numpy: info.numpy.clone(),
        needed: vec![],
        first_missing: None,
        missing: vec![],
        devices: vec![],
        driver: None,
        import: None,
        findings: vec![],
        fix: vec![],
        exit_code: EXIT_OK,
    };
    let locked = Locked::new(opts);
    let resolve_cmd = format!(
        "cargo xtask resolve --target local --python {}",
        py.display()
    );
    let install_cmd = format!(
        "{} -m pip install --no-deps --require-hashes -r requirements-gpu.txt",
        py.display()
    );
    let mut find = |sev: &'static str, check: &'static str, m: String| {
        r.findings.push(Finding {
            severity: sev,
            check,
            message: m,
        })
    };
    // Devices and driver: facts only, never required.
    let drv = cuda::query();
    let devices = drv.as_ref().map(|d| d.devices.clone()).unwrap_or_default();
    let driver_version = cuda::driver_version();

    if info.dists.is_empty() {
        find(
            "error",
            "distribution",
            "no mxnet* distribution is installed".into(),
        );
        r.fix = match &locked {
            Some(l) => vec![l.install_advice(&py)],
            None => vec![resolve_cmd, install_cmd],
        };
        r.exit_code = EXIT_PROBLEMS;
        return Ok(r);
    }
    // Which distribution's files are on disk.
    let lib = info.mxnet_dir.as_ref().map(|d| d.join("libmxnet.so"));
    let lib = lib.filter(|p| p.is_file());
    let bytes = lib.as_ref().and_then(|p| std::fs::read(p).ok());
    let sha = bytes.as_ref().map(|b| crate::fsutil::sha256_hex(b));
    for d in r.distributions.iter_mut() {
        d.effective = match (&d.libmxnet_hash, &sha) {
            (Some(h), Some(s)) => h
                .strip_prefix("sha256=")
                .and_then(b64_to_hex)
                .map(|hex| &hex == s),
            _ => None,
        };
    }
    let names: Vec<String> = r
        .distributions
        .iter()
        .map(|d| format!("{} {}", d.name, d.version))
        .collect();
    let eff = r
        .distributions
        .iter()
        .find(|d| d.effective == Some(true))
        .or_else(|| (r.distributions.len() == 1).then(|| &r.distributions[0]))
        .cloned();
    r.libmxnet = lib.clone();
    // The compat-db record: by library sha256, else by name and version.
    let rec: Option<&WheelFile> = sha
        .as_ref()
        .and_then(|s| {
            db.wheel_files()
                .find(|(_, f)| f.provenance.library_sha256.as_deref() == Some(s.as_str()))
        })
        .or_else(|| {
            let e = eff.as_ref()?;
            db.wheel_files().find(|(w, _)| {
                crate::pep440::normalize_name(&w.package) == crate::pep440::normalize_name(&e.name)
                    && w.version == e.version
            })
        })
        .map(|(_, f)| f);
    r.wheel = rec.map(|f| f.filename.clone());
    let cuda_of = |name: &str| {
        name.split_once('-')
            .and_then(|(_, s)| CudaVersion::from_mxnet_suffix(s.split('-').next().unwrap_or(s)))
    };
    let wheel_cuda = rec
        .and_then(|f| f.cuda)
        .or_else(|| eff.as_ref().and_then(|e| cuda_of(&e.name)));
    let gpu_build = wheel_cuda.is_some();
    r.gpu_build = eff.as_ref().map(|_| gpu_build);
    match &eff {
        Some(e) => {
            r.effective = Some(format!("{} {}", e.name, e.version));
            let kind = match wheel_cuda {
                Some(c) => format!("GPU build for CUDA {c}"),
                None => "CPU-only build".into(),
            };
            find(
                "ok",
                "distribution",
                format!(
                    "{} {} is installed ({kind}){}",
                    e.name,
                    e.version,
                    r.wheel
                        .as_deref()
                        .map(|w| format!("; compat-db record {w}"))
                        .unwrap_or_default()
                ),
            );
            // With the import attempt the shared runtime compares every
            // locked package; without it, MXNet at least.
            let lock_dist = locked.as_ref().filter(|_| opts.no_import);
            if let Some(p) = lock_dist.and_then(|l| l.distribution_problem(&e.name, &e.version)) {
                find("error", "distribution", p);
            }
            let others: Vec<&Dist> = r
                .distributions
                .iter()
                .filter(|d| d.name != e.name)
                .collect();
            if !others.is_empty() {
                let gpu_other = others.iter().any(|d| cuda_of(&d.name).is_some());
                let msg = format!(
                    "{} distributions share the mxnet/ package: {}; the files on disk are {} {}'s{}",
                    r.distributions.len(),
                    names.join(", "),
                    e.name,
                    e.version,
                    if !gpu_build && gpu_other {
                        ": a CPU package shadows the GPU one"
                    } else {
                        ""
                    }
                );
                find("error", "distribution", msg);
                r.fix.push(format!(
                    "{} -m pip uninstall -y {}",
                    py.display(),
                    r.distributions
                        .iter()
                        .map(|d| d.name.clone())
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
            let cpu_by_lock = locked.as_ref().is_some_and(|l| l.t.mxnet.cuda.is_none());
            if !gpu_build && !devices.is_empty() && !cpu_by_lock {
                find(
                    "error",
                    "distribution",
                    format!(
                        "{} is a CPU-only build but this machine has {} GPU(s)",
                        e.name,
                        devices.len()
                    ),
                );
            } else if !gpu_build {
                find(
                    "warning",
                    "distribution",
                    format!("{} is a CPU-only build: mx.gpu() will not work", e.name),
                );
            }
        }
        None => find(
            "error",
            "distribution",
            format!(
                "{} installed, but mxnet/libmxnet.so {}",
                names.join(", "),
                if lib.is_some() {
                    "matches none of their RECORDs (a broken or mixed install)"
                } else {
                    "is missing"
                }
            ),
        ),
    }
    // Libraries: the ELF's needs against the emulated loader.
    if let (Some(p), Some(b)) = (&lib, &bytes) {
        match crate::binary::elf::read_elf(b) {
            Err(e) => find("error", "libraries", format!("{}: {e}", p.display())),
            Ok(elf) => {
                let (sys, err) = loader::SearchPaths::system(timeout);
                if let Some(e) = err {
                    find("warning", "libraries", format!("ld.so cache not read: {e}"));
                }
                let mut sp =
                    sys.for_object(p.parent().map(Path::to_path_buf), &elf.rpath, &elf.runpath);
                if let Some(l) = &locked {
                    let redist = std::slice::from_ref(&l.redist);
                    for d in loader::nvidia_lib_dirs(redist) {
                        let label = format!("gpu-env redist {}", d.display());
                        sp.preload_dirs.push((d, label));
                    }
                }
                for d in loader::nvidia_lib_dirs(&info.site_packages) {
                    let l = format!("site-packages {}", d.display());
                    sp.preload_dirs.push((d, l));
                }
                let pyv = crate::pep440::version(&info.version).ok();
                let mut missing = Vec::new();
                let mut preload_only = Vec::new();
                for s in &elf.needed {
                    let res = sp.resolve(s);
                    if res.path.is_none() {
                        if crate::solve::providers::DRIVER_SONAMES.contains(&s.as_str()) {
                            find("warning", "libraries", format!("{s} is the NVIDIA driver's library and is not installed: no GPU use here"));
                        } else {
                            missing.push(s.clone());
                        }
                    } else if !res.loader {
                        preload_only
                            .push(format!("{s} ({})", res.from.clone().unwrap_or_default()));
                    }
                    r.needed.push(res);
                }
                for m in &missing {
                    let prov = crate::solve::providers::pip_provider(
                        db,
                        m,
                        wheel_cuda.map(|c| c.major),
                        pyv.as_ref(),
                    );
                    r.missing.push(Missing {
                        soname: m.clone(),
                        package: prov.map(|(p, _)| p.package.clone()),
                        version: prov.map(|(_, rel)| rel.version.clone()),
                    });
                }
                r.first_missing = r.missing.first().cloned();
                if let Some(first) = missing.first() {
                    let prov = crate::solve::providers::pip_provider(
                        db,
                        first,
                        wheel_cuda.map(|c| c.major),
                        pyv.as_ref(),
                    );
                    let via = match prov {
                        Some((p, rel)) => format!("pip package {}=={} ships it", p.package, rel.version),
                        None => "no pip redistributable in compat-db ships it (install a system library or the CUDA toolkit)".into(),
                    };
                    let all: Vec<String> = r
                        .missing
                        .iter()
                        .map(|m| match &m.package {
                            Some(p) => format!("{} ({p})", m.soname),
                            None => format!("{} (no pip provider)", m.soname),
                        })
                        .collect();
                    find(
                        "error",
                        "libraries",
                        format!(
                            "{} of {} needed sonames do not resolve: {}; the first, {first}: {via}",
                            missing.len(),
                            elf.needed.len(),
                            all.join(", ")
                        ),
                    );
                } else {
                    find(
                        "ok",
                        "libraries",
                        format!("all {} needed sonames resolve", elf.needed.len()),
                    );
                }
                if !preload_only.is_empty() && locked.is_some() {
                    find("ok", "libraries", format!(
                        "preloaded by the lock's installer (the setup cell or `cargo xtask install`'s hook), not on the loader's path: {}",
                        preload_only.join(", ")));
                } else if !preload_only.is_empty() {
                    find("warning", "libraries", format!(
                        "found only outside the loader's path (import mxnet fails unless they are preloaded or on LD_LIBRARY_PATH): {}",
                        preload_only.join(", ")));
                }
            }
        }
    }
    // GPU code against the devices.
    r.devices = devices
        .iter()
        .map(|d| format!("{} ({})", d.name, d.compute_capability))
        .collect();
    if gpu_build {
        let code = rec.map(|f| (f.sass.clone(), f.ptx.clone())).or_else(|| {
            bytes.as_ref().map(|b| {
                let g = crate::binary::fatbin::read_fatbins(b);
                (g.sass, g.ptx)
            })
        });
        match (&drv, code) {
            (Err(e), _) => find("warning", "gpu_code", format!("devices not checked: {e}")),
            (Ok(_), None) => {}
            (Ok(_), Some((sass, ptx))) => {
                for d in &devices {
                    match gpu_code::select(&sass, &ptx, d.compute_capability) {
                        Some(c) => find("ok", "gpu_code", format!("{} ({}): runs {c}", d.name, d.compute_capability)),
                        None => find("error", "gpu_code", format!(
                            "{} ({}): no kernel image is available: the library has SASS {} and PTX {}",
                            d.name, d.compute_capability, gpu_code::list("sm", &sass), gpu_code::list("compute", &ptx))),
                    }
                }
            }
        }
        // Driver against the wheel's CUDA.
        if let Some(c) = wheel_cuda {
            let floor = db
                .cuda(c)
                .map(|x| (x.driver_min.clone(), x.minor_compat_driver_min.clone()));
            match (&driver_version, floor) {
                (None, _) => find(
                    "warning",
                    "driver",
                    format!(
                        "no NVIDIA driver found; {} needs one for CUDA {c}",
                        r.effective.clone().unwrap_or_default()
                    ),
                ),
                (Some((v, _)), Some((min, compat))) => {
                    r.driver = Some(v.to_string());
                    if *v >= min {
                        find("ok", "driver", format!("driver {v} >= {min} (CUDA {c})"));
                    } else if compat.as_ref().is_some_and(|m| v >= m) {
                        find("warning", "driver", format!("driver {v} is below {min} for CUDA {c}; minor-version compatibility (>= {}) applies: PTX JIT may fail", compat.unwrap()));
                    } else {
                        find(
                            "error",
                            "driver",
                            format!("driver {v} is older than {min}, which CUDA {c} needs"),
                        );
                    }
                }
                (Some((v, _)), None) => {
                    r.driver = Some(v.to_string());
                    find(
                        "warning",
                        "driver",
                        format!("compat-db has no CUDA {c} release: driver {v} not compared"),
                    );
                }
            }
        }
    }
    // numpy alias breakers.
    if let (Some(e), Some(np)) = (&eff, &info.numpy) {
        let mv = crate::pep440::version(&e.version).ok();
        let nv = crate::pep440::version(np).ok();
        if let (Some(mv), Some(nv)) = (mv, nv) {
            for b in breakers(db) {
                let pkg_ok = crate::pep440::normalize_name(&e.name)
                    .starts_with(&crate::pep440::normalize_name(&b.package));
                if pkg_ok
                    && b.dependency == "numpy"
                    && crate::pep440::specifiers(&b.versions).is_ok_and(|s| s.contains(&mv))
                    && crate::pep440::specifiers(&b.breaks_with).is_ok_and(|s| s.contains(&nv))
                {
                    if locked.as_ref().is_some_and(|l| l.shims_cover(&b, np)) {
                        find(
                            "ok",
                            "numpy",
                            format!(
                                "numpy {np} breaks {} {} ({}); the lock's shim fixes it: {}",
                                e.name,
                                e.version,
                                b.id,
                                b.shim.join("; ")
                            ),
                        );
                        continue;
                    }
                    find("error", "numpy", format!(
                        "numpy {np} breaks {} {} ({}: numpy {} with mxnet {}): `import mxnet` fails with {}; shim: {}",
                        e.name, e.version, b.id, b.breaks_with, b.versions, b.error,
                        if b.shim.is_empty() { "none".into() } else { b.shim.join("; ") }));
                }
            }
        }
    }
    if let (false, Some(_), Some(l)) = (opts.no_import, &eff, &locked) {
        // The lock's way: its preloads and shims, then import (as verify).
        let t = if opts.timeout.is_zero() {
            Duration::from_secs(120)
        } else {
            opts.timeout
        };
        let v = crate::verify::import_with_lock(l.t, db, &py, &l.redist, t);
        // Installed versus locked: the shared runtime's one rule.
        if let Some(m) = v.as_ref().ok().and_then(crate::verify::mismatch_text) {
            find("error", "distribution", m);
        }
        r.import = Some(match v {
            Ok(v) => match v["import_error"].as_str() {
                Some(e) => e.to_string(),
                None if v["installed"].is_null() => {
                    format!("{} is not installed", l.t.mxnet.package)
                }
                None => "ok".into(),
            },
            Err(e) => e,
        });
        match r.import.as_deref() {
            Some("ok") => find(
                "ok",
                "import",
                "import mxnet works with the lock's preloads and shims".into(),
            ),
            Some(e) => find(
                "error",
                "import",
                format!("import mxnet (with the lock's preloads and shims): {e}"),
            ),
            None => {}
        }
    } else if !opts.no_import && eff.is_some() {
        let t = if opts.timeout.is_zero() {
            Duration::from_secs(120)
        } else {
            opts.timeout
        };
        r.import = Some(
            match crate::host::exec::run(&py, &["-c", "import mxnet"], &[], t) {
                Ok(_) => "ok".into(),
                // The exception line (`AttributeError: ...`), not the tail of
                // a multi-line message.
                Err(crate::host::exec::ExecError::Failed { stderr, .. }) => stderr
                    .lines()
                    .rev()
                    .find(|l| {
                        l.split_once(": ").is_some_and(|(h, _)| {
                            !h.is_empty()
                                && !h.starts_with(' ')
                                && (h.ends_with("Error") || h.ends_with("Exception"))
                        })
                    })
                    .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
                    .unwrap_or("failed")
                    .trim()
                    .to_string(),
                Err(e) => e.to_string(),
            },
        );
        match r.import.as_deref() {
            Some("ok") => find("ok", "import", "import mxnet works".into()),
            Some(e) => find("error", "import", format!("import mxnet: {e}")),
            None => {}
        }
    }
    if r.findings.iter().any(|f| f.severity == "error") {
        r.exit_code = EXIT_PROBLEMS;
        match &locked {
            Some(l) => r.fix.push(l.install_advice(&py)),
            None => {
                r.fix.push(resolve_cmd);
                r.fix.push(install_cmd);
            }
        }
    }
    Ok(r)
}

pub fn render(r: &Report) -> String {
    let mut s = format!(
        "doctor {} (Python {})\n",
        r.python,
        r.python_version.as_deref().unwrap_or("?")
    );
    if let Some(l) = &r.libmxnet {
        s.push_str(&format!("  libmxnet.so: {}\n", l.display()));
    }
    if let Some(n) = &r.numpy {
        s.push_str(&format!("  numpy: {n}\n"));
    }
    if !r.devices.is_empty() {
        s.push_str(&format!("  devices: {}\n", r.devices.join(", ")));
    }
    for f in &r.findings {
        let tag = match f.severity {
            "error" => "ERROR",
            "warning" => "WARN ",
            _ => "ok   ",
        };
        s.push_str(&format!("{tag} {:<12} {}\n", f.check, f.message));
    }
    if let Some(m) = &r.first_missing {
        s.push_str(&format!(
            "first missing: {}{}\n",
            m.soname,
            match (&m.package, &m.version) {
                (Some(p), Some(v)) => format!(" (pip install {p}=={v})"),
                _ => String::new(),
            }
        ));
    }
    if !r.fix.is_empty() {
        s.push_str("fix:\n");
        for f in &r.fix {
            s.push_str(&format!("  {f}\n"));
        }
    }
    s
}
