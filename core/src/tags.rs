//! Wheel compatibility tags (PEP 425, PEP 427, PEP 600) with pip's
//! semantics (`packaging.tags.sys_tags`): the one place gpu-env reads a
//! python, ABI or platform tag. It answers "does this wheel install on this
//! interpreter" (and how pip ranks it), and, with compat-db's declared
//! support, "can this Python import this release". Every rule, the fixes,
//! `host`, install and the generated cell ask here; the cell gets the
//! answers as data ([`accepting_pythons`]).
//!
//! gpu-env serves CPython on Linux x86_64 (Colab, Kaggle and local Linux),
//! so an [`Interpreter`] is a CPython version and the glibc it runs on.

use crate::db::model::PythonSupport;
use crate::pep440::{self, Version};
use std::collections::HashMap;

/// The one architecture gpu-env serves.
pub const ARCH: &str = "x86_64";

use crate::validate::{parse_glibc, MAX_GLIBC_MINOR};

/// One tag triple.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    pub interpreter: String,
    pub abi: String,
    pub platform: String,
}

/// A wheel's tags as its file name gives them; each part may be a
/// compressed set (`py2.py3`, `manylinux_2_17_x86_64.manylinux2014_x86_64`),
/// and the wheel carries every combination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelTags {
    pub python: Vec<String>,
    pub abi: Vec<String>,
    pub platform: Vec<String>,
}

impl WheelTags {
    pub fn new(python: &str, abi: &str, platform: &str) -> WheelTags {
        let split = |s: &str| s.split('.').map(str::to_string).collect();
        WheelTags {
            python: split(python),
            abi: split(abi),
            platform: split(platform),
        }
    }

    /// Every tag triple the wheel carries.
    pub fn tags(&self) -> impl Iterator<Item = Tag> + '_ {
        self.python.iter().flat_map(move |p| {
            self.abi.iter().flat_map(move |a| {
                self.platform.iter().map(move |pl| Tag {
                    interpreter: p.clone(),
                    abi: a.clone(),
                    platform: pl.clone(),
                })
            })
        })
    }

    /// Built for Linux x86_64 (manylinux or linux) or pure (`any`).
    pub fn is_linux_x86_64_or_any(&self) -> bool {
        self.platform.iter().any(|p| {
            p == "any"
                || ((p.starts_with("manylinux") || p.starts_with("linux"))
                    && p.ends_with(&format!("_{ARCH}")))
        })
    }

    /// The lowest glibc among its manylinux platform tags (None: no
    /// manylinux tag).
    pub fn glibc_floor(&self) -> Option<(u32, u32)> {
        self.platform
            .iter()
            .filter_map(|p| manylinux_glibc(p))
            .min()
    }
}

