//! PEP 440 helpers over `pep440_rs` with errors that name the input.

use crate::textual::{FromText, Textual};
pub use pep440_rs::{Version, VersionSpecifiers};
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
#[error("invalid PEP 440 {what} `{input}`: {message}")]
pub struct Pep440Error {
    pub what: &'static str,
    pub input: String,
    pub message: String,
}

impl Pep440Error {
    /// The error on one line, without the parser's caret diagram under the
    /// input: a `db check` diagnostic is one line.
    pub fn one_line(&self) -> String {
        let first = self.message.lines().next().unwrap_or("");
        let first = first.trim_end().trim_end_matches(':');
        format!("invalid PEP 440 {} `{}`: {first}", self.what, self.input)
    }
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

/// A PEP 440 specifier set parsed once, where it is read (compat-db
/// records), so no rule re-parses text and a bad specifier cannot quietly
/// make a rule not apply; keeps the original text ([`Textual`]).
pub type Specifiers = Textual<VersionSpecifiers>;

/// What `db check` tells the author of a bad specifier to write instead.
pub const SPECIFIER_HINT: &str =
    "write a PEP 440 specifier such as `>=3.7` or `>=1.24,<2` (see compat-db/README.md)";

impl FromText for VersionSpecifiers {
    type Err = Pep440Error;
    fn from_text(text: &str) -> Result<Self, Pep440Error> {
        specifiers(text)
    }
    fn load_error(_text: &str, e: &Pep440Error) -> String {
        format!("{}; {SPECIFIER_HINT}", e.one_line())
    }
}

impl Specifiers {
    pub fn contains(&self, v: &Version) -> bool {
        self.parsed().contains(v)
    }
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
    #[test]
    fn specifiers_keep_their_text() {
        let s: Specifiers = serde_json::from_str(r#"">=1.24,<2.0""#).unwrap();
        assert!(s.contains(&version("1.26.4").unwrap()));
        assert!(!s.contains(&version("2.0").unwrap()));
        assert_eq!(s.as_str(), ">=1.24,<2.0");
        assert_eq!(s.to_string(), ">=1.24,<2.0");
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"">=1.24,<2.0""#);
        let e = serde_json::from_str::<Specifiers>(r#"">=1.x""#).unwrap_err();
        assert!(e.to_string().contains("`>=1.x`"), "{e}");
        assert!(e.to_string().contains("write a PEP 440 specifier"), "{e}");
        assert!(!e.to_string().contains('\n'), "{e}");
    }
}
