//! `verify`: NVRTC from PyPI compiles the kernel (no GPU needed), the loader
//! emulation against stub libraries, and `cargo xtask verify` on this
//! machine: the device layers run where the driver lists a GPU, and without
//! one the documented exit code 3 (no panic either way).

use gpu_env::host::loader::{self, SearchPaths};
use gpu_env::host::nvrtc::{self, Nvrtc, Output};
use gpu_env_tests::*;
use std::path::PathBuf;

fn nvrtc12() -> Nvrtc {
    let venv = tools_venv();
    let dir = nvidia_dir(&venv).join("cuda_nvrtc/lib");
    Nvrtc::find(&[dir]).expect("libnvrtc.so.12 from nvidia-cuda-nvrtc-cu12 opens")
}

#[test]
fn nvrtc_from_pypi_compiles_saxpy_to_ptx_and_cubin() {
    let n = nvrtc12();
    assert!(n.path.contains("libnvrtc.so.12"), "{}", n.path);
    assert_eq!(n.version.0, 12);
    let archs = n.supported_archs().unwrap();
    assert!(archs.contains(&75) && archs.contains(&90), "{archs:?}");
    let ptx = n
        .compile(nvrtc::SAXPY, nvrtc::SAXPY_NAME, Output::Ptx(75))
        .unwrap();
    assert_eq!(nvrtc::ptx_target(&ptx).as_deref(), Some("sm_75"));
    assert!(String::from_utf8_lossy(&ptx).contains(".entry saxpy"));
    for sm in [75, 90] {
        let cubin = n
            .compile(nvrtc::SAXPY, nvrtc::SAXPY_NAME, Output::Cubin(sm))
            .unwrap();
        assert!(nvrtc::is_elf(&cubin), "sm_{sm} CUBIN is not an ELF");
        // e_machine 190 = EM_CUDA.
        assert_eq!(u16::from_le_bytes([cubin[18], cubin[19]]), 190);
    }
    // A compile error carries NVRTC's log.
    let e = n
        .compile("__global__ void k() { nope; }", "bad", Output::Ptx(75))
        .unwrap_err();
    assert!(
        matches!(&e, nvrtc::NvrtcError::Compile { log, .. } if log.contains("nope")),
        "{e}"
    );
    assert!(e.to_string().contains("nope"), "{e}");
    // The kernel layer's arch choice: CUBIN for a known device, PTX below an unknown one.
    assert_eq!(nvrtc::kernel_target(&archs, 90), Some(Output::Cubin(90)));
    let max = *archs.iter().max().unwrap();
    assert_eq!(nvrtc::kernel_target(&archs, 999), Some(Output::Ptx(max)));
}

#[test]
fn nvrtc_search_finds_pip_dirs_and_reports_every_miss() {
    let venv = tools_venv();
    let site = nvidia_dir(&venv).parent().unwrap().to_path_buf();
    let dirs = nvrtc::search_dirs(&[PathBuf::from("/nonexistent/cuda/lib64")], &[site]);
    assert!(
        dirs.iter().any(|d| d.ends_with("nvidia/cuda_nvrtc/lib")),
        "{dirs:?}"
    );
    assert!(Nvrtc::open("/nonexistent/libnvrtc.so.13").is_err());
    // Without dirs only the default sonames are tried, each listed.
    if let Err(e) = Nvrtc::find(&[]) {
        assert_eq!(
            e.lines().len(),
            nvrtc::DEFAULT_SONAMES.len(),
            "{:?}",
            e.lines()
        );
    }
}

fn stub(dir: &std::path::Path, soname: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let c = dir.join("stub.c");
    std::fs::write(&c, "int gpu_env_stub(void) { return 1; }\n").unwrap();
    let out = dir.join(soname);
    let st = std::process::Command::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&c)
        .arg(format!("-Wl,-soname,{soname}"))
        .status()
        .unwrap();
    assert!(st.success());
    out
}