/// The CPython version of a `cpXY` python tag: `cp311` -> (3, 11),
/// `cp27` -> (2, 7); None for other tags (`py3`, `pp39`).
pub fn cpython_version(python_tag: &str) -> Option<(u32, u32)> {
    let digits = python_tag.strip_prefix("cp")?;
    if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (major, minor) = digits.split_at(1);
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The CPython versions numpy has wheels for (compat-db/pypi/numpy.toml):
/// the Pythons compat-db can pin a stack for.
pub fn numpy_pythons(db: &crate::db::Db) -> std::collections::BTreeSet<(u32, u32)> {
    db.pypi
        .iter()
        .filter(|(_, p)| p.package == "numpy")
        .flat_map(|(_, p)| p.release.iter().flat_map(|r| &r.file))
        .flat_map(|f| WheelTags::new(&f.python_tag, &f.abi_tag, &f.platform_tag).python)
        .filter_map(|t| cpython_version(&t))
        .collect()
}

/// A Python version given as a fact (`--python-version 3.12.3`) whose
/// MAJOR.MINOR numpy has wheels for; else the versions compat-db knows.
pub fn known_python(db: &crate::db::Db, v: &str) -> Result<(), String> {
    let all = numpy_pythons(db);
    let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
    if let (Some(Some(major)), Some(Some(minor))) = (parts.next(), parts.next()) {
        if all.contains(&(major, minor)) {
            return Ok(());
        }
    }
    let shown: Vec<String> = all.iter().map(|(a, b)| format!("{a}.{b}")).collect();
    Err(format!(
        "Python {v} is not a version compat-db knows ({}: the CPython versions numpy has wheels for, compat-db/pypi/numpy.toml); give MAJOR.MINOR as `python3 --version` prints it",
        shown.join(", ")
    ))
}

/// glibc level a manylinux platform tag needs: manylinux1 2.5,
/// manylinux2010 2.12, manylinux2014 2.17, manylinux_X_Y X.Y.
pub fn manylinux_glibc(platform: &str) -> Option<(u32, u32)> {
    if platform.starts_with("manylinux1_") {
        Some((2, 5))
    } else if platform.starts_with("manylinux2010_") {
        Some((2, 12))
    } else if platform.starts_with("manylinux2014_") {
        Some((2, 17))
    } else {
        let mut p = platform.strip_prefix("manylinux_")?.split('_');
        Some((p.next()?.parse().ok()?, p.next()?.parse().ok()?))
    }
}

/// The platform tags of Linux `arch` with glibc `(2, minor)`, best first, as
/// `packaging.tags` orders them: `manylinux_2_<m>_<arch>` from the glibc
/// down to 2.5, each legacy alias (manylinux2014 = 2.17, manylinux2010 =
/// 2.12, manylinux1 = 2.5) right after its PEP 600 name, then
/// `linux_<arch>`. Without a glibc, `linux_<arch>` only.
pub fn linux_platforms(arch: &str, glibc: Option<(u32, u32)>) -> Vec<String> {
    let mut tags = Vec::new();
    if let Some((2, minor)) = glibc {
        for m in (5..=minor.min(MAX_GLIBC_MINOR)).rev() {
            tags.push(format!("manylinux_2_{m}_{arch}"));
            match m {
                17 => tags.push(format!("manylinux2014_{arch}")),
                12 => tags.push(format!("manylinux2010_{arch}")),
                5 => tags.push(format!("manylinux1_{arch}")),
                _ => {}
            }
        }
    }
    tags.push(format!("linux_{arch}"));
    tags
}

/// Why `w`'s platform tags do not install on Linux x86_64 with `glibc`
/// (None when unknown: every manylinux level passes), whatever the Python.
pub fn platform_mismatch(w: &WheelTags, glibc: Option<(u32, u32)>) -> Option<Mismatch> {
    if !w.is_linux_x86_64_or_any() {
        return Some(Mismatch::Platform(w.platform.join(".")));
    }
    let plain = w.platform.iter().any(|p| p == "any" || p == "linux_x86_64");
    match (w.glibc_floor(), glibc) {
        (Some(need), Some(have)) if need > have && !plain => Some(Mismatch::Glibc {
            platform: w.platform.join("."),
            need,
            have,
        }),
        _ => None,
    }
}

/// Why `library`, whose `GLIBC_*` symbol versions need glibc `need`
/// (`2.17`, as compat-db records it), does not load on glibc `have`; None
/// when it does or either is unknown.
pub fn symbols_mismatch(
    library: &str,
    need: Option<&str>,
    have: Option<(u32, u32)>,
) -> Option<Mismatch> {
    match (need.and_then(parse_glibc), have) {
        (Some(need), Some(have)) if need > have => Some(Mismatch::GlibcSymbols {
            library: library.to_string(),
            need,
            have,
        }),
        _ => None,
    }
}

/// The lowest glibc on which a Linux x86_64 wheel both installs (its
/// manylinux tags, [`platform_mismatch`]) and loads (its library's symbol
/// versions, [`symbols_mismatch`]); None when neither asks for one.
pub fn glibc_needed(w: &WheelTags, symbols: Option<&str>) -> Option<(u32, u32)> {
    let plain = w.platform.iter().any(|p| p == "any" || p == "linux_x86_64");
    let tags = w.glibc_floor().filter(|_| !plain);
    tags.max(symbols.and_then(parse_glibc))
}

/// A CPython on Linux x86_64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interpreter {
    pub major: u32,
    pub minor: u32,
    /// None when unknown: then every manylinux level is taken to install
    /// (the platform rule cannot judge it).
    pub glibc: Option<(u32, u32)>,
}

