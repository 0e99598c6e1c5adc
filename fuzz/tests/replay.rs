//! Every input the fuzzer ever found (`tests/fixtures/fuzz/<target>/`) and
//! every seed is replayed through its target: none may panic or break an
//! invariant again. A directory named after no target is an error, so a
//! renamed target cannot silently drop its regressions.

use gpu_env_fuzz::{all_targets, quiet_panics, regressions_dir, run_one, Verdict};

#[test]
fn found_inputs_and_seeds_never_panic_again() {
    quiet_panics();
    let targets = all_targets();
    let mut failures = Vec::new();
    let mut replayed = 0;
    for t in &targets {
        let mut inputs: Vec<(String, Vec<u8>)> = (t.seeds)()
            .into_iter()
            .enumerate()
            .map(|(i, s)| (format!("seed {i}"), s))
            .collect();
        let dir = regressions_dir(t.name);
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            inputs.push((
                e.path().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            ));
        }
        for (name, input) in inputs {
            replayed += 1;
            if let v @ (Verdict::Panic(_) | Verdict::Violation(_)) = run_one(t, &input) {
                failures.push(format!("{} {name}: {v:?}", t.name));
            }
        }
    }
    gpu_env_fuzz::targets::remove_scratch_file();
    assert!(
        failures.is_empty(),
        "{} of {replayed} inputs fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_seed_set_is_non_empty_and_every_regression_dir_names_a_target() {
    let targets = all_targets();
    for t in &targets {
        assert!(!(t.seeds)().is_empty(), "target {} has no seeds", t.name);
    }
    let root = gpu_env_fuzz::fixtures_dir().join("fuzz");
    for e in std::fs::read_dir(&root).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_dir() && name != "seeds" {
            assert!(
                targets.iter().any(|t| t.name == name),
                "{} names no fuzz target",
                e.path().display()
            );
        }
    }
}