#[test]
fn loader_emulation_follows_ld_so_order() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // The library: needs three sonames, RPATH $ORIGIN/../libs.
    let so = build_so(
        &root.join("pkg"),
        &["libbundled.so.1", "libfromenv.so.2", "libpip.so.11"],
        "$ORIGIN/../libs",
        None,
    );
    let elf = gpu_env::binary::elf::read_elf(&std::fs::read(&so).unwrap()).unwrap();
    assert_eq!(elf.rpath, vec!["$ORIGIN/../libs"]);
    let bundled = stub(&root.join("libs"), "libbundled.so.1");
    let env_lib = stub(&root.join("envdir"), "libfromenv.so.2");
    // Also present in the RPATH dir shadowed? No: only in LD_LIBRARY_PATH.
    let pip = stub(&root.join("site/nvidia/pipthing/lib"), "libpip.so.11");
    let cache = loader::parse_ldconfig_p(
        &std::fs::read_to_string(fixtures().join("verify/ldconfig-p.txt")).unwrap(),
    );
    assert_eq!(
        cache.get("libcudnn.so.8").unwrap(),
        &PathBuf::from("/usr/lib/x86_64-linux-gnu/libcudnn.so.8")
    );
    assert_eq!(
        cache.get("libcuda.so.1").unwrap(),
        &PathBuf::from("/usr/lib/x86_64-linux-gnu/libcuda.so.1")
    );
    let base = SearchPaths {
        ld_library_path: loader::split_ld_library_path(Some(&format!(
            "{}::/nonexistent",
            root.join("envdir").display()
        ))),
        ld_cache: cache,
        default_dirs: vec![],
        preload_dirs: loader::nvidia_lib_dirs(&[root.join("site")])
            .into_iter()
            .map(|d| (d, "site-packages".to_string()))
            .collect(),
        ..Default::default()
    };
    let sp = base.for_object(
        so.parent().map(|p| p.to_path_buf()),
        &elf.rpath,
        &elf.runpath,
    );
    let r = sp.resolve("libbundled.so.1");
    assert_eq!((r.via.as_str(), r.loader), ("rpath", true));
    assert_eq!(
        r.path.unwrap().canonicalize().unwrap(),
        bundled.canonicalize().unwrap()
    );
    let r = sp.resolve("libfromenv.so.2");
    assert_eq!(
        (r.via.as_str(), r.path.as_ref()),
        ("ld_library_path", Some(&env_lib))
    );
    let r = sp.resolve("libpip.so.11");
    assert_eq!((r.via.as_str(), r.loader), ("preload", false));
    assert_eq!(r.path.as_ref(), Some(&pip));
    let r = sp.resolve("libcudnn.so.8");
    assert_eq!(r.via, "ld_cache");
    let r = sp.resolve("libnothere.so.3");
    assert_eq!((r.via.as_str(), r.path), ("missing", None));

    // With DT_RUNPATH, DT_RPATH is ignored and LD_LIBRARY_PATH comes first.
    stub(&root.join("envdir"), "libbundled.so.1");
    let rp = base.for_object(
        so.parent().map(|p| p.to_path_buf()),
        &elf.rpath,
        &["$ORIGIN/../libs".to_string()],
    );
    assert_eq!(rp.resolve("libbundled.so.1").via, "ld_library_path");
    assert_eq!(sp.resolve("libbundled.so.1").via, "rpath");
    // No origin: a $ORIGIN entry cannot be expanded.
    assert_eq!(loader::expand("$ORIGIN/x", None), None);
    assert_eq!(
        loader::expand("${ORIGIN}/../lib", Some(std::path::Path::new("/a/b"))),
        Some(PathBuf::from("/a/b/../lib"))
    );

    // dlopen of what resolved.
    let errs = loader::dlopen_all(&[bundled.clone(), pip.clone(), root.join("missing.so")]);
    assert_eq!(errs.len(), 1, "{errs:?}");
}

