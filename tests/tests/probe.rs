//! `cargo xtask probe` on real and replayed tools: the real nvcc 13 from the
//! tools venv, fake nvcc / nvidia-smi scripts replaying published outputs
//! (tests/fixtures/probe, each citing its source), hung and garbage tools,
//! a laid-out /proc and /sys (GPU_ENV_SYSROOT), no driver, and overrides.

use gpu_env::host::cuda::{self, Device, DriverError, DriverInfo};
use gpu_env_tests::probe_fixture as fixture;
use gpu_env_tests::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the CUDA driver API answers in this test process: the same
/// libcuda and calls (`gpu_env::host::cuda::query`) the probe makes, so the
/// oracle for which branch a driver-dependent test asserts. Each such test
/// asserts the branch this machine takes: replayed tools without a driver,
/// the driver API's own answer with one. (The sandbox removes
/// LD_LIBRARY_PATH from the probe's environment: a libcuda found only
/// through LD_LIBRARY_PATH would make the two differ, which the assertion
/// messages show.)
fn driver_api() -> Result<DriverInfo, DriverError> {
    cuda::query()
}

/// The devices when the driver API lists them (cuInit succeeded): then the
/// probe's GPU fact is the driver API's, whatever nvidia-smi printed.
fn api_devices() -> Option<Vec<Device>> {
    match driver_api() {
        Ok(i) if i.init_error.is_none() => Some(i.devices),
        _ => None,
    }
}