/// Why a wheel does not install on an interpreter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error("platform {0} is not Linux x86_64")]
    Platform(String),
    #[error("{platform} needs glibc {}.{}; the target has {}.{}", need.0, need.1, have.0, have.1)]
    Glibc {
        platform: String,
        need: (u32, u32),
        have: (u32, u32),
    },
    /// pip installs the wheel, but the loader refuses its library: the
    /// library's `GLIBC_*` symbol versions need a newer glibc.
    #[error("{library} needs glibc {}.{} (its GLIBC_{}.{} symbol versions); the target has {}.{}, so `import mxnet` fails with `version 'GLIBC_{}.{}' not found`", need.0, need.1, need.0, need.1, have.0, have.1, need.0, need.1)]
    GlibcSymbols {
        library: String,
        need: (u32, u32),
        have: (u32, u32),
    },
    #[error("tags {tags} do not install on CPython {python} (it takes {wants})")]
    Python {
        tags: String,
        python: String,
        wants: String,
    },
}

impl Interpreter {
    /// CPython `python` (`3.11`, `3.11.4`, `2.7.18`) on a glibc (`2.35`).
    pub fn cpython(python: &str, glibc: Option<&str>) -> Option<Interpreter> {
        let mut it = python.trim().split('.');
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        if !(2..=3).contains(&major) || minor > 99 {
            return None;
        }
        Some(Interpreter {
            major,
            minor,
            glibc: glibc.and_then(parse_glibc),
        })
    }

    /// `3.11`.
    pub fn version(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }

    /// `cp311`.
    pub fn python_tag(&self) -> String {
        format!("cp{}{}", self.major, self.minor)
    }

    /// The ABI of a default (release, GIL) build: `cp311`; `cp37m` before
    /// 3.8 (pymalloc); `cp27mu` for Python 2 (pymalloc, UCS-4 as Linux
    /// distributions build it).
    pub fn abi_tag(&self) -> String {
        let flags = match (self.major, self.minor) {
            (2, _) => "mu",
            (3, m) if m < 8 => "m",
            _ => "",
        };
        format!("{}{flags}", self.python_tag())
    }

    /// Its python-abi pairs in words: `cp311-cp311, cp3*-abi3, cp311-none,
    /// py3*-none`.
    fn wants(&self) -> String {
        let cp = self.python_tag();
        let abi3 = match (self.major, self.minor) >= (3, 2) {
            true => format!("cp{}*-abi3, ", self.major),
            false => String::new(),
        };
        format!(
            "{cp}-{}, {abi3}{cp}-none, py{}*-none",
            self.abi_tag(),
            self.major
        )
    }

    /// The platform tags it installs, best first.
    pub fn platforms(&self) -> Vec<String> {
        let glibc = Some(self.glibc.unwrap_or((2, MAX_GLIBC_MINOR)));
        linux_platforms(ARCH, glibc)
    }

    /// Whether it installs some tag of each of `wheels` ([`Ranks::installs`]
    /// without building the table of ranks, for asking many interpreters
    /// once each). `platforms`: [`Self::platforms`].
    fn installs_all(&self, wheels: &[WheelTags], platforms: &[String]) -> bool {
        let (linux, any) = (self.linux_pairs(), self.any_pairs());
        let has = |pairs: &[(String, String)], py: &str, abi: &str| {
            pairs.iter().any(|(p, a)| p == py && a == abi)
        };
        wheels.iter().all(|w| {
            w.python.iter().any(|py| {
                w.abi.iter().any(|abi| {
                    w.platform.iter().any(|pl| match pl.as_str() {
                        "any" => has(&any, py, abi),
                        _ => platforms.contains(pl) && has(&linux, py, abi),
                    })
                })
            })
        })
    }

