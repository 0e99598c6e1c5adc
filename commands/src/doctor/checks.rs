//! doctor's checks, one function each, in the order a user meets them:
//! which distribution is installed, its libraries, its GPU code and driver,
//! numpy, and `import mxnet` itself.

use super::{b64_to_hex, breakers, Dist, Doctor, Installed, Missing};
use crate::binary::elf::ElfFacts;
use crate::host::cuda::{Device, DriverError, DriverInfo};
use crate::host::{exec, loader};
use crate::pep440::{normalize_name, Version};
use crate::solve::gpu_code::{self, GpuCode};
use crate::versions::{ComputeCapability, CudaVersion};
use std::path::Path;
use std::time::Duration;

/// `mxnet-cu112` -> CUDA 11.2, from the distribution name.
fn cuda_of(name: &str) -> Option<CudaVersion> {
    name.split_once('-')
        .and_then(|(_, s)| CudaVersion::from_mxnet_suffix(s.split('-').next().unwrap_or(s)))
}

impl<'a> Doctor<'a> {
    /// Which distribution's files are on disk, and its compat-db record.
    pub(super) fn installed(&mut self) -> Installed<'a> {
        let lib = self.info.mxnet_dir.as_ref().map(|d| d.join("libmxnet.so"));
        let lib = lib.filter(|p| p.is_file());
        // The same size limit as a wheel member (the largest libmxnet.so on
        // PyPI is about 1 GB), a regular file only, and two minutes to read
        // it (a hung file system is an error, not a hang).
        let read_for = self.timeout.max(std::time::Duration::from_secs(120));
        let bytes = lib.as_ref().and_then(|p| {
            crate::fsutil::read_bounded_bytes(p, crate::binary::zip::MAX_MEMBER, read_for).ok()
        });
        let sha = bytes.as_ref().map(|b| crate::fsutil::sha256_hex(b));
        for d in self.r.distributions.iter_mut() {
            d.effective = match (&d.libmxnet_hash, &sha) {
                (Some(h), Some(s)) => h
                    .strip_prefix("sha256=")
                    .and_then(b64_to_hex)
                    .map(|hex| &hex == s),
                _ => None,
            };
        }
        let dists = &self.r.distributions;
        let eff = dists
            .iter()
            .find(|d| d.effective == Some(true))
            .or_else(|| (dists.len() == 1).then(|| &dists[0]))
            .cloned();
        let db = self.db;
        let rec = sha
            .as_ref()
            .and_then(|s| {
                db.wheel_files()
                    .find(|(_, f)| f.provenance.library_sha256.as_deref() == Some(s.as_str()))
            })
            .or_else(|| {
                let e = eff.as_ref()?;
                db.wheel_files().find(|(w, _)| {
                    normalize_name(&w.package) == normalize_name(&e.name) && w.version == e.version
                })
            })
            .map(|(_, f)| f);
        let wheel_cuda = rec
            .and_then(|f| f.cuda)
            .or_else(|| eff.as_ref().and_then(|e| cuda_of(&e.name)));
        self.r.libmxnet = lib.clone();
        self.r.wheel = rec.map(|f| f.filename.clone());
        self.r.gpu_build = eff.as_ref().map(|_| wheel_cuda.is_some());
        self.r.effective = eff.as_ref().map(|e| format!("{} {}", e.name, e.version));
        Installed {
            lib,
            bytes,
            eff,
            rec,
            wheel_cuda,
        }
    }

    /// The installed distribution: which one, several sharing `mxnet/`, a
    /// CPU build on a GPU machine, the locked one or not.
    pub(super) fn distribution(&mut self, inst: &Installed, gpus: usize) {
        let names: Vec<String> = self
            .r
            .distributions
            .iter()
            .map(|d| format!("{} {}", d.name, d.version))
            .collect();
        let Some(e) = &inst.eff else {
            let why = if inst.lib.is_some() {
                "matches none of their RECORDs (a broken or mixed install)"
            } else {
                "is missing"
            };
            let m = format!(
                "{} installed, but mxnet/libmxnet.so {why}",
                names.join(", ")
            );
            return self.find("error", "distribution", m);
        };
        let gpu_build = inst.wheel_cuda.is_some();
        let kind = match inst.wheel_cuda {
            Some(c) => format!("GPU build for CUDA {c}"),
            None => "CPU-only build".into(),
        };
        let record = self.r.wheel.as_deref();
        let record = record.map(|w| format!("; compat-db record {w}"));
        let m = format!(
            "{} {} is installed ({kind}){}",
            e.name,
            e.version,
            record.unwrap_or_default()
        );
        self.find("ok", "distribution", m);
        // With the import attempt the shared runtime compares every locked
        // package; without it, MXNet at least.
        let lock_dist = self.locked.as_ref().filter(|_| self.opts.no_import);
        if let Some(p) = lock_dist.and_then(|l| l.distribution_problem(&e.name, &e.version)) {
            self.find("error", "distribution", p);
        }
        self.shared_mxnet_dir(e, &names, gpu_build);
        let cpu_by_lock = self
            .locked
            .as_ref()
            .is_some_and(|l| l.t.mxnet.cuda.is_none());
        if !gpu_build && gpus > 0 && !cpu_by_lock {
            let m = format!(
                "{} is a CPU-only build but this machine has {gpus} GPU(s)",
                e.name
            );
            self.find("error", "distribution", m);
        } else if !gpu_build {
            let m = format!("{} is a CPU-only build: mx.gpu() will not work", e.name);
            self.find("warning", "distribution", m);
        }
    }

    /// Several distributions share `mxnet/`: only one's files are on disk.
    fn shared_mxnet_dir(&mut self, e: &Dist, names: &[String], gpu_build: bool) {
        let all = &self.r.distributions;
        if !all.iter().any(|d| d.name != e.name) {
            return;
        }
        let gpu_other = all
            .iter()
            .any(|d| d.name != e.name && cuda_of(&d.name).is_some());
        let msg = format!(
            "{} distributions share the mxnet/ package: {}; the files on disk are {} {}'s{}",
            all.len(),
            names.join(", "),
            e.name,
            e.version,
            if !gpu_build && gpu_other {
                ": a CPU package shadows the GPU one"
            } else {
                ""
            }
        );
        let every: Vec<String> = all.iter().map(|d| d.name.clone()).collect();
        self.r.fix.push(format!(
            "{} -m pip uninstall -y {}",
            self.py.display(),
            every.join(" ")
        ));
        self.find("error", "distribution", msg);
    }

    /// The library's needs against the emulated loader (plus the dirs the
    /// lock's installer preloads from).
    pub(super) fn libraries(&mut self, inst: &Installed) {
        let (Some(p), Some(b)) = (&inst.lib, &inst.bytes) else {
            return;
        };
        let elf = match crate::binary::elf::read_elf(b) {
            Ok(elf) => elf,
            Err(e) => return self.find("error", "libraries", format!("{}: {e}", p.display())),
        };
        let (sys, err) = loader::SearchPaths::system(self.timeout);
        if let Some(e) = err {
            self.find("warning", "libraries", format!("ld.so cache not read: {e}"));
        }
        let mut sp = sys.for_object(p.parent().map(Path::to_path_buf), &elf.rpath, &elf.runpath);
        if let Some(l) = &self.locked {
            for d in loader::nvidia_lib_dirs(std::slice::from_ref(&l.redist)) {
                let label = format!("gpu-env redist {}", d.display());
                sp.preload_dirs.push((d, label));
            }
        }
        for d in loader::nvidia_lib_dirs(&self.info.site_packages) {
            let l = format!("site-packages {}", d.display());
            sp.preload_dirs.push((d, l));
        }
        let mut missing = Vec::new();
        let mut preload_only = Vec::new();
        for s in &elf.needed {
            let res = sp.resolve(s);
            if res.path.is_none() {
                if crate::solve::providers::DRIVER_SONAMES.contains(&s.as_str()) {
                    self.find("warning", "libraries", format!("{s} is the NVIDIA driver's library and is not installed: no GPU use here"));
                } else {
                    missing.push(s.clone());
                }
            } else if !res.loader {
                preload_only.push(format!("{s} ({})", res.from.clone().unwrap_or_default()));
            }
            self.r.needed.push(res);
        }
        self.missing_libraries(inst, &elf, &missing);
        self.preload_only(&preload_only);
    }

    /// Every soname that does not resolve, with the pip package shipping it.
    fn missing_libraries(&mut self, inst: &Installed, elf: &ElfFacts, missing: &[String]) {
        let pyv: Option<Version> = crate::pep440::version(&self.info.version).ok();
        let major = inst.wheel_cuda.map(|c| c.major);
        let code = inst.rec.map(crate::solve::gpu_code::own_kernels);
        let provider =
            |s: &str| crate::solve::providers::pip_provider(self.db, s, major, pyv.as_ref(), code);
        let rows: Vec<Missing> = missing
            .iter()
            .map(|m| {
                let prov = provider(m);
                Missing {
                    soname: m.clone(),
                    package: prov.map(|(p, _)| p.package.clone()),
                    version: prov.map(|(_, rel)| rel.version.clone()),
                }
            })
            .collect();
        let Some(first) = missing.first() else {
            let m = format!("all {} needed sonames resolve", elf.needed.len());
            return self.find("ok", "libraries", m);
        };
        let via = match provider(first) {
            Some((p, rel)) => format!("pip package {}=={} ships it", p.package, rel.version),
            None => "no pip redistributable in compat-db ships it (install a system library or the CUDA toolkit)".into(),
        };
        let all: Vec<String> = rows
            .iter()
            .map(|m| match &m.package {
                Some(p) => format!("{} ({p})", m.soname),
                None => format!("{} (no pip provider)", m.soname),
            })
            .collect();
        self.r.missing = rows;
        self.r.first_missing = self.r.missing.first().cloned();
        let m = format!(
            "{} of {} needed sonames do not resolve: {}; the first, {first}: {via}",
            missing.len(),
            elf.needed.len(),
            all.join(", ")
        );
        self.find("error", "libraries", m);
    }

    fn preload_only(&mut self, preload_only: &[String]) {
        if preload_only.is_empty() {
            return;
        }
        let list = preload_only.join(", ");
        if self.locked.is_some() {
            self.find("ok", "libraries", format!(
                "preloaded by the lock's installer (the setup cell or `cargo xtask install`'s hook), not on the loader's path: {list}"));
        } else {
            self.find("warning", "libraries", format!(
                "found only outside the loader's path (import mxnet fails unless they are preloaded or on LD_LIBRARY_PATH): {list}"));
        }
    }

    /// The wheel's GPU code (its record, else the library's fatbins)
    /// against each device.
    pub(super) fn gpu_code(
        &mut self,
        inst: &Installed,
        drv: &Result<DriverInfo, DriverError>,
        devices: &[Device],
    ) {
        if let Err(e) = drv {
            return self.find("warning", "gpu_code", format!("devices not checked: {e}"));
        }
        // Judged like the solver judges the wheel (its measured record:
        // MXNet's own kernels must cover the device), else by the fatbins
        // read from the installed library.
        type Judge<'w> = Box<dyn Fn(ComputeCapability) -> Result<GpuCode, String> + 'w>;
        let judge: Judge = match (inst.rec, &inst.bytes) {
            (Some(w), _) => {
                Box::new(move |cc| gpu_code::for_wheel(w, cc).map_err(|e| e.to_string()))
            }
            (None, Some(b)) => {
                let g = crate::binary::fatbin::read_fatbins(b);
                Box::new(move |cc| {
                    gpu_code::select(&g.sass, &g.ptx, cc).ok_or_else(|| {
                        format!(
                            "the library has SASS {} and PTX {}",
                            gpu_code::list("sm", &g.sass),
                            gpu_code::list("compute", &g.ptx)
                        )
                    })
                })
            }
            (None, None) => return,
        };
        for d in devices {
            let cc = d.compute_capability;
            match judge(cc) {
                Ok(c) => self.find("ok", "gpu_code", format!("{} ({cc}): runs {c}", d.name)),
                Err(why) => self.find(
                    "error",
                    "gpu_code",
                    format!("{} ({cc}): no kernel image is available: {why}", d.name),
                ),
            }
        }
    }

    /// The kernel module's driver against the wheel's CUDA (compat-db's
    /// floor, and minor-version compatibility).
    pub(super) fn driver(&mut self, inst: &Installed) {
        let Some(c) = inst.wheel_cuda else {
            return;
        };
        let floor = self
            .db
            .cuda(c)
            .map(|x| (x.driver_min.clone(), x.minor_compat_driver_min.clone()));
        let Some((v, _)) = crate::host::cuda::driver_version() else {
            let who = self.r.effective.clone().unwrap_or_default();
            let m = format!("no NVIDIA driver found; {who} needs one for CUDA {c}");
            return self.find("warning", "driver", m);
        };
        self.r.driver = Some(v.to_string());
        let Some((min, compat)) = floor else {
            let m = format!("compat-db has no CUDA {c} release: driver {v} not compared");
            return self.find("warning", "driver", m);
        };
        if v >= min {
            self.find("ok", "driver", format!("driver {v} >= {min} (CUDA {c})"));
        } else if let Some(m) = compat.filter(|m| v >= *m) {
            self.find("warning", "driver", format!("driver {v} is below {min} for CUDA {c}; minor-version compatibility (>= {m}) applies: PTX JIT may fail"));
        } else {
            let m = format!("driver {v} is older than {min}, which CUDA {c} needs");
            self.find("error", "driver", m);
        }
    }

    /// numpy alias breakers (compat-db breakers.toml) for the installed
    /// mxnet and numpy; a lock's shim that covers one is reported as such.
    pub(super) fn numpy(&mut self, inst: &Installed) {
        let (Some(e), Some(np)) = (&inst.eff, self.info.numpy.clone()) else {
            return;
        };
        let mv = crate::pep440::version(&e.version).ok();
        let nv = crate::pep440::version(&np).ok();
        let (Some(mv), Some(nv)) = (mv, nv) else {
            return;
        };
        for b in breakers(self.db) {
            let applies = normalize_name(&e.name).starts_with(&normalize_name(&b.package))
                && b.dependency == "numpy"
                && b.versions.contains(&mv)
                && b.breaks_with.contains(&nv);
            if !applies {
                continue;
            }
            if self.locked.as_ref().is_some_and(|l| l.shims_cover(&b, &np)) {
                let m = format!(
                    "numpy {np} breaks {} {} ({}); the lock's shim fixes it: {}",
                    e.name,
                    e.version,
                    b.id,
                    b.shim.join("; ")
                );
                self.find("ok", "numpy", m);
                continue;
            }
            self.find("error", "numpy", format!(
                "numpy {np} breaks {} {} ({}: numpy {} with mxnet {}): `import mxnet` fails with {}; shim: {}",
                e.name, e.version, b.id, b.breaks_with, b.versions, b.error,
                if b.shim.is_empty() { "none".into() } else { b.shim.join("; ") }));
        }
    }

    /// `import mxnet`: the lock's way (its preloads and shims, the run
    /// verify judges) when there is a lock, else a plain import.
    pub(super) fn import(&mut self, inst: &Installed) {
        if self.opts.no_import || inst.eff.is_none() {
            return;
        }
        let t = if self.opts.timeout.is_zero() {
            Duration::from_secs(120)
        } else {
            self.opts.timeout
        };
        let Some(l) = &self.locked else {
            let r = plain_import(&self.py, t);
            match r.as_str() {
                "ok" => self.find("ok", "import", "import mxnet works".into()),
                e => self.find("error", "import", format!("import mxnet: {e}")),
            }
            self.r.import = Some(r);
            return;
        };
        let v = crate::verify::import_with_lock(l.t, self.db, &self.py, &l.redist, t);
        let package = l.t.mxnet.package.clone();
        // Installed versus locked: the shared runtime's one rule.
        if let Some(m) = v.as_ref().ok().and_then(crate::verify::mismatch_text) {
            self.find("error", "distribution", m);
        }
        let r = match v {
            Ok(v) => match v["import_error"].as_str() {
                Some(e) => e.to_string(),
                None if v["installed"].is_null() => format!("{package} is not installed"),
                None => "ok".into(),
            },
            Err(e) => e,
        };
        match r.as_str() {
            "ok" => self.find(
                "ok",
                "import",
                "import mxnet works with the lock's preloads and shims".into(),
            ),
            e => self.find(
                "error",
                "import",
                format!("import mxnet (with the lock's preloads and shims): {e}"),
            ),
        }
        self.r.import = Some(r);
    }
}

/// `python -c "import mxnet"`: `ok` or the exception line (`AttributeError:
/// ...`), not the tail of a multi-line message.
fn plain_import(py: &Path, timeout: Duration) -> String {
    match exec::run(py, &["-c", "import mxnet"], &[], timeout) {
        Ok(_) => "ok".into(),
        Err(exec::ExecError::Failed { stderr, .. }) => stderr
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
    }
}
