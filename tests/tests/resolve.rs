//! Resolve scenarios on the real compat-db, with overrides: each asserts the
//! choice and the reasons. Plus the CLI contract: lock bytes deterministic,
//! written atomically, newer formats refused, unsatisfiable writes nothing.

use gpu_env::db::Db;
use gpu_env::job;
use gpu_env::solve::{providers::Provider, Resolution, Rule, Status};
use gpu_env::target::{Overrides, Sourced};
use gpu_env_tests::*;

fn db() -> Db {
    Db::from_dir(&workspace_root().join("compat-db")).expect("compat-db valid")
}

fn o(flag: &str, v: &str) -> Option<Sourced<String>> {
    Some(Sourced::new(v.to_string(), format!("override:--{flag}")))
}

fn resolve(db: &Db, spec: &str, ov: Overrides) -> Resolution {
    let t =
        job::target(db, spec, &ov, &Default::default()).unwrap_or_else(|e| panic!("{spec}: {e}"));
    gpu_env::solve::resolve(db, &t, &Default::default())
}

fn chosen(r: &Resolution) -> &gpu_env::solve::Choice {
    r.chosen
        .as_ref()
        .unwrap_or_else(|| panic!("{} unsatisfiable: {:#?}", r.target.name, r.fixes))
}

fn gpu(names: &[&str]) -> Overrides {
    Overrides {
        gpus: names
            .iter()
            .map(|n| Sourced::new(n.to_string(), "override:--gpu"))
            .collect(),
        ..Default::default()
    }
}

#[test]
fn colab_t4_on_every_colab_profile() {
    let db = db();
    let profiles: Vec<String> = db
        .runtimes
        .iter()
        .filter(|(_, r)| r.kind == "colab")
        .map(|(_, r)| r.name.clone())
        .collect();
    assert!(profiles.len() >= 5, "{profiles:?}");
    for p in profiles {
        let r = resolve(&db, &format!("colab:T4@{p}"), Overrides::default());
        let c = chosen(&r);
        assert_eq!(c.version, "1.9.1", "{p}");
        assert!(c.package.starts_with("mxnet-cu11"), "{p}: {}", c.package);
        assert_eq!(
            c.gpu_code[0].code,
            gpu_env::solve::gpu_code::GpuCode::Sass { sm: 70 },
            "{p}"
        );
        // Every CUDA soname has a provider; libcudart.so.11.0 is never the image's CUDA 12 one.
        let cudart = &c.providers["libcudart.so.11.0"];
        assert!(
            matches!(cudart, Provider::Pip { package, .. } if package == "nvidia-cuda-runtime-cu11")
                || matches!(cudart, Provider::System { .. }),
            "{p}: {cudart}"
        );
        assert_eq!(c.providers["libcuda.so.1"], Provider::Driver);
        assert_eq!(
            c.driver.ok,
            if r.target.driver.is_some() {
                Some(true)
            } else {
                None
            },
            "{p}"
        );
        // Placeholders and CPU wheels are rejected for the right reason.
        let why = |pkg: &str, v: &str| {
            r.rejected
                .iter()
                .find(|x| x.package == pkg && x.version == v)
                .map(|x| x.rule)
        };
        assert_eq!(why("mxnet-cu117", "1.0.0"), Some(Rule::Placeholder));
        assert_eq!(why("mxnet", "1.9.1"), Some(Rule::Device));
    }
}

#[test]
fn colab_default_is_newest_profile_on_t4() {
    let db = db();
    let r = resolve(&db, "colab", Overrides::default());
    let newest = gpu_env::profile::newest(&db, "colab").unwrap();
    assert_eq!(r.target.name, format!("{}:T4", newest.name));
    assert_eq!(r.status, Status::Resolved);
}

#[test]
fn a100_uses_sass_80() {
    let db = db();
    let c = chosen(&resolve(&db, "colab:A100", Overrides::default())).clone();
    assert_eq!(
        c.gpu_code[0].code,
        gpu_env::solve::gpu_code::GpuCode::Sass { sm: 80 }
    );
    assert_eq!(c.version, "1.9.1");
}

#[test]
fn l4_uses_sass_86() {
    let db = db();
    let c = chosen(&resolve(&db, "colab:L4", Overrides::default())).clone();
    assert_eq!(
        c.gpu_code[0].code,
        gpu_env::solve::gpu_code::GpuCode::Sass { sm: 86 }
    );
}

#[test]
fn h100_is_unsatisfiable_and_says_how_to_build() {
    let db = db();
    let r = resolve(
        &db,
        "local",
        Overrides {
            driver: o("driver", "580.82.07"),
            python: o("python-version", "3.12.3"),
            ..gpu(&["H100"])
        },
    );
    assert_eq!(r.status, Status::Unsatisfiable);
    // The CMake-built 1.9.1 wheels stop at sm_86 and carry no PTX.
    let x = r
        .rejected
        .iter()
        .find(|x| x.package == "mxnet-cu112" && x.version == "1.9.1")
        .unwrap();
    assert_eq!(x.rule, Rule::GpuCode);
    assert!(
        x.reason.contains("no machine code for") && x.reason.contains("sm_90"),
        "{}",
        x.reason
    );
    assert!(
        r.fixes.iter().any(|f| f.contains("MXNET_CUDA_ARCH=9.0")),
        "{:#?}",
        r.fixes
    );
}

