//! The subset of PEP 508 that compat-db's Requires-Dist records use: a
//! requirement (`name`, `name spec`, `name (spec)`, optionally `; marker`;
//! no extras, no URLs) and environment markers evaluated for CPython on
//! Linux x86_64. compat-db records load their entries as [`Dependency`]
//! (a bad one is a load error); the solver evaluates the parsed form.

use crate::pep440::{self, Pep440Error, Version, VersionSpecifiers};
use crate::textual::{FromText, Textual};

/// Why a Requires-Dist entry does not parse; each names the entry, so
/// `db check` and the solver can print it as it is.
#[derive(Debug, thiserror::Error)]
pub enum RequirementError {
    #[error("`{0}`: no valid project name at the start")]
    NoName(String),
    #[error("`{0}`: extras are not supported here")]
    Extras(String),
    #[error("`{0}`: URL requirements are not supported here")]
    Url(String),
    #[error("`{0}`: unbalanced parenthesis")]
    Unbalanced(String),
    #[error("`{requirement}`: {source}")]
    Specifier {
        requirement: String,
        source: Pep440Error,
    },
    #[error(transparent)]
    Marker(#[from] MarkerError),
}

/// A marker that does not parse: the marker's text and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("marker `{marker}`: {source}")]
pub struct MarkerError {
    pub marker: String,
    pub source: MarkerErrorKind,
}

/// What is wrong in a marker. Tokens render as the parser's `{:?}` did.
#[derive(Debug, thiserror::Error)]
pub enum MarkerErrorKind {
    #[error("unexpected `{0}`")]
    Unexpected(char),
    #[error("unterminated string")]
    Unterminated,
    #[error("missing `)`")]
    MissingClose,
    #[error("expected a comparison")]
    NoComparison,
    #[error("expected an operator, found {found}")]
    NoOperator { found: String },
    #[error("expected a value")]
    NoValue,
    #[error("compare a variable with a quoted string, not {left} and {right}")]
    NotAComparison { left: String, right: String },
    #[error("cannot evaluate `\"{value}\" {op} {var}`")]
    VersionOnRight {
        var: String,
        op: String,
        value: String,
    },
    #[error("cannot evaluate `{var} {op}` as a version")]
    VersionMembership { var: String, op: String },
    #[error(transparent)]
    Version(#[from] Pep440Error),
    #[error("cannot evaluate `{var} {op} \"{value}\"` (strings take ==, !=, in, not in)")]
    StringOperator {
        var: String,
        op: String,
        value: String,
    },
    #[error("`extra` markers are not recorded (records keep only requirements without extras)")]
    Extra,
    #[error("unknown marker variable `{0}`")]
    UnknownVariable(String),
    #[error("trailing text")]
    TrailingText,
}

impl RequirementError {
    /// The entry is for an extra (`; extra == "test"`): not installed by
    /// default, so records leave it out (as scripts/gen_pypi_records.py
    /// does) instead of refusing the whole file.
    pub fn is_extra_only(&self) -> bool {
        matches!(
            self,
            RequirementError::Marker(MarkerError {
                source: MarkerErrorKind::Extra,
                ..
            })
        )
    }
}

/// One Requires-Dist entry: `name`, `name spec`, `name (spec)`, each
/// optionally followed by `; marker`. No extras, no URLs.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    /// PEP 503 normalized.
    pub name: String,
    /// None: any version.
    pub spec: Option<VersionSpecifiers>,
    pub marker: Option<Marker>,
}

impl Requirement {
    pub fn parse(s: &str) -> Result<Requirement, RequirementError> {
        let (req, marker) = match s.split_once(';') {
            Some((r, m)) => (r.trim(), Some(Marker::parse(m.trim())?)),
            None => (s.trim(), None),
        };
        let end = req
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(req.len());
        let (name, rest) = req.split_at(end);
        if !pep440::is_valid_name(name) {
            return Err(RequirementError::NoName(s.to_string()));
        }
        let rest = rest.trim();
        if rest.starts_with('[') {
            return Err(RequirementError::Extras(s.to_string()));
        }
        if rest.starts_with('@') {
            return Err(RequirementError::Url(s.to_string()));
        }
        let rest = match rest.strip_prefix('(') {
            Some(inner) => inner
                .strip_suffix(')')
                .ok_or_else(|| RequirementError::Unbalanced(s.to_string()))?
                .trim(),
            None => rest,
        };
        let spec = if rest.is_empty() {
            None
        } else {
            Some(
                pep440::specifiers(rest).map_err(|source| RequirementError::Specifier {
                    requirement: s.to_string(),
                    source,
                })?,
            )
        };
        Ok(Requirement {
            name: pep440::normalize_name(name),
            spec,
            marker,
        })
    }

