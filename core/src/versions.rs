//! Small version types for NVIDIA facts. CUDA, compute capability and driver
//! versions are not semver ("535.104.05" has a leading zero, "11.2" has two
//! parts), so each gets a tiny strict parser. Python package versions use PEP 440
//! (`pep440_rs`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} `{input}`: expected {expected}")]
pub struct VersionParseError {
    pub kind: &'static str,
    pub input: String,
    pub expected: &'static str,
}

fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn major_minor(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('.')?;
    Some((parse_u32(a)?, parse_u32(b)?))
}

macro_rules! major_minor_type {
    ($name:ident, $kind:literal, $max_major:expr, $max_minor:expr, $expected:literal) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name {
            pub major: u32,
            pub minor: u32,
        }
        impl $name {
            pub const fn new(major: u32, minor: u32) -> Self {
                Self { major, minor }
            }
        }
        impl FromStr for $name {
            type Err = VersionParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                major_minor(s.trim())
                    .filter(|&(major, minor)| major <= $max_major && minor <= $max_minor)
                    .map(|(major, minor)| Self { major, minor })
                    .ok_or_else(|| VersionParseError {
                        kind: $kind,
                        input: s.to_string(),
                        expected: $expected,
                    })
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}.{}", self.major, self.minor)
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

major_minor_type!(
    CudaVersion,
    "CUDA version",
    999,
    99,
    "MAJOR.MINOR such as 11.2 (major at most 999, minor at most 99)"
);
// Bounded so `sm()` (major * 10 + minor) is always a real sm number: a
// compute capability of 999999999.9 is an input error, not sm_1410065407.
major_minor_type!(
    ComputeCapability,
    "compute capability",
    ComputeCapability::MAX_MAJOR,
    9,
    "MAJOR.MINOR such as 7.5 (major at most 99, minor at most 9)"
);

impl CudaVersion {
    /// `cu112` -> 11.2, `cu80` -> 8.0, `cu100` -> 10.0 (MXNet package suffixes).
    pub fn from_mxnet_suffix(suffix: &str) -> Option<Self> {
        let digits = suffix.strip_prefix("cu")?;
        if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (major, minor) = digits.split_at(digits.len() - 1);
        Some(Self::new(parse_u32(major)?, parse_u32(minor)?))
    }

    /// The `cuDriverGetVersion` encoding: 12040 -> 12.4.
    pub fn from_driver_api(v: i32) -> Option<Self> {
        (v > 0).then(|| Self::new(v as u32 / 1000, (v as u32 % 1000) / 10))
    }
}

impl ComputeCapability {
    /// The largest major a parsed compute capability may have.
    pub const MAX_MAJOR: u32 = 99;
    /// sm number as nvcc and fatbins spell it: 7.5 -> 75, 10.0 -> 100.
    /// Saturating for values built with `new` outside the parser's bounds.
    pub fn sm(&self) -> u32 {
        self.major.saturating_mul(10).saturating_add(self.minor)
    }
    pub fn from_sm(sm: u32) -> Self {
        Self::new(sm / 10, sm % 10)
    }
}

/// An NVIDIA driver version such as `535.104.05`: numeric components compared
/// in order; the original spelling is kept for display.
#[derive(Debug, Clone)]
pub struct DriverVersion {
    parts: Vec<u32>,
    text: String,
}

impl DriverVersion {
    pub fn parts(&self) -> &[u32] {
        &self.parts
    }
    pub fn major(&self) -> u32 {
        self.parts[0]
    }
}

impl FromStr for DriverVersion {
    type Err = VersionParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let parts: Option<Vec<u32>> = text.split('.').map(parse_u32).collect();
        match parts {
            Some(parts) if (1..=4).contains(&parts.len()) => Ok(Self {
                parts,
                text: text.to_string(),
            }),
            _ => Err(VersionParseError {
                kind: "driver version",
                input: s.to_string(),
                expected: "dotted numbers such as 535.104.05",
            }),
        }
    }
}

