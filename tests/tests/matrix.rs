//! The compatibility page (`gpu_env::matrix`): deterministic, small,
//! self-contained, current in docs/, and rendered by a real browser
//! (Debian's headless `chromium`) with the rows and columns compat-db gives.
//!
//! `GPU_ENV_UPDATE_DOCS=1 cargo test -p gpu-env-tests --test matrix`
//! rewrites docs/matrix.html and docs/matrix.png.

use gpu_env::db::Db;
use gpu_env::matrix::{self, browser, CodeKind};
use gpu_env::profile::{from_profile, TargetSpec};
use gpu_env::solve::{self, Constraints};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn db() -> Db {
    Db::embedded().expect("embedded compat-db")
}

fn update() -> bool {
    std::env::var_os("GPU_ENV_UPDATE_DOCS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Rows and columns the page must have, derived from the db alone.
struct Shape {
    wheels: usize,
    cuda_groups: usize,
    archs: usize,
    runtimes: usize,
    cuda_releases: usize,
    /// Runtime profiles the solver resolves (each has one chosen wheel).
    resolved: usize,
}

fn shape(db: &Db) -> Shape {
    let gpu: Vec<_> = db
        .wheel_files()
        .filter(|(_, w)| !w.placeholder && w.cuda.is_some())
        .map(|(_, w)| w)
        .collect();
    let resolved = db
        .runtimes
        .iter()
        .filter(|(_, r)| {
            let t = from_profile(db, &TargetSpec::parse(&r.name)).expect("profile target");
            solve::resolve(db, &t, &Constraints::default())
                .chosen
                .is_some()
        })
        .count();
    Shape {
        wheels: gpu.len(),
        cuda_groups: gpu.iter().map(|w| w.cuda).collect::<BTreeSet<_>>().len(),
        archs: db
            .gpus
            .iter()
            .map(|g| g.compute_capability)
            .collect::<BTreeSet<_>>()
            .len(),
        runtimes: db.runtimes.len(),
        cuda_releases: db.cuda.len(),
        resolved,
    }
}

/// The text of `<table id="ID" ...> ... </table>`.
fn table<'a>(html: &'a str, id: &str) -> &'a str {
    let open = format!("<table id=\"{id}\"");
    let start = html.find(&open).unwrap_or_else(|| panic!("no table {id}"));
    let end = html[start..].find("</table>").expect("table end") + start;
    &html[start..end]
}

fn count(s: &str, pat: &str) -> usize {
    s.matches(pat).count()
}

/// The first `<tr>...</tr>` of a table (its header row).
fn header_row(t: &str) -> &str {
    let start = t.find("<tr").expect("a row");
    let end = t[start..].find("</tr>").expect("row end") + start;
    &t[start..end]
}

/// Rows and columns of the three tables, as in `html` (the page or a DOM).
fn check_tables(html: &str, s: &Shape, what: &str) {
    for (id, cols) in [("gpu-code", s.archs), ("runtimes", s.runtimes)] {
        let t = table(html, id);
        assert_eq!(
            count(t, "<tr"),
            1 + s.cuda_groups + s.wheels,
            "{what}: table {id}: one header row, one row per CUDA group and per wheel"
        );
        assert_eq!(
            count(header_row(t), "<th"),
            1 + cols,
            "{what}: table {id}: header cells"
        );
        assert_eq!(
            count(t, "<td"),
            s.wheels * cols,
            "{what}: table {id}: one cell per wheel and column"
        );
    }
    let t = table(html, "drivers");
    assert_eq!(
        count(t, "<tr"),
        1 + s.cuda_releases,
        "{what}: drivers: a row per CUDA release"
    );
    let runs = table(html, "runtimes");
    assert_eq!(
        count(runs, ">★ "),
        s.resolved,
        "{what}: one chosen wheel per resolvable runtime"
    );
}

