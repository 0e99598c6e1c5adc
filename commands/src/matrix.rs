//! The compatibility page (`cargo xtask matrix`, default `docs/matrix.html`):
//! one self-contained HTML document generated from compat-db that answers
//! "which MXNet wheel runs on my GPU, on Colab today, and why not" at a
//! glance.
//!
//! - GPU code: every MXNet GPU wheel (grouped by CUDA) against every compute
//!   capability some GPU in `gpus.toml` has, by the solver's own rule
//!   ([`gpu_code::select`]): native SASS, SASS of the same major with a
//!   lower minor (binary compatibility), PTX JIT, or no code.
//! - Runtimes: every runtime profile (Colab by date, then Kaggle) on its
//!   default GPU against the wheels, by running the solver
//!   ([`solve::resolve`]): works, works with pip redistributables, or the
//!   first rule that rejects the wheel, with the solver's choice marked.
//! - The driver floor of each CUDA release, with its sources.
//!
//! The page opens with "which wheel for my GPU" ([`chooser`]): the
//! resolver's answer for a GPU on a Colab or Kaggle runtime or a machine of
//! one's own, with a ready setup cell (docs/cells/) for each runtime and
//! GPU; then its contents, then the tables.
//!
//! Every cell carries a tooltip (`title`) with the reason and the compat-db
//! record the fact comes from; every state has a symbol beside its colour.
//! The page is deterministic (same db, same bytes), loads no remote
//! resources, has one inline script (the chooser's lookup) and prints in
//! landscape. Every file carries a [`crate::stamp`] of its inputs and content.

pub mod browser;
pub mod chooser;
pub mod fresh;

use crate::db::model::{Gpu, Runtime, WheelFile, WheelRelease};
use crate::db::Db;
use crate::pep440;
use crate::profile::{from_profile, TargetSpec};
use crate::solve::gpu_code::{self, GpuCode};
use crate::solve::providers::Provider;
use crate::solve::{self, Choice, Constraints, Rule};
use crate::stamp;
use crate::versions::{ComputeCapability, CudaVersion};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Where `cargo xtask matrix` writes the page, its screenshot and the
/// setup cells, relative to the repo root.
pub const DEFAULT_DIR: &str = "docs";

/// The page in [`DEFAULT_DIR`].
pub const DEFAULT_OUT: &str = "docs/matrix.html";

/// The page must stay smaller than this (bytes). It grows with the wheels:
/// every MXNet GPU wheel from 1.0 on, cu75 included (196 wheels), renders to
/// 1.05 MB, so the bound is 1.5 MiB.
pub const MAX_BYTES: usize = 3 * 512 * 1024;

/// One MXNet GPU wheel (a row of both wheel tables).
struct Wheel<'a> {
    /// compat-db path of its record (`wheels/mxnet/mxnet-cu112-1.9.1.toml`).
    file: &'a str,
    rel: &'a WheelRelease,
    w: &'a WheelFile,
    cuda: CudaVersion,
}

impl Wheel<'_> {
    fn label(&self) -> String {
        format!("{} {}", self.rel.package, self.rel.version)
    }
    /// The record's file name (unique under compat-db/wheels/mxnet/).
    fn record(&self) -> &str {
        self.file.rsplit('/').next().unwrap_or(self.file)
    }
}

/// Every non-placeholder wheel built for CUDA: newest CUDA first, then
/// package, then newest version, then file name.
fn gpu_wheels(db: &Db) -> Vec<Wheel<'_>> {
    let mut v: Vec<Wheel> = db
        .wheels
        .iter()
        .flat_map(|(file, rel)| rel.wheel.iter().map(move |w| (file, rel, w)))
        .filter(|(_, _, w)| !w.placeholder)
        .filter_map(|(file, rel, w)| {
            Some(Wheel {
                file,
                rel,
                w,
                cuda: w.cuda?,
            })
        })
        .collect();
    v.sort_by_cached_key(|x| {
        (
            std::cmp::Reverse(x.cuda),
            x.rel.package.clone(),
            std::cmp::Reverse(pep440::version(&x.rel.version).ok()),
            x.rel.version.clone(),
            x.w.filename.clone(),
        )
    });
    v
}

/// Every compute capability a GPU in gpus.toml has, ascending, with its GPUs
/// in file order.
fn architectures(db: &Db) -> Vec<(ComputeCapability, Vec<&Gpu>)> {
    let mut m: BTreeMap<ComputeCapability, Vec<&Gpu>> = BTreeMap::new();
    for g in &db.gpus {
        m.entry(g.compute_capability).or_default().push(g);
    }
    m.into_iter().collect()
}

