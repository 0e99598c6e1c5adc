//! `cargo run -p gpu-env-fuzz -- [--seconds N] [--target NAME]... [--seed S]
//! [--findings DIR] [--list]`: mutate every target's seeds for N seconds in
//! total (split evenly), catching panics per input. A panic, a broken
//! invariant, an input running past the per-input time limit or asking for
//! more memory than the limit is saved under `<findings>/<target>/` (default
//! `tests/fixtures/fuzz/`, which `fuzz/tests/replay.rs` replays) and the
//! run exits 1.

use gpu_env_fuzz::mutate::{mutate, Rng};
use gpu_env_fuzz::{all_targets, fnv64, quiet_panics, run_one, Target, Verdict};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Live heap bytes past which an input counts as unbounded allocation
/// (a bomb), and the largest single allocation allowed.
const MEMORY_LIMIT: usize = 1 << 30;
/// An input running longer than this is a hang (saved, the run stops).
const INPUT_TIME_LIMIT: Duration = Duration::from_secs(10);
/// The corpus of one target keeps at most this many inputs.
const MAX_CORPUS: usize = 512;

/// Counts live heap bytes; an allocation past [`MEMORY_LIMIT`] saves the
/// current input and ends the process (the allocation is never made).
struct Guard;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static BYPASS: AtomicBool = AtomicBool::new(false);

