//! The stamp every file `cargo xtask matrix` writes carries, so `check`
//! can tell a current file from a stale one without generating anything:
//! the inputs it was made from (gpu-env's version and compat-db's hash)
//! and the sha256 of the file's own bytes without the stamp. Inputs that
//! differ mean compat-db or gpu-env changed since; a digest that differs
//! means the file was edited by hand. Either way `cargo xtask matrix`
//! writes it anew.
//!
//! Where the stamp sits: a line of its own in text files (an HTML `<meta>`
//! line, a Python comment line), a `tEXt` chunk in the PNG.

use crate::fsutil::sha256_hex;

/// The stamp's name: the HTML meta name, the Python comment's key, the
/// PNG text chunk's keyword.
pub const KEY: &str = "gpu-env-docs";

/// What a docs file is made from: `gpu-env 0.1.0, compat-db sha256 HEX`.
pub fn inputs(db_hash: &str) -> String {
    format!("gpu-env {}, compat-db sha256 {db_hash}", crate::version())
}

/// The stamp's value for a file whose bytes without the stamp are
/// `content`.
pub fn value(inputs: &str, content: &[u8]) -> String {
    format!("{inputs}, content sha256 {}", sha256_hex(content))
}

/// How a text file holds its stamp line.
#[derive(Debug, Clone, Copy)]
pub enum Syntax {
    Html,
    Python,
}

impl Syntax {
    fn line(self, value: &str) -> String {
        match self {
            Syntax::Html => format!("<meta name=\"{KEY}\" content=\"{value}\">"),
            Syntax::Python => format!("# {KEY}: {value}"),
        }
    }
    fn parse(self, line: &str) -> Option<&str> {
        match self {
            Syntax::Html => line
                .strip_prefix(&format!("<meta name=\"{KEY}\" content=\""))?
                .strip_suffix("\">"),
            Syntax::Python => line.strip_prefix(&format!("# {KEY}: ")),
        }
    }
}

/// `text` with its stamp line inserted after line `after` (0-based; the
/// lines before it are the marker lines a generated file starts with).
pub fn stamp_text(text: &str, after: usize, syntax: Syntax, inputs: &str) -> String {
    let value = value(inputs, text.as_bytes());
    let cut = text
        .split_inclusive('\n')
        .take(after + 1)
        .map(str::len)
        .sum::<usize>();
    format!("{}{}\n{}", &text[..cut], syntax.line(&value), &text[cut..])
}

/// Why a stamped file is not what `cargo xtask matrix` would write now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// No stamp: written by an older gpu-env, or not by `matrix`.
    NoStamp,
    /// Made from other inputs (the recorded ones).
    Inputs(String),
    /// The bytes differ from the ones stamped: edited by hand.
    Edited,
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stale::NoStamp => write!(f, "has no `{KEY}` stamp"),
            Stale::Inputs(was) => write!(f, "was made from {was}"),
            Stale::Edited => write!(f, "differs from what was generated (edited by hand?)"),
        }
    }
}

/// Compare a recorded stamp value with the expected inputs and the
/// digest of the unstamped bytes.
fn verdict(found: &str, inputs: &str, content: &[u8]) -> Result<(), Stale> {
    let Some((was, _)) = found.rsplit_once(", content sha256 ") else {
        return Err(Stale::NoStamp);
    };
    if was != inputs {
        return Err(Stale::Inputs(was.to_string()));
    }
    if found != value(inputs, content) {
        return Err(Stale::Edited);
    }
    Ok(())
}

/// Whether a stamped text file is current for `inputs`: its stamp line
/// (among its first 64 lines) is found and removed, and the rest hashed.
pub fn check_text(bytes: &[u8], syntax: Syntax, inputs: &str) -> Result<(), Stale> {
    let text = std::str::from_utf8(bytes).map_err(|_| Stale::Edited)?;
    let mut start = 0;
    for line in text.split_inclusive('\n').take(64) {
        if let Some(found) = syntax.parse(line.trim_end_matches('\n')) {
            let rest = [&text[..start], &text[start + line.len()..]].concat();
            return verdict(found, inputs, rest.as_bytes());
        }
        start += line.len();
    }
    Err(Stale::NoStamp)
}

const PNG_SIG: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The chunks of a PNG as (start, end, kind) byte ranges after the
/// signature; None when it is not a whole PNG.
fn png_chunks(png: &[u8]) -> Option<Vec<(usize, usize, [u8; 4])>> {
    let mut pos = png.strip_prefix(PNG_SIG).map(|_| PNG_SIG.len())?;
    let mut out = Vec::new();
    while pos < png.len() {
        let len = u32::from_be_bytes(png.get(pos..pos + 4)?.try_into().ok()?) as usize;
        let kind: [u8; 4] = png.get(pos + 4..pos + 8)?.try_into().ok()?;
        let end = pos.checked_add(12)?.checked_add(len)?;
        if end > png.len() {
            return None;
        }
        out.push((pos, end, kind));
        pos = end;
    }
    Some(out)
}

