//! `nvidia-smi`: the CSV query (with a retry without `compute_cap` for R470
//! drivers) and the banner (`Driver Version` / `KMD Version`, `CUDA Version`).

use crate::versions::{ComputeCapability, CudaVersion, DriverVersion};
use serde::Serialize;

pub const QUERY: &str = "--query-gpu=name,driver_version,memory.total,compute_cap";
pub const QUERY_NO_CC: &str = "--query-gpu=name,driver_version,memory.total";
pub const FORMAT: &str = "--format=csv,noheader";

/// The longest GPU name kept, in characters.
pub const MAX_NAME: usize = 96;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SmiGpu {
    pub name: String,
    pub driver: DriverVersion,
    pub memory_mib: Option<u64>,
    /// Absent on drivers that reject `compute_cap` (R470 and older).
    pub compute_capability: Option<ComputeCapability>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised nvidia-smi CSV line {line:?}: {why}")]
pub struct SmiParseError {
    pub line: String,
    pub why: &'static str,
}

/// Lines of `name, driver_version, memory.total[, compute_cap]`.
pub fn parse_csv(out: &str, with_cc: bool) -> Result<Vec<SmiGpu>, SmiParseError> {
    let n = if with_cc { 4 } else { 3 };
    let mut gpus = Vec::new();
    for line in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let err = |why| SmiParseError {
            line: line.to_string(),
            why,
        };
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() < n {
            return Err(err("too few fields"));
        }
        // A name with a comma keeps its leading fields.
        let k = fields.len() - n;
        // A GPU name is short: a longer one is cut, not carried.
        let name: String = fields[..=k].join(",").chars().take(MAX_NAME).collect();
        let driver: DriverVersion = fields[k + 1]
            .parse()
            .map_err(|_| err("bad driver_version"))?;
        let memory_mib = fields[k + 2]
            .trim_end_matches("MiB")
            .trim()
            .parse::<u64>()
            .ok();
        let compute_capability = if with_cc {
            let c = fields[k + 3];
            if c.contains("N/A") {
                None
            } else {
                Some(c.parse().map_err(|_| err("bad compute_cap"))?)
            }
        } else {
            None
        };
        gpus.push(SmiGpu {
            name,
            driver,
            memory_mib,
            compute_capability,
        });
    }
    Ok(gpus)
}

/// The failure of a query that names a field this nvidia-smi does not know.
pub fn rejects_compute_cap(stdout: &str, stderr: &str) -> bool {
    let t = format!("{stdout}\n{stderr}");
    t.contains("compute_cap") && (t.contains("not a valid field") || t.contains("Invalid"))
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Banner {
    pub driver: Option<DriverVersion>,
    pub cuda: Option<CudaVersion>,
}

/// `| NVIDIA-SMI 535.104.05   Driver Version: 535.104.05   CUDA Version: 12.2 |`;
/// from about 610: `KMD Version: ...` and `CUDA UMD Version: ...`.
pub fn parse_banner(out: &str) -> Banner {
    let after = |key: &str| {
        out.lines().find_map(|l| {
            let i = l.find(key)?;
            l[i + key.len()..]
                .split_whitespace()
                .next()
                .map(str::to_string)
        })
    };
    Banner {
        driver: after("Driver Version:")
            .or_else(|| after("KMD Version:"))
            .and_then(|v| v.parse().ok()),
        cuda: after("CUDA UMD Version:")
            .or_else(|| after("CUDA Version:"))
            .and_then(|v| v.parse().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_and_without_cc() {
        let g = parse_csv("NVIDIA H100 80GB HBM3, 580.82.07, 81559 MiB, 9.0\n", true).unwrap();
        assert_eq!(g[0].name, "NVIDIA H100 80GB HBM3");
        assert_eq!(g[0].driver.to_string(), "580.82.07");
        assert_eq!(g[0].memory_mib, Some(81559));
        assert_eq!(g[0].compute_capability, Some(ComputeCapability::new(9, 0)));
        let g = parse_csv(
            "Tesla T4, 470.182.03, 15109 MiB\nTesla T4, 470.182.03, 15109 MiB\n",
            false,
        )
        .unwrap();
        assert_eq!((g.len(), g[1].compute_capability), (2, None));
        assert!(parse_csv("No devices were found", true).is_err());
        assert!(parse_csv("a, b, c, d", true).is_err());
        assert!(rejects_compute_cap(
            "Field \"compute_cap\" is not a valid field to query.\n",
            ""
        ));
    }

    #[test]
    fn banners() {
        let b = parse_banner("| NVIDIA-SMI 570.133.07             Driver Version: 570.133.07     CUDA Version: 12.8     |");
        assert_eq!(b.driver.unwrap().to_string(), "570.133.07");
        assert_eq!(b.cuda, Some(CudaVersion::new(12, 8)));
        let b =
            parse_banner("| NVIDIA-SMI 610.10    KMD Version: 610.10    CUDA UMD Version: 13.2 |");
        assert_eq!(b.driver.unwrap().to_string(), "610.10");
        assert_eq!(b.cuda, Some(CudaVersion::new(13, 2)));
    }
}
