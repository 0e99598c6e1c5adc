//! Companions (docs/companions.md): `--with` and config `companions` lock
//! d2l's MXNet edition with the stack from the measured sets in
//! compat-db/companions, overriding the pins that cannot install, and every
//! place the lock goes carries them (lock, JSON, cell, requirements, check).

use gpu_env::db::Db;
use gpu_env::job;
use gpu_env::solve::companions::CompanionSpec;
use gpu_env::solve::{Constraints, Resolution, Status};
use gpu_env::target::{Overrides, Sourced};
use gpu_env_tests::*;

fn db() -> Db {
    Db::from_dir(&workspace_root().join("compat-db")).expect("compat-db valid")
}

fn with(db: &Db, spec: &str, ov: Overrides, companions: &[&str]) -> Resolution {
    let t = job::target(db, spec, &ov, &Default::default()).unwrap();
    let c = Constraints {
        companions: companions
            .iter()
            .map(|s| CompanionSpec::parse(s).unwrap())
            .collect(),
        ..Default::default()
    };
    gpu_env::solve::resolve(db, &t, &c)
}

fn local(python: &str) -> Overrides {
    Overrides {
        no_gpu: Some("override:--no-gpu".into()),
        python: Some(Sourced::new(
            python.to_string(),
            "override:--python-version",
        )),
        ..Default::default()
    }
}

#[test]
fn colab_takes_the_runtime_packages_and_pins_only_d2l() {
    let db = db();
    let r = with(&db, "colab", Overrides::default(), &["d2l==1.0.3"]);
    let c = r.chosen.as_ref().unwrap_or_else(|| panic!("{:?}", r.fixes));
    let comp = &c.companions[0];
    assert_eq!(
        (comp.package.as_str(), comp.version.as_str()),
        ("d2l", "1.0.3")
    );
    let names: Vec<&str> = comp.pins.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["d2l"], "Colab has every neighbour d2l imports");
    assert_eq!(comp.preinstalled["matplotlib"], "3.10.0");
    assert_eq!(comp.preinstalled["ipython"], "7.34.0");
    let over = |name: &str| {
        comp.overrides
            .iter()
            .find(|o| o.requirement.starts_with(name))
            .unwrap_or_else(|| panic!("no override of {name}: {:#?}", comp.overrides))
    };
    // numpy 1.23.5 cannot install on Colab's CPython 3.13: the stack's numpy.
    let np = over("numpy");
    assert_eq!(np.locked, "numpy 2.1.3 (stack)");
    assert!(
        np.reason
            .contains("numpy 1.23.5 has no wheel for CPython 3.13"),
        "{}",
        np.reason
    );
    assert_eq!(
        over("matplotlib ").locked,
        "matplotlib 3.10.0 (preinstalled)"
    );
    assert_eq!(over("jupyter").locked, "dropped");
    assert!(over("scipy").reason.contains("does not import scipy"));
    // The companion's file is locked like every other, after the stack's.
    let last = c.packages.last().unwrap();
    assert_eq!(
        (last.name.as_str(), last.role.as_str()),
        ("d2l", "companion")
    );
    assert_eq!(last.sha256.len(), 64);
}

#[test]
fn local_targets_pin_a_measured_set_for_their_python() {
    let db = db();
    for (py, numpy, matplotlib) in [
        ("3.13.0", "2.5.5", "3.11.2"),
        ("3.12.1", "1.26.4", "3.11.2"),
        ("3.11.7", "1.23.5", "3.10.9"),
    ] {
        let r = with(&db, "local", local(py), &["d2l==1.0.3"]);
        let c = r
            .chosen
            .as_ref()
            .unwrap_or_else(|| panic!("{py}: {:?}", r.fixes));
        assert_eq!(c.numpy.version, numpy, "{py}");
        let comp = &c.companions[0];
        let mpl = comp.pins.iter().find(|p| p.name == "matplotlib").expect(py);
        assert_eq!(mpl.version, matplotlib, "{py}");
        assert!(
            mpl.filename.contains(&format!("cp3{}", &py[2..4])),
            "{py}: {}",
            mpl.filename
        );
        // Nothing of the set is pinned twice, and the stack's pins stay.
        let mut names: Vec<&str> = c.packages.iter().map(|p| p.name.as_str()).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "{py}: a package pinned twice");
        assert!(!comp
            .pins
            .iter()
            .any(|p| p.name == "jupyter" || p.name == "scipy"));
    }
}

