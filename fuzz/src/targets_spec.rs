//! Fuzz targets over short strings: versions (display -> parse round trips),
//! target specs (-> profile -> solve), overrides (-> solve -> lock ->
//! rendered files) and package/wheel names.

use crate::db;
use crate::{coarse, Target};
use gpu_env::versions::{ComputeCapability, CudaVersion, DriverVersion, SmTarget};
use std::str::FromStr;

const SPEC_DICT: &[&[u8]] = &[
    b"\n",
    b".",
    b":",
    b"@",
    b"=",
    b"sm_",
    b"colab",
    b"kaggle",
    b"local",
    b"Tesla ",
    b"NVIDIA ",
    b"A100",
    b"-SXM4-40GB",
    b"@2025.07",
    b"cu112",
    b"GPU=",
    b"NO_GPU=",
    b"DRIVER=",
    b"CUDA_TOOLKIT=",
    b"CUDNN=",
    b"PYTHON=",
    b"SPEC=",
    b">=",
    b"==",
    b"~=",
    b".post1",
    b".dev0",
    b"-py3-none-manylinux2014_x86_64.whl",
];

pub(crate) fn all() -> Vec<Target> {
    vec![
        Target {
            name: "versions",
            about: "versions.rs: CUDA, compute capability, driver, sm target (display -> parse stable), MXNet suffix, PEP 440",
            max_len: 4 << 10,
            seeds: || lines_seed(&["11.2", "7.5", "10.0", "535.104.05", "580", "86", "90a", "100f", "cu112", "cu80", "12040", "1.9.1", ">=1.9,<2", "2.0.0rc1"]),
            dict: SPEC_DICT,
            run: run_versions,
        },
        Target {
            name: "target-spec",
            about: "profile.rs + target.rs: a --target spec -> runtime profile and GPU -> solve",
            max_len: 1 << 10,
            seeds: || lines_seed(&["colab", "colab:A100", "colab:T4@2025.07", "kaggle:P100", "colab-2025.07", "colab:sm_80", "colab:8.0", "kaggle", "colab:Tesla T4"]),
            dict: SPEC_DICT,
            run: run_target_spec,
        },
        Target {
            name: "overrides",
            about: "target.rs: GPU_ENV_OVERRIDE_* values -> target -> solve -> lock -> rendered files",
            max_len: 1 << 10,
            seeds: || {
                vec![
                    b"GPU=A100\nDRIVER=535.104.05\nCUDA_TOOLKIT=12.2\nCUDNN=8.9.6\nPYTHON=3.10\n".to_vec(),
                    b"NO_GPU=yes\n".to_vec(),
                    b"SPEC=kaggle\nGPU=sm_60\nDRIVER=470.182.03\n".to_vec(),
                    b"GPU=7.5\nPYTHON=3.13.15\nCUDNN=9.8.0\n".to_vec(),
                ]
            },
            dict: SPEC_DICT,
            run: run_overrides,
        },
        Target {
            name: "names",
            about: "wheelname.rs, pep440.rs, measure::parse_metadata: wheel file names, package names, METADATA headers",
            max_len: 4 << 10,
            seeds: || {
                vec![
                    b"mxnet_cu112-1.9.1-py3-none-manylinux2014_x86_64.whl\nnvidia-cudnn-cu11\nMetadata-Version: 2.1\nRequires-Python: >=3.7\nRequires-Dist: numpy (<2.0.0,>1.16.0)\n".to_vec(),
                    b"mxnet-1.5.0-1-py2.py3-none-manylinux1_x86_64.whl\nNumPy_\n".to_vec(),
                ]
            },
            dict: SPEC_DICT,
            run: run_names,
        },
    ]
}

fn lines_seed(lines: &[&str]) -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
    all.push(lines.join("\n").into_bytes());
    all
}

fn lines(input: &[u8], max: usize) -> Vec<String> {
    String::from_utf8_lossy(input)
        .lines()
        .take(max)
        .map(str::to_string)
        .collect()
}

/// `T::from_str(s)`, and when it parses: display -> parse gives it back.
fn round_trip<T>(s: &str) -> Result<Option<T>, String>
where
    T: FromStr + std::fmt::Display + PartialEq + std::fmt::Debug,
{
    let Ok(v) = s.parse::<T>() else {
        return Ok(None);
    };
    let shown = v.to_string();
    match shown.parse::<T>() {
        Ok(back) if back == v => Ok(Some(v)),
        other => Err(format!(
            "{s:?} parsed to {v:?}, shown {shown:?}, reparsed {other:?}",
            other = other.ok()
        )),
    }
}

