//! Loading the embedded compat-db (goal: < 2 ms) and validating it from
//! TOML, and an
//! offline resolve of one target and of several targets (the resolve work
//! itself; process start is measured separately with hyperfine, see docs/speed.md).

use criterion::{criterion_group, criterion_main, Criterion};
use gpu_env::db::{embedded_files, load_files, Db};
use gpu_env::target::Overrides;

fn bench(c: &mut Criterion) {
    // What every command pays: the embedded copy from its build-time JSON,
    // with the cross-file checks.
    c.bench_function(
        "db: load + check embedded compat-db (build-time JSON)",
        |b| b.iter(|| Db::embedded().expect("valid")),
    );
    // What `db check` and `--db DIR` pay: TOML with positions, unknown keys.
    let files = embedded_files();
    c.bench_function("db: load + validate from TOML (db check path)", |b| {
        b.iter(|| load_files(std::hint::black_box(&files)).expect("valid"))
    });
    let db = Db::embedded().expect("valid");
    let probe = Default::default();
    c.bench_function("resolve: colab (one target, offline)", |b| {
        b.iter(|| {
            let t = gpu_env::job::target(&db, "colab", &Overrides::default(), &probe).unwrap();
            gpu_env::solve::resolve(&db, &t, &Default::default())
        })
    });
    let specs = [
        "colab",
        "colab:A100",
        "colab:L4",
        "colab:H100",
        "colab-2025.07",
    ];
    c.bench_function("resolve: 5 colab targets (offline)", |b| {
        b.iter(|| {
            for s in specs {
                if let Ok(t) = gpu_env::job::target(&db, s, &Overrides::default(), &probe) {
                    std::hint::black_box(gpu_env::solve::resolve(&db, &t, &Default::default()));
                }
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
