//! Python source literals for untrusted values. Every string is written as a
//! single-quoted literal in which only printable ASCII other than `\` and `'`
//! appears verbatim; everything else is an escape. Such a literal cannot end
//! early, span lines or smuggle code, whatever the input.

use std::fmt::Write;

/// `s` as a Python string literal.
pub fn str_lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('\'');
    out
}

/// A small value model rendered as a Python literal (dicts keep order).
#[derive(Debug, Clone)]
pub enum Py {
    Str(String),
    Int(u64),
    Bool(bool),
    None,
    List(Vec<Py>),
    Tuple(Vec<Py>),
    Dict(Vec<(String, Py)>),
}

impl Py {
    pub fn s(v: impl Into<String>) -> Py {
        Py::Str(v.into())
    }

    /// The same value as JSON (tuples become arrays).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Py::Str(s) => Value::String(s.clone()),
            Py::Int(i) => Value::from(*i),
            Py::Bool(b) => Value::Bool(*b),
            Py::None => Value::Null,
            Py::List(items) | Py::Tuple(items) => {
                Value::Array(items.iter().map(Py::to_json).collect())
            }
            Py::Dict(items) => Value::Object(
                items
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Render with `indent` spaces per level; lists and dicts of compound
    /// values go one item per line.
    pub fn render(&self, level: usize) -> String {
        let pad = "    ".repeat(level + 1);
        let end = "    ".repeat(level);
        match self {
            Py::Str(s) => str_lit(s),
            Py::Int(i) => i.to_string(),
            Py::Bool(b) => if *b { "True" } else { "False" }.into(),
            Py::None => "None".into(),
            Py::Tuple(items) => {
                let inner: Vec<String> = items.iter().map(|i| i.render(level + 1)).collect();
                if items.len() == 1 {
                    format!("({},)", inner[0])
                } else {
                    format!("({})", inner.join(", "))
                }
            }
            Py::List(items) => {
                if items.is_empty() {
                    return "[]".into();
                }
                let flat = items
                    .iter()
                    .all(|i| !matches!(i, Py::List(_) | Py::Dict(_)));
                let inner: Vec<String> = items.iter().map(|i| i.render(level + 1)).collect();
                if flat && inner.iter().map(String::len).sum::<usize>() < 60 {
                    format!("[{}]", inner.join(", "))
                } else {
                    format!("[\n{pad}{},\n{end}]", inner.join(&format!(",\n{pad}")))
                }
            }
            Py::Dict(items) => {
                if items.is_empty() {
                    return "{}".into();
                }
                let inner: Vec<String> = items
                    .iter()
                    .map(|(k, v)| format!("{}: {}", str_lit(k), v.render(level + 1)))
                    .collect();
                let nested = items.iter().any(|(_, v)| {
                    matches!(v, Py::List(l) if !l.is_empty()) || matches!(v, Py::Dict(_))
                });
                let flat = inner.join(", ");
                if !nested && flat.len() + level * 4 < 120 {
                    format!("{{{flat}}}")
                } else {
                    format!("{{\n{pad}{},\n{end}}}", inner.join(&format!(",\n{pad}")))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn escapes_everything_dangerous() {
        assert_eq!(str_lit("abc"), "'abc'");
        assert_eq!(str_lit("a'b\\c"), "'a\\'b\\\\c'");
        assert_eq!(str_lit("x\ny\r\0"), "'x\\x0ay\\x0d\\x00'");
        assert_eq!(str_lit("é€😀"), "'\\xe9\\u20ac\\U0001f600'");
        assert_eq!(str_lit("\u{2028}"), "'\\u2028'");
        assert_eq!(str_lit("\"); import os #"), "'\"); import os #'");
    }
    #[test]
    fn renders_nested() {
        let v = Py::Dict(vec![
            ("a".into(), Py::List(vec![Py::Int(1), Py::Bool(true)])),
            ("t".into(), Py::Tuple(vec![Py::None])),
        ]);
        assert_eq!(v.render(0), "{\n    'a': [1, True],\n    't': (None,),\n}");
    }
}
