//! Validators for values that reach generated files and compat-db: one
//! definition each, used by `db check`, the emitters and the lock readers,
//! so a value `db check` accepts is one the emitters accept.

pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Letters, digits and `.+-_`, at most 200 bytes: kinds, roles, ids
/// (breaker and shim ids), fact names.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-' | b'_'))
}

/// A wheel filename: letters, digits and `.+-_!` (`!`: a version epoch),
/// at most 255 bytes, ending `.whl`.
pub fn is_wheel_filename(s: &str) -> bool {
    s.ends_with(".whl")
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-' | b'_' | b'!'))
}

/// Free text of a lock (facts, reasons, sources): one line, no control
/// characters (nothing that could end a comment line or drive a terminal).
pub fn is_line(s: &str) -> bool {
    s.len() <= 4096 && !s.chars().any(char::is_control)
}

/// `^lib[A-Za-z0-9_+.-]+\.so(\.[0-9]+)*$`
pub fn is_soname(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("lib") else {
        return false;
    };
    let Some(pos) = rest.rfind(".so") else {
        return false;
    };
    // The last `.so` followed only by `.N` groups; try each `.so` occurrence
    // from the right so `libx.so.so.1` style names are judged correctly.
    let mut cut = Some(pos);
    while let Some(p) = cut {
        let (stem, tail) = (&rest[..p], &rest[p + 3..]);
        let tail_ok = tail.is_empty()
            || (tail.starts_with('.')
                && tail[1..]
                    .split('.')
                    .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit())));
        let stem_ok = !stem.is_empty()
            && stem
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'.' | b'-'));
        if tail_ok && stem_ok {
            return true;
        }
        cut = rest[..p].rfind(".so");
    }
    false
}

/// https URL made of RFC 3986 characters other than quotes, backslash and
/// `#` (nothing that can end a literal or start a comment in a requirements
/// line), with a host.
pub fn is_https_url(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or("");
    !host.is_empty()
        && s.len() <= 2048
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.'
                        | b'_'
                        | b'~'
                        | b':'
                        | b'/'
                        | b'?'
                        | b'['
                        | b']'
                        | b'@'
                        | b'!'
                        | b'$'
                        | b'&'
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                        | b'%'
                )
        })
}

/// A PEP 440 version spelled with version characters only.
pub fn is_version(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'!' | b'-' | b'_'))
        && crate::pep440::version(s).is_ok()
}

fn is_identifier(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

fn is_dotted(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(is_identifier)
}

/// A shim statement `module.attr = name[.attr...]`, as data:
/// (module, attr, expression). Anything else is refused: shims come from
/// compat-db and are never pasted into the cell as code.
pub fn parse_shim(stmt: &str) -> Option<(String, String, String)> {
    let (lhs, rhs) = stmt.split_once('=')?;
    let (lhs, rhs) = (lhs.trim(), rhs.trim());
    let (module, attr) = lhs.rsplit_once('.')?;
    let root = module.split('.').next().unwrap_or("");
    // The value is a float literal, `None`, a builtin type, or a (possibly
    // negated) attribute of the same package: a shim never imports or calls
    // anything else. The cell evaluates exactly this grammar, never `eval`.
    let is_float = |v: &str| {
        let v = v.strip_prefix('-').unwrap_or(v);
        let (int, frac) = v.split_once('.').unwrap_or((v, "0"));
        !int.is_empty()
            && !frac.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit())
    };
    let attribute = |v: &str| {
        let v = v.strip_prefix('-').unwrap_or(v);
        is_dotted(v) && v.split('.').next() == Some(root) && v.contains('.')
    };
    let value_ok = rhs == "None"
        || is_float(rhs)
        || matches!(rhs, "bool" | "int" | "float" | "complex" | "object" | "str")
        || attribute(rhs);
    (is_dotted(module) && is_identifier(attr) && value_ok)
        .then(|| (module.to_string(), attr.to_string(), rhs.to_string()))
}

/// Printable ASCII without quotes or backslashes: safe in a comment line of
/// every emitted file (requirements, pylock, cell) and on a terminal.
pub fn is_plain_text(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| (0x20..0x7f).contains(&b) && !matches!(b, b'\\' | b'\'' | b'"'))
}

