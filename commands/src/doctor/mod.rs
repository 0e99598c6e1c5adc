//! `doctor`: diagnose an existing Python environment's MXNet install
//! (docs/verify.md#doctor). Which mxnet* distribution is installed (and
//! which one's files are actually on disk when several share `mxnet/`), what
//! its `libmxnet.so` needs against what the loader would find, the first
//! missing soname and the pip package that ships it, GPU code against the
//! devices, driver against the wheel's CUDA, numpy alias breakers, and the
//! command that fixes it. Everything but the device facts works without a
//! GPU. One function per check ([`checks`]).

mod checks;
mod locked;

use crate::db::model::{Breaker, WheelFile};
use crate::db::Db;
use crate::exit;
use crate::host::python::PythonInfo;
use crate::host::{cuda, loader};
use crate::versions::CudaVersion;
use locked::Locked;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

pub const SCHEMA: u32 = 1;

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
    /// The lock as the user named it (`--lock`), for the commands doctor
    /// prints; None: the default lock.
    pub lock_path: Option<PathBuf>,
    /// The config's setup cell as shown, for the advice (None: default).
    pub cell: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `error`, `warning` or `ok`.
    pub severity: &'static str,
    /// `distribution`, `libraries`, `gpu_code`, `driver`, `numpy`, `import`.
    pub check: &'static str,
    pub message: String,
}

use crate::host::python::Dist;

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

/// Why doctor could not look at all.
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    #[error("no python3 on PATH (give --python)")]
    NoPython,
    #[error(transparent)]
    Python(#[from] crate::host::python::PythonError),
}

/// What the checks share: the interpreter's answers, the lock, the report
/// being written.
struct Doctor<'a> {
    db: &'a Db,
    opts: &'a Options,
    py: PathBuf,
    info: PythonInfo,
    timeout: Duration,
    locked: Option<Locked<'a>>,
    r: Report,
}

/// The installed MXNet as found on disk.
struct Installed<'a> {
    /// `mxnet/libmxnet.so` where `import mxnet` would load it.
    lib: Option<PathBuf>,
    bytes: Option<Vec<u8>>,
    /// The distribution whose files are on disk.
    eff: Option<Dist>,
    /// Its compat-db record (by library sha256, else by name and version).
    rec: Option<&'a WheelFile>,
    wheel_cuda: Option<CudaVersion>,
}

impl Doctor<'_> {
    fn find(&mut self, severity: &'static str, check: &'static str, message: String) {
        self.r.findings.push(Finding {
            severity,
            check,
            message,
        });
    }

    /// The commands that fix what was found: the lock's installer, else a
    /// fresh resolve and install for this interpreter.
    fn fix_commands(&self) -> Vec<String> {
        let py = self.py.display();
        match &self.locked {
            Some(l) => vec![l.install_advice(
                &self.py,
                self.opts.lock_path.as_deref(),
                self.opts.cell.as_deref(),
            )],
            None => vec![
                format!("cargo xtask resolve --target local --python {py}"),
                format!("{py} -m pip install --no-deps --require-hashes -r requirements-gpu.txt"),
            ],
        }
    }
}

pub fn doctor(db: &Db, opts: &Options) -> Result<Report, DoctorError> {
    let timeout = if opts.timeout.is_zero() {
        crate::host::python::ASK_TIMEOUT
    } else {
        opts.timeout
    };
    let py = crate::host::python_or_path(opts.python.as_deref()).ok_or(DoctorError::NoPython)?;
    let info = crate::host::python::introspect(&py, &[], timeout)?;
    let r = Report {
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
        exit_code: exit::OK,
    };
    let mut d = Doctor {
        db,
        opts,
        py,
        info,
        timeout,
        locked: Locked::new(opts),
        r,
    };
    // Python first: a lock made for another interpreter is the one finding
    // (every other check would judge wheels this Python cannot use).
    if let Some((lock, i)) = &opts.lock {
        if let Some(m) = lock
            .target
            .get(*i)
            .and_then(|t| lock.python_mismatch(t, &db.python, &d.py, &d.info.version))
        {
            d.find("error", "python", m.what);
            d.r.fix = vec![m.fix];
            d.r.exit_code = exit::NO;
            return Ok(d.r);
        }
    }
    if d.info.dists.is_empty() {
        d.find(
            "error",
            "distribution",
            "no mxnet* distribution is installed".into(),
        );
        d.r.fix = d.fix_commands();
        d.r.exit_code = exit::NO;
        return Ok(d.r);
    }
    // Devices and driver: facts only, never required.
    let drv = cuda::query();
    let devices = drv.as_ref().map(|d| d.devices.clone()).unwrap_or_default();
    let inst = d.installed();
    d.distribution(&inst, devices.len());
    d.libraries(&inst);
    d.r.devices = devices
        .iter()
        .map(|d| format!("{} ({})", d.name, d.compute_capability))
        .collect();
    if inst.wheel_cuda.is_some() {
        d.gpu_code(&inst, &drv, &devices);
        d.driver(&inst);
    }
    d.numpy(&inst);
    d.import(&inst);
    if d.r.findings.iter().any(|f| f.severity == "error") {
        d.r.exit_code = exit::NO;
        d.r.fix.extend(d.fix_commands());
    }
    Ok(d.r)
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