#[test]
fn blackwell_is_unsatisfiable() {
    let db = db();
    let r = resolve(
        &db,
        "local",
        Overrides {
            driver: o("driver", "580.82.07"),
            python: o("python-version", "3.12.3"),
            ..gpu(&["12.0"])
        },
    );
    assert_eq!(r.status, Status::Unsatisfiable);
    assert!(
        r.fixes.iter().any(|f| f.contains("MXNET_CUDA_ARCH=12.0")),
        "{:#?}",
        r.fixes
    );
}

#[test]
fn k80_driver_470_cuda_10_2_toolkit() {
    let db = db();
    let ov = Overrides {
        driver: o("driver", "470.82.01"),
        cuda_toolkit: o("cuda-toolkit", "10.2"),
        python: o("python-version", "3.8.10"),
        ..gpu(&["K80"])
    };
    let r = resolve(&db, "local", ov);
    let c = chosen(&r);
    assert_eq!(c.wheel.cuda.unwrap().to_string(), "10.2");
    assert!(
        matches!(c.gpu_code[0].code, gpu_env::solve::gpu_code::GpuCode::Sass { sm } if sm / 10 == 3)
    );
    // CUDA 10 has no pip redistributables: the toolkit provides cudart.
    assert!(matches!(
        c.providers["libcudart.so.10.2"],
        Provider::System { .. }
    ));
    // Wheels that need cuDNN (1.8+ link libcudnn.so.8) lose on cuDNN with no cuDNN installed.
    let x = r
        .rejected
        .iter()
        .find(|x| x.package == "mxnet-cu102" && x.version == "1.9.1")
        .unwrap();
    assert_eq!(x.rule, Rule::Cudnn, "{}", x.reason);
    // CUDA 11 wheels: no machine code for sm_37.
    let x = r
        .rejected
        .iter()
        .find(|x| x.package == "mxnet-cu112" && x.version == "1.9.1")
        .unwrap();
    assert_eq!(x.rule, Rule::GpuCode, "{}", x.reason);
}

#[test]
fn t4_driver_418_cuda_10_1() {
    let db = db();
    let ov = Overrides {
        driver: o("driver", "418.67"),
        cuda_toolkit: o("cuda-toolkit", "10.1"),
        python: o("python-version", "3.7.3"),
        ..gpu(&["T4"])
    };
    let r = resolve(&db, "local", ov);
    let c = chosen(&r);
    assert_eq!(c.package, "mxnet-cu101");
    assert_eq!(
        c.gpu_code[0].code,
        gpu_env::solve::gpu_code::GpuCode::Sass { sm: 75 }
    );
    assert_eq!(c.driver.ok, Some(true));
    // A CUDA 10.2 wheel needs 10.2 libraries the 10.1 toolkit lacks.
    let x = r
        .rejected
        .iter()
        .find(|x| x.package == "mxnet-cu102" && x.version == "1.7.0")
        .unwrap();
    assert_eq!(x.rule, Rule::Soname, "{}", x.reason);
    // CUDA 11 wheels on driver 418: the runtime cannot load.
    let x = r
        .rejected
        .iter()
        .find(|x| x.package == "mxnet-cu112" && x.version == "1.9.1")
        .unwrap();
    assert_eq!(x.rule, Rule::Driver, "{}", x.reason);
    assert!(x.reason.contains("needs NVIDIA driver >="), "{}", x.reason);
}

#[test]
fn no_gpu_gets_the_cpu_wheel() {
    let db = db();
    let r = resolve(
        &db,
        "colab",
        Overrides {
            no_gpu: Some("override:--no-gpu".into()),
            ..Default::default()
        },
    );
    let c = chosen(&r);
    assert_eq!((c.package.as_str(), c.version.as_str()), ("mxnet", "1.9.1"));
    assert!(c.wheel.cuda.is_none());
    let x = r
        .rejected
        .iter()
        .find(|x| x.package == "mxnet-cu112" && x.version == "1.9.1")
        .unwrap();
    assert_eq!(x.rule, Rule::Device);
}

#[test]
fn python_3_12_and_3_13_pick_numpy_with_shims() {
    let db = db();
    for py in ["3.12.3", "3.13.1"] {
        let r = resolve(
            &db,
            "colab",
            Overrides {
                python: o("python-version", py),
                ..Default::default()
            },
        );
        let c = chosen(&r);
        let tag = format!("cp{}", py.split('.').take(2).collect::<Vec<_>>().join(""));
        if let Some(f) = &c.numpy.file {
            assert!(f.filename.contains(&tag), "{py}: {}", f.filename);
        }
        // numpy 1.24..2.0 lacks np.bool; numpy 2 lacks np.PZERO & co (measured,
        // compat-db/breakers.toml): the matching shims must be recorded.
        let v = gpu_env::pep440::version(&c.numpy.version).unwrap();
        let ids: Vec<&str> = c.shims.iter().map(|s| s.id.as_str()).collect();
        if v >= gpu_env::pep440::version("2.0").unwrap() {
            assert!(
                ids.contains(&"numpy2-pzero-nzero") && !ids.contains(&"numpy-bool-alias"),
                "{py}: {ids:?}"
            );
        } else if v >= gpu_env::pep440::version("1.24").unwrap() {
            assert_eq!(ids, vec!["numpy-bool-alias"], "{py}");
        }
    }
}