/// Runtime profiles: Colab first, then Kaggle, then any other kind; each by
/// date, then name.
fn runtimes(db: &Db) -> Vec<(&str, &Runtime)> {
    let mut v: Vec<(&str, &Runtime)> = db.runtimes.iter().map(|(f, r)| (f.as_str(), r)).collect();
    let kind_rank = |k: &str| match k {
        "colab" => 0,
        "kaggle" => 1,
        _ => 2,
    };
    v.sort_by(|(_, a), (_, b)| {
        (kind_rank(&a.kind), &a.kind, &a.date, &a.name).cmp(&(
            kind_rank(&b.kind),
            &b.kind,
            &b.date,
            &b.name,
        ))
    });
    v
}

/// How a wheel's GPU code meets one compute capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// SASS built for exactly this sm.
    Native,
    /// SASS of the same major with a lower minor (binary compatibility).
    Compatible,
    /// No usable SASS; the driver JIT-compiles PTX.
    Jit,
    /// Nothing the device can run.
    NoCode,
}

/// The solver's rule ([`gpu_code::select`]) for one wheel and device, with
/// exact SASS told apart from binary-compatible SASS.
pub fn code_kind(w: &WheelFile, cc: ComputeCapability) -> (CodeKind, Option<GpuCode>) {
    let code = gpu_code::select(&w.sass, &w.ptx, cc);
    let kind = match &code {
        Some(GpuCode::Sass { sm }) if *sm == cc.sm() => CodeKind::Native,
        Some(GpuCode::Sass { .. }) => CodeKind::Compatible,
        Some(GpuCode::Ptx { .. }) => CodeKind::Jit,
        None => CodeKind::NoCode,
    };
    (kind, code)
}

/// A wheel on a runtime profile, as the solver judged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunKind {
    /// Resolves with what the runtime has.
    Works,
    /// Resolves because pip CUDA redistributables provide some libraries.
    WorksWithPip,
    /// The first rule it breaks.
    Rejected(Rule),
    /// The runtime profile does not make a target (the reason says why).
    NoTarget,
}

struct RunCell {
    kind: RunKind,
    chosen: bool,
    reason: String,
    /// `package==version` of each pip CUDA redistributable it takes.
    pip: BTreeSet<String>,
}

/// One runtime column: its target's GPU and a cell per wheel filename.
struct RuntimeColumn {
    gpu: String,
    cells: BTreeMap<String, RunCell>,
}

fn pip_packages(c: &Choice) -> BTreeSet<String> {
    c.providers
        .values()
        .filter_map(|p| match p {
            Provider::Pip { package, version } => Some(format!("{package}=={version}")),
            _ => None,
        })
        .collect()
}

/// What made a choice work, in one sentence, and the pip redistributables
/// it takes (the page lists each set once, under the table).
fn works(c: &Choice) -> (RunKind, String, BTreeSet<String>) {
    let code = c
        .gpu_code
        .iter()
        .map(|d| format!("{} runs {}", d.device, d.code))
        .collect::<Vec<_>>()
        .join(", ");
    let pip = pip_packages(c);
    let kind = if pip.is_empty() {
        RunKind::Works
    } else {
        RunKind::WorksWithPip
    };
    let mut s = format!("works: {code}");
    if let Some(d) = &c.driver.min {
        let _ = write!(s, "; driver ≥ {d}");
    }
    let _ = write!(s, "; numpy {}", c.numpy.version);
    (kind, s, pip)
}

