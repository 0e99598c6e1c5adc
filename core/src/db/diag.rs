//! Diagnostics with file:line:column, located lazily through the spans of
//! toml's parse tree (`toml::de::DeTable`, only when there is something to
//! report, so loading stays fast).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

pub(crate) fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

pub(crate) fn path_to_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, col)
}

/// Finds where a key path lies in a TOML text.
pub(crate) struct Locator<'a> {
    text: &'a str,
    /// The parse tree, the document as a table value.
    doc: Option<DeValue<'a>>,
}

type DeValue<'a> = toml::de::DeValue<'a>;
type Spanned<T> = toml::Spanned<T>;

/// One step down the parse tree: a table's entry `seg` (with its key's span
/// start) or an array's element (with its own).
fn step<'t, 'a>(at: &'t DeValue<'a>, seg: &Seg) -> Option<(usize, &'t Spanned<DeValue<'a>>)> {
    match seg {
        Seg::Key(k) => at
            .as_table()?
            .iter()
            .find(|(key, _)| key.get_ref() == k)
            .map(|(key, v)| (key.span().start, v)),
        Seg::Index(i) => at.as_array()?.get(*i).map(|v| (v.span().start, v)),
    }
}

impl<'a> Locator<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let doc = toml::de::DeTable::parse(text).ok();
        Self {
            text,
            doc: doc.map(|t| DeValue::Table(t.into_inner())),
        }
    }

    /// Span start of the deepest element of `path` that exists.
    pub(crate) fn offset(&self, path: &[Seg]) -> usize {
        self.walk(path).0
    }

    /// Span start of `path`'s last element; None when it does not exist.
    pub(crate) fn exact(&self, path: &[Seg]) -> Option<usize> {
        let (offset, found) = self.walk(path);
        (found == path.len()).then_some(offset)
    }

    /// The span start of the deepest element of `path` that exists (a
    /// table entry's key, an array element's value), and how many of its
    /// elements were found.
    fn walk(&self, path: &[Seg]) -> (usize, usize) {
        let Some(mut at) = self.doc.as_ref() else {
            return (0, 0);
        };
        let (mut best, mut found) = (0usize, 0usize);
        for seg in path {
            let Some((start, next)) = step(at, seg) else {
                break;
            };
            best = start;
            found += 1;
            at = next.get_ref();
        }
        (best, found)
    }

    /// Where the value at `path` starts (a key's value rather than the
    /// key); the deepest existing element's start when it does not exist.
    pub(crate) fn value_offset(&self, path: &[Seg]) -> usize {
        let value = match (path.split_last(), &self.doc) {
            (Some((last @ Seg::Key(_), parent)), Some(doc)) => parent
                .iter()
                .try_fold(doc, |at, seg| step(at, seg).map(|(_, v)| v.get_ref()))
                .and_then(|at| step(at, last))
                .map(|(_, v)| v.span().start),
            _ => None,
        };
        value.unwrap_or_else(|| self.offset(path))
    }

    pub(crate) fn diag(&self, file: &str, path: &[Seg], message: String) -> Diagnostic {
        let (line, column) = line_col(self.text, self.offset(path));
        Diagnostic {
            file: file.to_string(),
            line,
            column,
            message,
        }
    }
}

/// The key path at byte `offset` of a JSON text: the keys and indexes of
/// the containers open there, each with the key or index being read. An
/// error that serde_json reports at `offset` concerns that element.
pub(crate) fn json_path_at(json: &str, offset: usize) -> Vec<Seg> {
    /// An open container: its element's key (objects) or index (arrays).
    enum Open {
        Object(Option<String>),
        Array(usize),
    }
    let bytes = json.as_bytes();
    let end = offset.min(bytes.len());
    let mut open: Vec<Open> = Vec::new();
    let mut i = 0;
    while i < end {
        match bytes[i] {
            b'{' => open.push(Open::Object(None)),
            b'[' => open.push(Open::Array(0)),
            b'}' | b']' => {
                open.pop();
            }
            b',' => match open.last_mut() {
                Some(Open::Object(key)) => *key = None,
                Some(Open::Array(index)) => *index += 1,
                None => {}
            },
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if i >= bytes.len() {
                    break; // unterminated: no key to name
                }
                if let Some(Open::Object(key @ None)) = open.last_mut() {
                    *key = json
                        .get(start..=i)
                        .and_then(|q| serde_json::from_str(q).ok());
                }
            }
            _ => {}
        }
        i += 1;
    }
    open.into_iter()
        .filter_map(|o| match o {
            Open::Object(key) => key.map(Seg::Key),
            Open::Array(index) => Some(Seg::Index(index)),
        })
        .collect()
}

/// A database source file: path relative to the db root (with `/`), and
/// text; what diagnostics point into.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_path_at_names_the_element_being_read() {
        let json = r#"{"gpu":[{"name":"T4"},{"name":"a,\"b","cc":"seven"}],"x":1}"#;
        let at = |needle: &str| json.find(needle).unwrap() + needle.len();
        let path = |needle| path_to_string(&json_path_at(json, at(needle)));
        assert_eq!(path(r#""seven""#), "gpu[1].cc");
        assert_eq!(path(r#""T4""#), "gpu[0].name");
        assert_eq!(path(r#""T4"}"#), "gpu[0]");
        assert_eq!(path(r#""a,\"b""#), "gpu[1].name");
        assert_eq!(path(r#""x":1"#), "x");
        assert_eq!(path_to_string(&json_path_at(json, usize::MAX)), "");
        assert_eq!(json_path_at("{\"unterminated", 99), vec![]);
    }

    #[test]
    fn value_offset_points_at_the_value_not_the_key() {
        let text = "[[gpu]]\nname = \"T4\"\ncompute_capability = \"seven\"\n";
        let loc = Locator::new(text);
        let path = [key("gpu"), Seg::Index(0), key("compute_capability")];
        assert_eq!(line_col(text, loc.value_offset(&path)), (3, 22));
        assert_eq!(line_col(text, loc.offset(&path)), (3, 1));
        let missing = [key("gpu"), Seg::Index(0), key("sass")];
        assert_eq!(loc.value_offset(&missing), loc.offset(&missing));
    }
}
