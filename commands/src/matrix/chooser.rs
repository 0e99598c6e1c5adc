//! "Which wheel for my GPU": the resolver's answer for every GPU of
//! `gpus.toml` on every place a reader may run MXNet: each Colab and Kaggle
//! runtime profile (with the setup cell of each GPU it offers, written
//! under docs/cells/ by the code that writes `colab/setup_cell.py`), and a
//! machine of one's own by driver and Python. Everything is decided here,
//! when the page is generated, and embedded in the page as data: the page's
//! script only looks an answer up by the reader's choices.

use super::esc;
use crate::db::model::Runtime;
use crate::db::Db;
use crate::job::{self, Request};
use crate::profile::{from_profile, TargetSpec};
use crate::solve::{self, Choice, Constraints, Resolution, Rule};
use crate::target::{Overrides, Sourced};
use crate::versions::{ComputeCapability, DriverVersion};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Where a docs setup cell goes, relative to the page's directory.
pub const CELLS_DIR: &str = "cells";

/// One runtime profile as a place: its answer for each GPU it offers.
pub struct RuntimePlace<'a> {
    pub rt: &'a Runtime,
    /// The answer shown for a GPU the runtime does not offer.
    pub absent: usize,
    /// GPU name (as gpus.toml names it) -> answer.
    pub offers: BTreeMap<String, usize>,
}

/// A setup cell for one runtime and GPU: its file under the page's
/// directory, the target spec it was locked for, and its text.
pub struct Cell {
    pub file: String,
    pub runtime: String,
    pub gpu: String,
    pub spec: String,
    pub text: String,
}

/// A driver option of one's own machine: the drivers from `floor` on (to
/// the next option's floor), named by the CUDA releases that set it.
pub struct DriverOption {
    pub floor: DriverVersion,
    pub label: String,
}

pub struct Chooser<'a> {
    /// Every GPU of gpus.toml, in file order.
    pub gpus: Vec<(String, ComputeCapability)>,
    pub runtimes: Vec<RuntimePlace<'a>>,
    pub drivers: Vec<DriverOption>,
    /// The Python MAJOR.MINOR of one's own machine: the newest Colab
    /// runtime's.
    pub python: String,
    /// [driver]: compute capability -> answer.
    pub local: Vec<BTreeMap<ComputeCapability, usize>>,
    /// Each distinct answer once, as HTML.
    pub answers: Vec<String>,
    pub cells: Vec<Cell>,
}

/// Distinct answers, numbered in order of first appearance.
#[derive(Default)]
pub(super) struct Answers {
    list: Vec<String>,
    index: BTreeMap<String, usize>,
}

impl Answers {
    fn add(&mut self, html: String) -> usize {
        if let Some(i) = self.index.get(&html) {
            return *i;
        }
        self.list.push(html.clone());
        self.index.insert(html, self.list.len() - 1);
        self.list.len() - 1
    }
}

/// A file name part from a GPU name: `RTX PRO 6000 Blackwell` ->
/// `RTX-PRO-6000-Blackwell`.
fn slug(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric() && c != '.')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// The spec a user types for a runtime and GPU: `colab:T4@2026.08`.
pub fn spec(rt: &Runtime, gpu: &str) -> String {
    let date = rt
        .name
        .strip_prefix(&format!("{}-", rt.kind))
        .unwrap_or(&rt.name);
    format!("{}:{gpu}@{date}", rt.kind)
}

/// What the resolver chose, in a few lines (no GPU name: local answers
/// are shared by the GPUs of one compute capability).
fn chosen_html(c: &Choice) -> String {
    let mut h = format!(
        "<p class=\"yes\">✓ <b>{} {}</b> (CUDA {}) <code>{}</code></p><ul>",
        esc(&c.package),
        esc(&c.version),
        c.wheel
            .cuda
            .map_or_else(|| "none".into(), |v| v.to_string()),
        esc(&c.wheel.filename)
    );
    for d in &c.gpu_code {
        let _ = write!(
            h,
            "<li>GPU code: {} on compute capability {}</li>",
            d.code, d.compute_capability
        );
    }
    let _ = write!(h, "<li>driver: {}</li>", esc(&c.driver.why));
    let shims = c.numpy.shims.len();
    let _ = write!(
        h,
        "<li>numpy {}{}{}</li>",
        esc(&c.numpy.version),
        if c.numpy.file.is_none() {
            " (already installed)"
        } else {
            ""
        },
        if shims > 0 {
            format!(", with {shims} shim(s) the setup applies")
        } else {
            String::new()
        }
    );
    let pip = c
        .packages
        .iter()
        .filter(|p| p.role == "cuda-redist")
        .count();
    let bytes: u64 = c.packages.iter().map(|p| p.size).sum();
    let _ = write!(
        h,
        "<li>{} file(s) to install, {}{}</li></ul>",
        c.packages.len(),
        crate::progress::bytes(bytes),
        if pip > 0 {
            format!(", {pip} of them CUDA libraries from pip")
        } else {
            String::new()
        }
    );
    h
}