fn runtime_column(db: &Db, rt: &Runtime, wheels: &[Wheel]) -> RuntimeColumn {
    let target = match from_profile(db, &TargetSpec::parse(&rt.name)) {
        Ok(t) => t,
        Err(e) => {
            let cell = |_| RunCell {
                kind: RunKind::NoTarget,
                chosen: false,
                reason: format!("no target: {e}"),
                pip: BTreeSet::new(),
            };
            return RuntimeColumn {
                gpu: rt.default_gpu.clone(),
                cells: wheels
                    .iter()
                    .map(|w| (w.w.filename.clone(), cell(())))
                    .collect(),
            };
        }
    };
    let gpu = target
        .gpus
        .as_ref()
        .and_then(|g| g.value.first())
        .map(|g| g.name.clone())
        .unwrap_or_else(|| rt.default_gpu.clone());
    let res = solve::resolve(db, &target, &Constraints::default());
    let mut cells = BTreeMap::new();
    if let Some(c) = &res.chosen {
        let (kind, reason, pip) = works(c);
        cells.insert(
            c.wheel.filename.clone(),
            RunCell {
                kind,
                chosen: true,
                reason: format!("the solver's choice; {reason}"),
                pip,
            },
        );
    }
    for r in &res.rejected {
        // A wheel that works but ranks below the choice: resolve it alone
        // to learn how.
        if let (Rule::RankedLower, Some(best)) = (r.rule, &res.chosen) {
            let only = Constraints {
                mxnet: pep440::specifiers(&format!("=={}", r.version)).ok(),
                packages: Some(vec![r.package.clone()]),
                mxnet_package: None,
                companions: Vec::new(),
            };
            let alone = solve::resolve(db, &target, &only);
            if let Some(c) = alone
                .chosen
                .as_ref()
                .filter(|c| c.wheel.filename == r.filename)
            {
                let (kind, reason, pip) = works(c);
                cells.insert(
                    r.filename.clone(),
                    RunCell {
                        kind,
                        chosen: false,
                        reason: format!(
                            "{reason}; ranks below ★ {} {}",
                            best.package, best.version
                        ),
                        pip,
                    },
                );
                continue;
            }
        }
        cells.insert(
            r.filename.clone(),
            RunCell {
                kind: RunKind::Rejected(r.rule),
                chosen: false,
                reason: format!("rule {}: {}", Rule::name(r.rule), r.reason),
                pip: BTreeSet::new(),
            },
        );
    }
    RuntimeColumn { gpu, cells }
}

/// HTML-escape text for element content and double-quoted attributes.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(ch),
        }
    }
    o
}

fn link(url: &str) -> String {
    if url.starts_with("https://") || url.starts_with("http://") {
        format!("<a href=\"{0}\">{0}</a>", esc(url))
    } else {
        esc(url)
    }
}

fn sm_name(cc: ComputeCapability) -> String {
    format!("sm_{}", cc.sm())
}