#[test]
fn a_target_without_a_measured_set_is_unsatisfiable_with_the_reason() {
    let db = db();
    // Python 3.10 was never measured.
    let r = with(&db, "local", local("3.10.13"), &["d2l==1.0.3"]);
    assert_eq!(r.status, Status::Unsatisfiable);
    assert!(
        r.fixes[0].contains("no measured set of d2l==1.0.3 fits"),
        "{:?}",
        r.fixes
    );
    assert!(
        r.fixes[0].contains("scripts/companions/measure.py"),
        "{:?}",
        r.fixes
    );
    // The instruction works when followed: the script and the section exist.
    let root = gpu_env_tests::workspace_root();
    assert!(root.join("scripts/companions/measure.py").is_file());
    let doc = std::fs::read_to_string(root.join("docs/companions.md")).unwrap();
    assert!(r.fixes[0].contains("(docs/companions.md, \"Measuring another companion or target\")"));
    assert!(doc.contains("\n## Measuring another companion or target\n"));
    // GluonNLP 0.10.0 is an sdist only: never recorded.
    let r = with(&db, "colab", Overrides::default(), &["gluonnlp==0.10.0"]);
    assert!(
        r.fixes[0].contains("compat-db has no measurements of gluonnlp"),
        "{:?}",
        r.fixes
    );
    let r = with(&db, "colab", Overrides::default(), &["d2l==9"]);
    assert!(r.fixes[0].contains("no release of d2l"), "{:?}", r.fixes);
}

#[test]
fn gluoncv_locks_its_imports_locally_and_not_on_colab() {
    let db = db();
    for (py, scipy) in [
        ("3.13.0", "1.18.1"),
        ("3.12.1", "1.17.1"),
        ("3.11.7", "1.15.3"),
    ] {
        let r = with(&db, "local", local(py), &["gluoncv==0.10.5.post0"]);
        let c = r
            .chosen
            .as_ref()
            .unwrap_or_else(|| panic!("{py}: {:?}", r.fixes));
        let comp = &c.companions[0];
        let mut names: Vec<&str> = comp.pins.iter().map(|p| p.name.as_str()).collect();
        names.sort();
        let want: &[&str] = if py == "3.11.7" {
            // The 3.11 venv's own setuptools (the stack pins none there).
            &[
                "gluoncv",
                "pillow",
                "portalocker",
                "scipy",
                "setuptools",
                "tqdm",
            ]
        } else {
            &["gluoncv", "pillow", "portalocker", "scipy", "tqdm"]
        };
        assert_eq!(names, want, "{py}");
        let sp = comp.pins.iter().find(|p| p.name == "scipy").unwrap();
        assert_eq!(sp.version, scipy, "{py}");
        // Requires-Dist it imports only inside functions: dropped, with why.
        for name in [
            "matplotlib",
            "opencv-python",
            "pandas",
            "pyyaml",
            "yacs",
            "autocfg",
        ] {
            let o = comp
                .overrides
                .iter()
                .find(|o| o.requirement == name)
                .unwrap_or_else(|| panic!("{py}: no override of {name}: {:#?}", comp.overrides));
            assert_eq!(o.locked, "dropped", "{py}");
            assert!(
                o.reason.contains(&format!("does not import {name}")),
                "{}",
                o.reason
            );
        }
    }
    // Colab's torch 2.11 makes `import gluoncv` raise: the Colab set failed.
    let r = with(
        &db,
        "colab",
        Overrides::default(),
        &["gluoncv==0.10.5.post0"],
    );
    assert_eq!(r.status, Status::Unsatisfiable);
    assert!(
        r.fixes[0].contains("no measured set of gluoncv==0.10.5.post0 fits"),
        "{:?}",
        r.fixes
    );
}

#[test]
fn without_companions_nothing_changes() {
    let db = db();
    let t = job::target(&db, "colab", &Overrides::default(), &Default::default()).unwrap();
    let r = gpu_env::solve::resolve(&db, &t, &Default::default());
    let c = r.chosen.as_ref().unwrap();
    assert!(c.companions.is_empty());
    assert!(!c.packages.iter().any(|p| p.role.starts_with("companion")));
    let json = gpu_env::report::resolution_json("colab", &r);
    assert!(json.get("companions").is_none());
}