/// No wheel fits: how many candidates break which rule first, and what
/// the best-ranked candidate breaks.
fn unsatisfiable_html(r: &Resolution) -> String {
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for x in &r.rejected {
        *by_rule.entry(Rule::name(x.rule)).or_default() += 1;
    }
    let counts: Vec<String> = by_rule.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let mut h = format!(
        "<p class=\"no\">✗ No MXNet GPU wheel fits.</p><p>{} candidates rejected by their first broken rule: {}.",
        r.rejected.len(),
        esc(&counts.join(", "))
    );
    // The candidate closest to fitting: a GPU build that breaks the
    // fewest rules, first in the resolver's order.
    let nearest = r
        .rejected
        .iter()
        .filter(|x| !matches!(x.rule, Rule::Device | Rule::Placeholder))
        .min_by_key(|x| x.rules.len());
    if let Some(x) = nearest {
        let _ = write!(
            h,
            " Nearest: {} {}: {}",
            esc(&x.package),
            esc(&x.version),
            esc(&x.reason)
        );
    }
    h.push_str("</p>");
    h
}

fn resolution_html(r: &Resolution) -> String {
    match &r.chosen {
        Some(c) => chosen_html(c),
        None => unsatisfiable_html(r),
    }
}

/// The cell of one runtime and GPU, when the target resolves: locked by
/// the main job ([`job::run`]) and rendered by [`crate::emit`].
fn runtime_cell(
    db: &Db,
    db_hash: &str,
    rt: &Runtime,
    gpu: &str,
) -> Result<(Resolution, Cell), String> {
    let spec = spec(rt, gpu);
    // Asked without the fix search first: only a target that resolves is
    // locked.
    let t = from_profile(db, &TargetSpec::parse(&spec)).map_err(|e| esc(&e.to_string()))?;
    let quick = solve::resolve_unexplained(db, &t, &Constraints::default());
    if quick.chosen.is_none() {
        return Err(unsatisfiable_html(&quick));
    }
    let req = Request {
        targets: vec![spec.clone()],
        ..Default::default()
    };
    let failed = |e: String| format!("<p class=\"no\">✗ {}</p>", esc(&e));
    let outcome = job::run(db, db_hash, &req).map_err(|e| failed(e.to_string()))?;
    let res = outcome.results.into_iter().next().map(|r| r.1);
    let (Some(res), Some(lock)) = (res, outcome.lock) else {
        return Err(failed(format!("{spec} did not lock")));
    };
    let text = crate::emit::render_docs_cell(db, &lock).map_err(|e| failed(e.to_string()))?;
    let file = format!("{CELLS_DIR}/{}-{}.py", rt.name, slug(gpu));
    Ok((
        res,
        Cell {
            file,
            runtime: rt.name.clone(),
            gpu: gpu.to_string(),
            spec,
            text,
        },
    ))
}

pub(super) fn runtime_place<'a>(
    db: &Db,
    db_hash: &str,
    rt: &'a Runtime,
    answers: &mut Answers,
    cells: &mut Vec<Cell>,
) -> RuntimePlace<'a> {
    let place = format!("{} {}", title(&rt.kind), rt.date);
    let absent = answers.add(format!(
        "<p class=\"no\">✗ {} offers {} (compat-db/runtimes/{}.toml), not this GPU. Choose one of those, or “your own machine”.</p>",
        esc(&place),
        esc(&rt.gpus.join(", ")),
        esc(&rt.name)
    ));
    let mut offers = BTreeMap::new();
    for gpu in &rt.gpus {
        let Some(g) = db.gpu(gpu) else { continue };
        let html = match runtime_cell(db, db_hash, rt, gpu) {
            Ok((res, cell)) => {
                let h = format!(
                    "{}<p>Setup cell: <a href=\"{f}\">docs/{f}</a>: paste it into the first cell of a {} notebook with GPU {}, and run it. The same lock: <code>cargo xtask resolve --target &quot;{}&quot;</code>.</p>",
                    resolution_html(&res),
                    esc(&title(&rt.kind)),
                    esc(gpu),
                    esc(&cell.spec),
                    f = esc(&cell.file),
                );
                cells.push(cell);
                h
            }
            Err(html) => html,
        };
        offers.insert(g.name.clone(), answers.add(html));
    }
    RuntimePlace { rt, absent, offers }
}

