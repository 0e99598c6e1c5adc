//! PEP 440 helpers over `pep440_rs` with errors that name the input.

pub use pep440_rs::{Version, VersionSpecifiers};
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
#[error("invalid PEP 440 {what} `{input}`: {message}")]
pub struct Pep440Error {
    pub what: &'static str,
    pub input: String,
    pub message: String,
}

pub fn version(s: &str) -> Result<Version, Pep440Error> {
    Version::from_str(s).map_err(|e| Pep440Error {
        what: "version",
        input: s.to_string(),
        message: e.to_string(),
    })
}

pub fn specifiers(s: &str) -> Result<VersionSpecifiers, Pep440Error> {
    VersionSpecifiers::from_str(s).map_err(|e| Pep440Error {
        what: "specifier",
        input: s.to_string(),
        message: e.to_string(),
    })
}

/// PEP 503 normalized project name: `Mxnet_CU112` -> `mxnet-cu112`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// PEP 508 project name rule: ASCII letters/digits with `.-_` inside.
pub fn is_valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn names() {
        assert_eq!(normalize_name("Mxnet_CU112"), "mxnet-cu112");
        assert_eq!(normalize_name("a..b"), "a-b");
        assert!(is_valid_name("nvidia-cuda-runtime-cu11"));
        assert!(!is_valid_name("x\"); import os; (\""));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("-x"));
    }
    #[test]
    fn versions() {
        assert!(version("1.8.0.post0").unwrap() > version("1.8.0").unwrap());
        assert!(version("2.0.0b1").unwrap() < version("2.0.0").unwrap());
        assert!(specifiers(">=1.24")
            .unwrap()
            .contains(&version("1.26.4").unwrap()));
        assert!(version("not a version").is_err());
    }
}
