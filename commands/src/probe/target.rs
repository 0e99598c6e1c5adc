//! The probe's facts as the resolver's [`Target`], each with its source.

use super::*;

impl ProbeReport {
    /// The facts the resolver consumes. A GPU whose compute capability no
    /// probe gave (nvidia-smi of R470) takes it from compat-db by name; a
    /// driver CUDA no probe gave comes from the driver table.
    pub fn to_target(&self, db: &crate::db::Db) -> Target {
        let py = self.python.value.as_ref();
        let py_src = self.python.source.clone().unwrap_or_default();
        let gpus = self.gpus.value.as_ref().map(|list| {
            let v: Vec<TargetGpu> = list
                .iter()
                .filter_map(|g| {
                    let cc = g
                        .compute_capability
                        .or_else(|| db.gpu(&g.name).map(|d| d.compute_capability))
                        .or_else(|| {
                            // "NVIDIA GeForce RTX 3090" -> "GeForce RTX 3090" -> "RTX 3090".
                            let mut n = g.name.as_str();
                            while let Some((_, rest)) = n.split_once(' ') {
                                n = rest;
                                if let Some(d) = db.gpu(n) {
                                    return Some(d.compute_capability);
                                }
                            }
                            None
                        })?;
                    Some(TargetGpu {
                        name: g.name.clone(),
                        compute_capability: cc,
                    })
                })
                .collect();
            Sourced::new(v, self.gpus.source.clone().unwrap_or_default())
        });
        let driver = self.driver.sourced();
        let driver_cuda = self.driver_cuda.sourced().or_else(|| {
            let d = driver.as_ref()?;
            crate::target::driver_cuda_for(db, &d.value)
                .map(|c| Sourced::new(c, format!("compat-db/cuda.toml (from {})", d.source)))
        });
        let colab = self.colab.value == Some(true);
        Target {
            name: "local".into(),
            kind: if colab { "colab" } else { "local" }.into(),
            python: py.map(|p| Sourced::new(p.version.clone(), py_src.clone())),
            glibc: py
                .and_then(|p| p.glibc.clone())
                .map(|g| Sourced::new(g, py_src.clone())),
            gpus,
            driver,
            driver_cuda,
            toolkit: self.toolkit.sourced(),
            cudnn: self.cudnn.sourced(),
            system_sonames: Sourced::new(
                self.system_sonames.value.clone().unwrap_or_default(),
                self.system_sonames
                    .source
                    .clone()
                    .unwrap_or_else(|| "probe".into()),
            ),
            preinstalled: Sourced::new(py.map(|p| p.packages.clone()).unwrap_or_default(), py_src),
        }
    }

    /// An empty report (nothing probed); a base for tests and for targets
    /// built only from overrides.
    pub fn empty() -> Self {
        ProbeReport {
            schema: SCHEMA,
            sysroot: PathBuf::from("/"),
            timeout_secs: DEFAULT_TIMEOUT.as_secs_f64(),
            toolkit: Fact::default(),
            toolkits: vec![],
            driver: Fact::default(),
            driver_readings: vec![],
            driver_cuda: Fact::default(),
            gpus: Fact::default(),
            no_driver: None,
            cudnn: Fact::default(),
            cudnn_found: vec![],
            nvrtc: Fact::default(),
            nvrtc_found: vec![],
            python: Fact::default(),
            colab: Fact::default(),
            system_sonames: Fact::default(),
            disagreements: vec![],
            elapsed_ms: 0,
        }
    }
}