fn title(kind: &str) -> String {
    match kind {
        "colab" => "Colab".into(),
        "kaggle" => "Kaggle".into(),
        k => k.to_string(),
    }
}

/// A machine of one's own, as `resolve --target local --gpu sm_XY
/// --driver D --python-version P` sees it where the probe finds nothing
/// else (no CUDA toolkit, no cuDNN: pip provides the CUDA libraries).
pub(super) fn local_resolution(
    db: &Db,
    cc: ComputeCapability,
    driver: &DriverVersion,
    py: &str,
) -> Resolution {
    let mut t = crate::probe::ProbeReport::empty().to_target(db);
    let src = "the compatibility page";
    let o = Overrides {
        gpus: vec![Sourced::new(format!("sm_{}", cc.sm()), src)],
        driver: Some(Sourced::new(driver.to_string(), src)),
        python: Some(Sourced::new(py.to_string(), src)),
        ..Default::default()
    };
    if let Err(e) = t.apply(db, &o) {
        return Resolution {
            status: solve::Status::Unsatisfiable,
            target: t,
            chosen: None,
            rejected: Vec::new(),
            fixes: vec![e.to_string()],
        };
    }
    solve::resolve_unexplained(db, &t, &Constraints::default())
}

/// The driver floors where an answer can change for MXNet's GPU wheels:
/// the floor of each CUDA release some GPU wheel is built for and the
/// minor-version-compatibility floor of its major (compat-db/cuda.toml),
/// ascending, each with the releases that set it.
fn driver_floors(db: &Db) -> Vec<(DriverVersion, Vec<String>)> {
    let built: BTreeSet<_> = db
        .wheel_files()
        .filter(|(_, w)| !w.placeholder)
        .filter_map(|(_, w)| w.cuda)
        .collect();
    let mut m: BTreeMap<DriverVersion, BTreeSet<String>> = BTreeMap::new();
    for c in db.cuda.iter().filter(|c| built.contains(&c.version)) {
        m.entry(c.driver_min.clone())
            .or_default()
            .insert(format!("CUDA {}", c.version));
        if let Some(mc) = &c.minor_compat_driver_min {
            m.entry(mc.clone())
                .or_default()
                .insert(format!("CUDA {}.x", c.version.major));
        }
    }
    m.into_iter()
        .map(|(d, s)| (d, s.into_iter().collect()))
        .collect()
}

