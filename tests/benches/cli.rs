//! Speed of the CLI, measured (nothing here asserts a time; the tests in
//! tests/tests check behaviour). Run all, or those whose name contains a
//! filter:
//!
//!   cargo bench -p gpu-env-tests               # check, probe, pypi
//!   cargo bench -p gpu-env-tests -- probe      # one
//!
//! `pypi` needs https://pypi.org and fails, saying so, without it.

use gpu_env_tests::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    // cargo passes `--bench`; any other word is a name filter.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let benches: [(&str, fn()); 3] = [
        ("check", check_vs_process_floor),
        ("probe", probe_wall_time_vs_slowest_command),
        ("pypi", online_pinning_vs_slowest_request),
    ];
    for (name, f) in benches {
        if filters.is_empty() || filters.iter().any(|w| name.contains(w.as_str())) {
            println!("bench {name}:");
            f();
        }
    }
}

fn ms(d: f64) -> f64 {
    d * 1e3
}

fn ok(c: Command) {
    let what = format!("{c:?}");
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{what}\n{out}{err}");
}

/// Mean seconds of `n` runs of the command `make` builds (each must exit 0).
fn mean_secs(n: u32, make: impl Fn() -> Command) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        ok(make());
    }
    t.elapsed().as_secs_f64() / f64::from(n)
}

/// `cargo xtask check` in a repo resolved for colab (tests/fixtures/emit/db)
/// against the process floor (`xtask --version`), 30 runs each.
fn check_vs_process_floor() {
    let repo = colab_repo(xtask!());
    let (root, db) = (&repo.root, &repo.db);
    let n = 30;
    let floor = mean_secs(n, || {
        let mut c = xtask!();
        c.arg("--version");
        c
    });
    let check = mean_secs(n, || {
        let mut c = xtask!();
        c.current_dir(root).arg("--db").arg(db).arg("check");
        c
    });
    println!(
        "  xtask --version {:.2} ms; xtask check {:.2} ms; ratio {:.2} (goal <= 3), mean of {n}",
        ms(floor),
        ms(check),
        check / floor
    );
}

/// `xtask probe` with fake nvcc (three toolkits), nvidia-smi and python
/// that each sleep 0.5 s: the probe's wall time (its `elapsed_ms`) over
/// the slowest single command, 5 runs.
fn probe_wall_time_vs_slowest_command() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (bin, root) = (d.join("bin"), d.join("root"));
    std::fs::create_dir_all(&root).unwrap();
    let sleeper = |path: &Path, out: &str, text: &str| {
        std::fs::write(d.join(out), text).unwrap();
        script(
            path,
            &format!("sleep 0.5; cat '{}'\n", d.join(out).display()),
        );
    };
    sleeper(
        &bin.join("nvcc"),
        "nvcc.out",
        &probe_fixture("nvcc-12.4.txt"),
    );
    sleeper(
        &bin.join("nvidia-smi"),
        "smi.csv",
        &probe_fixture("smi-h100-580.csv"),
    );
    for v in ["11.8", "10.0"] {
        sleeper(
            &root.join(format!("usr/local/cuda-{v}/bin/nvcc")),
            &format!("nvcc-{v}.out"),
            &probe_fixture(&format!("nvcc-{v}.txt")),
        );
    }
    sleeper(
        &bin.join("fakepython"),
        "python.json",
        r#"{"version": "3.11.7", "executable": "/x/python3", "glibc": "2.35", "packages": {}, "site_packages": [], "colab": false}"#,
    );
    // The slowest single command, measured the same way (spawn + sleep 0.5).
    let t = Instant::now();
    ok({
        let mut c = Command::new(bin.join("nvcc"));
        c.arg("--version");
        c
    });
    let single = t.elapsed();
    let mut ratios = Vec::new();
    for _ in 0..5 {
        let mut c = xtask!();
        c.arg("--db")
            .arg(workspace_root().join("compat-db"))
            .args(["probe", "--json", "--python"])
            .arg(bin.join("fakepython"))
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("GPU_ENV_SYSROOT", &root)
            .env_remove("CUDA_HOME")
            .env_remove("CUDA_PATH")
            .env_remove("LD_LIBRARY_PATH");
        let (code, out, err) = run(c);
        assert_eq!(code, 0, "{out}{err}");
        let j: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(j["probe"]["toolkit"]["value"], "12.4", "{out}");
        let probe_ms = j["probe"]["elapsed_ms"].as_u64().unwrap() as f64;
        ratios.push(probe_ms / ms(single.as_secs_f64()));
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "  probe wall / slowest single command ({:.0} ms): min {:.2} median {:.2} max {:.2} (goal: median <= 1.3), 5 runs",
        ms(single.as_secs_f64()),
        ratios[0],
        ratios[2],
        ratios[4]
    );
}

/// `resolve --verify-pypi` against live PyPI: the time pinning adds over an
/// offline resolve, against the slowest single PyPI JSON request of the
/// projects it asks for (those recorded in tests/fixtures/pypi).
fn online_pinning_vs_slowest_request() {
    require_pypi("the pypi bench");
    let names: Vec<String> = std::fs::read_dir(fixtures().join("pypi"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_suffix(".json")
                .map(str::to_string)
        })
        .collect();
    let client = gpu_env::pypi::Client::with_base("https://pypi.org".into());
    let mut slowest = Duration::ZERO;
    for n in &names {
        let t = Instant::now();
        client.project(n).unwrap_or_else(|e| panic!("PyPI: {e}"));
        slowest = slowest.max(t.elapsed());
    }
    let work = tempfile::tempdir().unwrap();
    let resolve = |extra: &[&str], cache: &Path| {
        let mut c = xtask!();
        c.current_dir(work.path())
            .env("GPU_ENV_PYPI_URL", "https://pypi.org")
            .env("GPU_ENV_CACHE_DIR", cache)
            .args(["resolve", "--target", "colab", "--dry-run"])
            .args(extra);
        let t = Instant::now();
        ok(c);
        t.elapsed()
    };
    let cache = tempfile::tempdir().unwrap();
    let offline = resolve(&["--offline"], cache.path());
    let online = resolve(&["--verify-pypi"], cache.path());
    let pinning = online.saturating_sub(offline);
    println!(
        "  slowest single request ({} projects) {:.0} ms; resolve offline {:.0} ms, with --verify-pypi {:.0} ms; pinning {:.0} ms = {:.2}x the slowest request (goal <= 1.5x)",
        names.len(),
        ms(slowest.as_secs_f64()),
        ms(offline.as_secs_f64()),
        ms(online.as_secs_f64()),
        ms(pinning.as_secs_f64()),
        pinning.as_secs_f64() / slowest.as_secs_f64()
    );
}
