//! The compatibility page (`gpu_env::matrix`): deterministic, small,
//! self-contained, current in docs/ with its setup cells and screenshot,
//! opening with the resolver's answer for a GPU and a place, and rendered
//! by a real browser (Debian's headless `chromium`) with the rows and
//! columns compat-db gives and the chooser's answers.
//!
//! `cargo xtask matrix` rewrites docs/matrix.html, docs/matrix.png and
//! docs/cells/.

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

/// The embedded compat-db and its hash.
fn db_hash() -> (Db, String) {
    Db::open_with_hash(None).expect("embedded compat-db")
}

/// The docs `cargo xtask matrix` writes, generated once per test process.
fn docs() -> &'static (Db, String, matrix::Docs) {
    static DOCS: std::sync::OnceLock<(Db, String, matrix::Docs)> = std::sync::OnceLock::new();
    DOCS.get_or_init(|| {
        let (db, hash) = db_hash();
        let docs = matrix::generate(&db, &hash);
        (db, hash, docs)
    })
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
    let (db, hash, docs) = docs();
    let page = &docs.page;
    assert_eq!(
        page,
        &matrix::render(&db.clone(), hash),
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
        "<link",
        "<img",
        "<iframe",
        "<object",
        "<embed",
        "@import",
        "url(",
        " src=",
        "http://",
        "fetch(",
        "xmlhttprequest",
    ] {
        assert!(
            !lower.contains(tag),
            "the page must load nothing: found `{tag}`"
        );
    }
    // Two scripts: the chooser's data and its lookup, both inline.
    assert_eq!(count(&lower, "<script"), 2, "scripts");
    assert_eq!(
        count(
            &lower,
            "<script type=\"application/json\" id=\"chooser-data\">"
        ),
        1
    );
    let style_start = lower.find("<style>").expect("inline style");
    let style_end = lower.find("</style>").expect("style end");
    assert!(
        !lower[style_start..style_end].contains("http"),
        "no remote reference in the style"
    );
    check_tables(page, &shape(db), "generated page");
    // Every cell has a tooltip; every coloured state has a symbol.
    for id in ["gpu-code", "runtimes", "drivers"] {
        for td in table(page, id).split("<td").skip(1) {
            let tag = &td[..td.find('>').expect("tag end")];
            assert!(
                tag.contains(" title=\""),
                "{id}: a cell without a tooltip: <td{tag}>"
            );
        }
    }
}

