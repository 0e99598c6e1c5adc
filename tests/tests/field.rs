//! Field cases decided from measured wheel facts (compat-db/wheels, written
//! by `db ingest` from the wheels on PyPI): per-module GPU code.

use gpu_env::db::Db;
use gpu_env::job;
use gpu_env::solve::Rule;
use gpu_env::target::{Overrides, Sourced};
use gpu_env_tests::workspace_root;

fn o(flag: &str, v: &str) -> Option<Sourced<String>> {
    Some(Sourced::new(v.to_string(), format!("override:--{flag}")))
}

/// mxnet-cu80 1.3.0 on a V100 (7.0) with CUDA 8.0: the union of its fatbin
/// modules has PTX compute_61 (from a statically linked library's modules),
/// so a union-only rule accepts it with JIT; MXNet's own kernels (the
/// largest module group, measured: SASS sm_30..sm_61, no PTX) have no code
/// for 7.0, and its operators would fail with "no kernel image".
#[test]
fn own_kernels_without_code_reject_a_wheel_whose_union_looks_fine() {
    let db = Db::from_dir(&workspace_root().join("compat-db")).unwrap();
    let rec = db
        .wheel_files()
        .find(|(w, _)| w.package == "mxnet-cu80" && w.version == "1.3.0")
        .map(|(_, f)| f)
        .expect("compat-db records mxnet-cu80 1.3.0");
    assert!(rec.ptx.contains(&61), "union PTX {:?}", rec.ptx);
    let own = rec.module_code.iter().max_by_key(|m| m.modules).unwrap();
    assert!(own.ptx.is_empty() && !own.sass.contains(&70), "{own:?}");
    let ov = Overrides {
        gpus: vec![Sourced::new("V100".to_string(), "override:--gpu")],
        driver: o("driver", "384.81"),
        cuda_toolkit: o("cuda-toolkit", "8.0"),
        python: o("python-version", "3.6.9"),
        ..Default::default()
    };
    let t = job::target(&db, "local", &ov, &Default::default()).unwrap();
    let r = gpu_env::solve::resolve(&db, &t, &Default::default());
    let x = r
        .rejected
        .iter()
        .find(|x| x.package == "mxnet-cu80" && x.version == "1.3.0")
        .expect("mxnet-cu80 1.3.0 is rejected");
    let why: Vec<String> = x
        .rules
        .iter()
        .filter(|b| b.rule == Rule::GpuCode)
        .map(|b| b.reason.clone())
        .collect();
    assert!(
        why.iter().any(|w| w.contains("the library's own kernels")),
        "{:#?}",
        x.rules
    );
}

/// The four mxnet 1.5.1 wheels (cu90, cu92, cu100, cu101) are UPX-packed;
/// `db ingest` unpacks them, so their GPU code is measured and no rule says
/// "no GPU code" of them.
#[test]
fn packed_1_5_1_wheels_are_measured_not_codeless() {
    let db = Db::from_dir(&workspace_root().join("compat-db")).unwrap();
    for pkg in ["mxnet-cu90", "mxnet-cu92", "mxnet-cu100", "mxnet-cu101"] {
        let rec = db
            .wheel_files()
            .find(|(w, _)| w.package == pkg && w.version == "1.5.1")
            .map(|(_, f)| f)
            .unwrap_or_else(|| panic!("{pkg} 1.5.1 recorded"));
        assert_eq!(rec.packed.as_deref(), Some("upx"), "{pkg}");
        assert!(rec.unmeasured.is_none() && !rec.no_gpu_code, "{pkg}");
        assert!(
            !rec.sass.is_empty() && rec.modules.unwrap_or(0) > 0,
            "{pkg}"
        );
    }
    let ov = Overrides {
        gpus: vec![Sourced::new("T4".to_string(), "override:--gpu")],
        driver: o("driver", "418.67"),
        cuda_toolkit: o("cuda-toolkit", "10.1"),
        python: o("python-version", "3.6.9"),
        ..Default::default()
    };
    let t = job::target(&db, "local", &ov, &Default::default()).unwrap();
    let r = gpu_env::solve::resolve(&db, &t, &Default::default());
    let codeless = r
        .rejected
        .iter()
        .filter(|x| x.version == "1.5.1")
        .flat_map(|x| &x.rules)
        .any(|b| b.reason.contains("no GPU code"));
    assert!(!codeless, "a 1.5.1 wheel was called codeless");
}