    /// Every tag it installs, best first: `packaging.tags.sys_tags()` for
    /// CPython (`cpython_tags`, then `compatible_tags`): each python-abi pair
    /// of [`Self::linux_pairs`] with every platform of [`Self::platforms`],
    /// then each pair of [`Self::any_pairs`] with `any`.
    pub fn supported(&self) -> Vec<Tag> {
        let platforms = self.platforms();
        let tag = |(py, abi): &(String, String), platform: &str| Tag {
            interpreter: py.clone(),
            abi: abi.clone(),
            platform: platform.to_string(),
        };
        let linux = self
            .linux_pairs()
            .into_iter()
            .flat_map(|pair| platforms.iter().map(move |p| tag(&pair, p)));
        let any = self.any_pairs().into_iter().map(|pair| tag(&pair, "any"));
        linux.chain(any).collect()
    }

    /// The python-abi pairs it takes with a Linux platform, best first:
    /// `cp311-cp311`, `cp311-abi3`, `cp311-none`, `cp310-abi3` ... `cp32-abi3`,
    /// then `py311-none`, `py3-none`, `py310-none` ... `py30-none`.
    fn linux_pairs(&self) -> Vec<(String, String)> {
        let cp = self.python_tag();
        let abi3 = (self.major, self.minor) >= (3, 2);
        let mut pairs = vec![(cp.clone(), self.abi_tag())];
        if abi3 {
            pairs.push((cp.clone(), "abi3".into()));
        }
        pairs.push((cp, "none".into()));
        if abi3 {
            for minor in (2..self.minor).rev() {
                pairs.push((format!("cp{}{minor}", self.major), "abi3".into()));
            }
        }
        pairs.extend(self.py_range().into_iter().map(|py| (py, "none".into())));
        pairs
    }

    /// The python-abi pairs it takes with platform `any`, best first:
    /// `cp311-none`, then `py311-none`, `py3-none`, `py310-none` ... `py30-none`.
    fn any_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = vec![(self.python_tag(), "none".to_string())];
        pairs.extend(self.py_range().into_iter().map(|py| (py, "none".into())));
        pairs
    }

    /// `py311`, `py3`, `py310` ... `py30` (`_py_interpreter_range`).
    fn py_range(&self) -> Vec<String> {
        let mut v = vec![
            format!("py{}{}", self.major, self.minor),
            format!("py{}", self.major),
        ];
        v.extend(
            (0..self.minor)
                .rev()
                .map(|m| format!("py{}{m}", self.major)),
        );
        v
    }

    /// The index of every tag it installs (lower is preferred), computed
    /// once per interpreter and process: the solver asks for the same few
    /// interpreters for every candidate wheel and every nearest fix.
    pub fn ranks(&self) -> std::sync::Arc<Ranks> {
        use std::sync::{Arc, Mutex, OnceLock};
        static CACHE: OnceLock<Mutex<HashMap<Interpreter, Arc<Ranks>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
        // A process meets a few interpreters; one that meets many (the
        // fuzzer's random versions) starts over rather than grow.
        if map.len() >= 64 && !map.contains_key(self) {
            map.clear();
        }
        map.entry(*self)
            .or_insert_with(|| Arc::new(Ranks::of(*self)))
            .clone()
    }
}

/// An interpreter's supported tags with pip's preference, computed once:
/// the rank of a tag is its index in [`Interpreter::supported`], read from
/// the pair's and the platform's positions instead of a table of every tag.
#[derive(Debug, Clone)]
pub struct Ranks {
    interpreter: Interpreter,
    /// python tag -> abi tag -> index in [`Interpreter::linux_pairs`].
    linux: PairIndex,
    /// platform tag -> index in [`Interpreter::platforms`].
    platforms: HashMap<String, usize>,
    /// python tag -> abi tag -> index in [`Interpreter::any_pairs`].
    any: PairIndex,
    /// How many tags have a Linux platform (those with `any` rank after).
    n_linux: usize,
}