/// The page opens with the chooser, then the setup cells, then the
/// contents, whose every link names a section of the page, then the tables.
#[test]
fn opens_with_which_wheel_then_contents_then_tables() {
    let page = &docs().2.page;
    let at = |s: &str| page.find(s).unwrap_or_else(|| panic!("no `{s}`"));
    let order = [
        at("<section id=\"which-wheel\">"),
        at("<section id=\"cells\">"),
        at("<nav id=\"contents\">"),
        at("<table id=\"gpu-code\""),
        at("<table id=\"runtimes\""),
        at("<table id=\"drivers\""),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    let nav = &page[order[2]..page[order[2]..].find("</nav>").unwrap() + order[2]];
    let anchors: Vec<&str> = nav
        .split("href=\"#")
        .skip(1)
        .map(|r| r.split('"').next().unwrap())
        .collect();
    assert!(anchors.len() >= 6, "{anchors:?}");
    for a in anchors {
        assert_eq!(count(page, &format!(" id=\"{a}\"")), 1, "anchor #{a}");
    }
}

/// The chooser's data as the page embeds it.
fn chooser_data(page: &str) -> serde_json::Value {
    let open = "<script type=\"application/json\" id=\"chooser-data\">";
    let start = page.find(open).expect("chooser data") + open.len();
    let end = page[start..].find("</script>").expect("data end") + start;
    serde_json::from_str(&page[start..end].replace("<\\/", "</")).expect("chooser data is JSON")
}

/// The answer for the newest Colab runtime on its default GPU is the lock
/// `cargo xtask resolve --target colab` wrote for this repository
/// (gpu-env.lock), and its setup cell installs that lock's wheel; a GPU
/// the runtime does not offer gets the runtime's offer instead.
#[test]
fn chooser_answers_are_the_resolvers() {
    let (db, _, docs) = docs();
    let data = chooser_data(&docs.page);
    let lock = gpu_env::lock::Lock::read(&repo().join("gpu-env.lock")).expect("the repo's lock");
    let locked = &lock.target[0];
    assert!(locked.name.starts_with("colab-"), "{}", locked.name);
    let (runtime, gpu) = locked.name.split_once(':').unwrap();
    let gpu = db.gpu(gpu).expect("locked GPU").name.clone();
    let rt = &data["runtimes"][runtime];
    let answer = data["answers"][rt["offers"][&gpu].as_u64().expect("offered") as usize]
        .as_str()
        .unwrap();
    let want = format!("<b>{} {}</b>", locked.mxnet.package, locked.mxnet.version);
    assert!(answer.contains(&want), "{answer}");
    let href = answer
        .split("<a href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a link to the setup cell");
    let (_, cell) = docs
        .cells
        .iter()
        .find(|(f, _)| f == href)
        .expect("the linked cell is written");
    let wheel = locked
        .package
        .iter()
        .find(|p| p.name == locked.mxnet.package)
        .expect("the mxnet file");
    assert!(cell.contains(&wheel.sha256) && cell.contains(&wheel.url));
    // The cell is the one `resolve` writes for that target, with its header.
    let committed = std::fs::read_to_string(repo().join("colab/setup_cell.py")).unwrap();
    let program = |c: &str| {
        let s = c.find("\n_gpu_env_lock = {").expect("data block");
        c[s + c[s..].find("\n}\n").expect("data block end") + 3..].to_string()
    };
    assert!(
        program(cell) == program(&committed),
        "the docs cell and colab/setup_cell.py run the same program"
    );
    // Not offered there: the runtime's offer, naming its GPUs.
    let absent = data["answers"][rt["absent"].as_u64().unwrap() as usize]
        .as_str()
        .unwrap();
    assert!(rt["offers"].get("GeForce RTX 4090").is_none());
    assert!(
        absent.contains("not this GPU") && absent.contains(&gpu.replace("NVIDIA ", "")),
        "{absent}"
    );
    // Every GPU and every local choice has an answer.
    let local = data["local"].as_object().unwrap();
    for (_, by_cc) in local {
        for g in db.gpus.iter() {
            let i = by_cc[g.compute_capability.to_string()]
                .as_u64()
                .expect("an answer");
            assert!(data["answers"][i as usize].is_string());
        }
    }
}

/// The setup cells are exactly the ones the page links to, each stamped
/// and current; and `check`'s freshness test tells a missing, edited,
/// unlinked or other-inputs file apart without generating anything.
#[test]
fn docs_freshness_from_stamps() {
    let (_, hash, docs) = docs();
    let linked = matrix::fresh::linked_cells(&docs.page);
    let written: Vec<&String> = docs.cells.iter().map(|(f, _)| f).collect();
    assert_eq!(linked.iter().collect::<Vec<_>>(), written);
    assert!(written.len() >= 10, "{written:?}");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("cells")).unwrap();
    std::fs::write(d.join("matrix.html"), &docs.page).unwrap();
    for (f, t) in &docs.cells {
        std::fs::write(d.join(f), t).unwrap();
    }
    let inputs = gpu_env::stamp::inputs(hash);
    let stale = |d: &Path| -> Vec<String> {
        matrix::fresh::stale(d, &inputs)
            .into_iter()
            .map(|(p, why)| format!("{} {why}", p.strip_prefix(d).unwrap().display()))
            .collect()
    };
    assert_eq!(stale(d), ["matrix.png is missing"]);
    let png = std::fs::read(repo().join("docs/matrix.png")).unwrap();
    std::fs::write(d.join("matrix.png"), &png).unwrap();
    assert_eq!(
        stale(d),
        Vec::<String>::new(),
        "the committed screenshot is current"
    );
    let first = d.join(&docs.cells[0].0);
    std::fs::write(&first, docs.cells[0].1.replace("import ", "import  ")).unwrap();
    let extra = d.join("cells/colab-2000.01-T4.py");
    std::fs::write(&extra, &docs.cells[1].1).unwrap();
    std::fs::remove_file(d.join(&docs.cells[2].0)).unwrap();
    let got = stale(d);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got[0].starts_with(&format!("{} differs", docs.cells[0].0)),
        "{got:?}"
    );
    assert_eq!(got[1], format!("{} is missing", docs.cells[2].0));
    assert!(got[2].starts_with("cells/colab-2000.01-T4.py is no longer written"));
    // Other inputs (a changed compat-db): every file says so.
    let other = matrix::fresh::stale(d, &gpu_env::stamp::inputs(&"0".repeat(64)));
    assert!(
        other
            .iter()
            .filter(|(_, w)| w.starts_with("was made from gpu-env "))
            .count()
            >= 3
    );
}