/// What `verify` does depends on the driver: the test asks libcuda the same
/// question verify asks (`gpu_env::host::cuda::query`, in this process) and
/// asserts that branch, so it checks something on every machine.
#[test]
fn verify_runs_device_layers_with_a_device_and_exits_3_without() {
    let lock = fixtures().join("verify/cu112-t4.lock");
    let mut c = xtask!();
    c.args(["verify", "--json", "--no-python", "--lock"])
        .arg(&lock);
    let (code, out, err) = run(c);
    assert!(!err.contains("panicked"), "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    assert_eq!(v["schema"], 1);
    assert_eq!(v["exit_code"], code, "{out}");
    let layers = v["layers"].as_array().unwrap();
    let names: Vec<&str> = layers.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["driver", "kernel", "gpu_code", "libraries", "python"]
    );
    for l in layers {
        assert!(l["ms"].as_f64().is_some(), "{l}");
        assert!(!l["reason"].as_str().unwrap().is_empty(), "{l}");
    }
    let status = |name: &str| layers.iter().find(|l| l["name"] == name).unwrap()["status"].clone();
    let reason = |name: &str| {
        let l = layers.iter().find(|l| l["name"] == name).unwrap();
        l["reason"].as_str().unwrap().to_string()
    };
    assert_eq!(status("python"), "SKIP");
    assert_eq!(reason("python"), "--no-python");
    // The library layer runs either way.
    assert_ne!(status("libraries"), "SKIP");

    let info = gpu_env::host::cuda::query();
    let devices = match &info {
        Ok(i) => i.usable_devices().map(<[_]>::to_vec),
        Err(e) => Err(e.clone()),
    };
    let human = || {
        let mut c = xtask!();
        c.args(["verify", "--no-python", "--lock"]).arg(&lock);
        let (code2, out, err) = run(c);
        assert_eq!(code2, code, "{out}\n{err}");
        out
    };
    match devices {
        // A driver with devices: the driver layer lists them and the device
        // layers run (pass or fail); exit 0 or 1 by the layers, never 3.
        Ok(devices) => {
            assert!(v["no_device"].is_null(), "{}", v["no_device"]);
            assert_ne!(status("driver"), "SKIP", "{out}");
            let listed: Vec<&str> = layers[0]["data"]["devices"]
                .as_array()
                .unwrap_or_else(|| panic!("driver layer lists no devices: {}", layers[0]))
                .iter()
                .map(|d| d["name"].as_str().unwrap())
                .collect();
            let want: Vec<&str> = devices.iter().map(|d| d.name.as_str()).collect();
            assert_eq!(listed, want);
            assert_ne!(status("kernel"), "SKIP", "{out}");
            assert_ne!(status("gpu_code"), "SKIP", "{out}");
            let any_fail = layers.iter().any(|l| l["status"] == "FAIL");
            assert_eq!(code, if any_fail { 1 } else { 0 }, "{out}\n{err}");
            let out = human();
            assert!(!out.contains("SKIP driver"), "{out}");
            assert!(out.contains(&format!("exit {code}")), "{out}");
        }
        // No driver (libcuda does not load) or a driver without GPUs: the
        // device layers are skipped with the reason, exit 3 (a GPU lock).
        Err(e) if e.no_driver() || e == gpu_env::host::cuda::DriverError::NoDevice => {
            assert_eq!(code, 3, "stdout: {out}\nstderr: {err}");
            assert_eq!(v["no_device"], e.to_string());
            if e.no_driver() {
                assert!(v["no_device"].as_str().unwrap().contains("libcuda.so.1"));
            }
            for name in ["driver", "kernel", "gpu_code"] {
                assert_eq!(status(name), "SKIP", "{name}: {out}");
                assert!(reason(name).contains(&e.to_string()), "{name}: {out}");
            }
            // The library layer still ran: CUDA 11 sonames are absent here.
            assert_eq!(status("libraries"), "FAIL");
            assert!(reason("libraries").contains("libcudnn.so.8"));
            let out = human();
            assert!(out.contains("SKIP driver"), "{out}");
            assert!(out.contains("exit 3"), "{out}");
        }
        // libcuda loads but its calls fail: the driver layer fails.
        Err(e) => {
            assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
            assert!(v["no_device"].is_null(), "{}", v["no_device"]);
            assert_eq!(status("driver"), "FAIL");
            assert_eq!(reason("driver"), e.to_string());
            assert_eq!(status("kernel"), "SKIP");
        }
    }
}