type PairIndex = HashMap<String, HashMap<String, usize>>;

fn pair_index(pairs: Vec<(String, String)>) -> PairIndex {
    let mut index = PairIndex::new();
    for (i, (py, abi)) in pairs.into_iter().enumerate() {
        index.entry(py).or_default().entry(abi).or_insert(i);
    }
    index
}

impl Ranks {
    fn of(interpreter: Interpreter) -> Ranks {
        let mut platforms = HashMap::new();
        for (i, p) in interpreter.platforms().into_iter().enumerate() {
            platforms.entry(p).or_insert(i);
        }
        let linux = interpreter.linux_pairs();
        Ranks {
            interpreter,
            n_linux: linux.len() * platforms.len(),
            linux: pair_index(linux),
            platforms,
            any: pair_index(interpreter.any_pairs()),
        }
    }

    /// The rank of one tag triple, None when it does not install.
    fn tag_rank(&self, py: &str, abi: &str, platform: &str) -> Option<usize> {
        if platform == "any" {
            return Some(self.n_linux + self.any.get(py)?.get(abi)?);
        }
        let pair = self.linux.get(py)?.get(abi)?;
        let p = self.platforms.get(platform)?;
        Some(pair * self.platforms.len() + p)
    }

    /// The best rank among every combination of compressed tag sets
    /// (`py2.py3`, `none`, `manylinux1_x86_64.manylinux2010_x86_64`).
    fn parts_rank<'a, I>(&self, py: I, abi: I, platform: I) -> Option<usize>
    where
        I: Iterator<Item = &'a str> + Clone,
    {
        py.flat_map(|p| {
            let platform = platform.clone();
            abi.clone().flat_map(move |a| {
                platform
                    .clone()
                    .filter_map(move |pl| self.tag_rank(p, a, pl))
            })
        })
        .min()
    }

    pub fn interpreter(&self) -> &Interpreter {
        &self.interpreter
    }

    /// The rank of the best tag of `w` it installs (lower is better), or
    /// why it installs none.
    pub fn rank(&self, w: &WheelTags) -> Result<usize, Mismatch> {
        if let Some(best) = self.best_rank(w) {
            return Ok(best);
        }
        if let Some(m) = platform_mismatch(w, self.interpreter.glibc) {
            return Err(m);
        }
        let i = &self.interpreter;
        Err(Mismatch::Python {
            tags: format!("{}-{}", w.python.join("."), w.abi.join(".")),
            python: i.version(),
            wants: i.wants(),
        })
    }

    /// The rank of the best tag of `w` it installs, without the reason
    /// when there is none (the hot path of choosing among files).
    fn best_rank(&self, w: &WheelTags) -> Option<usize> {
        fn strs(v: &[String]) -> impl Iterator<Item = &str> + Clone {
            v.iter().map(String::as_str)
        }
        self.parts_rank(strs(&w.python), strs(&w.abi), strs(&w.platform))
    }

    pub fn installs(&self, w: &WheelTags) -> bool {
        self.best_rank(w).is_some()
    }

    /// The file pip picks among `files` (one release's wheels): the best
    /// ranked that installs, ties broken by file name; None when none does.
    pub fn best<'a, F>(
        &self,
        files: impl IntoIterator<Item = &'a F>,
        tags_of: impl Fn(&F) -> (&str, &str, &str),
        filename: impl Fn(&F) -> &str,
    ) -> Option<&'a F>
    where
        F: 'a,
    {
        files
            .into_iter()
            .filter_map(|f| {
                let (py, abi, plat) = tags_of(f);
                let rank = self.parts_rank(py.split('.'), abi.split('.'), plat.split('.'))?;
                Some((rank, f))
            })
            .min_by(|a, b| (a.0, filename(a.1)).cmp(&(b.0, filename(b.1))))
            .map(|(_, f)| f)
    }
}