#[test]
fn deterministic_small_and_self_contained() {
    let db = db();
    let page = matrix::render(&db);
    assert_eq!(page, matrix::render(&db), "same db, same bytes");
    assert_eq!(
        page,
        matrix::render(&db.clone()),
        "same db (cloned), same bytes"
    );
    assert!(
        page.len() < matrix::MAX_BYTES,
        "page is {} bytes, limit {}",
        page.len(),
        matrix::MAX_BYTES
    );
    let lower = page.to_ascii_lowercase();
    for tag in [
        "<script", "<link", "<img", "<iframe", "<object", "<embed", "@import", "url(", " src=",
    ] {
        assert!(
            !lower.contains(tag),
            "the page must load nothing: found `{tag}`"
        );
    }
    let style_start = lower.find("<style>").expect("inline style");
    let style_end = lower.find("</style>").expect("style end");
    assert!(
        !lower[style_start..style_end].contains("http"),
        "no remote reference in the style"
    );
    check_tables(&page, &shape(&db), "generated page");
    // Every cell has a tooltip; every coloured state has a symbol.
    for id in ["gpu-code", "runtimes", "drivers"] {
        for td in table(&page, id).split("<td").skip(1) {
            let tag = &td[..td.find('>').expect("tag end")];
            assert!(
                tag.contains(" title=\""),
                "{id}: a cell without a tooltip: <td{tag}>"
            );
        }
    }
}

#[test]
fn gpu_code_cells_follow_the_solver_rule() {
    let db = db();
    let w = db
        .wheel_files()
        .find(|(r, _)| r.package == "mxnet-cu112" && r.version == "1.9.1")
        .map(|(_, w)| w)
        .expect("mxnet-cu112 1.9.1");
    let cc = |s: &str| s.parse().unwrap();
    assert_eq!(matrix::code_kind(w, cc("8.6")).0, CodeKind::Native);
    assert_eq!(matrix::code_kind(w, cc("7.5")).0, CodeKind::Compatible);
    assert_eq!(matrix::code_kind(w, cc("9.0")).0, CodeKind::NoCode);
    let jit = db
        .wheel_files()
        .find(|(_, w)| !w.ptx.is_empty() && !w.placeholder)
        .map(|(_, w)| w)
        .expect("a wheel with PTX");
    assert_eq!(matrix::code_kind(jit, cc("9.0")).0, CodeKind::Jit);
}

#[test]
fn committed_page_is_current() {
    let page = matrix::render(&db());
    let path = repo().join(matrix::DEFAULT_OUT);
    if update() {
        std::fs::write(&path, &page).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == page,
        "{} is stale: regenerate it with `cargo xtask matrix` (or GPU_ENV_UPDATE_DOCS=1 cargo test -p gpu-env-tests --test matrix)",
        matrix::DEFAULT_OUT
    );
}

fn chromium() -> PathBuf {
    browser::chromium().unwrap_or_else(|| {
        panic!(
            "chromium not found on PATH: the browser test needs Debian's headless chromium \
             (`apt-get update && apt-get install -y chromium`; .ci/run installs it, then runs \
             `cargo test -p gpu-env-tests --test matrix -- --ignored`)"
        )
    })
}

// README's set-up names no browser, so this test is opt-in; .ci/run
// installs Debian's chromium after README's test command and runs it.
#[test]
#[ignore = "needs Debian's headless chromium (apt-get install -y chromium): \
            cargo test -p gpu-env-tests --test matrix -- --ignored"]
fn renders_in_headless_chromium() {
    let chromium = chromium();
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("matrix.html");
    std::fs::write(&page, matrix::render(&db)).unwrap();

    let png = dir.path().join("matrix.png");
    browser::screenshot(&chromium, &page, &png).expect("screenshot");
    let bytes = std::fs::read(&png).unwrap();
    let s = browser::png_summary(&bytes).expect("decode the screenshot");
    assert_eq!((s.width, s.height), browser::WINDOW, "screenshot size");
    assert!(
        s.distinct >= 16,
        "screenshot looks blank: {} distinct pixel values",
        s.distinct
    );
    let share = s.not_background as f64 / (s.width as f64 * s.height as f64);
    assert!(
        share > 0.05,
        "screenshot looks blank: {:.1}% of pixels differ from the background",
        share * 100.0
    );

    let dom = browser::dump_dom(&chromium, &page).expect("dump the DOM");
    check_tables(&dom, &shape(&db), "chromium DOM");

    if update() {
        std::fs::copy(&png, repo().join("docs/matrix.png")).unwrap();
    }
}
