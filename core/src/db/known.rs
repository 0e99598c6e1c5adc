//! The versions compat-db knows, for refusing a typed fact it cannot
//! reason about (`--cuda-toolkit 99.9`) with the range it does know
//! (Python: `tags::known_python`).

use super::Db;
use crate::versions::{CudaVersion, DriverVersion};
use std::collections::BTreeSet;

impl Db {
    /// A CUDA toolkit version is a release in compat-db/cuda.toml.
    pub fn known_cuda(&self, v: CudaVersion) -> Result<(), String> {
        if self.cuda(v).is_some() {
            return Ok(());
        }
        let all: BTreeSet<CudaVersion> = self.cuda.iter().map(|c| c.version).collect();
        Err(format!(
            "CUDA {v} is not a release compat-db knows ({}, compat-db/cuda.toml); give the toolkit's MAJOR.MINOR as `nvcc --version` prints it",
            span(&all)
        ))
    }

    /// A cuDNN version's major lies between the majors compat-db knows:
    /// compat-db/cudnn.toml's releases and the `libcudnn.so.<major>` the
    /// measured wheels link (pre-1.0 builds need cuDNN 5 and 6). A release
    /// between two recorded ones, such as 7.0.5, is real.
    pub fn known_cudnn(&self, v: &str) -> Result<(), String> {
        let all: BTreeSet<Vec<u64>> = self.cudnn.iter().map(|c| numbers(&c.version)).collect();
        let (Some(lo), Some(hi)) = (all.first(), all.last()) else {
            return Ok(());
        };
        let linked = self
            .wheel_files()
            .flat_map(|(_, w)| &w.needed)
            .filter_map(|s| s.strip_prefix("libcudnn.so.")?.parse::<u64>().ok());
        let majors: BTreeSet<u64> = linked.chain([lo[0], hi[0]]).collect();
        let (min, max) = (majors.first().copied(), majors.last().copied());
        if (min.unwrap_or(lo[0])..=max.unwrap_or(hi[0])).contains(&numbers(v)[0]) {
            return Ok(());
        }
        Err(format!(
            "cuDNN {v} is outside the releases compat-db knows (cuDNN {} to {}: cudnn.toml records {} to {}, and the measured wheels link libcudnn.so.{} and up); give the version the library reports (`cudnnGetVersion`, or CUDNN_MAJOR.MINOR.PATCHLEVEL in cudnn_version.h)",
            min.unwrap_or(lo[0]),
            max.unwrap_or(hi[0]),
            dotted(lo),
            dotted(hi),
            min.unwrap_or(lo[0]),
        ))
    }

    /// A driver's branch lies between the oldest CUDA driver floor and the
    /// newest driver compat-db knows (cuda.toml floors, runtime profiles).
    pub fn known_driver(&self, v: &DriverVersion) -> Result<(), String> {
        let all: BTreeSet<&DriverVersion> = self
            .cuda
            .iter()
            .map(|c| &c.driver_min)
            .chain(self.runtimes.iter().filter_map(|(_, r)| r.driver.as_ref()))
            .collect();
        let (Some(lo), Some(hi)) = (all.first(), all.last()) else {
            return Ok(());
        };
        if (lo.major()..=hi.major()).contains(&v.major()) {
            return Ok(());
        }
        Err(format!(
            "driver {v} is outside the drivers compat-db knows (branches {} to {}: {lo} to {hi}, compat-db/cuda.toml and runtimes/); give the version `nvidia-smi` prints as Driver Version",
            lo.major(),
            hi.major()
        ))
    }
}

/// `7.5 to 13.3: 7.5, 8.0, ...`: the first, the last and every release.
fn span(all: &BTreeSet<CudaVersion>) -> String {
    let (Some(lo), Some(hi)) = (all.first(), all.last()) else {
        return "none".into();
    };
    format!(
        "{lo} to {hi}: {}",
        all.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn numbers(v: &str) -> Vec<u64> {
    v.split('.')
        .map(|p| p.parse().unwrap_or(u64::MAX))
        .collect()
}

fn dotted(n: &[u64]) -> String {
    n.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_versions_pass_and_others_name_the_range() {
        let db = Db::open(None).unwrap();
        assert!(db.known_cuda("12.4".parse().unwrap()).is_ok());
        let e = db.known_cuda("99.9".parse().unwrap()).unwrap_err();
        assert!(
            e.contains("CUDA 99.9 is not a release") && e.contains("7.5 to "),
            "{e}"
        );
        assert!(db.known_cudnn("8.9.6").is_ok());
        assert!(
            db.known_cudnn("7.0.5").is_ok(),
            "a real release of a known major"
        );
        let e = db.known_cudnn("99").unwrap_err();
        assert!(
            e.contains("outside the releases") && e.contains(" to 9."),
            "{e}"
        );
        assert!(db.known_driver(&"535.104.05".parse().unwrap()).is_ok());
        let e = db.known_driver(&"9999.1".parse().unwrap()).unwrap_err();
        assert!(e.contains("outside the drivers compat-db knows"), "{e}");
    }
}
