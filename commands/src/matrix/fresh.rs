//! Whether the files `cargo xtask matrix` writes into a directory (docs/)
//! are current, from their stamps ([`crate::stamp`]) alone: nothing is
//! generated, so `check` stays cheap. A directory without a gpu-env page
//! holds none of them (a repo that keeps no page).

use crate::generated::{self, Kind};
use crate::stamp::{self, Syntax};
use std::path::{Path, PathBuf};

/// The page's file name in its directory.
pub const PAGE: &str = "matrix.html";
/// The screenshot's file name in its directory.
pub const SCREENSHOT: &str = "matrix.png";

/// The setup cells a page links to (`cells/<runtime>-<gpu>.py`), in
/// order: the cells `matrix` wrote with it.
pub fn linked_cells(page: &str) -> Vec<String> {
    page.split("<a href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|href| {
            href.strip_prefix(&format!("{}/", super::chooser::CELLS_DIR))
                .is_some_and(|f| f.ends_with(".py") && !f.contains('/') && !f.starts_with('.'))
        })
        .fold(Vec::new(), |mut v, href| {
            if !v.iter().any(|h| h == href) {
                v.push(href.to_string());
            }
            v
        })
}

/// Each file under `dir` that is not what `cargo xtask matrix` would
/// write for `inputs` ([`stamp::inputs`]), with why; empty when all are
/// current or `dir` has no gpu-env page.
pub fn stale(dir: &Path, inputs: &str) -> Vec<(PathBuf, String)> {
    let page_path = dir.join(PAGE);
    let Ok(page) = crate::fsutil::read_text_bytes(&page_path) else {
        return Vec::new();
    };
    if page.is_empty() || !generated::may_replace(Kind::Matrix, &page) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut judge = |path: PathBuf, verdict: Option<Result<(), stamp::Stale>>| match verdict {
        None => out.push((path, "is missing".to_string())),
        Some(Err(e)) => out.push((path, e.to_string())),
        Some(Ok(())) => {}
    };
    judge(
        page_path,
        Some(stamp::check_text(&page, Syntax::Html, inputs)),
    );
    let png = dir.join(SCREENSHOT);
    let found = crate::fsutil::read_text_bytes(&png).ok();
    judge(png, found.map(|b| stamp::check_png(&b, inputs)));
    let cells = linked_cells(&String::from_utf8_lossy(&page));
    for c in &cells {
        let path = dir.join(c);
        let found = crate::fsutil::read_text_bytes(&path).ok();
        judge(
            path,
            found.map(|b| stamp::check_text(&b, Syntax::Python, inputs)),
        );
    }
    for path in unlinked_cells(dir, &cells) {
        out.push((
            path,
            "is no longer written (the page does not link it); `cargo xtask matrix` removes it"
                .into(),
        ));
    }
    out
}

/// Setup cells `matrix` wrote under `dir`'s cells directory that `cells`
/// (paths relative to `dir`) do not name, sorted.
pub fn unlinked_cells(dir: &Path, cells: &[String]) -> Vec<PathBuf> {
    let cells_dir = dir.join(super::chooser::CELLS_DIR);
    let Ok(entries) = std::fs::read_dir(&cells_dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .filter(|p| {
            let rel = p
                .strip_prefix(dir)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned();
            !cells.contains(&rel)
        })
        .filter(|p| {
            crate::fsutil::read_text_bytes(p).is_ok_and(|b| {
                generated::kind_of(&b) == Some(Kind::SetupCell)
                    && stamp::check_text(&b, Syntax::Python, "") != Err(stamp::Stale::NoStamp)
            })
        })
        .collect();
    out.sort();
    out
}