/// The local answers, [driver floor][cc], for Python `py`; neighbouring
/// floors whose answers are the same for every GPU merge into one option.
/// Each compute capability is resolved on a thread of its own.
fn local_answers(
    db: &Db,
    ccs: &BTreeSet<ComputeCapability>,
    py: &str,
    answers: &mut Answers,
) -> (Vec<DriverOption>, Vec<BTreeMap<ComputeCapability, usize>>) {
    let floors = driver_floors(db);
    let per_cc: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = ccs
            .iter()
            .map(|cc| {
                let floors = &floors;
                s.spawn(move || {
                    floors
                        .iter()
                        .map(|(d, _)| resolution_html(&local_resolution(db, *cc, d, py)))
                        .collect::<Vec<String>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut merged: Vec<(
        DriverVersion,
        Vec<String>,
        BTreeMap<ComputeCapability, usize>,
    )> = Vec::new();
    for (i, (floor, releases)) in floors.into_iter().enumerate() {
        let row: BTreeMap<ComputeCapability, usize> = ccs
            .iter()
            .zip(&per_cc)
            .map(|(cc, col)| (*cc, answers.add(col.get(i).cloned().unwrap_or_default())))
            .collect();
        match merged.last_mut() {
            Some(last) if last.2 == row => last.1.extend(releases),
            _ => merged.push((floor, releases, row)),
        }
    }
    let uppers: Vec<Option<String>> = merged
        .iter()
        .skip(1)
        .map(|m| Some(m.0.to_string()))
        .chain([None])
        .collect();
    let mut options = Vec::new();
    let mut table = Vec::new();
    for ((floor, releases, row), upper) in merged.into_iter().zip(uppers) {
        let range = match upper {
            Some(u) => format!("{floor} up to {u}"),
            None => format!("{floor} or newer"),
        };
        options.push(DriverOption {
            label: format!("{range} (floors of {})", releases.join(", ")),
            floor,
        });
        table.push(row);
    }
    (options, table)
}

/// Every answer, computed with the resolver.
pub fn build<'a>(db: &'a Db, db_hash: &str, runtimes: &[(&str, &'a Runtime)]) -> Chooser<'a> {
    let mut answers = Answers::default();
    let mut cells = Vec::new();
    // Colab, then Kaggle, each newest first.
    let mut notebooks: Vec<&Runtime> = runtimes
        .iter()
        .map(|(_, rt)| *rt)
        .filter(|rt| crate::target::is_notebook_kind(&rt.kind))
        .collect();
    notebooks.sort_by(|a, b| {
        (a.kind != "colab", &b.date, &b.name).cmp(&(b.kind != "colab", &a.date, &a.name))
    });
    let places = notebooks
        .into_iter()
        .map(|rt| runtime_place(db, db_hash, rt, &mut answers, &mut cells))
        .collect();
    let gpus: Vec<(String, ComputeCapability)> = db
        .gpus
        .iter()
        .map(|g| (g.name.clone(), g.compute_capability))
        .collect();
    let ccs: BTreeSet<ComputeCapability> = gpus.iter().map(|g| g.1).collect();
    let python: String = crate::profile::newest(db, "colab")
        .map(|rt| {
            rt.python
                .splitn(3, '.')
                .take(2)
                .collect::<Vec<_>>()
                .join(".")
        })
        .unwrap_or_else(|| "3".into());
    let (drivers, local) = local_answers(db, &ccs, &python, &mut answers);
    Chooser {
        gpus,
        runtimes: places,
        drivers,
        python,
        local,
        answers: answers.list,
        cells,
    }
}

/// The reader's choices read from the page's form and looked up in the
/// data; the URL's fragment keeps them (`#gpu=NVIDIA+T4&place=colab-2026.08`).
const SCRIPT: &str = r##"
(() => {
  const data = JSON.parse(document.getElementById("chooser-data").textContent);
  const form = document.getElementById("chooser");
  const pick = (name) => form.elements[name].value;
  function show() {
    const gpu = pick("gpu"), place = pick("place"), local = place === "local";
    document.getElementById("local-facts").hidden = !local;
    let i;
    if (local) {
      i = data.local[pick("driver")][data.gpus[gpu]];
    } else {
      const rt = data.runtimes[place];
      i = gpu in rt.offers ? rt.offers[gpu] : rt.absent;
    }
    document.getElementById("answer").innerHTML = data.answers[i];
    const q = new URLSearchParams({ gpu, place });
    if (local) q.set("driver", pick("driver"));
    try { history.replaceState(null, "", "#" + q); } catch (e) {}
  }
  for (const [k, v] of new URLSearchParams(location.hash.slice(1))) {
    const e = form.elements[k];
    if (e && [...e.options].some((o) => o.value === v)) e.value = v;
  }
  form.addEventListener("change", show);
  show();
})();
"##;

fn select(h: &mut String, name: &str, label: &str, options: &[(String, String)], chosen: &str) {
    let _ = write!(h, "<label>{} <select name=\"{name}\">", esc(label));
    for (value, text) in options {
        let sel = if value == chosen { " selected" } else { "" };
        let _ = write!(
            h,
            "<option value=\"{}\"{sel}>{}</option>",
            esc(value),
            esc(text)
        );
    }
    h.push_str("</select></label>\n");
}

/// The data the script looks answers up in, as JSON safe inside
/// `<script>` (no `</` in it).
fn data_json(ch: &Chooser) -> String {
    use serde_json::{json, Map, Value};
    let gpus: Map<String, Value> = ch
        .gpus
        .iter()
        .map(|(n, cc)| (n.clone(), json!(cc.to_string())))
        .collect();
    let runtimes: Map<String, Value> = ch
        .runtimes
        .iter()
        .map(|p| {
            (
                p.rt.name.clone(),
                json!({"absent": p.absent, "offers": p.offers}),
            )
        })
        .collect();
    let mut local = Map::new();
    for (d, by_cc) in ch.drivers.iter().zip(&ch.local) {
        let m: Map<String, Value> = by_cc
            .iter()
            .map(|(cc, i)| (cc.to_string(), json!(i)))
            .collect();
        local.insert(d.floor.to_string(), Value::Object(m));
    }
    let v = json!({"gpus": gpus, "runtimes": runtimes, "local": local, "answers": ch.answers});
    serde_json::to_string(&v)
        .expect("chooser data serializes")
        .replace("</", "<\\/")
}

/// The page's opening section: the form, the answer, the data and the
/// script, then every ready setup cell as a link (the same answers without
/// a script).
pub fn render(h: &mut String, ch: &Chooser, default_gpu: &str) {
    h.push_str("<section id=\"which-wheel\">\n<h2>Which wheel for my GPU</h2>\n");
    h.push_str("<p>Choose your GPU and where it runs. The answer is the resolver's, computed when this page was generated: the wheel it locks, or why none fits.</p>\n<form id=\"chooser\">\n");
    let gpus: Vec<(String, String)> = ch
        .gpus
        .iter()
        .map(|(n, cc)| (n.clone(), format!("{n} ({cc})")))
        .collect();
    select(h, "gpu", "GPU", &gpus, default_gpu);
    let mut places: Vec<(String, String)> = ch
        .runtimes
        .iter()
        .map(|p| {
            (
                p.rt.name.clone(),
                format!("{} {} ({})", title(&p.rt.kind), p.rt.date, p.rt.name),
            )
        })
        .collect();
    places.push(("local".into(), "your own machine (Linux x86_64)".into()));
    let first = places.first().map(|p| p.0.clone()).unwrap_or_default();
    select(h, "place", "where", &places, &first);
    h.push_str("<span id=\"local-facts\" hidden>\n");
    let drivers: Vec<(String, String)> = ch
        .drivers
        .iter()
        .map(|d| (d.floor.to_string(), d.label.clone()))
        .collect();
    let newest = drivers.last().map(|d| d.0.clone()).unwrap_or_default();
    select(h, "driver", "NVIDIA driver", &drivers, &newest);
    let _ = writeln!(h, "<span>Python {}</span>", esc(&ch.python));
    h.push_str("</span>\n</form>\n");
    h.push_str("<div id=\"answer\" class=\"answer\"><p>The answer appears here when the page's script runs; without it, the setup cells below and the tables further down give the same facts.</p></div>\n");
    let _ = writeln!(
        h,
        "<p class=\"src\">Your own machine: the answer of <code>cargo xtask resolve --target local --gpu sm_XY --driver D --python-version {py}</code> on a Linux x86_64 machine with the NVIDIA driver and Python {py} (the newest Colab runtime's), no CUDA toolkit and no cuDNN (pip provides the CUDA libraries); a driver between two options gets the lower one's answer. On the machine itself, <code>cargo xtask resolve --target local</code> reads every fact, its Python among them.</p>",
        py = esc(&ch.python)
    );
    let _ = write!(
        h,
        "<script type=\"application/json\" id=\"chooser-data\">{}</script>\n<script>{SCRIPT}</script>\n</section>\n",
        data_json(ch)
    );
    cells_list(h, ch);
}

fn cells_list(h: &mut String, ch: &Chooser) {
    h.push_str("<section id=\"cells\">\n<h2>Ready setup cells</h2>\n<p>One per runtime and GPU, written by <code>cargo xtask matrix</code> with the code that writes <code>colab/setup_cell.py</code>: open one, copy it into the first cell of a notebook on that runtime and GPU, and run it.</p>\n<ul class=\"cells\">\n");
    for p in &ch.runtimes {
        let links: Vec<String> =
            p.rt.gpus
                .iter()
                .map(|g| {
                    match ch
                        .cells
                        .iter()
                        .find(|c| c.runtime == p.rt.name && &c.gpu == g)
                    {
                        Some(c) => format!("<a href=\"{}\">{}</a>", esc(&c.file), esc(g)),
                        None => format!("{}: no wheel fits", esc(g)),
                    }
                })
                .collect();
        let _ = writeln!(
            h,
            "<li><b>{} {}</b> ({}): {}</li>",
            esc(&title(&p.rt.kind)),
            esc(&p.rt.date),
            esc(&p.rt.name),
            links.join(" · ")
        );
    }
    h.push_str("</ul>\n</section>\n");
}