impl PartialEq for DriverVersion {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for DriverVersion {}
impl PartialOrd for DriverVersion {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for DriverVersion {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        // Missing trailing components count as 0: "580" == "580.0.0".
        let n = self.parts.len().max(o.parts.len());
        (0..n)
            .map(|i| {
                let a = self.parts.get(i).copied().unwrap_or(0);
                let b = o.parts.get(i).copied().unwrap_or(0);
                a.cmp(&b)
            })
            .find(|c| c.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    }
}
impl fmt::Display for DriverVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
impl Serialize for DriverVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> Deserialize<'de> for DriverVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An nvcc target: `86`, `90a`, `100f`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SmTarget {
    pub sm: u32,
    pub suffix: Option<char>,
}

impl FromStr for SmTarget {
    type Err = VersionParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || VersionParseError {
            kind: "sm target",
            input: s.to_string(),
            expected: "digits with an optional a/f suffix, such as 86 or 90a",
        };
        let t = s.trim();
        let (digits, suffix) = match t.chars().last() {
            Some(c @ ('a' | 'f')) => (&t[..t.len() - 1], Some(c)),
            _ => (t, None),
        };
        let sm = parse_u32(digits).ok_or_else(err)?;
        Ok(Self { sm, suffix })
    }
}
impl fmt::Display for SmTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.sm)?;
        if let Some(c) = self.suffix {
            write!(f, "{c}")?;
        }
        Ok(())
    }
}
impl Serialize for SmTarget {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> Deserialize<'de> for SmTarget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_versions_parse_and_order() {
        let a: CudaVersion = "11.2".parse().unwrap();
        let b: CudaVersion = "11.10".parse().unwrap();
        assert!(a < b);
        assert_eq!(a.to_string(), "11.2");
        assert!("11".parse::<CudaVersion>().is_err());
        assert!("11.x".parse::<CudaVersion>().is_err());
        assert!("".parse::<CudaVersion>().is_err());
    }

    #[test]
    fn mxnet_suffixes() {
        assert_eq!(
            CudaVersion::from_mxnet_suffix("cu112"),
            Some(CudaVersion::new(11, 2))
        );
        assert_eq!(
            CudaVersion::from_mxnet_suffix("cu80"),
            Some(CudaVersion::new(8, 0))
        );
        assert_eq!(
            CudaVersion::from_mxnet_suffix("cu100"),
            Some(CudaVersion::new(10, 0))
        );
        assert_eq!(CudaVersion::from_mxnet_suffix("cu1"), None);
        assert_eq!(CudaVersion::from_mxnet_suffix("mkl"), None);
    }

    #[test]
    fn driver_api_encoding() {
        assert_eq!(
            CudaVersion::from_driver_api(12040),
            Some(CudaVersion::new(12, 4))
        );
        assert_eq!(
            CudaVersion::from_driver_api(13000),
            Some(CudaVersion::new(13, 0))
        );
        assert_eq!(CudaVersion::from_driver_api(0), None);
    }

    #[test]
    fn driver_versions_compare_numerically() {
        let v = |s: &str| s.parse::<DriverVersion>().unwrap();
        assert!(v("535.104.05") > v("535.54.03"));
        assert!(v("450.80.02") < v("450.102.04"));
        assert_eq!(v("580"), v("580.0"));
        assert_eq!(v("535.104.05").to_string(), "535.104.05");
        assert!("535.x".parse::<DriverVersion>().is_err());
        assert!("".parse::<DriverVersion>().is_err());
    }

    #[test]
    fn sm_targets() {
        let t: SmTarget = "90a".parse().unwrap();
        assert_eq!((t.sm, t.suffix), (90, Some('a')));
        assert_eq!(t.to_string(), "90a");
        assert!("sm_90".parse::<SmTarget>().is_err());
        assert_eq!(ComputeCapability::new(10, 0).sm(), 100);
        assert_eq!(ComputeCapability::from_sm(86), ComputeCapability::new(8, 6));
    }

    #[test]
    fn compute_capability_is_bounded() {
        // D5: 999999999.9 overflowed sm() (sm_1410065407, or a panic).
        let e = "999999999.9".parse::<ComputeCapability>().unwrap_err();
        assert!(e.to_string().contains("at most 99"), "{e}");
        assert!("7.10".parse::<ComputeCapability>().is_err());
        assert_eq!("99.9".parse::<ComputeCapability>().unwrap().sm(), 999);
        assert_eq!(ComputeCapability::new(u32::MAX, 9).sm(), u32::MAX);
    }
}