unsafe impl GlobalAlloc for Guard {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        check_memory(l.size());
        // SAFETY: the caller's layout, passed on.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            LIVE.fetch_add(l.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        check_memory(l.size());
        // SAFETY: the caller's layout, passed on.
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            LIVE.fetch_add(l.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` came from System with layout `l` (alloc above).
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        check_memory(new.saturating_sub(l.size()));
        // SAFETY: `p` came from System with layout `l`.
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
            LIVE.fetch_add(new, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static GUARD: Guard = Guard;

fn check_memory(more: usize) {
    if BYPASS.load(Ordering::Relaxed) {
        return;
    }
    if more > MEMORY_LIMIT || LIVE.load(Ordering::Relaxed).saturating_add(more) > MEMORY_LIMIT {
        // From here on allocations pass (saving the input allocates).
        BYPASS.store(true, Ordering::Relaxed);
        save_current(
            "memory",
            &format!(
                "asked for {more} more bytes with {} live",
                LIVE.load(Ordering::Relaxed)
            ),
        );
        gpu_env_fuzz::targets::remove_scratch_file();
        std::process::exit(1);
    }
}

/// The input being run, for the memory guard and the hang watchdog.
static CURRENT_PTR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static CURRENT_LEN: AtomicUsize = AtomicUsize::new(0);
static CURRENT_TARGET: AtomicUsize = AtomicUsize::new(0);
/// Incremented per input; the watchdog sees it stand still.
static EXEC_SEQ: AtomicU64 = AtomicU64::new(0);
static FINDINGS: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();

fn save_current(kind: &str, why: &str) {
    let ptr = CURRENT_PTR.load(Ordering::SeqCst);
    let len = CURRENT_LEN.load(Ordering::SeqCst);
    // SAFETY: ptr/len describe the input the main thread is running; it
    // stays alive until the next input is published (the process ends first).
    let input = if ptr.is_null() {
        &[][..]
    } else {
        unsafe { std::slice::from_raw_parts(ptr, len) }
    };
    let target = NAMES
        .get()
        .map_or("?", |n| n[CURRENT_TARGET.load(Ordering::SeqCst)]);
    let path = save_finding(target, kind, input);
    eprintln!(
        "FOUND {kind} in target {target}: {why}; input saved to {}",
        path.display()
    );
}

fn save_finding(target: &str, kind: &str, input: &[u8]) -> PathBuf {
    let dir = FINDINGS.get().cloned().unwrap_or_default().join(target);
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{kind}-{:016x}", fnv64(input)));
    if let Err(e) = std::fs::write(&path, input) {
        eprintln!("cannot save {}: {e}", path.display());
    }
    path
}

fn watchdog() {
    std::thread::spawn(|| {
        let mut last = (u64::MAX, Instant::now());
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let seq = EXEC_SEQ.load(Ordering::SeqCst);
            if seq != last.0 {
                last = (seq, Instant::now());
            } else if seq != 0 && last.1.elapsed() > INPUT_TIME_LIMIT {
                BYPASS.store(true, Ordering::Relaxed);
                save_current("hang", &format!("one input ran past {INPUT_TIME_LIMIT:?}"));
                gpu_env_fuzz::targets::remove_scratch_file();
                std::process::exit(1);
            }
        }
    });
}

struct Args {
    seconds: f64,
    targets: Vec<String>,
    seed: u64,
    findings: PathBuf,
    list: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        seconds: 60.0,
        targets: vec![],
        seed: 1,
        findings: gpu_env_fuzz::fixtures_dir().join("fuzz"),
        list: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--seconds" => a.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--target" => a.targets.extend(value()?.split(',').map(str::to_string)),
            "--seed" => a.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--findings" => a.findings = PathBuf::from(value()?),
            "--list" => a.list = true,
            "-h" | "--help" => {
                return Err("usage: gpu-env-fuzz [--seconds N (total, default 60)] [--target NAME[,NAME]]... [--seed S] [--findings DIR] [--list]".into())
            }
            other => return Err(format!("unknown argument {other}; try --help")),
        }
    }
    Ok(a)
}

/// Totals of one target's run.
struct Stats {
    execs: u64,
    corpus: usize,
    signatures: usize,
    findings: Vec<PathBuf>,
    elapsed: Duration,
}

fn fuzz_target(index: usize, t: &Target, budget: Duration, seed: u64) -> Stats {
    CURRENT_TARGET.store(index, Ordering::SeqCst);
    let mut rng = Rng::new(seed ^ gpu_env_fuzz::fnv64(t.name.as_bytes()));
    let mut corpus: Vec<Vec<u8>> = (t.seeds)().into_iter().filter(|s| !s.is_empty()).collect();
    if corpus.is_empty() {
        corpus.push(b"0".to_vec());
    }
    let mut seen = HashSet::new();
    let mut findings = Vec::new();
    let mut found_kinds = HashSet::new();
    let start = Instant::now();
    let mut execs = 0u64;
    let mut input = Vec::with_capacity(t.max_len + 1024);
    let mut next = 0usize;
    while start.elapsed() < budget {
        input.clear();
        if next < corpus.len() && execs < corpus.len() as u64 {
            input.extend_from_slice(&corpus[next]); // each seed once as is
            next += 1;
        } else {
            input.extend_from_slice(&corpus[rng.below(corpus.len())]);
            mutate(&mut rng, &mut input, &corpus, t.dict, t.max_len);
        }
        CURRENT_PTR.store(input.as_mut_ptr(), Ordering::SeqCst);
        CURRENT_LEN.store(input.len(), Ordering::SeqCst);
        EXEC_SEQ.fetch_add(1, Ordering::SeqCst);
        let verdict = run_one(t, &input);
        execs += 1;
        match verdict {
            Verdict::Ok(sig) => {
                if seen.insert(sig) {
                    if corpus.len() < MAX_CORPUS {
                        corpus.push(input.clone());
                    } else {
                        let i = rng.below(corpus.len());
                        corpus[i] = input.clone();
                    }
                }
            }
            v => {
                let (kind, msg) = match &v {
                    Verdict::Panic(m) => ("panic", m.clone()),
                    Verdict::Violation(m) => ("violation", m.clone()),
                    Verdict::Ok(_) => unreachable!(),
                };
                // One file per distinct message (the same bug found again
                // through another input is not saved twice).
                if found_kinds.insert(gpu_env_fuzz::coarse(kind, &msg)) {
                    let p = save_finding(t.name, kind, &input);
                    eprintln!(
                        "FOUND {kind} in {}: {msg}\n  input: {}",
                        t.name,
                        p.display()
                    );
                    findings.push(p);
                }
            }
        }
    }
    Stats {
        execs,
        corpus: corpus.len(),
        signatures: seen.len(),
        findings,
        elapsed: start.elapsed(),
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let targets = all_targets();
    if args.list {
        for t in &targets {
            println!("{:<12} {}", t.name, t.about);
        }
        return;
    }
    let chosen: Vec<usize> = if args.targets.is_empty() {
        (0..targets.len()).collect()
    } else {
        let mut v = Vec::new();
        for name in &args.targets {
            match targets.iter().position(|t| t.name == name) {
                Some(i) => v.push(i),
                None => {
                    eprintln!("no target {name}; --list shows them");
                    std::process::exit(2);
                }
            }
        }
        v
    };
    let _ = FINDINGS.set(args.findings.clone());
    let _ = NAMES.set(targets.iter().map(|t| t.name).collect());
    quiet_panics();
    watchdog();
    let code = run_all(&targets, &chosen, &args);
    gpu_env_fuzz::targets::remove_scratch_file();
    std::process::exit(code);
}

fn run_all(targets: &[Target], chosen: &[usize], args: &Args) -> i32 {
    let budget = Duration::from_secs_f64(args.seconds.max(0.0) / chosen.len() as f64);
    println!(
        "gpu-env-fuzz: {} target(s), {:.1} s each, seed {}",
        chosen.len(),
        budget.as_secs_f64(),
        args.seed
    );
    println!(
        "{:<12} {:>10} {:>10} {:>7} {:>6} {:>8}",
        "target", "execs", "execs/s", "corpus", "sigs", "findings"
    );
    let (mut total, mut found) = (0u64, 0usize);
    for &i in chosen {
        let s = fuzz_target(i, &targets[i], budget, args.seed);
        let rate = s.execs as f64 / s.elapsed.as_secs_f64().max(1e-9);
        println!(
            "{:<12} {:>10} {:>10.0} {:>7} {:>6} {:>8}",
            targets[i].name,
            s.execs,
            rate,
            s.corpus,
            s.signatures,
            s.findings.len()
        );
        total += s.execs;
        found += s.findings.len();
    }
    println!("total: {total} executions, {found} finding(s)");
    if found > 0 {
        println!("found inputs are under {}: fix the bug, keep the file (fuzz/tests/replay.rs replays it)", args.findings.display());
        1
    } else {
        0
    }
}