    /// Whether the requirement applies on `env` (no marker: always).
    pub fn applies(&self, env: &MarkerEnv) -> bool {
        self.marker.as_ref().is_none_or(|m| m.eval(env))
    }

    /// Whether it applies on Linux x86_64 for some CPython 3.6 .. 3.14:
    /// one that never does (`; sys_platform == "win32"`) can be ignored
    /// where the target's Python is not known.
    pub fn applies_on_some_linux(&self) -> bool {
        (6..=14).any(|minor| {
            MarkerEnv::new(&format!("3.{minor}.0")).is_some_and(|env| self.applies(&env))
        })
    }
}

/// A Requires-Dist entry of a compat-db record, parsed once where it is
/// read, so no caller re-parses text or skips an entry that does not
/// parse; keeps the text as published ([`Textual`]): records, the lock's
/// overrides and db hashes are byte-identical to it.
pub type Dependency = Textual<Requirement>;

/// What `db check` tells the author of a bad Requires-Dist entry to write.
pub const REQUIREMENT_HINT: &str = "write `name`, `name spec` or `name (spec)`, optionally \
     `; marker`, without extras or URLs (see compat-db/README.md)";

impl FromText for Requirement {
    type Err = RequirementError;
    fn from_text(text: &str) -> Result<Self, RequirementError> {
        Requirement::parse(text)
    }
    fn load_error(text: &str, e: &RequirementError) -> String {
        format!("{}; {REQUIREMENT_HINT}", e.one_line(text))
    }
}

impl Dependency {
    pub fn requirement(&self) -> &Requirement {
        self.parsed()
    }

    /// PEP 503 normalized.
    pub fn name(&self) -> &str {
        &self.parsed().name
    }
}

impl RequirementError {
    /// The error of entry `text` on one line (no caret diagram under a
    /// specifier), naming the whole entry: a `db check` diagnostic.
    pub fn one_line(&self, text: &str) -> String {
        let shown = self.to_string();
        let first = shown.lines().next().unwrap_or("");
        let first = first.trim_end().trim_end_matches(':');
        match self {
            // A marker error names the marker only.
            Self::Marker(_) => format!("requirement `{text}`: {first}"),
            _ => format!("requirement {first}"),
        }
    }
}

/// The environment markers are evaluated in: CPython on Linux x86_64 (the
/// only platform MXNet's wheels are for) at the target's Python version.
#[derive(Debug, Clone)]
pub struct MarkerEnv {
    /// `3.12.3` (python_full_version); python_version is its first two parts.
    pub python_full: Version,
    pub python: Version,
}

impl MarkerEnv {
    pub fn new(python_full: &str) -> Option<MarkerEnv> {
        let full = pep440::version(python_full).ok()?;
        let mm: Vec<&str> = python_full.split('.').take(2).collect();
        let python = pep440::version(&mm.join(".")).ok()?;
        Some(MarkerEnv {
            python_full: full,
            python,
        })
    }