fn run_versions(input: &[u8]) -> Result<String, String> {
    let mut parsed = 0;
    for l in lines(input, 64) {
        parsed += usize::from(round_trip::<CudaVersion>(&l)?.is_some());
        if let Some(cc) = round_trip::<ComputeCapability>(&l)? {
            // sm() is a real sm number and maps back (D5: no overflow).
            if cc.sm() > 999 || ComputeCapability::from_sm(cc.sm()) != cc {
                return Err(format!("{l:?}: compute capability {cc} has sm {}", cc.sm()));
            }
            parsed += 1;
        }
        if let Some(d) = round_trip::<DriverVersion>(&l)? {
            let _ = (d.major(), gpu_env::target::driver_cuda_for(db(), &d));
            parsed += 1;
        }
        parsed += usize::from(round_trip::<SmTarget>(&l)?.is_some());
        if let Some(c) = CudaVersion::from_mxnet_suffix(&l) {
            let _ = (c.to_string(), db().cuda(c));
        }
        if let Ok(n) = l.trim().parse::<i32>() {
            let _ = CudaVersion::from_driver_api(n);
        }
        parsed += usize::from(gpu_env::pep440::version(&l).is_ok());
        parsed += usize::from(gpu_env::pep440::specifiers(&l).is_ok());
    }
    Ok(format!("parsed={}", parsed.min(4)))
}

fn run_target_spec(input: &[u8]) -> Result<String, String> {
    use gpu_env::profile::TargetSpec;
    let mut sig = String::new();
    for l in lines(input, 4) {
        let _ = gpu_env::target::parse_gpu(db(), &l);
        if TargetSpec::parse(&l) == TargetSpec::Local {
            sig.push_str("local ");
            continue;
        }
        let o = gpu_env::target::Overrides::default();
        match gpu_env::job::target(db(), &l, &o, &Default::default()) {
            Ok(t) => {
                let r = gpu_env::solve::resolve(db(), &t, &Default::default());
                sig.push_str(&format!("{:?} ", r.status));
            }
            Err(e) => sig.push_str(&coarse("target", &e.to_string())),
        }
    }
    Ok(sig)
}

fn run_overrides(input: &[u8]) -> Result<String, String> {
    let mut spec = "colab".to_string();
    let mut vars = std::collections::BTreeMap::new();
    for l in lines(input, 16) {
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        if k == "SPEC" {
            spec = v.to_string();
        } else {
            vars.insert(format!("GPU_ENV_OVERRIDE_{k}"), v.to_string());
        }
    }
    if gpu_env::profile::TargetSpec::parse(&spec) == gpu_env::profile::TargetSpec::Local {
        return Ok("local".into());
    }
    let o = match gpu_env::target::Overrides::default().try_with_env(|k| vars.get(k).cloned()) {
        Ok(o) => o,
        Err(e) => return Ok(coarse("env", &e.to_string())),
    };
    let req = gpu_env::job::Request {
        targets: vec![spec],
        overrides: o,
        ..Default::default()
    };
    let outcome = match gpu_env::job::run(db(), gpu_env::db::embedded_hash(), &req) {
        Ok(o) => o,
        Err(e) => return Ok(coarse("job", &e.to_string())),
    };
    let Some(lock) = outcome.lock else {
        return Ok("unresolved".into());
    };
    let root = std::path::PathBuf::from("/nonexistent/gpu-env-fuzz-repo");
    let loaded = gpu_env::config::Loaded {
        manifest: Some(root.join("Cargo.toml")),
        root,
        ..Default::default()
    };
    let lock_path = loaded.path(std::path::Path::new("gpu-env.lock"));
    let r = gpu_env::job::rendered_outputs(db(), &loaded, &lock_path, &lock);
    Ok(match r {
        Ok(_) => "locked ok".into(),
        Err(e) => coarse("outputs", &e.to_string()),
    })
}

fn run_names(input: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(input);
    let (rp, rd) = gpu_env::measure::parse_metadata(&text);
    let mut ok = 0;
    for l in text.lines().take(32) {
        if let Ok(w) = gpu_env::wheelname::WheelName::parse(l) {
            let _ = w.is_linux_x86_64_or_any();
            ok += 1;
        }
        let n = gpu_env::pep440::normalize_name(l);
        if gpu_env::pep440::is_valid_name(l) && gpu_env::pep440::normalize_name(&n) != n {
            return Err(format!("normalize_name is not idempotent on {l:?}"));
        }
    }
    Ok(format!(
        "wheels={} rp={} rd={}",
        ok.min(2),
        rp.is_some(),
        rd.len().min(2)
    ))
}