/// Why a Python cannot import a release the project declared it does not
/// support (compat-db/python.toml), or None.
pub fn undeclared<'a>(
    declared: &'a [PythonSupport],
    project: &str,
    release: &Version,
    python: &Version,
) -> Option<&'a PythonSupport> {
    declared.iter().find(|d| {
        pep440::normalize_name(&d.project) == pep440::normalize_name(project)
            && d.releases.contains(release)
            && !d.python.contains(python)
    })
}

/// The highest Python 3 minor [`accepting_pythons`] tries: a bound on the
/// search, not a fact (a range reaching it is open-ended).
const TOP_MINOR: u32 = 30;

/// A run of accepted Python versions: from `from` up to `to` (None: open
/// ended, every later minor of that major too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PythonRange {
    pub from: (u32, u32),
    pub to: Option<(u32, u32)>,
}

impl PythonRange {
    /// Whether Python `(major, minor)` is in the range.
    pub fn contains(&self, v: (u32, u32)) -> bool {
        self.from <= v
            && self.to.is_none_or(|to| v <= to)
            && (self.to.is_some() || v.0 == self.from.0)
    }
}

impl std::fmt::Display for PythonRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, b) = self.from;
        match self.to {
            None => write!(f, "{a}.{b} or later"),
            Some(to) if to == self.from => write!(f, "{a}.{b}"),
            Some((c, d)) => write!(f, "{a}.{b} to {c}.{d}"),
        }
    }
}