/// A missing library's advice follows who the lock says provides it: the
/// lock's own packages (the install command for this very lock), or the
/// target's system libraries (the toolkit and cuDNN it was resolved with);
/// never a requirements file that does not pin them.
#[test]
fn missing_libraries_advice_follows_the_locked_provider() {
    let libraries = |fixture: &str| {
        let mut c = xtask!();
        c.current_dir(workspace_root())
            .args(["verify", "--json", "--no-python", "--lock"])
            .arg(format!("tests/fixtures/verify/{fixture}"));
        let (_, out, err) = run(c);
        let v: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
        let l = v["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == "libraries")
            .unwrap()
            .clone();
        (
            l["status"].as_str().unwrap().to_string(),
            l["reason"].as_str().unwrap().to_string(),
        )
    };
    // mxnet-cu80 1.5.0, locked with `--cuda-toolkit 8.0 --cudnn 7.0.5`: the
    // CUDA 8.0 libraries are system libraries (no pip wheels exist).
    let (status, reason) = libraries("cu80-gtx1080.lock");
    assert_eq!(status, "FAIL", "{reason}");
    assert!(reason.contains("libcudart.so.8.0"), "{reason}");
    assert!(
        reason.contains("; install the CUDA 8.0 toolkit (override:--cuda-toolkit), or add the directory that holds them to LD_LIBRARY_PATH"),
        "{reason}"
    );
    // This wheel does not load libcudnn (it is not in its NEEDED list), so
    // cuDNN is not named.
    assert!(!reason.contains("cuDNN"), "{reason}");
    assert!(!reason.contains("requirements-gpu.txt"), "{reason}");
    // mxnet-cu112 1.9.1 with pip CUDA 11 wheels: install this lock. The
    // advice itself, whatever this machine has installed:
    let lock = gpu_env::lock::Lock::read(&fixtures().join("verify/cu112-t4.lock")).unwrap();
    let named = std::path::Path::new("tests/fixtures/verify/cu112-t4.lock");
    assert_eq!(
        gpu_env::lock::install_advice(
            &lock,
            0,
            Some(named),
            None,
            std::path::Path::new("/usr/bin/python3")
        ),
        "cargo xtask install --lock tests/fixtures/verify/cu112-t4.lock --python /usr/bin/python3"
    );
    // and in verify's output where the CUDA 11 wheels are absent (they are
    // on a machine that has them in python3's site-packages: said below).
    let (status, reason) = libraries("cu112-t4.lock");
    if status != "FAIL" {
        eprintln!(
            "cu112-t4.lock: libraries {status} here ({reason}); the CLI advice is not exercised"
        );
    } else {
        assert!(
            reason.contains("install the locked packages: cargo xtask install --lock tests/fixtures/verify/cu112-t4.lock --python "),
            "{reason}"
        );
        assert!(!reason.contains("CUDA 11"), "{reason}");
    }
}

#[test]
fn verify_input_errors_exit_2() {
    let mut c = xtask!();
    c.args(["verify", "--lock", "/nonexistent/gpu-env.lock"]);
    assert_eq!(run(c).0, 2);
    let mut c = xtask!();
    c.args(["verify", "--target", "kaggle", "--lock"])
        .arg(fixtures().join("verify/cu112-t4.lock"));
    let (code, _, err) = run(c);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no target `kaggle`; it has: ")
            && err.contains("pass one of them to --target"),
        "{err}"
    );
}

#[test]
fn locked_capabilities_parse() {
    let lock = gpu_env::lock::Lock::read(&fixtures().join("verify/cu112-h100.lock")).unwrap();
    let cc = lock.target[0].gpu_capabilities();
    assert_eq!(cc, vec!["9.0".parse().unwrap()]);
}