/// `cargo xtask matrix --no-screenshot --dir DIR` writes the page and its
/// cells, as `generate` makes them; only the screenshot is then missing.
#[test]
fn matrix_command_writes_page_and_cells() {
    let (_, hash, docs) = docs();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gpu-env-xtask"))
        .args(["matrix", "--no-screenshot", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("wrote {} setup cells", docs.cells.len())),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("matrix.html")).unwrap(),
        docs.page
    );
    let stale = matrix::fresh::stale(dir.path(), &gpu_env::stamp::inputs(hash));
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert!(stale[0].0.ends_with("matrix.png"));
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

/// The committed page and cells are what `cargo xtask matrix` writes.
#[test]
fn committed_docs_are_current() {
    let (_, _, docs) = docs();
    let fix = "regenerate them with `cargo xtask matrix`";
    let committed = std::fs::read_to_string(repo().join(matrix::DEFAULT_OUT)).unwrap_or_default();
    assert!(
        committed == docs.page,
        "{} is stale: {fix}",
        matrix::DEFAULT_OUT
    );
    for (f, text) in &docs.cells {
        let path = repo().join(matrix::DEFAULT_DIR).join(f);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(&committed == text, "{} is stale: {fix}", path.display());
    }
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
    let (db, _, docs) = docs();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("matrix.html");
    std::fs::write(&page, &docs.page).unwrap();

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
    check_tables(&dom, &shape(db), "chromium DOM");
}

/// The text of the answer box in a DOM.
fn answer_box(dom: &str) -> &str {
    let start = dom.find("<div id=\"answer\"").expect("answer box");
    let end = dom[start..].find("</div>").expect("answer end") + start;
    &dom[start..end]
}

/// The page's script shows, for the choices in the URL's fragment, the
/// answer the data holds for them: by default the newest Colab runtime on
/// its default GPU; a GPU on one's own machine by driver.
#[test]
#[ignore = "needs Debian's headless chromium (apt-get install -y chromium): \
            cargo test -p gpu-env-tests --test matrix -- --ignored"]
fn chooser_in_headless_chromium() {
    let chromium = chromium();
    let (db, _, docs) = docs();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("matrix.html");
    std::fs::write(&page, &docs.page).unwrap();
    let data = chooser_data(&docs.page);
    let bold = |i: u64| {
        let a = data["answers"][i as usize].as_str().unwrap();
        let s = a.find("<b>").or_else(|| a.find("✗")).expect("an answer");
        a[s..].split("</").next().unwrap().to_string()
    };
    let newest = gpu_env::profile::newest(db, "colab").unwrap();
    let gpu = db.gpu(&newest.default_gpu).unwrap().name.clone();
    let want = bold(
        data["runtimes"][&newest.name]["offers"][&gpu]
            .as_u64()
            .unwrap(),
    );
    let dom = browser::dump_dom(&chromium, &page).expect("dump the DOM");
    assert!(
        answer_box(&dom).contains(&want),
        "{want} in {}",
        answer_box(&dom)
    );

    let g = db.gpu("RTX 3060").unwrap();
    let floor = data["local"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .expect("a driver option")
        .clone();
    let want = bold(
        data["local"][&floor][g.compute_capability.to_string()]
            .as_u64()
            .unwrap(),
    );
    let fragment = format!(
        "gpu={}&place=local&driver={floor}",
        g.name.replace(' ', "+")
    );
    let dom = browser::dump_dom_at(&chromium, &page, &fragment).expect("dump the DOM");
    assert!(
        answer_box(&dom).contains(&want),
        "{want} in {}",
        answer_box(&dom)
    );
}
