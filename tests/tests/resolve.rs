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
    // CUDA 12 builds of 1.9.1 fail; CUDA 11.8 targets sm_90 untried.
    assert!(
        r.fixes
            .iter()
            .any(|f| f.contains("no source build is known to work")
                && f.contains("a build with CUDA 11.8 (MXNET_CUDA_ARCH=9.0)")),
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
    // Only CUDA 12.8 and later target sm_120, and 1.9.1 does not compile
    // with CUDA 12: no build route is offered.
    assert!(
        r.fixes
            .iter()
            .any(|f| f.contains("no route to build one is known")),
        "{:#?}",
        r.fixes
    );
    assert!(
        !r.fixes.iter().any(|f| f.contains("MXNET_CUDA_ARCH")),
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

/// `resolve` in `dir`, a repo (a bare workspace manifest) or not yet one.
fn resolve_cli(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    if !dir.join("Cargo.toml").exists() {
        std::fs::write(dir.join("Cargo.toml"), "[workspace]\n").unwrap();
    }
    let mut c = xtask!();
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
    // It ends with what to do with what it wrote.
    let next = out.lines().last().unwrap_or_default();
    assert!(
        next.starts_with("next (colab-")
            && next.contains("paste colab/setup_cell.py into the first cell, or upload colab/gpu-env-setup.ipynb"),
        "{out}"
    );
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
fn outside_any_workspace_resolve_names_init_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = xtask!();
    c.current_dir(dir.path())
        .args(["resolve", "--target", "colab", "--offline"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("no Cargo.toml here or in any parent directory")
            && err.contains("`cargo xtask init DIR`"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
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
    let written: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "Cargo.toml")
        .collect();
    assert!(written.is_empty(), "something was written: {written:?}");
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
        err.contains(
            "Cargo.toml:3:1: [workspace.metadata.gpu-env]: `targetz`: unknown field `targetz`"
        ) && err.contains("did you mean `target` or `targets`?"),
        "{err}"
    );
    // A known key with the shape of its neighbour: placed, and the neighbour named.
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[workspace]\n\n[workspace.metadata.gpu-env]\ntarget = [\"colab\"]\n",
    )
    .unwrap();
    let (code, _, err) = resolve_cli(dir.path(), &["--offline", "--dry-run"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("Cargo.toml:4:")
            && err.contains("[workspace.metadata.gpu-env]: `target`: invalid type")
            && err.trim_end().ends_with("did you mean `targets`?"),
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
    assert!(
        err.contains("`Z9000` is not a GPU compat-db knows"),
        "{err}"
    );
    // A near miss names the nearest known GPUs.
    let (code, _, err) = resolve_cli(
        dir.path(),
        &[
            "--target",
            "colab",
            "--gpu",
            "RTX 4900",
            "--offline",
            "--dry-run",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `RTX 4090`"), "{err}");
    // Versions compat-db does not know are refused with the known range.
    for (flag, value, words) in [
        (
            "--cuda-toolkit",
            "99.9",
            "CUDA 99.9 is not a release compat-db knows (7.5 to ",
        ),
        (
            "--cudnn",
            "99.1",
            "cuDNN 99.1 is outside the releases compat-db knows (",
        ),
        (
            "--driver",
            "9999.1",
            "driver 9999.1 is outside the drivers compat-db knows (",
        ),
        (
            "--python-version",
            "3.99",
            "Python 3.99 is not a version compat-db knows (",
        ),
    ] {
        let (code, _, err) = resolve_cli(
            dir.path(),
            &["--target", "colab", flag, value, "--offline", "--dry-run"],
        );
        assert_eq!(code, 2, "{flag} {value}");
        assert!(err.contains(words), "{flag} {value}: {err}");
    }
    // A GPU no Colab runtime offers points at the local target.
    let (code, _, err) = resolve_cli(
        dir.path(),
        &[
            "--target",
            "colab",
            "--gpu",
            "RTX 4090",
            "--offline",
            "--dry-run",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("use `--target local`"), "{err}");
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

// ---- needs (issue 10): what `import mxnet` needs beyond its wheel ----

/// A local CPU target on CPython `py` (the probe's GPU facts overridden).
fn local_cpu(py: &str) -> Overrides {
    Overrides {
        no_gpu: Some("override:--no-gpu".into()),
        python: o("python-version", py),
        ..Default::default()
    }
}

/// The compat-db/pypi file record of `name` `version` that has `filename`.
fn pypi_file<'a>(
    db: &'a Db,
    name: &str,
    version: &str,
    filename: &str,
) -> &'a gpu_env::db::model::PypiFile {
    db.pypi
        .iter()
        .filter(|(_, p)| p.package == name)
        .flat_map(|(_, p)| &p.release)
        .filter(|r| r.version == version)
        .flat_map(|r| &r.file)
        .find(|f| f.filename == filename)
        .unwrap_or_else(|| panic!("{name} {version} {filename} is not in compat-db/pypi"))
}

fn need_pins(c: &gpu_env::solve::Choice) -> Vec<&gpu_env::solve::Pin> {
    c.packages.iter().filter(|p| p.role == "need").collect()
}

const REQUESTS_AND_DEPS: [&str; 5] = [
    "certifi",
    "charset-normalizer",
    "idna",
    "requests",
    "urllib3",
];

#[test]
fn local_python_3_12_pins_requests_its_deps_and_setuptools() {
    let db = db();
    let r = resolve(&db, "local", local_cpu("3.12.3"));
    let c = chosen(&r);
    assert!(c.wheel.cuda.is_none(), "{}", c.wheel.filename);
    let pins = need_pins(c);
    let names: Vec<&str> = pins.iter().map(|p| p.name.as_str()).collect();
    let mut want = REQUESTS_AND_DEPS.to_vec();
    want.push("setuptools");
    want.sort();
    assert_eq!(names, want, "pinned by name");
    assert!(c.needs.is_empty(), "{:?}", c.needs);
    let py = gpu_env::pep440::version("3.12.3").unwrap();
    for p in &pins {
        // The file and hash PyPI lists, as compat-db records it.
        let f = pypi_file(&db, &p.name, &p.version, &p.filename);
        assert_eq!(
            (&p.sha256, &p.url, p.size),
            (&f.sha256, &f.url, f.size),
            "{}",
            p.name
        );
        assert!(p
            .url
            .starts_with("https://files.pythonhosted.org/packages/"));
        assert!(p.filename.ends_with("-none-any.whl"), "{}", p.filename);
        let rel = db
            .pypi
            .iter()
            .flat_map(|(_, x)| &x.release)
            .find(|r| r.file.iter().any(|x| x.filename == p.filename))
            .unwrap();
        if let Some(rp) = &rel.requires_python {
            assert!(rp.contains(&py), "{} {rp}", p.name);
        }
    }
    // requests' own Requires-Dist is met by what was pinned beside it, and
    // MXNet's (requests<3,>=2.20.0) by requests.
    let version = |n: &str| {
        let p = pins.iter().find(|p| p.name == n).unwrap();
        gpu_env::pep440::version(&p.version).unwrap()
    };
    let requests = db
        .pypi
        .iter()
        .flat_map(|(_, x)| &x.release)
        .find(|r| {
            r.file.iter().any(|f| f.filename.starts_with("requests-"))
                && r.version == pins.iter().find(|p| p.name == "requests").unwrap().version
        })
        .unwrap();
    assert_eq!(
        requests.requires_dist.len(),
        4,
        "{:?}",
        requests.requires_dist
    );
    for req in &requests.requires_dist {
        let q = req.requirement();
        if let Some(spec) = &q.spec {
            assert!(spec.contains(&version(&q.name)), "{req}");
        }
    }
    assert!(gpu_env::pep440::specifiers("<3,>=2.20.0")
        .unwrap()
        .contains(&version("requests")));

    // In the lock: role `need`, installed into the environment; and in the
    // hash-pinned requirements file.
    let locked = gpu_env::lock::lock_target("local", Default::default(), &r).unwrap();
    let locked_needs: Vec<_> = locked.package.iter().filter(|p| p.role == "need").collect();
    assert_eq!(locked_needs.len(), 6);
    assert!(locked_needs.iter().all(|p| p.install == "site"));
    assert!(locked.need.is_empty());
    let req = gpu_env::lock::requirements("0", &locked, None);
    for p in &pins {
        assert!(
            req.contains(&format!(
                "{}=={} \\\n    --hash=sha256:{}",
                p.name, p.version, p.sha256
            )),
            "{req}"
        );
    }
}

#[test]
fn local_python_3_11_pins_requests_but_not_setuptools() {
    let db = db();
    let c = chosen(&resolve(&db, "local", local_cpu("3.11.7"))).clone();
    let names: Vec<&str> = need_pins(&c).iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, REQUESTS_AND_DEPS.to_vec());
    assert!(c.needs.is_empty(), "{:?}", c.needs);
}

#[test]
fn local_python_3_8_gets_releases_that_still_support_it() {
    let db = db();
    let c = chosen(&resolve(&db, "local", local_cpu("3.8.10"))).clone();
    let pins = need_pins(&c);
    assert_eq!(pins.len(), 5, "{pins:?}");
    let py = gpu_env::pep440::version("3.8.10").unwrap();
    for p in pins {
        let rel = db
            .pypi
            .iter()
            .flat_map(|(_, x)| &x.release)
            .find(|r| r.file.iter().any(|f| f.filename == p.filename))
            .unwrap();
        let rp = rel.requires_python.as_ref();
        assert!(
            rp.is_none_or(|rp| rp.contains(&py)),
            "{} {rp:?}",
            p.filename
        );
    }
}

#[test]
fn notebook_targets_pin_no_needs_and_still_list_them() {
    let db = db();
    // Colab ships requests and setuptools: nothing to pin, nothing to list.
    let r = resolve(&db, "colab", Overrides::default());
    let c = chosen(&r);
    assert!(need_pins(c).is_empty());
    assert!(c.needs.is_empty(), "{:?}", c.needs);
    // A Colab target not known to have them lists them, as before, and
    // still pins none.
    let mut t = job::target(&db, "colab", &Overrides::default(), &Default::default()).unwrap();
    t.preinstalled.value.remove("requests");
    t.preinstalled.value.remove("setuptools");
    let r = gpu_env::solve::resolve(&db, &t, &Default::default());
    let c = chosen(&r);
    assert!(need_pins(c).is_empty());
    let listed: Vec<&str> = c.needs.iter().map(|n| n.package.as_str()).collect();
    assert_eq!(listed, vec!["requests", "setuptools"]);
    assert!(
        c.needs[0].reason.contains("requests-absent"),
        "{}",
        c.needs[0].reason
    );
    assert!(!c.needs[0].reason.contains("not pinned"));
    // Kaggle 2026.08's freeze has no setuptools on Python 3.12: listed, not pinned.
    let r = resolve(&db, "kaggle", Overrides::default());
    let c = chosen(&r);
    assert_eq!(r.target.kind, "kaggle");
    assert!(need_pins(c).is_empty());
    let listed: Vec<&str> = c.needs.iter().map(|n| n.package.as_str()).collect();
    assert_eq!(listed, vec!["setuptools"]);
}

#[test]
fn unmet_requirement_falls_back_to_an_older_release_or_stays_listed() {
    // The newest requests asks for an idna no record has: the next older
    // requests is pinned instead.
    let mut db = db();
    let requests = &mut db
        .pypi
        .iter_mut()
        .find(|(_, p)| p.package == "requests")
        .unwrap()
        .1;
    requests.release.sort_by(|a, b| {
        gpu_env::pep440::version(&b.version)
            .unwrap()
            .cmp(&gpu_env::pep440::version(&a.version).unwrap())
    });
    let newest = requests.release[0].version.clone();
    requests.release[0].requires_dist = vec!["idna>=99".parse().unwrap()];
    let c = chosen(&resolve(&db, "local", local_cpu("3.12.3"))).clone();
    let pinned = need_pins(&c)
        .into_iter()
        .find(|p| p.name == "requests")
        .map(|p| p.version.clone())
        .unwrap();
    assert_ne!(pinned, newest);
    assert!(c.needs.is_empty());

    // No certifi at all: requests cannot be pinned and stays a need with
    // the reason; setuptools is pinned regardless.
    let mut db = self::db();
    db.pypi.retain(|(_, p)| p.package != "certifi");
    let c = chosen(&resolve(&db, "local", local_cpu("3.12.3"))).clone();
    let names: Vec<&str> = need_pins(&c).iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["setuptools"]);
    assert_eq!(c.needs.len(), 1);
    assert_eq!(c.needs[0].package, "requests");
    assert!(
        c.needs[0]
            .reason
            .contains("not pinned: compat-db has no record of certifi"),
        "{}",
        c.needs[0].reason
    );
}

#[test]
fn db_check_validates_pypi_requires_dist() {
    let root = workspace_root().join("compat-db");
    let files = gpu_env::db::read_dir_files(&root).unwrap();
    let broken = |from: &str, to: &str| {
        let mut files = files.clone();
        let f = files
            .iter_mut()
            .find(|f| f.path == "pypi/requests.toml")
            .unwrap();
        assert!(f.text.contains(from), "fixture lacks {from:?}");
        f.text = f.text.replacen(from, to, 1);
        match gpu_env::db::load_files(&files) {
            Ok(_) => vec![],
            Err(d) => d.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        }
    };
    let line = files
        .iter()
        .find(|f| f.path == "pypi/requests.toml")
        .unwrap()
        .text
        .lines()
        .position(|l| l.starts_with("requires_dist = ["))
        .unwrap()
        + 1;
    for (to, msg) in [
        ("\"certifi[socks]>=2023.5.7\"", "extras are not supported"),
        (
            "\"certifi>=2023.5.7; extra == 'x'\"",
            "`extra` markers are not recorded",
        ),
        (
            "\"certifi>=2023.5.7; platform_release == '6'\"",
            "unknown marker variable `platform_release`",
        ),
        ("\"certifi>=banana\"", "invalid PEP 440 specifier"),
        (
            "\"nosuchpackage>=1\"",
            "nosuchpackage has no record in compat-db/pypi",
        ),
    ] {
        let errs = broken("\"certifi>=2023.5.7\"", to);
        assert_eq!(errs.len(), 1, "{to}: {errs:#?}");
        assert!(
            errs[0].starts_with(&format!("pypi/requests.toml:{line}:")) && errs[0].contains(msg),
            "{to}: {}",
            errs[0]
        );
    }
    // A marker that never holds on Linux needs no record; one that does, evaluated, is fine.
    assert!(broken(
        "\"certifi>=2023.5.7\"",
        "\"certifi>=2023.5.7\", \"pywin32; sys_platform == 'win32'\""
    )
    .is_empty());
    assert!(broken(
        "\"certifi>=2023.5.7\"",
        "\"certifi>=2023.5.7; python_version >= '3.8'\""
    )
    .is_empty());
}

// ---- issue 12: every broken rule, nearest fixes, NVRTC and the driver ----

fn rejection<'a>(r: &'a Resolution, pkg: &str, v: &str) -> &'a gpu_env::solve::Rejection {
    r.rejected
        .iter()
        .find(|x| x.package == pkg && x.version == v)
        .unwrap_or_else(|| panic!("{pkg} {v} not rejected"))
}

/// A cu102 wheel on a CUDA 11 system with cuDNN 8: mxnet-cu102 1.9.0 links
/// libcudnn.so.8 before libcudart.so.10.2 (its measured DT_NEEDED). The
/// loader finds the system's cuDNN 8 and stops at libcudart.so.10.2; the
/// cuDNN build mismatch comes after, and every rule is listed.
#[test]
fn cu102_on_cuda_11_reports_the_missing_cudart_first() {
    let db = db();
    let ov = Overrides {
        driver: o("driver", "450.80.02"),
        cuda_toolkit: o("cuda-toolkit", "11.0"),
        cudnn: o("cudnn", "8.0.5"),
        python: o("python-version", "3.8.10"),
        ..gpu(&["T4"])
    };
    let r = resolve(&db, "local", ov);
    let x = rejection(&r, "mxnet-cu102", "1.9.0");
    assert_eq!(x.rule, Rule::Soname, "{:#?}", x.rules);
    assert!(x.reason.starts_with("libcudart.so.10.2 "), "{}", x.reason);
    assert_eq!(
        (x.rules[0].rule, x.rules[0].reason.as_str()),
        (x.rule, x.reason.as_str())
    );
    let cudnn = x
        .rules
        .iter()
        .position(|b| b.rule == Rule::Cudnn)
        .unwrap_or_else(|| panic!("{:#?}", x.rules));
    assert!(cudnn > 0);
    assert!(
        x.rules[cudnn].reason.contains("CUDA 11.0 toolkit"),
        "{}",
        x.rules[cudnn].reason
    );
    // Every soname the CUDA 11.0 system lacks is listed, in DT_NEEDED order
    // (libcufft.so.10, libcusolver.so.10 and libcurand.so.10 are CUDA 11.0's too).
    let sonames: Vec<&str> = x
        .rules
        .iter()
        .filter(|b| b.rule == Rule::Soname)
        .map(|b| b.reason.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        sonames,
        [
            "libcudart.so.10.2",
            "libcublas.so.10",
            "libnvrtc.so.10.2",
            "libnccl.so.2"
        ]
    );
}

/// Colab's CUDA 11.8 image (colab-2023.11) on a K80 (sm_37): no cu110+
/// wheel has code for it. The first fix installs a CUDA 10.x toolkit and
/// names the wheel it enables: mxnet-cu102 1.7.0.post1, whose record
/// carries SASS sm_35.
#[test]
fn k80_on_colab_cuda_11_first_fix_is_a_cuda_10_toolkit() {
    let db = db();
    let r = resolve(&db, "colab-2023.11", gpu(&["3.7"]));
    assert_eq!(r.status, Status::Unsatisfiable);
    let first = &r.fixes[0];
    assert!(
        first.starts_with("install the CUDA 10.2 toolkit: enables mxnet-cu102==1.7.0.post1")
            && first.contains("SASS sm_35"),
        "{:#?}",
        r.fixes
    );
    // No fix suggests a pre-release or a wheel PyPI replaced (1.8.0 -> 1.8.0.post0).
    assert!(
        r.fixes
            .iter()
            .all(|f| !f.contains("2.0.0") && !f.contains("==1.8.0 ") && !f.contains("replaced")),
        "{:#?}",
        r.fixes
    );
}

/// The fix search re-runs the rules: applying the first fix's change to the
/// target resolves to the wheel it names.
#[test]
fn the_first_fix_resolves_when_applied() {
    let db = db();
    let ov = Overrides {
        cuda_toolkit: o("cuda-toolkit", "10.2"),
        ..gpu(&["3.7"])
    };
    let c = chosen(&resolve(&db, "colab-2023.11", ov)).clone();
    assert_eq!(
        (c.package.as_str(), c.version.as_str()),
        ("mxnet-cu102", "1.7.0.post1")
    );
}

#[test]
fn ranked_lower_is_its_own_rule_with_one_name_everywhere() {
    let db = db();
    let r = resolve(&db, "colab", Overrides::default());
    assert!(r.rejected.iter().any(|x| x.rule == Rule::RankedLower));
    assert!(r.rejected.iter().all(|x| x.rule != Rule::Constraint));
    let json = gpu_env::report::resolution_json("colab", &r);
    for (x, j) in r.rejected.iter().zip(json["rejected"].as_array().unwrap()) {
        assert_eq!(j["rule"], x.rule.name());
        assert_eq!(j["rules"][0]["rule"], x.rule.name());
        assert_eq!(j["rules"].as_array().unwrap().len(), x.rules.len());
    }
    assert_eq!(Rule::GpuCode.name(), "gpu_code");
    assert_eq!(Rule::RankedLower.name(), "ranked_lower");
}

/// NVRTC from pip must be one the driver can JIT the PTX of (measured on an
/// H200: the driver rejects PTX of a newer ISA, docs/solver.md). compat-db
/// has nvidia-cuda-nvrtc-cu11 11.7.99 and 11.8.89.
#[test]
fn nvrtc_follows_the_driver_or_fusion_is_off() {
    let db = db();
    let on = |driver: &str| {
        let ov = Overrides {
            driver: o("driver", driver),
            python: o("python-version", "3.10.12"),
            ..gpu(&["T4"])
        };
        chosen(&resolve(&db, "local", ov)).clone()
    };
    // 520.61.05 is CUDA 11.8's driver: the newest NVRTC, fusion on.
    let c = on("520.61.05");
    assert!(
        matches!(&c.providers["libnvrtc.so.11.2"], Provider::Pip { version, .. } if version == "11.8.89")
    );
    assert!(c.env.is_empty(), "{:?}", c.env);
    // 515.43.04 is CUDA 11.7's: NVRTC 11.7.99, fusion on.
    let c = on("515.43.04");
    assert!(
        matches!(&c.providers["libnvrtc.so.11.2"], Provider::Pip { version, .. } if version == "11.7.99"),
        "{:?}",
        c.providers
    );
    assert!(c.env.is_empty(), "{:?}", c.env);
    // 470.82.01 is CUDA 11.4's: no NVRTC in compat-db fits, fusion off, and why.
    let c = on("470.82.01");
    assert_eq!(c.env.len(), 1, "{:?}", c.env);
    assert_eq!(
        (c.env[0].name.as_str(), c.env[0].value.as_str()),
        ("MXNET_USE_FUSION", "0")
    );
    assert!(c.env[0].why.contains("CUDA 11.4"), "{}", c.env[0].why);
}

/// A device that runs the wheel's PTX gets the JIT warning with the cache
/// settings: mxnet-cu80 0.9.5.post2 has SASS and PTX for sm_20 only, so a
/// GTX 1080 (6.1) JIT-compiles its kernels. (An H100 with a CUDA 10.2 build
/// is no such case: CUDA 10.2 predates compute capability 9.x, rule
/// `gpu_code`, tests/tests/arch_floor.rs.)
#[test]
fn ptx_choice_warns_about_jit_and_its_cache() {
    let db = db();
    let ov = Overrides {
        driver: o("driver", "384.81"),
        cuda_toolkit: o("cuda-toolkit", "8.0"),
        cudnn: o("cudnn", "6.0.21"),
        python: o("python-version", "3.6.9"),
        ..gpu(&["GTX 1080"])
    };
    let t = job::target(&db, "local", &ov, &Default::default()).unwrap();
    let c = gpu_env::solve::Constraints {
        mxnet: gpu_env::pep440::specifiers("==0.9.5.post2").ok(),
        mxnet_package: Some("mxnet-cu80".into()),
        ..Default::default()
    };
    let r = gpu_env::solve::resolve(&db, &t, &c);
    let c = chosen(&r).clone();
    assert!(matches!(
        c.gpu_code[0].code,
        gpu_env::solve::gpu_code::GpuCode::Ptx { .. }
    ));
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("CUDA_CACHE_MAXSIZE") && w.contains("CUDA_CACHE_PATH")),
        "{:?}",
        c.warnings
    );
    let ov = Overrides {
        driver: o("driver", "580.82.07"),
        cuda_toolkit: o("cuda-toolkit", "10.2"),
        python: o("python-version", "3.8.10"),
        ..gpu(&["H100"])
    };
    assert!(resolve(&db, "local", ov).chosen.is_none());
}

/// RTX 2080 (sm_75), CUDA 9.0 toolkit, driver 410: SASS sm_70 would run by
/// binary compatibility, but CUDA 9's libraries predate Turing (compat-db
/// cuda.toml [cuda.library_arch], apache/mxnet#13337): no mxnet-cu90 wheel
/// is accepted, each is rejected under gpu_code naming CUDA 9.0 and the
/// source, and the first fix is a CUDA 10 toolkit with a wheel that has sm_75.
#[test]
fn turing_on_cuda_9_is_not_accepted() {
    let db = db();
    let ov = Overrides {
        driver: o("driver", "410.48"),
        cuda_toolkit: o("cuda-toolkit", "9.0"),
        python: o("python-version", "3.6.9"),
        ..gpu(&["RTX 2080"])
    };
    let r = resolve(&db, "local", ov);
    assert!(
        r.chosen.as_ref().is_none_or(|c| c.package != "mxnet-cu90"),
        "{:?}",
        r.chosen.as_ref().map(|c| (&c.package, &c.version))
    );
    let x = rejection(&r, "mxnet-cu90", "1.6.0.post0");
    assert_eq!(x.rule, Rule::GpuCode, "{:#?}", x.rules);
    assert!(
        x.reason.contains("CUDA 9.0") && x.reason.contains("apache/mxnet/issues/13337"),
        "{}",
        x.reason
    );
    assert!(
        r.fixes[0].starts_with("install the CUDA 10.") && r.fixes[0].contains("SASS sm_75"),
        "{:#?}",
        r.fixes
    );
}

/// Fusion off is recorded in the lock, carried into the data the cell and
/// the install hook run with, and set by the shared runtime before
/// `import mxnet`.
#[test]
fn fusion_off_is_locked_and_applied() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--target",
        "local",
        "--gpu",
        "T4",
        "--driver",
        "470.82.01",
        "--python-version",
        "3.10.12",
        "--offline",
    ];
    let (code, out, err) = resolve_cli(dir.path(), &args);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("env           MXNET_USE_FUSION=0: "), "{out}");
    let text = std::fs::read_to_string(dir.path().join("gpu-env.lock")).unwrap();
    let lock = gpu_env::lock::Lock::parse("gpu-env.lock", &text).unwrap();
    let t = &lock.target[0];
    assert_eq!(t.env.len(), 1, "{text}");
    assert_eq!(
        (t.env[0].name.as_str(), t.env[0].value.as_str()),
        ("MXNET_USE_FUSION", "0")
    );
    let data = gpu_env::emit::target_json(&db(), t).unwrap();
    assert_eq!(data["env"], serde_json::json!([["MXNET_USE_FUSION", "0"]]));
    // The shared runtime sets it (the cell and the install hook call this
    // before importing mxnet).
    let prog = format!(
        "{}\nimport json, os\n_gpu_env_apply_shims(json.loads({:?}), say=lambda m: None)\nprint(os.environ.get('MXNET_USE_FUSION'))\n",
        gpu_env::emit::RUNTIME_PY,
        serde_json::json!({"env": data["env"], "shims": []}).to_string()
    );
    let py = std::process::Command::new("python3")
        .arg("-c")
        .arg(prog)
        .output()
        .expect("python3 runs");
    assert_eq!(String::from_utf8_lossy(&py.stdout).trim(), "0", "{py:?}");
    // A hand-edited lock cannot set anything else.
    let edited = text.replace("name = \"MXNET_USE_FUSION\"", "name = \"LD_PRELOAD\"");
    assert!(gpu_env::lock::Lock::parse("gpu-env.lock", &edited).is_err());
}