/// A cuDNN version as cudnn.toml and the probe spell it: 1 to 4 dotted
/// numbers (`8.9.6`, `9`), each at most 9 digits.
pub fn is_cudnn_version(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    (1..=4).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `value` as one POSIX shell word, for commands gpu-env prints.
pub fn shell_word(v: &str) -> String {
    if !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:@/+=,".contains(&b))
    {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}

/// Whether `c` is an invisible format character that reorders or hides
/// text on a terminal: bidi embeddings, overrides and isolates (U+202E
/// shows `exe.txt` as `txt.exe`), zero-width characters, the BOM.
fn is_hidden_format(c: char) -> bool {
    matches!(c, '\u{61c}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// One character as text that cannot act on a terminal: a control
/// character as Rust writes it (`\u{1b}`, `\n`), a hidden format character
/// as `\u202e` (also a valid JSON escape, so JSON output stays JSON); None
/// for a character shown as itself.
fn escaped(c: char) -> Option<String> {
    if c.is_control() {
        Some(c.escape_default().to_string())
    } else if is_hidden_format(c) {
        Some(format!("\\u{:04x}", c as u32))
    } else {
        None
    }
}

fn escape_where(s: &str, keep: impl Fn(char) -> bool) -> String {
    if !s.chars().any(|c| !keep(c) && escaped(c).is_some()) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match escaped(c).filter(|_| !keep(c)) {
            Some(e) => out.push_str(&e),
            None => out.push(c),
        }
    }
    out
}

/// `s` with every control character (C0, DEL, C1: ANSI escapes, newlines)
/// and hidden format character (bidi overrides, zero-width) written as an
/// escape, so a hostile target name or value printed on a terminal or
/// into a log shows as text and never acts.
pub fn escape_control(s: &str) -> String {
    escape_where(s, |_| false)
}

/// Text for a terminal: as [`escape_control`], newlines and tabs kept.
/// Every line gpu-env prints passes through this (`cli::out`, `cli::err`).
pub fn terminal_text(s: &str) -> String {
    escape_where(s, |c| c == '\n' || c == '\t')
}

/// A string from outside (a command's output, a device name) as a message
/// shows it: escaped ([`escape_control`]) and cut to `max` characters,
/// saying how much was left out.
pub fn shown(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return escape_control(s);
    }
    let head: String = s.chars().take(max).collect();
    format!("{}... ({} more characters)", escape_control(&head), n - max)
}

/// The largest glibc minor believed: manylinux tags are made for every
/// minor from it down, so an absurd one (2.4294967295) must not be.
pub const MAX_GLIBC_MINOR: u32 = 99;

/// `2.35` (or `2.35.1`) -> (2, 35); None unless glibc 2 with a minor of
/// at most [`MAX_GLIBC_MINOR`] (at most three digits each part).
pub fn parse_glibc(g: &str) -> Option<(u32, u32)> {
    let mut it = g.trim().split('.');
    let major = it.next()?;
    let minor = it.next()?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    if major != "2" || !digits(minor) || !it.all(digits) {
        return None;
    }
    let minor: u32 = minor.parse().ok().filter(|m| *m <= MAX_GLIBC_MINOR)?;
    Some((2, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_grammars() {
        assert!(is_cudnn_version("8.9.6") && is_cudnn_version("9"));
        assert!(!is_cudnn_version("8.garbage.x") && !is_cudnn_version("8..1"));
        assert_eq!(escape_control("a\u{1b}[31mb\n"), "a\\u{1b}[31mb\\n");
        assert_eq!(escape_control("a\u{202e}txt.exe"), "a\\u202etxt.exe");
        assert_eq!(
            terminal_text("a\u{1b}]0;x\u{7}\n\tb"),
            "a\\u{1b}]0;x\\u{7}\n\tb"
        );
        assert_eq!(shown("abcdef", 3), "abc... (3 more characters)");
        assert_eq!(shown("ab\u{1b}", 3), "ab\\u{1b}");
        assert!(is_plain_text("colab-2026.08:T4") && !is_plain_text("x\ny"));
        assert!(is_token("colab") && !is_token("colab!") && !is_token("a b"));
        assert!(is_wheel_filename("x-1!2.0-py3-none-any.whl"));
        assert!(!is_wheel_filename(&format!("{}.whl", "x".repeat(252))));
        assert!(is_line("a [b]") && !is_line("a\nb"));
    }
}