/// A `tEXt` chunk: length, kind, keyword NUL text, CRC of kind and data.
fn text_chunk(keyword: &str, text: &str) -> Vec<u8> {
    let data = [keyword.as_bytes(), b"\0", text.as_bytes()].concat();
    let mut crc = flate2::Crc::new();
    crc.update(b"tEXt");
    crc.update(&data);
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(b"tEXt");
    out.extend_from_slice(&data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
    out
}

/// `png` with the stamp as a `tEXt` chunk before its `IEND`; None when
/// `png` is not a whole PNG.
pub fn stamp_png(png: &[u8], inputs: &str) -> Option<Vec<u8>> {
    let chunks = png_chunks(png)?;
    let (iend, _, _) = *chunks.iter().find(|c| &c.2 == b"IEND")?;
    let chunk = text_chunk(KEY, &value(inputs, png));
    Some([&png[..iend], &chunk[..], &png[iend..]].concat())
}

/// Whether a stamped PNG is current for `inputs`.
pub fn check_png(png: &[u8], inputs: &str) -> Result<(), Stale> {
    let chunks = png_chunks(png).ok_or(Stale::Edited)?;
    let prefix = [KEY.as_bytes(), b"\0"].concat();
    for (start, end, kind) in chunks {
        let data = &png[start + 8..end - 4];
        if &kind == b"tEXt" && data.starts_with(&prefix) {
            let found = std::str::from_utf8(&data[prefix.len()..]).map_err(|_| Stale::Edited)?;
            let rest = [&png[..start], &png[end..]].concat();
            return verdict(found, inputs, &rest);
        }
    }
    Err(Stale::NoStamp)
}

/// The width and height in a PNG's header; None when it is not a PNG.
pub fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    let chunks = png_chunks(png)?;
    let (start, end, kind) = chunks.first()?;
    if kind != b"IHDR" || end - start < 20 {
        return None;
    }
    let word = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap_or_default());
    Some((word(start + 8), word(start + 12)))
}

/// Whether `png` carries a stamp chunk (a PNG `matrix` wrote), whatever
/// its inputs.
pub fn png_is_stamped(png: &[u8]) -> bool {
    matches!(check_png(png, ""), Err(Stale::Inputs(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_stamps_tell_inputs_and_edits_apart() {
        let page = "<!DOCTYPE html>\n<head>\n<title>t</title>\n</head>\n<body>x</body>\n";
        let now = inputs("aa");
        let s = stamp_text(page, 1, Syntax::Html, &now);
        assert!(s.starts_with(
            "<!DOCTYPE html>\n<head>\n<meta name=\"gpu-env-docs\" content=\"gpu-env "
        ));
        assert_eq!(check_text(s.as_bytes(), Syntax::Html, &now), Ok(()));
        assert_eq!(
            check_text(s.as_bytes(), Syntax::Html, &inputs("bb")),
            Err(Stale::Inputs(now.clone()))
        );
        let edited = s.replace("<body>x", "<body>y");
        assert_eq!(
            check_text(edited.as_bytes(), Syntax::Html, &now),
            Err(Stale::Edited)
        );
        assert_eq!(
            check_text(page.as_bytes(), Syntax::Html, &now),
            Err(Stale::NoStamp)
        );

        let cell = "# Generated by gpu-env (setup-cell) ...\n# line 2\nprint(1)\n";
        let c = stamp_text(cell, 0, Syntax::Python, &now);
        assert_eq!(
            c.lines().nth(1).unwrap().split(':').next(),
            Some("# gpu-env-docs")
        );
        assert_eq!(check_text(c.as_bytes(), Syntax::Python, &now), Ok(()));
        let edited = c.replace("print(1)", "print(2)");
        assert_eq!(
            check_text(edited.as_bytes(), Syntax::Python, &now),
            Err(Stale::Edited)
        );
    }

    /// A minimal PNG (signature, IHDR, IEND): the stamp chunk goes in
    /// before IEND, is found again, and a changed byte or other inputs are
    /// told apart.
    #[test]
    fn png_stamps() {
        let ihdr = [0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0];
        let mut crc = flate2::Crc::new();
        crc.update(b"IHDR");
        crc.update(&ihdr);
        let mut png = PNG_SIG.to_vec();
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc.sum().to_be_bytes());
        png.extend_from_slice(&[0, 0, 0, 0]);
        png.extend_from_slice(b"IEND");
        png.extend_from_slice(&[0xae, 0x42, 0x60, 0x82]);
        let now = inputs("aa");
        let s = stamp_png(&png, &now).expect("a whole PNG");
        assert!(png_is_stamped(&s) && !png_is_stamped(&png));
        assert_eq!(png_size(&s), Some((1, 1)));
        assert_eq!(png_size(b"x"), None);
        assert_eq!(check_png(&s, &now), Ok(()));
        assert_eq!(
            check_png(&s, &inputs("bb")),
            Err(Stale::Inputs(now.clone()))
        );
        assert_eq!(check_png(&png, &now), Err(Stale::NoStamp));
        let mut edited = s.clone();
        edited[PNG_SIG.len() + 8] ^= 1;
        assert_eq!(check_png(&edited, &now), Err(Stale::Edited));
        // The chunk's CRC is the one PNG readers check (IEND's is known).
        let chunks = png_chunks(&s).unwrap();
        assert_eq!(
            chunks.iter().map(|c| &c.2).collect::<Vec<_>>(),
            [b"IHDR", b"tEXt", b"IEND"]
        );
        assert_eq!(check_png(b"not a png", &now), Err(Stale::Edited));
        assert_eq!(stamp_png(&png[..20], &now), None);
    }
}