/// The real-driver branch: the probe's GPUs are exactly the driver API's
/// devices, sourced to it, and a different list from nvidia-smi (`smi`:
/// the names it printed, `None` when it gave none) is a disagreement.
fn assert_gpus_from_driver_api(p: &Value, devices: &[Device], smi: Option<&[&str]>) {
    let g = &p["gpus"];
    assert_eq!(s(&g["source"]), "probe:cuda driver API", "{g}");
    let got: Vec<(&str, &str, u64)> = g["value"]
        .as_array()
        .unwrap_or_else(|| panic!("no GPU list: {g}"))
        .iter()
        .map(|x| {
            (
                s(&x["name"]),
                s(&x["compute_capability"]),
                x["memory_mib"].as_u64().unwrap(),
            )
        })
        .collect();
    let cc: Vec<String> = devices
        .iter()
        .map(|d| d.compute_capability.to_string())
        .collect();
    let want: Vec<(&str, &str, u64)> = devices
        .iter()
        .zip(&cc)
        .map(|(d, cc)| (d.name.as_str(), cc.as_str(), d.memory_mib))
        .collect();
    assert_eq!(
        got, want,
        "the probe's GPUs vs the driver API's in this test"
    );
    let api_names: Vec<&str> = devices.iter().map(|d| d.name.as_str()).collect();
    let gpu_notes: Vec<&str> = p["disagreements"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .filter(|x| x.starts_with("GPUs:"))
        .collect();
    match smi {
        Some(smi) if smi != api_names.as_slice() => assert_eq!(
            gpu_notes,
            [format!(
                "GPUs: the driver API lists {api_names:?}, nvidia-smi lists {smi:?}"
            )],
            "nvidia-smi's other GPUs are a disagreement"
        ),
        _ => assert!(gpu_notes.is_empty(), "{gpu_notes:?}"),
    }
}

/// The driver's CUDA: cuDriverGetVersion's when the driver API answers it
/// (a different banner is a disagreement), else the nvidia-smi banner's.
fn assert_driver_cuda(p: &Value, banner: &str) {
    let dc = &p["driver_cuda"];
    let notes: Vec<&str> = p["disagreements"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .filter(|x| x.starts_with("driver CUDA version:"))
        .collect();
    match driver_api().ok().and_then(|i| i.cuda) {
        Some(c) => {
            assert_eq!(s(&dc["value"]), c.to_string(), "{dc}");
            assert_eq!(s(&dc["source"]), "probe:cuDriverGetVersion", "{dc}");
            if c.to_string() == banner {
                assert!(notes.is_empty(), "{notes:?}");
            } else {
                assert_eq!(
                    notes,
                    [format!(
                        "driver CUDA version: cuDriverGetVersion says {c}, nvidia-smi banner says {banner}"
                    )]
                );
            }
        }
        // The banner gives the driver's CUDA when libcuda is not loadable here.
        None => {
            assert_eq!(s(&dc["value"]), banner, "{dc}");
            assert_eq!(s(&dc["source"]), "probe:nvidia-smi banner", "{dc}");
            assert!(notes.is_empty(), "{notes:?}");
        }
    }
}

/// A script that prints `text` (via a data file beside it) and exits `code`.
fn replay(path: &Path, text: &str, code: i32) {
    let data = path.with_extension("out");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&data, text).unwrap();
    script(path, &format!("cat '{}'\nexit {code}\n", data.display()));
}

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let s = Sandbox {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(s.bin()).unwrap();
        std::fs::create_dir_all(s.root()).unwrap();
        s
    }
    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }
    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    fn put(&self, rel: &str, text: &str) {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    /// nvidia-smi answering the query with `csv` and the banner with `banner`.
    fn smi(&self, csv: &str, banner: &str) {
        let d = self.dir.path();
        std::fs::write(d.join("smi.csv"), csv).unwrap();
        std::fs::write(d.join("smi.banner"), banner).unwrap();
        script(
            &self.bin().join("nvidia-smi"),
            &format!(
                "case \"$*\" in *query*) cat '{0}/smi.csv';; *) cat '{0}/smi.banner';; esac\n",
                d.display()
            ),
        );
    }
    /// `xtask probe --json` with PATH = the sandbox bin + /usr/bin:/bin,
    /// the sysroot, no CUDA_HOME/CUDA_PATH and no overrides from the caller.
    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = xtask!();
        c.arg("--db").arg(workspace_root().join("compat-db"));
        c.arg("probe").args(args);
        c.env("PATH", format!("{}:/usr/bin:/bin", self.bin().display()))
            .env("GPU_ENV_SYSROOT", self.root())
            .env_remove("CUDA_HOME")
            .env_remove("CUDA_PATH")
            .env_remove("LD_LIBRARY_PATH")
            .env_remove("COLAB_RELEASE_TAG");
        for k in ["GPU", "DRIVER", "CUDA_TOOLKIT", "CUDNN", "PYTHON", "NO_GPU"] {
            c.env_remove(format!("GPU_ENV_OVERRIDE_{k}"));
        }
        c
    }
    fn json(&self, args: &[&str]) -> Value {
        self.json_with(self.cmd(args), args)
    }
    fn json_with(&self, mut c: std::process::Command, _args: &[&str]) -> Value {
        c.arg("--json");
        let (code, out, err) = run(c);
        assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

#[test]
fn real_nvcc_13_from_the_tools_venv() {
    let venv = tools_venv();
    let nvcc = nvcc(&venv);
    let home = nvcc.parent().unwrap().parent().unwrap();
    let sb = Sandbox::new();
    let mut c = sb.cmd(&["--python"]);
    c.arg(venv.join("bin/python")).env("CUDA_HOME", home);
    let j = sb.json_with(c, &[]);
    let p = &j["probe"];
    let tk = &p["toolkit"];
    assert!(s(&tk["value"]).starts_with("13."), "{tk}");
    assert!(s(&tk["source"]).contains("CUDA_HOME"), "{tk}");
    let t0 = &p["toolkits"][0];
    assert_eq!(t0["active"], true);
    assert!(s(&t0["version"]["full"]).starts_with("V13."), "{t0}");
    assert!(t0["version"]["build"].is_string(), "{t0}");
    assert!(!t0["lib_dirs"].as_array().unwrap().is_empty(), "{t0}");
    // NVRTC 12 from the venv's nvidia-cuda-nvrtc-cu12 wheel, by nvrtcVersion.
    assert!(s(&p["nvrtc"]["value"]).starts_with("12."), "{}", p["nvrtc"]);
    assert!(s(&p["nvrtc"]["source"]).contains("pip:"), "{}", p["nvrtc"]);
    // The resolver's view.
    assert!(s(&j["target"]["toolkit"]["value"]).starts_with("13."));
    assert_eq!(j["target"]["toolkit"]["overridden"], false);
    assert!(p["python"]["value"]["packages"]
        .as_object()
        .unwrap()
        .keys()
        .any(|k| k.starts_with("nvidia-")));
}

#[test]
fn replayed_nvcc_10_0_11_0_11_8_12_4() {
    let sb = Sandbox::new();
    for v in ["10.0", "11.0", "11.8", "12.4"] {
        replay(
            &sb.root().join(format!("usr/local/cuda-{v}/bin/nvcc")),
            &fixture(&format!("nvcc-{v}.txt")),
            0,
        );
        std::fs::create_dir_all(sb.root().join(format!("usr/local/cuda-{v}/lib64"))).unwrap();
    }
    let j = sb.json(&[]);
    let tks = j["probe"]["toolkits"].as_array().unwrap();
    let versions: Vec<&str> = tks.iter().map(|t| s(&t["version"]["cuda"])).collect();
    assert_eq!(
        versions,
        ["12.4", "11.8", "11.0", "10.0"],
        "newest /usr/local/cuda-* first"
    );
    assert_eq!(tks[0]["active"], true);
    assert!(tks[1..].iter().all(|t| t["active"] == false));
    assert!(
        tks[3]["version"]["build"].is_null(),
        "10.0 has no Build line"
    );
    assert_eq!(s(&tks[3]["version"]["full"]), "V10.0.130");
    assert_eq!(
        s(&tks[0]["version"]["build"]),
        "cuda_12.4.r12.4/compiler.34097967_0"
    );
    assert_eq!(
        s(&tks[2]["version"]["build"]),
        "cuda_11.0_bu.TC445_37.28845127_0"
    );
    assert!(s(&tks[1]["lib_dirs"][0]).ends_with("cuda-11.8/lib64"));
    assert_eq!(s(&j["probe"]["toolkit"]["value"]), "12.4");
    assert_eq!(s(&j["target"]["toolkit"]["value"]), "12.4");
}

#[test]
fn cuda_home_wins_over_path_and_usr_local() {
    let sb = Sandbox::new();
    let home = sb.dir.path().join("cuda-home");
    replay(&home.join("bin/nvcc"), &fixture("nvcc-11.8.txt"), 0);
    replay(&sb.bin().join("nvcc"), &fixture("nvcc-12.4.txt"), 0);
    let mut c = sb.cmd(&[]);
    c.env("CUDA_HOME", &home);
    let j = sb.json_with(c, &[]);
    assert_eq!(s(&j["probe"]["toolkit"]["value"]), "11.8");
    let via: Vec<&str> = j["probe"]["toolkits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| s(&t["found_via"]))
        .collect();
    assert_eq!(via, ["CUDA_HOME", "PATH"]);
}

#[test]
fn h100_580_smi_with_sys_and_open_proc_reports_disagreement() {
    let sb = Sandbox::new();
    sb.smi(&fixture("smi-h100-580.csv"), &fixture("smi-banner-580.txt"));
    sb.put("sys/module/nvidia/version", "580.82.07\n");
    sb.put(
        "proc/driver/nvidia/version",
        &fixture("proc-version-open.txt"),
    );
    let j = sb.json(&[]);
    let p = &j["probe"];
    // The GPUs: the driver API's when it lists them, else nvidia-smi's.
    match api_devices() {
        Some(devices) => {
            assert_gpus_from_driver_api(p, &devices, Some(&["NVIDIA H100 80GB HBM3"]));
            let cc = devices[0].compute_capability.to_string();
            assert_eq!(s(&j["target"]["gpu_list"][0]["compute_capability"]), cc);
        }
        None => {
            assert_eq!(s(&p["gpus"]["source"]), "probe:nvidia-smi", "{}", p["gpus"]);
            let g = &p["gpus"]["value"][0];
            assert_eq!(s(&g["name"]), "NVIDIA H100 80GB HBM3");
            assert_eq!(s(&g["compute_capability"]), "9.0");
            assert_eq!(g["memory_mib"], 81559);
            assert_eq!(s(&j["target"]["gpu_list"][0]["compute_capability"]), "9.0");
        }
    }
    // The driver version comes from the sysroot's files and nvidia-smi
    // either way.
    assert_eq!(s(&p["driver"]["value"]), "580.82.07");
    assert_eq!(
        s(&p["driver"]["source"]),
        "probe:/sys/module/nvidia/version"
    );
    let readings: Vec<(String, String)> = p["driver_readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (s(&r["source"]).to_string(), s(&r["version"]).to_string()))
        .collect();
    assert!(
        readings.contains(&("/proc/driver/nvidia/version".into(), "565.57.01".into())),
        "{readings:?}"
    );
    assert!(
        readings.contains(&("nvidia-smi".into(), "580.82.07".into())),
        "{readings:?}"
    );
    let d = p["disagreements"].as_array().unwrap();
    assert!(
        d.iter()
            .any(|x| s(x).contains("565.57.01") && s(x).contains("580.82.07")),
        "{d:?}"
    );
    assert_driver_cuda(p, "13.0");
    assert!(p["no_driver"].is_null());
}

#[test]
fn r470_smi_rejects_compute_cap_and_is_retried() {
    let sb = Sandbox::new();
    let d = sb.dir.path();
    std::fs::write(d.join("reject.txt"), fixture("smi-r470-reject.txt")).unwrap();
    std::fs::write(d.join("ok.csv"), fixture("smi-r470.csv")).unwrap();
    script(
        &sb.bin().join("nvidia-smi"),
        &format!(
            "case \"$*\" in *compute_cap*) cat '{0}/reject.txt'; exit 2;; *query*) cat '{0}/ok.csv';; *) echo '| NVIDIA-SMI 470.182.03   Driver Version: 470.182.03   CUDA Version: 11.4     |';; esac\n",
            d.display()
        ),
    );
    sb.put(
        "proc/driver/nvidia/version",
        &fixture("proc-version-proprietary.txt"),
    );
    let j = sb.json(&[]);
    let p = &j["probe"];
    let db_ok = gpu_env::db::Db::from_dir(&workspace_root().join("compat-db")).is_ok();
    match api_devices() {
        // The driver API names the GPUs and their compute capabilities.
        Some(devices) => {
            assert_gpus_from_driver_api(p, &devices, Some(&["Tesla T4"]));
            let cc = devices[0].compute_capability.to_string();
            assert_eq!(s(&j["target"]["gpu_list"][0]["compute_capability"]), cc);
        }
        None => {
            assert!(
                s(&p["gpus"]["source"]).contains("without compute_cap"),
                "{}",
                p["gpus"]
            );
            let g = &p["gpus"]["value"][0];
            assert_eq!(s(&g["name"]), "Tesla T4");
            assert!(g["compute_capability"].is_null());
            // compat-db names the T4's compute capability for the resolver.
            if db_ok {
                assert_eq!(s(&j["target"]["gpu_list"][0]["compute_capability"]), "7.5");
            }
        }
    }
    // /proc (proprietary format) answers before nvidia-smi; they disagree.
    assert_eq!(s(&p["driver"]["value"]), "384.98");
    assert_eq!(
        s(&p["driver"]["source"]),
        "probe:/proc/driver/nvidia/version"
    );
    let d = p["disagreements"].as_array().unwrap();
    assert!(
        d.iter()
            .any(|x| s(x).contains("384.98") && s(x).contains("470.182.03")),
        "{d:?}"
    );
    assert_driver_cuda(p, "11.4");
}

#[test]
fn hung_nvcc_and_smi_time_out_with_error_entries() {
    let sb = Sandbox::new();
    script(&sb.bin().join("nvcc"), "sleep 60\n");
    script(&sb.bin().join("nvidia-smi"), "sleep 60\n");
    let mut c = sb.cmd(&["--timeout", "1"]);
    c.arg("--json");
    // A hang guard, not a speed assert: the outcome below (each tool killed
    // after 1 s) is what shows the time-out works.
    let (code, out, err) = hang_guard(
        "probe with hung tools",
        Duration::from_secs(120),
        move || run(c),
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let j: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let p = &j["probe"];
    let e = s(&p["toolkit"]["error"]);
    assert!(e.contains("nvcc: no answer within 1.0 s (killed)"), "{e}");
    assert!(p["toolkit"]["value"].is_null());
    let e = s(&p["driver"]["error"]);
    assert!(
        e.contains("nvidia-smi: no answer within 1.0 s (killed)"),
        "{e}"
    );
    let g = &p["gpus"];
    match api_devices() {
        // With a real driver the GPUs are the driver API's, unless cuInit
        // itself took longer than the 1 s limit.
        Some(devices) if g["value"].is_array() => assert_gpus_from_driver_api(p, &devices, None),
        Some(_) => assert!(
            s(&g["error"]).contains("libcuda (cuDriverGetVersion): no answer within 1.0 s"),
            "{g}"
        ),
        None => {
            assert!(
                s(&g["error"]).contains("nvidia-smi: no answer within 1.0 s (killed)"),
                "{g}"
            );
            assert!(g["value"].is_null(), "unknown, not `no GPU`");
        }
    }
}

#[test]
fn garbage_output_is_an_error_entry() {
    let sb = Sandbox::new();
    replay(&sb.bin().join("nvcc"), "Segmentation fault\n", 0);
    replay(
        &sb.bin().join("nvidia-smi"),
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n",
        0,
    );
    sb.put("proc/driver/nvidia/version", "something else entirely\n");
    let j = sb.json(&[]);
    let p = &j["probe"];
    assert!(
        s(&p["toolkit"]["error"]).contains("unrecognised nvcc --version output"),
        "{}",
        p["toolkit"]
    );
    match api_devices() {
        // nvidia-smi's garbage lists no GPUs to disagree with.
        Some(devices) => assert_gpus_from_driver_api(p, &devices, None),
        None => assert!(
            s(&p["gpus"]["error"]).contains("unrecognised nvidia-smi CSV line"),
            "{}",
            p["gpus"]
        ),
    }
    let smi = p["driver_readings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == "nvidia-smi")
        .unwrap();
    assert!(
        s(&smi["error"]).contains("unrecognised nvidia-smi CSV line"),
        "{smi}"
    );
    let proc = p["driver_readings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == "/proc/driver/nvidia/version")
        .unwrap();
    assert!(
        s(&proc["error"]).contains("unrecognised contents"),
        "{proc}"
    );
}

/// The system's nvidia-smi, which the sandbox's PATH (`bin:/usr/bin:/bin`)
/// reaches on a machine with a driver: `None` when there is none, else the
/// GPU names it lists (empty when it fails).
fn system_smi() -> Option<Vec<String>> {
    let exe = ["/usr/bin/nvidia-smi", "/bin/nvidia-smi"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let out = std::process::Command::new(exe)
        .args(["--query-gpu=name", "--format=csv,noheader"])
        .output()
        .ok()
        .filter(|o| o.status.success());
    Some(out.map_or_else(Vec::new, |o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }))
}

/// An empty sandbox: no fake tools, no kernel module files under the
/// sysroot. Without a driver that is "no driver", with each reason; with
/// one, libcuda and the system's nvidia-smi answer. Either way exit 0.
#[test]
fn no_driver_is_reported_with_its_reason_and_exit_0() {
    let sb = Sandbox::new();
    let (code, out, err) = run(sb.cmd(&[]));
    assert_eq!(code, 0, "{out}\n{err}");
    let j = sb.json(&[]);
    let p = &j["probe"];
    let smi = system_smi();
    let smi_names: Vec<&str> = smi.iter().flatten().map(String::as_str).collect();
    let smi_gpus = (!smi_names.is_empty()).then_some(smi_names.as_slice());
    match &smi {
        None => {
            // The driver version is unknown, with each reason.
            assert!(out.contains("nvidia-smi not found on PATH"), "{out}");
            assert!(out.contains("/proc/driver/nvidia/version absent"), "{out}");
            assert_eq!(
                s(&p["driver"]["error"]),
                "/sys/module/nvidia/version absent; /proc/driver/nvidia/version absent; nvidia-smi not found on PATH"
            );
        }
        Some(names) if !names.is_empty() => {
            assert_eq!(
                s(&p["driver"]["source"]),
                "probe:nvidia-smi",
                "{}",
                p["driver"]
            );
        }
        Some(_) => assert!(
            s(&p["driver"]["error"]).contains("nvidia-smi"),
            "{}",
            p["driver"]
        ),
    }
    let g = &p["gpus"];
    // Whether there is a driver is libcuda's answer, as in the probe.
    match driver_api() {
        Err(e @ DriverError::NoLibrary) if smi.is_none() => {
            assert!(out.contains("no NVIDIA driver on this machine"), "{out}");
            assert_eq!(g["value"], Value::Array(vec![]), "known: no GPU");
            assert_eq!(s(&g["source"]), "probe: no NVIDIA driver", "{g}");
            let why = s(&p["no_driver"]);
            assert!(why.contains(&e.to_string()), "{why}");
            assert!(why.contains("nvidia-smi not found on PATH"), "{why}");
        }
        // libcuda loads and cuInit succeeds: the GPUs are the driver API's.
        Ok(info) if info.init_error.is_none() => {
            assert!(!out.contains("no NVIDIA driver on this machine"), "{out}");
            assert!(p["no_driver"].is_null(), "{}", p["no_driver"]);
            assert!(out.contains("probe:cuda driver API"), "{out}");
            assert_gpus_from_driver_api(p, &info.devices, smi_gpus);
        }
        // Otherwise nvidia-smi's GPUs where it lists some, else "no GPU"
        // from cuInit, else the errors; never "no driver" when something
        // answered.
        other => {
            assert!(p["no_driver"].is_null(), "{}", p["no_driver"]);
            if let Some(names) = smi_gpus {
                assert_eq!(s(&g["source"]), "probe:nvidia-smi", "{g}");
                let got: Vec<&str> = g["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| s(&x["name"]))
                    .collect();
                assert_eq!(got, names);
            } else if let Ok(DriverInfo {
                init_error: Some(e),
                ..
            }) = &other
            {
                assert_eq!(g["value"], Value::Array(vec![]), "{g}");
                assert_eq!(s(&g["source"]), "probe:cuInit", "{g}");
                assert_eq!(s(&g["error"]), e.to_string(), "{g}");
            } else if let Err(e) = &other {
                assert!(g["value"].is_null(), "{g}");
                assert!(s(&g["error"]).contains(&e.to_string()), "{g}");
            }
        }
    }
}

#[test]
fn overrides_from_flags_and_env_are_marked() {
    let sb = Sandbox::new();
    replay(&sb.bin().join("nvcc"), &fixture("nvcc-12.4.txt"), 0);
    let mut c = sb.cmd(&[
        "--gpu",
        "sm_75",
        "--gpu",
        "8.0",
        "--cuda-toolkit",
        "11.8",
        "--python-version",
        "3.10",
    ]);
    c.env("GPU_ENV_OVERRIDE_DRIVER", "535.104.05");
    let j = sb.json_with(c, &[]);
    let t = &j["target"];
    assert_eq!(t["toolkit"]["overridden"], true);
    assert_eq!(s(&t["toolkit"]["value"]), "11.8");
    assert_eq!(s(&t["toolkit"]["probed"]), "12.4");
    assert_eq!(s(&t["toolkit"]["source"]), "override:--cuda-toolkit");
    assert_eq!(
        s(&t["driver"]["source"]),
        "override:GPU_ENV_OVERRIDE_DRIVER"
    );
    assert_eq!(t["driver"]["overridden"], true);
    assert_eq!(t["gpus"]["overridden"], true);
    assert_eq!(t["gpu_list"].as_array().unwrap().len(), 2);
    assert_eq!(s(&t["python"]["value"]), "3.10");
    // The probe's own facts stay as probed.
    assert_eq!(s(&j["probe"]["toolkit"]["value"]), "12.4");
    // The human table marks them.
    let mut c = sb.cmd(&["--no-gpu", "--cudnn", "8.9.6"]);
    c.env("GPU_ENV_OVERRIDE_CUDA_TOOLKIT", "11.2");
    let (code, out, _) = run(c);
    assert_eq!(code, 0);
    assert!(out.contains("override:--no-gpu"), "{out}");
    assert!(out.contains("8.9.6 *"), "{out}");
    assert!(
        out.contains("override:GPU_ENV_OVERRIDE_CUDA_TOOLKIT (probed: 12.4)"),
        "{out}"
    );
    assert!(out.contains("(* overridden)"), "{out}");
    // A bad override is a usage error.
    let (code, _, err) = run(sb.cmd(&["--gpu", "banana"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("banana"), "{err}");
}