/// The Python versions that install every one of `wheels` on a glibc and
/// import `project` `release` as declared, as ranges: the answer the
/// generated cell checks its interpreter against. Tried: 2.7 and 3.0 to
/// 3.[`TOP_MINOR`].
pub fn accepting_pythons(
    wheels: &[WheelTags],
    glibc: Option<&str>,
    declared: &[PythonSupport],
    project: &str,
    release: &str,
) -> Vec<PythonRange> {
    let release = pep440::version(release).ok();
    // Every interpreter asked has this glibc: one list of platforms.
    let platforms = Interpreter::cpython("3.0", glibc).map(|i| i.platforms());
    let accepts = |(major, minor): (u32, u32)| {
        let Some(i) = Interpreter::cpython(&format!("{major}.{minor}"), glibc) else {
            return false;
        };
        let declared_ok = match (&release, pep440::version(&i.version())) {
            (Some(r), Ok(py)) => undeclared(declared, project, r, &py).is_none(),
            _ => true,
        };
        declared_ok && i.installs_all(wheels, platforms.as_deref().unwrap_or_default())
    };
    let mut out: Vec<PythonRange> = Vec::new();
    let candidates = std::iter::once((2, 7)).chain((0..=TOP_MINOR).map(|m| (3, m)));
    for v in candidates.filter(|v| accepts(*v)) {
        match out.last_mut() {
            Some(r) if r.to.is_some_and(|t| t.0 == v.0 && t.1 + 1 == v.1) => r.to = Some(v),
            _ => out.push(PythonRange {
                from: v,
                to: Some(v),
            }),
        }
    }
    for r in &mut out {
        if r.to == Some((3, TOP_MINOR)) {
            r.to = None;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tags of a wheel file name (the last three `-` parts).
    fn of(filename: &str) -> WheelTags {
        let stem = filename.strip_suffix(".whl").unwrap();
        let p: Vec<&str> = stem.rsplitn(4, '-').collect();
        WheelTags::new(p[2], p[1], p[0])
    }

    fn tag(s: &str) -> Tag {
        let mut p = s.splitn(3, '-');
        Tag {
            interpreter: p.next().unwrap().into(),
            abi: p.next().unwrap().into(),
            platform: p.next().unwrap().into(),
        }
    }

    #[test]
    fn cpython_311_order_starts_and_ends_as_pip() {
        let i = Interpreter::cpython("3.11.7", Some("2.35")).unwrap();
        let s = i.supported();
        assert_eq!(s[0], tag("cp311-cp311-manylinux_2_35_x86_64"));
        assert_eq!(s.last().unwrap(), &tag("py30-none-any"));
        let at = |t: &str| s.iter().position(|x| *x == tag(t)).unwrap();
        assert_eq!(
            at("cp311-cp311-manylinux2014_x86_64"),
            at("cp311-cp311-manylinux_2_17_x86_64") + 1
        );
        assert!(at("cp311-abi3-linux_x86_64") < at("cp311-none-manylinux_2_35_x86_64"));
        assert!(at("cp37-abi3-manylinux1_x86_64") < at("py311-none-manylinux_2_35_x86_64"));
        assert!(at("cp311-none-any") < at("py311-none-any"));
    }

    /// A tag's rank is its index in `supported()` (pip's order), for every
    /// tag; a tag outside it has none.
    #[test]
    fn ranks_are_positions_in_the_supported_order() {
        for (py, glibc) in [
            ("2.7", Some("2.17")),
            ("3.6", Some("2.5")),
            ("3.11", Some("2.35")),
            ("3.13", None),
        ] {
            let i = Interpreter::cpython(py, glibc).unwrap();
            let r = i.ranks();
            let rank = |t: &Tag| {
                let one = |s: &str| std::iter::once(s.to_string());
                r.best_rank(&WheelTags {
                    python: one(&t.interpreter).collect(),
                    abi: one(&t.abi).collect(),
                    platform: one(&t.platform).collect(),
                })
            };
            for (n, t) in i.supported().iter().enumerate() {
                assert_eq!(rank(t), Some(n), "{py} {t:?}");
            }
            for t in [
                "cp311-cp311-win_amd64",
                "cp99-cp99-any",
                "py2-none-manylinux_2_100_x86_64",
                "cp39-abi3-any",
            ] {
                assert_eq!(rank(&tag(t)), None, "{py} {t}");
            }
        }
    }

    #[test]
    fn python_2_takes_cp27mu_and_py2_only() {
        let r = Interpreter::cpython("2.7.18", Some("2.17"))
            .unwrap()
            .ranks();
        let w = of;
        assert!(r.installs(&w("mxnet_cu80-0.12.1-cp27-cp27mu-manylinux1_x86_64.whl")));
        assert!(r.installs(&w(
            "mxnet_cu100-1.7.0-py2.py3-none-manylinux2014_x86_64.whl"
        )));
        assert!(!r.installs(&w("mxnet-1.9.1-py3-none-manylinux2014_x86_64.whl")));
        assert!(!r.installs(&w("x-1-cp27-cp27m-manylinux1_x86_64.whl")));
        assert!(!r.installs(&w("x-1-cp36-abi3-manylinux1_x86_64.whl")));
        assert!(matches!(
            r.rank(&w("mxnet-1.9.1-py3-none-manylinux2014_x86_64.whl")),
            Err(Mismatch::Python { .. })
        ));
    }

    #[test]
    fn mismatches_name_the_platform_and_the_glibc() {
        let r = Interpreter::cpython("3.12", Some("2.17")).unwrap().ranks();
        let w = of;
        assert_eq!(
            r.rank(&w("x-1-py3-none-win_amd64.whl"))
                .unwrap_err()
                .to_string(),
            "platform win_amd64 is not Linux x86_64"
        );
        assert_eq!(
            r.rank(&w("x-1-cp312-cp312-manylinux_2_28_x86_64.whl"))
                .unwrap_err()
                .to_string(),
            "manylinux_2_28_x86_64 needs glibc 2.28; the target has 2.17"
        );
        // abi3 from an older CPython installs; a newer one does not.
        assert!(r.installs(&w("x-1-cp38-abi3-manylinux2014_x86_64.whl")));
        assert!(!r.installs(&w("x-1-cp313-abi3-manylinux2014_x86_64.whl")));
        // A wheel's best tag decides its rank.
        let two = w("x-1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
        assert_eq!(
            r.rank(&two).unwrap(),
            r.rank(&w("x-1-cp312-cp312-manylinux_2_17_x86_64.whl"))
                .unwrap()
        );
    }

    #[test]
    fn cpython_tags_read_back_as_versions() {
        assert_eq!(cpython_version("cp311"), Some((3, 11)));
        assert_eq!(cpython_version("cp27"), Some((2, 7)));
        for t in ["py3", "pp39", "cp3", "cpx1", "abi3"] {
            assert_eq!(cpython_version(t), None, "{t}");
        }
    }

    #[test]
    fn accepted_pythons_are_ranges() {
        let mxnet_py3 = of("mxnet_cu112-1.9.1-py3-none-manylinux2014_x86_64.whl");
        let numpy = of("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
        let got = |w: &[WheelTags]| -> Vec<String> {
            accepting_pythons(w, Some("2.35"), &[], "mxnet", "1.9.1")
                .iter()
                .map(|r| r.to_string())
                .collect()
        };
        assert_eq!(got(std::slice::from_ref(&mxnet_py3)), ["3.0 or later"]);
        assert_eq!(got(&[mxnet_py3, numpy]), ["3.11"]);
        let both = of("mxnet_cu100-1.5.1-py2.py3-none-manylinux1_x86_64.whl");
        assert_eq!(got(&[both]), ["2.7", "3.0 or later"]);
    }

    /// Asking an interpreter once agrees with its table of ranks, for the
    /// tags of every file compat-db records.
    #[test]
    fn installs_all_agrees_with_the_ranks() {
        let db = crate::db::Db::embedded().unwrap();
        let new = |(py, abi, pl): (&str, &str, &str)| WheelTags::new(py, abi, pl);
        let mut tags: Vec<WheelTags> = db
            .wheel_files()
            .map(|(_, w)| new((&w.python_tag, &w.abi_tag, &w.platform_tag)))
            .collect();
        for (_, p) in db.pypi.iter().chain(&db.companion_pypi) {
            let files = p.release.iter().flat_map(|r| &r.file);
            tags.extend(files.map(|f| new((&f.python_tag, &f.abi_tag, &f.platform_tag))));
        }
        tags.push(of("x-1-cp27-cp27mu-manylinux1_x86_64.whl"));
        tags.push(of("x-1-cp36-abi3-musllinux_1_1_x86_64.whl"));
        for glibc in [None, Some("2.5"), Some("2.17"), Some("2.35")] {
            for v in [
                "2.7", "3.0", "3.2", "3.6", "3.7", "3.8", "3.11", "3.13", "3.30",
            ] {
                let i = Interpreter::cpython(v, glibc).unwrap();
                let (ranks, platforms) = (i.ranks(), i.platforms());
                for t in &tags {
                    let one = std::slice::from_ref(t);
                    let ok = i.installs_all(one, &platforms);
                    assert_eq!(ok, ranks.installs(t), "{v} {glibc:?} {t:?}");
                }
            }
        }
    }

    #[test]
    fn symbol_versions_newer_than_the_glibc_do_not_load() {
        let lib = "mxnet/libmxnet.so";
        let m = symbols_mismatch(lib, Some("2.27"), Some((2, 17))).expect("2.27 > 2.17");
        assert_eq!(
            m.to_string(),
            "mxnet/libmxnet.so needs glibc 2.27 (its GLIBC_2.27 symbol versions); the target has 2.17, so `import mxnet` fails with `version 'GLIBC_2.27' not found`"
        );
        assert_eq!(symbols_mismatch(lib, Some("2.17"), Some((2, 17))), None);
        assert_eq!(symbols_mismatch(lib, Some("2.17"), None), None);
        assert_eq!(symbols_mismatch(lib, None, Some((2, 5))), None);
    }

    #[test]
    fn glibc_parsing_is_bounded() {
        assert_eq!(parse_glibc("2.35"), Some((2, 35)));
        assert_eq!(parse_glibc("2.31.1"), Some((2, 31)));
        for g in ["2.4294967295", "2.100", "3.1", "", "2."] {
            assert_eq!(parse_glibc(g), None, "{g}");
        }
        assert_eq!(linux_platforms(ARCH, None), ["linux_x86_64"]);
        assert_eq!(
            linux_platforms(ARCH, Some((2, 99))).len(),
            99 - 5 + 1 + 3 + 1
        );
    }
}