/// `resolve --with` writes the lock, the cell and the requirements with
/// the companion; `--json` shows each override; `check` re-resolves from
/// what the lock records and finds it current; a config's `companions`
/// that differs is a config change.
#[test]
fn with_flag_reaches_lock_cell_json_and_check() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::write(root.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
    let mut c = xtask!();
    c.current_dir(root)
        .args(["resolve", "--target", "colab", "--with", "d2l==1.0.3"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("companion     d2l 1.0.3"), "{out}");
    assert!(
        out.contains("override    numpy (==1.23.5) -> numpy 2.1.3 (stack)"),
        "{out}"
    );
    // A requirement the companion's set drops says why, without --explain.
    let dropped = out
        .lines()
        .position(|l| l.contains("override    jupyter") && l.ends_with("-> dropped"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        out.lines()
            .nth(dropped + 1)
            .is_some_and(|l| l.trim_start().starts_with("because ")),
        "{out}"
    );
    let lock = std::fs::read_to_string(root.join("gpu-env.lock")).unwrap();
    assert!(lock.contains("[[target.companion]]"), "{lock}");
    assert!(lock.contains("source = \"override:--with\""), "{lock}");
    assert!(lock.contains("role = \"companion\""), "{lock}");
    let cell = std::fs::read_to_string(root.join("colab/setup_cell.py")).unwrap();
    assert!(
        cell.contains("d2l-1.0.3-py3-none-any.whl"),
        "cell installs d2l"
    );
    assert!(cell.contains("companion d2l 1.0.3 (d2l.mxnet)"));
    let req = std::fs::read_to_string(root.join("requirements-gpu.txt")).unwrap();
    assert!(req.contains("d2l==1.0.3"), "{req}");
    // The config (none) asks for neither the target nor the companion:
    // check names both and the lines that record them; recorded, it passes.
    let mut c = xtask!();
    c.current_dir(root).args(["check"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 1, "check: {out}{err}");
    assert!(err.contains("`--target colab --with d2l==1.0.3`"), "{err}");
    let lines =
        "[workspace.metadata.gpu-env]\ntargets = [\"colab\"]\ncompanions = [\"d2l==1.0.3\"]\n";
    assert!(
        err.contains(&lines.trim_end().replace('\n', "\n    ")),
        "{err}"
    );
    std::fs::write(
        root.join("Cargo.toml"),
        format!("[workspace]\nmembers = []\n{lines}"),
    )
    .unwrap();
    let mut c = xtask!();
    c.current_dir(root).args(["resolve"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}{err}");
    let mut c = xtask!();
    c.current_dir(root).args(["check"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "check: {out}{err}");
    let mut c = xtask!();
    c.current_dir(root).args([
        "resolve",
        "--target",
        "colab",
        "--with",
        "d2l==1.0.3",
        "--json",
        "--dry-run",
    ]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // The lock's own form (`[[target.companion.override]]`).
    let overrides = v["companions"][0]["override"].as_array().unwrap();
    assert!(overrides
        .iter()
        .any(|o| o["requirement"] == "numpy (==1.23.5)"));
    // A config asking for another companion set: check says the config changed.
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = []\n[workspace.metadata.gpu-env]\ncompanions = [\"d2l==0.17.6\"]\n",
    )
    .unwrap();
    let mut c = xtask!();
    c.current_dir(root).args(["resolve", "--target", "colab"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("companion     d2l 0.17.6"), "{out}");
    let lock = std::fs::read_to_string(root.join("gpu-env.lock")).unwrap();
    assert!(lock.contains("companions = \"d2l==0.17.6\""), "{lock}");
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = []\n[workspace.metadata.gpu-env]\ncompanions = [\"d2l==1.0.3\"]\n",
    )
    .unwrap();
    let mut c = xtask!();
    c.current_dir(root).args(["check"]);
    let (code, out, err) = run(c);
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        format!("{out}{err}").contains("config changed"),
        "{out}{err}"
    );
}

#[test]
fn an_unmeasured_release_lists_the_measured_ones_and_one_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::write(root.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
    let mut c = xtask!();
    c.current_dir(root).args([
        "resolve",
        "--target",
        "colab",
        "--with",
        "d2l==9.9",
        "--dry-run",
    ]);
    let (code, out, err) = run(c);
    assert_eq!(code, 1, "{out}{err}");
    let all = format!("{out}{err}");
    assert!(all.contains("meets `d2l==9.9`; measured: 1.0.3, "), "{all}");
    assert!(all.contains("(`--with d2l==1.0.3`)"), "{all}");
    assert_eq!(all.matches("unsatisfiable").count(), 1, "{all}");
}
