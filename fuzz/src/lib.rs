//! A small in-repo mutation fuzzer for gpu-env's parsers and readers, on the
//! stable toolchain: no libFuzzer, no coverage instrumentation. Inputs are
//! mutated byte by byte from seeds taken from `tests/fixtures`; an input
//! whose outcome (an error kind, a parse shape) was not seen before joins
//! the corpus, which is how the fuzzer gets deeper without coverage.
//!
//! Every target's invariant: it never panics, and round-trip targets (lock
//! render -> parse -> render, versions display -> parse) are stable. Inputs
//! that break one are kept under `tests/fixtures/fuzz/<target>/` and
//! replayed by `fuzz/tests/replay.rs`.

pub mod mutate;
pub mod targets;
mod targets_files;
mod targets_spec;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// The embedded compat-db, loaded once for every target that solves.
pub(crate) fn db() -> &'static gpu_env::db::Db {
    static DB: std::sync::OnceLock<gpu_env::db::Db> = std::sync::OnceLock::new();
    DB.get_or_init(|| gpu_env::db::Db::embedded().expect("the embedded compat-db loads"))
}

/// One fuzz target: a parser (or a chain of them) and its invariants.
pub struct Target {
    pub name: &'static str,
    pub about: &'static str,
    /// Mutated inputs are cut to this many bytes (memory and time per input).
    pub max_len: usize,
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Tokens the mutator inserts (the format's punctuation and keywords).
    pub dict: &'static [&'static [u8]],
    /// `Ok(signature)`: a short, coarse description of what happened (the
    /// corpus keeps one input per signature); `Err`: an invariant broke.
    pub run: fn(&[u8]) -> Result<String, String>,
}

/// What one input did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ok(String),
    /// An invariant other than "no panic" broke (an unstable round trip).
    Violation(String),
    Panic(String),
}

impl Verdict {
    pub fn is_finding(&self) -> bool {
        !matches!(self, Verdict::Ok(_))
    }
}

/// Run `target` on `input`, catching a panic (the panic hook should be
/// quiet: see [`quiet_panics`]).
pub fn run_one(target: &Target, input: &[u8]) -> Verdict {
    match catch_unwind(AssertUnwindSafe(|| (target.run)(input))) {
        Ok(Ok(sig)) => Verdict::Ok(sig),
        Ok(Err(v)) => Verdict::Violation(v),
        Err(payload) => Verdict::Panic(panic_message(payload.as_ref())),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into());
    let at = LAST_PANIC_AT.with(|l| l.borrow().clone());
    format!("{text} (at {at})")
}

thread_local! {
    static LAST_PANIC_AT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Replace the panic hook with one that only records where the panic was
/// (so millions of caught panics do not flood stderr).
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        LAST_PANIC_AT.with(|l| *l.borrow_mut() = at);
    }));
}

/// All targets, in the order a full run visits them.
pub fn all_targets() -> Vec<Target> {
    targets::all()
}

/// `tests/fixtures` of this workspace (seeds, and found inputs under `fuzz/`).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// Where found inputs of `target` are kept and replayed from.
pub fn regressions_dir(target: &str) -> PathBuf {
    fixtures_dir().join("fuzz").join(target)
}

/// FNV-1a: a stable short name for an input file.
pub fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A coarse signature of an error message: the words outside quotes and
/// backticks (where messages echo the input) and paths, letters only, the first
/// four, so `driver 5x.1` and `driver 7y.2` count as one behaviour and the
/// corpus does not fill with near-copies.
pub fn coarse(kind: &str, message: &str) -> String {
    let mut quoted = None;
    // Paths (the scratch file, a manifest) say nothing about the behaviour.
    let message: Vec<&str> = message.split(' ').filter(|w| !w.contains('/')).collect();
    let letters: String = message
        .join(" ")
        .chars()
        .map(|c| match (quoted, c) {
            (None, '`' | '"') => {
                quoted = Some(c);
                ' '
            }
            (Some(q), c) if c == q => {
                quoted = None;
                ' '
            }
            (None, c) if c.is_ascii_alphabetic() => c,
            _ => ' ',
        })
        .collect();
    let words: Vec<&str> = letters.split_whitespace().take(4).collect();
    format!("{kind}:{}", words.join(" "))
}