    fn string(var: &str) -> Option<&'static str> {
        Some(match var {
            "sys_platform" => "linux",
            "platform_system" => "Linux",
            "os_name" => "posix",
            "platform_machine" => "x86_64",
            "implementation_name" => "cpython",
            "platform_python_implementation" => "CPython",
            _ => return None,
        })
    }
}

/// A PEP 508 environment marker: `and`/`or`/parentheses over comparisons of
/// a variable with a quoted string. Versions (`python_version`,
/// `python_full_version`) compare as PEP 440 (any operator); the platform
/// variables (`sys_platform`, `platform_system`, `os_name`,
/// `platform_machine`, `implementation_name`,
/// `platform_python_implementation`) as strings with `==`, `!=`, `in`,
/// `not in`. Anything else (`extra`, `platform_release`, ...) does not parse.
#[derive(Debug, Clone, PartialEq)]
pub enum Marker {
    And(Box<Marker>, Box<Marker>),
    Or(Box<Marker>, Box<Marker>),
    /// `python_version < "3.14"` (the variable on the left after parsing).
    Version {
        full: bool,
        spec: VersionSpecifiers,
    },
    Str {
        var: String,
        op: StrOp,
        value: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StrOp {
    Eq,
    Ne,
    /// The variable's value is a substring of `value`.
    In,
    NotIn,
    /// `value` is a substring of the variable's value (`"x" in var`).
    Contains,
    NotContains,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Word(String),
    Quoted(String),
    Op(String),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, MarkerErrorKind> {
    let mut out = Vec::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Tok::Open);
            i += 1;
        } else if c == ')' {
            out.push(Tok::Close);
            i += 1;
        } else if c == '"' || c == '\'' {
            let end = b[i + 1..]
                .iter()
                .position(|&x| x == c)
                .ok_or(MarkerErrorKind::Unterminated)?;
            out.push(Tok::Quoted(b[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if "<>=!~".contains(c) {
            let mut j = i;
            while j < b.len() && "<>=!~".contains(b[j]) {
                j += 1;
            }
            out.push(Tok::Op(b[i..j].iter().collect()));
            i = j;
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == '_' || b[j] == '.') {
                j += 1;
            }
            out.push(Tok::Word(b[i..j].iter().collect()));
            i = j;
        } else {
            return Err(MarkerErrorKind::Unexpected(c));
        }
    }
    Ok(out)
}

struct MarkerParser {
    toks: Vec<Tok>,
    at: usize,
}

impl MarkerParser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }
    fn keyword(&mut self, k: &str) -> bool {
        if self.peek() == Some(&Tok::Word(k.into())) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn or(&mut self) -> Result<Marker, MarkerErrorKind> {
        let mut m = self.and()?;
        while self.keyword("or") {
            m = Marker::Or(Box::new(m), Box::new(self.and()?));
        }
        Ok(m)
    }
    fn and(&mut self) -> Result<Marker, MarkerErrorKind> {
        let mut m = self.atom()?;
        while self.keyword("and") {
            m = Marker::And(Box::new(m), Box::new(self.atom()?));
        }
        Ok(m)
    }
    fn atom(&mut self) -> Result<Marker, MarkerErrorKind> {
        if self.peek() == Some(&Tok::Open) {
            self.at += 1;
            let m = self.or()?;
            return match self.next() {
                Some(Tok::Close) => Ok(m),
                _ => Err(MarkerErrorKind::MissingClose),
            };
        }
        let lhs = self.next().ok_or(MarkerErrorKind::NoComparison)?;
        let op = match self.next() {
            Some(Tok::Op(o)) => o,
            Some(Tok::Word(w)) if w == "in" => "in".into(),
            Some(Tok::Word(w)) if w == "not" && self.keyword("in") => "not in".into(),
            other => {
                return Err(MarkerErrorKind::NoOperator {
                    found: format!("{other:?}"),
                })
            }
        };
        let rhs = self.next().ok_or(MarkerErrorKind::NoValue)?;
        let (var, value, var_left) = match (lhs, rhs) {
            (Tok::Word(v), Tok::Quoted(q)) => (v, q, true),
            (Tok::Quoted(q), Tok::Word(v)) => (v, q, false),
            (l, r) => {
                return Err(MarkerErrorKind::NotAComparison {
                    left: format!("{l:?}"),
                    right: format!("{r:?}"),
                })
            }
        };
        match var.as_str() {
            "python_version" | "python_full_version" => {
                let op = if var_left {
                    op
                } else {
                    // "3.8" <= python_version  ==  python_version >= "3.8"
                    match op.as_str() {
                        "<" => ">".into(),
                        ">" => "<".into(),
                        "<=" => ">=".into(),
                        ">=" => "<=".into(),
                        "==" | "!=" => op,
                        _ => return Err(MarkerErrorKind::VersionOnRight { var, op, value }),
                    }
                };
                if op == "in" || op == "not in" {
                    return Err(MarkerErrorKind::VersionMembership { var, op });
                }
                let spec = pep440::specifiers(&format!("{op}{value}"))?;
                Ok(Marker::Version {
                    full: var == "python_full_version",
                    spec,
                })
            }
            v if MarkerEnv::string(v).is_some() => {
                let op = match (op.as_str(), var_left) {
                    ("==", _) => StrOp::Eq,
                    ("!=", _) => StrOp::Ne,
                    ("in", true) => StrOp::In,
                    ("not in", true) => StrOp::NotIn,
                    ("in", false) => StrOp::Contains,
                    ("not in", false) => StrOp::NotContains,
                    _ => return Err(MarkerErrorKind::StringOperator { var, op, value }),
                };
                Ok(Marker::Str { var, op, value })
            }
            "extra" => Err(MarkerErrorKind::Extra),
            other => Err(MarkerErrorKind::UnknownVariable(other.to_string())),
        }
    }
}

impl Marker {
    pub fn parse(s: &str) -> Result<Marker, MarkerError> {
        let error = |source| MarkerError {
            marker: s.to_string(),
            source,
        };
        let mut p = MarkerParser {
            toks: tokenize(s).map_err(error)?,
            at: 0,
        };
        let m = p.or().map_err(error)?;
        if p.at != p.toks.len() {
            return Err(error(MarkerErrorKind::TrailingText));
        }
        Ok(m)
    }

    pub fn eval(&self, env: &MarkerEnv) -> bool {
        match self {
            Marker::And(a, b) => a.eval(env) && b.eval(env),
            Marker::Or(a, b) => a.eval(env) || b.eval(env),
            Marker::Version { full, spec } => {
                spec.contains(if *full { &env.python_full } else { &env.python })
            }
            Marker::Str { var, op, value } => {
                let have = MarkerEnv::string(var).unwrap_or("");
                match op {
                    StrOp::Eq => have == value,
                    StrOp::Ne => have != value,
                    StrOp::In => value.contains(have),
                    StrOp::NotIn => !value.contains(have),
                    StrOp::Contains => have.contains(value.as_str()),
                    StrOp::NotContains => !have.contains(value.as_str()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(py: &str) -> MarkerEnv {
        MarkerEnv::new(py).unwrap()
    }

    #[test]
    fn requirements_parse() {
        let r = Requirement::parse("charset_normalizer<4,>=2").unwrap();
        assert_eq!(r.name, "charset-normalizer");
        let spec = r.spec.unwrap();
        assert!(spec.contains(&pep440::version("3.4").unwrap()));
        assert!(!spec.contains(&pep440::version("4.0").unwrap()));
        let r = Requirement::parse("requests (<3,>=2.20.0)").unwrap();
        assert_eq!(r.name, "requests");
        assert!(r.spec.is_some() && r.marker.is_none());
        assert!(Requirement::parse("certifi").unwrap().spec.is_none());
        assert!(Requirement::parse("x[socks]>=1").is_err());
        assert!(Requirement::parse("x @ https://example.org/x.whl").is_err());
        assert!(Requirement::parse("x (>=1").is_err());
        assert!(Requirement::parse(">=1").is_err());
        assert!(Requirement::parse("x >=banana").is_err());
        assert!(Requirement::parse("h2<5,>=4; extra == 'h2'").is_err());
        assert!(Requirement::parse("x; platform_release == '5'").is_err());
    }

    #[test]
    fn markers_evaluate() {
        let r = |s: &str| Requirement::parse(s).unwrap();
        let m = r("importlib-metadata>=6; python_version < \"3.10\"");
        assert!(m.applies(&env("3.9.18")) && !m.applies(&env("3.10.0")));
        let m = r("x; \"3.8\" <= python_version and sys_platform == 'linux'");
        assert!(m.applies(&env("3.8.1")) && !m.applies(&env("3.7.9")));
        let m = r("x; (sys_platform == 'win32' or platform_system == 'Darwin')");
        assert!(!m.applies(&env("3.12.3")));
        let m = r("x; platform_machine in 'x86_64 aarch64' and python_full_version >= '3.12.1'");
        assert!(m.applies(&env("3.12.1")) && !m.applies(&env("3.12.0")));
        let m = r("x; platform_python_implementation != 'PyPy'");
        assert!(m.applies(&env("3.11.2")));
        assert!(Marker::parse("python_version in '3.8'").is_err());
        assert!(Marker::parse("python_version < '3.8' and").is_err());
    }

    /// The typed errors render the text `db check` and the solver printed
    /// when these were strings.
    #[test]
    fn errors_render_their_input() {
        let e = |s: &str| Requirement::parse(s).unwrap_err().to_string();
        assert_eq!(e(">=1"), "`>=1`: no valid project name at the start");
        assert_eq!(e("x (>=1"), "`x (>=1`: unbalanced parenthesis");
        assert_eq!(
            e("x; platform_release == '5'"),
            "marker `platform_release == '5'`: unknown marker variable `platform_release`"
        );
        assert_eq!(
            e("x; os_name < 'a'"),
            "marker `os_name < 'a'`: cannot evaluate `os_name < \"a\"` (strings take ==, !=, in, not in)"
        );
        assert_eq!(
            e("x; python_version 'a'"),
            "marker `python_version 'a'`: expected an operator, found Some(Quoted(\"a\"))"
        );
        assert_eq!(
            Marker::parse("os_name == 'a' )").unwrap_err().to_string(),
            "marker `os_name == 'a' )`: trailing text"
        );
    }

    #[test]
    fn dependencies_keep_their_text() {
        let d: Dependency = serde_json::from_str(r#""numpy (<2.0.0,>1.16.0)""#).unwrap();
        assert_eq!(d.name(), "numpy");
        assert!(d.requirement().spec.is_some());
        assert_eq!(d.to_string(), "numpy (<2.0.0,>1.16.0)");
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#""numpy (<2.0.0,>1.16.0)""#
        );
        let e = |s: &str| {
            serde_json::from_str::<Dependency>(s)
                .unwrap_err()
                .to_string()
        };
        let bad = e(r#""numpy (>=1.x)""#);
        assert!(
            bad.starts_with("requirement `numpy (>=1.x)`: invalid PEP 440 specifier `>=1.x`"),
            "{bad}"
        );
        assert!(bad.contains("write `name`"), "{bad}");
        assert!(!bad.contains('\n'), "{bad}");
        let bad = e(r#""x; extra == 'y'""#);
        assert!(
            bad.starts_with("requirement `x; extra == 'y'`: marker `extra == 'y'`: `extra`"),
            "{bad}"
        );
        let w = |s: &str| {
            Dependency::parse(s)
                .unwrap()
                .requirement()
                .applies_on_some_linux()
        };
        assert!(w("x; python_version < '3.7'") && w("x"));
        assert!(!w("x; sys_platform == 'win32'"));
    }
}