const STYLE: &str = r#"
:root{color:#111;background:#fff;font:13px/1.35 "DejaVu Sans","Liberation Sans",Arial,Helvetica,sans-serif}
body{margin:16px 20px}
h1{font-size:20px;margin:0 0 4px}
h2{font-size:16px;margin:22px 0 4px}
p{margin:4px 0;max-width:1100px}
code{font:12px "DejaVu Sans Mono","Liberation Mono",monospace}
table{border-collapse:collapse;margin:6px 0}
th,td{border:1px solid #bbb;padding:2px 5px;text-align:center;white-space:nowrap}
thead th{background:#eef1f4;vertical-align:bottom;font-weight:600}
thead th small{display:block;font-weight:400;white-space:normal;max-width:104px;margin:0 auto;color:#333}
th[scope=row]{text-align:left;font-weight:400;background:#fafafa}
tr.group th{text-align:left;background:#dde3ea;font-weight:600}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:6px 0;padding:0;list-style:none}
.legend li span{display:inline-block;min-width:2.2em;border:1px solid #bbb;text-align:center;margin-right:4px}
.n{background:#1f7a3a;color:#fff}
.c{background:#9fd8a8}
.j{background:#f6d36b}
.x{background:#f2f2f2;color:#666}
.w{background:#9fd8a8}
.p{background:#a9cdf0}
.r{background:#f4c2bd}
.q{background:#f2f2f2;color:#666}
td.k{outline:3px solid #111;outline-offset:-3px;font-weight:700}
.src{font-size:12px}
form#chooser{display:flex;flex-wrap:wrap;gap:6px 16px;margin:8px 0}
form#chooser select{font:inherit;max-width:420px}
.answer{border:2px solid #1f7a3a;border-radius:4px;padding:4px 12px;max-width:1100px;min-height:3em}
.answer p.yes{font-size:15px}
.answer p.no{font-size:15px;color:#8a1c12}
.answer ul{margin:2px 0;padding-left:20px}
ul.cells{padding-left:20px}
nav ol{columns:2;max-width:700px}
.src td,.src th{text-align:left;white-space:normal}
@media print{
 @page{size:landscape;margin:10mm}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 body{margin:0;font-size:9px}
 table{page-break-inside:auto}
 tr{page-break-inside:avoid}
 thead{display:table-header-group}
 a{color:inherit;text-decoration:none}
}
"#;

/// What `cargo xtask matrix` writes into its directory (docs/): the page
/// and the setup cells, each path relative to that directory, each
/// stamped. Deterministic: the same db gives the same bytes.
pub struct Docs {
    pub page: String,
    pub cells: Vec<(String, String)>,
}

/// The line of the page's head after which its stamp goes (the marker's).
const PAGE_STAMP_AFTER: usize = 5;

/// Every docs file from `db` (whose hash is `db_hash`).
pub fn generate(db: &Db, db_hash: &str) -> Docs {
    let inputs = stamp::inputs(db_hash);
    let rts = runtimes(db);
    let ch = chooser::build(db, db_hash, &rts);
    let page = render_page(db, &rts, &ch);
    let cells = ch
        .cells
        .iter()
        .map(|c| {
            let text = stamp::stamp_text(&c.text, 0, stamp::Syntax::Python, &inputs);
            (c.file.clone(), text)
        })
        .collect();
    Docs {
        page: stamp::stamp_text(&page, PAGE_STAMP_AFTER, stamp::Syntax::Html, &inputs),
        cells,
    }
}

/// The page's screenshot (the top [`browser::WINDOW`]) by headless
/// Chromium, stamped with the page's inputs.
pub fn screenshot(
    chromium: &std::path::Path,
    page: &str,
    db_hash: &str,
) -> Result<Vec<u8>, browser::BrowserError> {
    let dir = crate::fsutil::TempDir::new("gpu-env-screenshot-")?;
    let html = dir.path().join(fresh::PAGE);
    let png = dir.path().join(fresh::SCREENSHOT);
    std::fs::write(&html, page)?;
    browser::screenshot(chromium, &html, &png)?;
    let bytes = std::fs::read(&png)?;
    stamp::stamp_png(&bytes, &stamp::inputs(db_hash)).ok_or(browser::BrowserError::NoScreenshot {
        chromium: chromium.to_path_buf(),
        png,
    })
}

/// The page alone ([`generate`]).
pub fn render(db: &Db, db_hash: &str) -> String {
    generate(db, db_hash).page
}

/// The whole page, before its stamp.
fn render_page(db: &Db, rts: &[(&str, &Runtime)], ch: &chooser::Chooser) -> String {
    let wheels = gpu_wheels(db);
    let archs = architectures(db);
    let columns: Vec<RuntimeColumn> = rts
        .iter()
        .map(|(_, r)| runtime_column(db, r, &wheels))
        .collect();
    let default_gpu = crate::profile::newest(db, "colab")
        .and_then(|rt| db.gpu(&rt.default_gpu))
        .map(|g| g.name.clone())
        .unwrap_or_default();

    let mut h = String::with_capacity(256 * 1024);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str(crate::generated::MATRIX_MARKER);
    h.push('\n');
    h.push_str("<title>gpu-env: which MXNet GPU wheel runs where</title>\n<style>");
    h.push_str(STYLE);
    h.push_str("</style>\n</head>\n<body>\n");
    h.push_str("<h1>Which MXNet GPU wheel runs where</h1>\n");
    let _ = writeln!(
        h,
        "<p>Generated by <code>cargo xtask matrix</code> from compat-db: {} MXNet GPU wheels \
         (placeholders left out), {} GPU architectures from <code>gpus.toml</code>, {} runtime \
         profiles. The same rules the resolver uses; hover over any cell for the reason and the \
         record the fact comes from (sources at the end).</p>",
        wheels.len(),
        archs.len(),
        rts.len()
    );
    chooser::render(&mut h, ch, &default_gpu);
    contents(&mut h);
    legend(&mut h);
    gpu_code_table(&mut h, &wheels, &archs, db);
    runtime_table(&mut h, &wheels, rts, &columns, db);
    driver_table(&mut h, &wheels, db);
    sources(&mut h, &archs, rts, &wheels);
    h.push_str("</body>\n</html>\n");
    h
}

/// The page's contents, each entry a link to its section.
fn contents(h: &mut String) {
    h.push_str("<nav id=\"contents\">\n<h2>Contents</h2>\n<ol>\n");
    for (id, text) in [
        ("which-wheel", "Which wheel for my GPU"),
        ("cells", "Ready setup cells"),
        ("legend-title", "Legend"),
        ("gpu-code-title", "GPU code: wheels × GPU architectures"),
        ("runtimes-title", "Runtimes: wheels × runtime profiles"),
        ("drivers-title", "Driver floor of each CUDA release"),
        ("sources", "Sources"),
    ] {
        let _ = writeln!(h, "<li><a href=\"#{id}\">{}</a></li>", esc(text));
    }
    h.push_str("</ol>\n</nav>\n");
}

fn legend(h: &mut String) {
    h.push_str("<h2 id=\"legend-title\">Legend</h2>\n<ul class=\"legend\" id=\"legend\">\n");
    for (class, sym, text) in [
        ("n", "●", "native SASS: machine code for exactly this sm"),
        (
            "c",
            "◐",
            "SASS of the same major, lower minor: runs by binary compatibility",
        ),
        (
            "j",
            "◇",
            "PTX only: the driver JIT-compiles it (slow first start; driver at least the wheel's CUDA)",
        ),
        ("x", "✗", "no code this GPU can run"),
    ] {
        let _ = writeln!(
            h,
            "<li><span class=\"{class}\">{sym}</span>{}</li>",
            esc(text)
        );
    }
    h.push_str("</ul>\n<ul class=\"legend\">\n");
    for (class, sym, text) in [
        ("w", "✓", "works with what the runtime has"),
        ("p", "✓+", "works with pip CUDA redistributables (installed by the lock)"),
        ("r", "✗", "rejected: the first rule it breaks (python, numpy, soname, cudnn, driver, gpu_code, ...)"),
        ("w k", "★", "the wheel the resolver chooses for that runtime"),
    ] {
        let _ = writeln!(
            h,
            "<li><span class=\"{class}\">{sym}</span>{}</li>",
            esc(text)
        );
    }
    h.push_str("</ul>\n");
}

fn wheel_row_header(w: &Wheel) -> String {
    let p = &w.w.provenance;
    let mut t = format!(
        "{} (CUDA {}): SASS {}; PTX {}. Record compat-db/{}, measured from the wheel's libmxnet.so",
        w.w.filename,
        w.cuda,
        gpu_code::list("sm", &w.w.sass),
        gpu_code::list("compute", &w.w.ptx),
        w.file
    );
    if let Some(sha) = &p.library_sha256 {
        let _ = write!(t, " (sha256 {sha})");
    }
    let _ = write!(t, "; file checked against {}", p.source);
    format!(
        "<th scope=\"row\" title=\"{}\">{}</th>",
        esc(&t),
        esc(&w.label())
    )
}

/// `CUDA 11.2` group rows: the CUDA release and its driver floor.
fn groups<'a, 'b>(wheels: &'b [Wheel<'a>]) -> Vec<(CudaVersion, &'b [Wheel<'a>])> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=wheels.len() {
        if i == wheels.len() || wheels[i].cuda != wheels[start].cuda {
            out.push((wheels[start].cuda, &wheels[start..i]));
            start = i;
        }
    }
    out
}

fn group_row(h: &mut String, db: &Db, cuda: CudaVersion, n: usize, colspan: usize) {
    let floor = match db.cuda(cuda) {
        Some(c) => match &c.minor_compat_driver_min {
            Some(m) => format!(
                "driver ≥ {} (≥ {m} with minor-version compatibility)",
                c.driver_min
            ),
            None => format!("driver ≥ {}", c.driver_min),
        },
        None => "not in cuda.toml".into(),
    };
    let _ = writeln!(
        h,
        "<tr class=\"group\"><th colspan=\"{colspan}\" scope=\"rowgroup\">CUDA {cuda} · {n} wheel{} · {}</th></tr>",
        if n == 1 { "" } else { "s" },
        esc(&floor)
    );
}

fn gpu_code_table(
    h: &mut String,
    wheels: &[Wheel],
    archs: &[(ComputeCapability, Vec<&Gpu>)],
    db: &Db,
) {
    h.push_str("<h2 id=\"gpu-code-title\">GPU code: wheels × GPU architectures</h2>\n");
    h.push_str("<p>Rows: MXNet GPU wheels by CUDA release. Columns: every compute capability of a GPU in <code>compat-db/gpus.toml</code>. A cell shows the code the CUDA runtime picks on that GPU (the resolver's <code>gpu_code::select</code>) and its sm; its tooltip gives the reason and the wheel record the code was measured into (row header: the measured facts; column header: the GPUs).</p>\n");
    h.push_str("<table id=\"gpu-code\">\n<thead>\n<tr><th scope=\"col\">wheel</th>");
    for (cc, gpus) in archs {
        let names: Vec<&str> = gpus.iter().map(|g| g.name.as_str()).collect();
        let title = format!(
            "compute capability {cc}: {} (compat-db/gpus.toml)",
            names.join(", ")
        );
        let _ = write!(
            h,
            "<th scope=\"col\" title=\"{}\">{}<small>{}</small></th>",
            esc(&title),
            sm_name(*cc),
            esc(&short_names(gpus))
        );
    }
    h.push_str("</tr>\n</thead>\n");
    for (cuda, ws) in groups(wheels) {
        h.push_str("<tbody>\n");
        group_row(h, db, cuda, ws.len(), archs.len() + 1);
        for w in ws {
            h.push_str("<tr>");
            h.push_str(&wheel_row_header(w));
            for (cc, _) in archs {
                let (kind, code) = code_kind(w.w, *cc);
                let sm = cc.sm();
                let (class, text, why) = match (kind, code) {
                    (CodeKind::Native, _) => {
                        ("n", format!("● {sm}"), format!("native SASS sm_{sm}"))
                    }
                    (CodeKind::Compatible, Some(GpuCode::Sass { sm: s })) => (
                        "c",
                        format!("◐ {s}"),
                        format!(
                            "SASS sm_{s} by binary compatibility ({}.{} ≤ {cc})",
                            cc.major,
                            s % 10
                        ),
                    ),
                    (CodeKind::Jit, Some(GpuCode::Ptx { compute })) => (
                        "j",
                        format!("◇ {compute}"),
                        format!(
                            "no SASS for {}.x; the driver JIT-compiles PTX compute_{compute}",
                            cc.major
                        ),
                    ),
                    _ => (
                        "x",
                        "✗".to_string(),
                        format!("no SASS {}.0 to {cc}, no PTX ≤ compute_{sm}", cc.major),
                    ),
                };
                let title = format!("{why}. src: {}", w.record());
                let _ = write!(
                    h,
                    "<td class=\"{class}\" title=\"{}\">{text}</td>",
                    esc(&title)
                );
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody>\n");
    }
    h.push_str("</table>\n");
}

/// Up to three GPU names of an architecture for a column header.
fn short_names(gpus: &[&Gpu]) -> String {
    let names: Vec<String> = gpus
        .iter()
        .map(|g| {
            g.aliases
                .iter()
                .min_by_key(|a| a.len())
                .filter(|a| a.len() < g.name.len())
                .cloned()
                .unwrap_or_else(|| {
                    g.name
                        .trim_start_matches("NVIDIA ")
                        .trim_start_matches("Tesla ")
                        .to_string()
                })
        })
        .collect();
    if names.len() > 3 {
        format!("{} +{}", names[..3].join(", "), names.len() - 3)
    } else {
        names.join(", ")
    }
}

/// A wheel's row header in the runtime table: file and record (the GPU
/// code table's row header has the measured facts).
fn short_row_header(w: &Wheel) -> String {
    format!(
        "<th scope=\"row\" title=\"{} (CUDA {}); compat-db/{}\">{}</th>",
        esc(&w.w.filename),
        w.cuda,
        esc(w.file),
        esc(&w.label())
    )
}

fn runtime_table(
    h: &mut String,
    wheels: &[Wheel],
    rts: &[(&str, &Runtime)],
    columns: &[RuntimeColumn],
    db: &Db,
) {
    h.push_str("<h2 id=\"runtimes-title\">Runtimes: wheels × runtime profiles</h2>\n");
    h.push_str("<p>Each runtime profile in <code>compat-db/runtimes</code> on its default GPU, resolved by the solver with no constraints: whether a wheel works as the runtime is, works once the lock adds pip CUDA redistributables, or the first rule that rejects it. ★ marks the wheel the solver chooses; the others that work rank below it (final over pre-release, newest release, SASS over PTX, fewest bytes, newest CUDA). A cell's tooltip gives the solver's reason and the runtime and wheel records it judged.</p>\n");
    h.push_str("<table id=\"runtimes\">\n<thead>\n<tr><th scope=\"col\">wheel</th>");
    for ((file, rt), col) in rts.iter().zip(columns) {
        let title = format!(
            "{}: {} {} on {}; Python {}; CUDA toolkit {}; driver {}; cuDNN {}; numpy {}. Record compat-db/{file}; sources: {}",
            rt.name,
            rt.kind,
            rt.date,
            col.gpu,
            rt.python,
            opt(rt.cuda_toolkit.map(|c| c.to_string())),
            opt(rt.driver.as_ref().map(|d| d.to_string())),
            opt(rt.cudnn.clone()),
            opt(rt.numpy.clone()),
            rt.source.join(" ")
        );
        let short_py: String = rt
            .python
            .splitn(3, '.')
            .take(2)
            .collect::<Vec<_>>()
            .join(".");
        let _ = write!(
            h,
            "<th scope=\"col\" title=\"{}\">{}<small>{} · {}<br>CUDA {} · py{}<br>driver {}</small></th>",
            esc(&title),
            esc(&rt.name),
            esc(&rt.date),
            esc(&rt.default_gpu),
            opt(rt.cuda_toolkit.map(|c| c.to_string())),
            esc(&short_py),
            esc(&opt(rt.driver.as_ref().map(|d| d.to_string())))
        );
    }
    h.push_str("</tr>\n</thead>\n");
    // Each distinct set of pip redistributables once, numbered in order of
    // first appearance (rows top to bottom, columns left to right).
    let mut pip_sets: Vec<&BTreeSet<String>> = Vec::new();
    for (cuda, ws) in groups(wheels) {
        h.push_str("<tbody>\n");
        group_row(h, db, cuda, ws.len(), rts.len() + 1);
        for w in ws {
            h.push_str("<tr>");
            h.push_str(&short_row_header(w));
            for ((file, rt), col) in rts.iter().zip(columns) {
                let record = file.rsplit('/').next().unwrap_or(file);
                let Some(c) = col.cells.get(&w.w.filename) else {
                    let _ = write!(
                        h,
                        "<td class=\"q\" title=\"{}\">?</td>",
                        esc(&format!(
                            "{} on {}: the solver did not consider this wheel. src: {record}, {}",
                            w.label(),
                            rt.name,
                            w.record()
                        ))
                    );
                    continue;
                };
                let (class, text) = match &c.kind {
                    RunKind::Works => ("w", "✓".to_string()),
                    RunKind::WorksWithPip => ("p", "✓+ pip".to_string()),
                    RunKind::Rejected(r) => ("r", format!("✗ {}", Rule::name(*r))),
                    RunKind::NoTarget => ("q", "?".to_string()),
                };
                let (class, text) = if c.chosen {
                    (format!("{class} k"), format!("★ {text}"))
                } else {
                    (class.to_string(), text)
                };
                let mut reason = c.reason.clone();
                if !c.pip.is_empty() {
                    let n = match pip_sets.iter().position(|p| *p == &c.pip) {
                        Some(i) => i + 1,
                        None => {
                            pip_sets.push(&c.pip);
                            pip_sets.len()
                        }
                    };
                    let _ = write!(
                        reason,
                        "; CUDA libraries from pip set P{n} (under the table)"
                    );
                }
                let title = format!("{}: {reason}. src: {record}, {}", col.gpu, w.record());
                let _ = write!(
                    h,
                    "<td class=\"{class}\" title=\"{}\">{}</td>",
                    esc(&title),
                    esc(&text)
                );
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody>\n");
    }
    h.push_str("</table>\n");
    if !pip_sets.is_empty() {
        h.push_str("<ul class=\"src\" id=\"pip-sets\">\n");
        for (i, p) in pip_sets.iter().enumerate() {
            let _ = writeln!(
                h,
                "<li>P{}: {} (compat-db/redist)</li>",
                i + 1,
                esc(&p.iter().cloned().collect::<Vec<_>>().join(", "))
            );
        }
        h.push_str("</ul>\n");
    }
}

fn opt(s: Option<String>) -> String {
    s.unwrap_or_else(|| "unknown".into())
}

fn driver_table(h: &mut String, wheels: &[Wheel], db: &Db) {
    h.push_str("<h2 id=\"drivers-title\">Driver floor of each CUDA release</h2>\n");
    h.push_str("<p>From <code>compat-db/cuda.toml</code>: the driver a release needs (toolkit GA driver, Linux x86_64), and the lower floor where the release has minor-version compatibility (a CUDA 11.x/12.x wheel runs on any driver of its major's floor, except PTX JIT, which needs the release's own driver). Sources are numbered under the table.</p>\n");
    h.push_str("<table id=\"drivers\" class=\"src\">\n<thead>\n<tr><th scope=\"col\">CUDA</th><th scope=\"col\">driver ≥</th><th scope=\"col\">with minor-version compatibility ≥</th><th scope=\"col\">GPU wheels</th><th scope=\"col\">sources</th></tr>\n</thead>\n<tbody>\n");
    let mut cudas: Vec<_> = db.cuda.iter().collect();
    cudas.sort_by_key(|c| c.version);
    // Each source URL once, numbered in order of first appearance.
    let mut urls: Vec<&str> = Vec::new();
    for c in cudas {
        let n = wheels.iter().filter(|w| w.cuda == c.version).count();
        let minor = match &c.minor_compat_driver_min {
            Some(m) => m.to_string(),
            None => "—".into(),
        };
        let refs: Vec<usize> = c
            .source
            .iter()
            .map(|u| match urls.iter().position(|x| x == u) {
                Some(i) => i + 1,
                None => {
                    urls.push(u);
                    urls.len()
                }
            })
            .collect();
        let marks = refs
            .iter()
            .map(|i| format!("[{i}]"))
            .collect::<Vec<_>>()
            .join("");
        let title = format!("compat-db/cuda.toml, CUDA {}; sources {marks}", c.version);
        let _ = writeln!(
            h,
            "<tr><th scope=\"row\" title=\"{t}\">{}</th><td title=\"{t}\">{}</td><td title=\"{t}\">{}</td><td title=\"{t}\">{n}</td><td title=\"{t}\">{}</td></tr>",
            c.version,
            esc(&c.driver_min.to_string()),
            esc(&minor),
            refs.iter()
                .map(|i| format!("<a href=\"#cuda-src-{i}\">[{i}]</a>"))
                .collect::<Vec<_>>()
                .join(" "),
            t = esc(&title)
        );
    }
    h.push_str("</tbody>\n</table>\n<ol class=\"src\" id=\"cuda-sources\">\n");
    for (i, u) in urls.iter().enumerate() {
        let _ = writeln!(h, "<li id=\"cuda-src-{}\">{}</li>", i + 1, link(u));
    }
    h.push_str("</ol>\n");
}

fn sources(
    h: &mut String,
    archs: &[(ComputeCapability, Vec<&Gpu>)],
    rts: &[(&str, &Runtime)],
    wheels: &[Wheel],
) {
    h.push_str("<h2 id=\"sources\">Sources</h2>\n");
    h.push_str("<p>Wheel facts (SASS, PTX, needed libraries) are measured by <code>cargo xtask db ingest</code> from each wheel's <code>mxnet/libmxnet.so</code>; the wheel's file is checked against PyPI's JSON. Each wheel row's tooltip names its record and library sha256.</p>\n");
    let measured: BTreeSet<&str> = wheels
        .iter()
        .map(|w| w.w.provenance.measured.as_str())
        .collect();
    for m in measured {
        let _ = writeln!(h, "<p class=\"src\">How: {}</p>", esc(m));
    }
    h.push_str("<table class=\"src\" id=\"gpu-sources\">\n<thead><tr><th scope=\"col\">architecture</th><th scope=\"col\">GPUs (compat-db/gpus.toml)</th><th scope=\"col\">sources</th></tr></thead>\n<tbody>\n");
    for (cc, gpus) in archs {
        let names: Vec<&str> = gpus.iter().map(|g| g.name.as_str()).collect();
        let srcs: BTreeSet<&str> = gpus
            .iter()
            .flat_map(|g| g.source.iter().map(|s| s.as_str()))
            .collect();
        let _ = writeln!(
            h,
            "<tr><th scope=\"row\">{} ({cc})</th><td>{}</td><td>{}</td></tr>",
            sm_name(*cc),
            esc(&names.join(", ")),
            srcs.iter()
                .map(|s| link(s))
                .collect::<Vec<_>>()
                .join("<br>")
        );
    }
    h.push_str("</tbody>\n</table>\n");
    h.push_str("<table class=\"src\" id=\"runtime-sources\">\n<thead><tr><th scope=\"col\">runtime profile</th><th scope=\"col\">record</th><th scope=\"col\">sources</th></tr></thead>\n<tbody>\n");
    for (file, rt) in rts {
        let _ = writeln!(
            h,
            "<tr><th scope=\"row\">{}</th><td>compat-db/{}</td><td>{}</td></tr>",
            esc(&rt.name),
            esc(file),
            rt.source
                .iter()
                .map(|s| link(s))
                .collect::<Vec<_>>()
                .join("<br>")
        );
    }
    h.push_str("</tbody>\n</table>\n");
}