#[test]
fn every_rejection_names_a_rule_and_a_reason() {
    let db = db();
    let r = resolve(&db, "colab", Overrides::default());
    let total = db.wheel_files().count();
    assert_eq!(r.rejected.len() + 1, total);
    assert!(r.rejected.iter().all(|x| !x.reason.is_empty()));
}

// ---- CLI contract ----

fn resolve_cli(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let mut c = xtask();
    c.current_dir(dir)
        .env("GPU_ENV_PYPI_URL", "http://127.0.0.1:9")
        .arg("resolve")
        .args(args);
    run(c)
}

#[test]
fn offline_colab_writes_lock_requirements_pylock_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = resolve_cli(dir.path(), &["--target", "colab", "--offline"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let lock1 = std::fs::read(dir.path().join("gpu-env.lock")).unwrap();
    let req = std::fs::read_to_string(dir.path().join("requirements-gpu.txt")).unwrap();
    let pylock = std::fs::read_to_string(dir.path().join("pylock.toml")).unwrap();
    assert!(req.contains("--hash=sha256:"));
    assert!(pylock.contains("lock-version = \"1.0\""));
    let lock =
        gpu_env::lock::Lock::parse("gpu-env.lock", std::str::from_utf8(&lock1).unwrap()).unwrap();
    assert_eq!(lock.format, gpu_env::lock::FORMAT);
    assert!(lock.target[0]
        .package
        .iter()
        .all(|p| p.sha256.len() == 64 && p.url.starts_with("https://")));
    // Same inputs, same bytes.
    let (code, _, _) = resolve_cli(dir.path(), &["--target", "colab", "--offline"]);
    assert_eq!(code, 0);
    assert_eq!(
        std::fs::read(dir.path().join("gpu-env.lock")).unwrap(),
        lock1
    );
    // JSON shape.
    let (code, out, _) = resolve_cli(
        dir.path(),
        &["--target", "colab", "--offline", "--json", "--dry-run"],
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "resolved");
    for k in [
        "package", "version", "filename", "sha256", "cuda", "gpu_code",
    ] {
        assert!(!v["mxnet"][k].is_null(), "mxnet.{k}");
    }
    for k in ["min", "ok"] {
        assert!(v["driver"].get(k).is_some(), "driver.{k}");
    }
    assert!(v["cudnn"]["version"].is_string() && v["cudnn"]["provider"].is_string());
    assert!(v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["name"].is_string()
            && p["sha256"].is_string()
            && p["url"].is_string()
            && p["version"].is_string()));
    assert!(v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["package"].is_string() && p["reason"].is_string()));
    assert!(v["shims"].is_array());
}

#[test]
fn unsatisfiable_exits_1_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = resolve_cli(
        dir.path(),
        &[
            "--target",
            "local",
            "--gpu",
            "H100",
            "--driver",
            "580.82.07",
            "--python-version",
            "3.12.3",
            "--offline",
        ],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("fix:"), "{out}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "something was written"
    );
}

#[test]
fn newer_lock_format_is_refused_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let newer = "format = 99\nsomething = \"from the future\"\n";
    std::fs::write(dir.path().join("gpu-env.lock"), newer).unwrap();
    let (code, _, err) = resolve_cli(dir.path(), &["--target", "colab", "--offline"]);
    assert_eq!(code, 2);
    assert!(err.contains("lock format 99 is newer"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("gpu-env.lock")).unwrap(),
        newer
    );
}

#[test]
fn config_targets_and_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Cargo.toml"), "[workspace]\n[workspace.metadata.gpu-env]\ntargets = [\"colab:A100\"]\nconstraints = { mxnet = \">=1.9\" }\n").unwrap();
    let (code, out, err) = resolve_cli(dir.path(), &["--offline", "--dry-run"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(":A100"), "{out}");
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[workspace]\n[workspace.metadata.gpu-env]\ntargetz = [\"colab\"]\n",
    )
    .unwrap();
    let (code, _, err) = resolve_cli(dir.path(), &["--offline", "--dry-run"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("Cargo.toml: [workspace.metadata.gpu-env]: unknown field `targetz`"),
        "{err}"
    );
}

#[test]
fn bad_override_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = resolve_cli(
        dir.path(),
        &["--target", "colab", "--gpu", "Z9000", "--offline"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("`Z9000` is not a GPU"), "{err}");
    let (code, _, err) = resolve_cli(
        dir.path(),
        &["--target", "colab", "--driver", "latest", "--offline"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("override:--driver") && err.contains("invalid driver version"),
        "{err}"
    );
}
