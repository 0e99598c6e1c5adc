//! The driver from every source: nvidia-smi, the kernel module's files,
//! and the driver API; reconciled into one fact with the disagreements.

use super::*;

pub(super) struct SmiResult {
    pub(super) found: bool,
    pub(super) gpus: Result<Vec<smi::SmiGpu>, String>,
    pub(super) banner: Result<smi::Banner, String>,
    pub(super) retried_without_cc: bool,
}

pub(super) fn probe_smi(env: &Env, timeout: Duration) -> SmiResult {
    let Some(exe) = exec::which_in("nvidia-smi", env.var("PATH").as_deref()) else {
        let e = "nvidia-smi not found on PATH".to_string();
        return SmiResult {
            found: false,
            gpus: Err(e.clone()),
            banner: Err(e),
            retried_without_cc: false,
        };
    };
    let cenv = env.child_env();
    std::thread::scope(|s| {
        let banner = s.spawn(|| {
            exec::run(&exe, &[], &cenv, timeout)
                .map(|o| smi::parse_banner(&o.stdout))
                .map_err(|e| e.to_string())
        });
        let mut retried = false;
        let gpus = match exec::run(&exe, &[smi::QUERY, smi::FORMAT], &cenv, timeout) {
            Ok(o) => smi::parse_csv(&o.stdout, true).map_err(|e| e.to_string()),
            Err(exec::ExecError::Failed { stdout, stderr, .. })
                if smi::rejects_compute_cap(&stdout, &stderr) =>
            {
                retried = true;
                exec::run(&exe, &[smi::QUERY_NO_CC, smi::FORMAT], &cenv, timeout)
                    .map_err(|e| e.to_string())
                    .and_then(|o| smi::parse_csv(&o.stdout, false).map_err(|e| e.to_string()))
            }
            Err(e) => Err(e.to_string()),
        };
        SmiResult {
            found: true,
            gpus,
            banner: banner
                .join()
                .unwrap_or_else(|_| Err("nvidia-smi banner probe panicked".into())),
            retried_without_cc: retried,
        }
    })
}

/// Every driver version reading (/sys, /proc under the sysroot, then
/// nvidia-smi), and the sources that were absent.
pub(super) fn driver_readings(
    env: &Env,
    smi_r: &SmiResult,
    timeout: Duration,
) -> (Vec<Found>, Vec<String>) {
    let mut driver_readings = Vec::new();
    let mut absent = Vec::new();
    for (label, parse) in cuda::VERSION_FILES {
        let p = env.sys_path(label.trim_start_matches('/'));
        match exec::read_sys(&p, timeout) {
            Ok(t) => driver_readings.push(match parse(&t) {
                Some(v) => Found::ok(label, None, v.to_string()),
                None => Found::err(
                    label,
                    None,
                    format!(
                        "unrecognised contents: {:?}",
                        t.lines().next().unwrap_or("")
                    ),
                ),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                absent.push(format!("{label} absent"))
            }
            Err(e) => driver_readings.push(Found::err(label, None, e.to_string())),
        }
    }
    if smi_r.found {
        let from_csv = smi_r
            .gpus
            .as_ref()
            .ok()
            .and_then(|g| g.first())
            .map(|g| g.driver.to_string());
        let from_banner = smi_r
            .banner
            .as_ref()
            .ok()
            .and_then(|b| b.driver.as_ref())
            .map(|d| d.to_string());
        driver_readings.push(match (from_csv, from_banner, &smi_r.gpus) {
            (Some(v), _, _) => Found::ok("nvidia-smi", None, v),
            (None, Some(v), _) => Found::ok("nvidia-smi banner", None, v),
            (None, None, Err(e)) => Found::err("nvidia-smi", None, e.clone()),
            (None, None, Ok(_)) => Found::err("nvidia-smi", None, "no GPUs listed".into()),
        });
    } else {
        absent.push("nvidia-smi not found on PATH".into());
    }
    (driver_readings, absent)
}

/// The driver version: the first reading that answered; readings that
/// disagree are noted.
pub(super) fn driver_fact(
    driver_readings: &[Found],
    absent: &[String],
    disagreements: &mut Vec<String>,
) -> Fact<DriverVersion> {
    let answered: Vec<&Found> = driver_readings
        .iter()
        .filter(|f| f.version.is_some())
        .collect();
    let driver = match answered.first() {
        Some(f) => match f
            .version
            .as_deref()
            .unwrap_or_default()
            .parse::<DriverVersion>()
        {
            Ok(v) => Fact::ok(v, format!("probe:{}", f.source)),
            Err(e) => Fact::err(e.to_string()),
        },
        None => Fact::err(
            driver_readings
                .iter()
                .filter_map(|f| f.error.as_ref().map(|e| format!("{}: {e}", f.label())))
                .chain(absent.iter().cloned())
                .collect::<Vec<_>>()
                .join("; "),
        ),
    };
    let distinct: BTreeSet<String> = answered
        .iter()
        .filter_map(|f| {
            f.version.as_ref()?.parse::<DriverVersion>().ok().map(|v| {
                v.parts()
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(".")
            })
        })
        .collect();
    if distinct.len() > 1 {
        disagreements.push(format!(
            "driver version: {}",
            answered
                .iter()
                .map(|f| format!("{} says {}", f.source, f.version.as_deref().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    driver
}

/// What the driver API and nvidia-smi say about the driver's CUDA and the
/// GPUs, reconciled.
pub(super) struct ApiFacts {
    pub(super) driver_cuda: Fact<CudaVersion>,
    pub(super) gpus: Fact<Vec<ProbedGpu>>,
    pub(super) no_driver: Option<String>,
    /// libcuda.so.1 answered.
    pub(super) libcuda: bool,
}

pub(super) fn driver_api(
    api: Result<Result<cuda::DriverInfo, cuda::DriverError>, exec::ExecError>,
    smi_r: &SmiResult,
    driver_readings: &[Found],
    absent: &[String],
    disagreements: &mut Vec<String>,
) -> ApiFacts {
    let banner_cuda = smi_r.banner.as_ref().ok().and_then(|b| b.cuda);
    let no_library = matches!(api, Ok(Err(cuda::DriverError::NoLibrary)));
    let (api_ok, api_err) = match api {
        Ok(Ok(a)) => (Some(a), None),
        Ok(Err(e)) => (None, Some(e.to_string())),
        Err(e) => (None, Some(e.to_string())),
    };
    let driver_cuda = match (api_ok.as_ref().and_then(|a| a.cuda), banner_cuda) {
        (Some(c), b) => {
            if let Some(b) = b.filter(|b| *b != c) {
                disagreements.push(format!(
                    "driver CUDA version: cuDriverGetVersion says {c}, nvidia-smi banner says {b}"
                ));
            }
            Fact::ok(c, "probe:cuDriverGetVersion")
        }
        (None, Some(b)) => Fact::ok(b, "probe:nvidia-smi banner"),
        (None, None) => Fact::err(
            api_err
                .clone()
                .unwrap_or_else(|| "cuDriverGetVersion gave no version".into()),
        ),
    };
    let smi_gpus: Option<Vec<ProbedGpu>> = smi_r.gpus.as_ref().ok().map(|g| {
        g.iter()
            .enumerate()
            .map(|(index, g)| ProbedGpu {
                index,
                name: g.name.clone(),
                compute_capability: g.compute_capability,
                memory_mib: g.memory_mib,
            })
            .collect()
    });
    let api_gpus: Option<Vec<ProbedGpu>> =
        api_ok.as_ref().filter(|a| a.init_error.is_none()).map(|a| {
            a.devices
                .iter()
                .enumerate()
                .map(|(index, d)| ProbedGpu {
                    index,
                    name: d.name.clone(),
                    compute_capability: Some(d.compute_capability),
                    memory_mib: Some(d.memory_mib),
                })
                .collect()
        });
    let smi_src = if smi_r.retried_without_cc {
        "probe:nvidia-smi (without compute_cap: this driver rejects it)"
    } else {
        "probe:nvidia-smi"
    };
    let no_driver = (no_library && !smi_r.found && driver_readings.is_empty()).then(|| {
        let mut why = vec![api_err.clone().unwrap_or_default()];
        why.extend(absent.iter().cloned());
        format!("no NVIDIA driver on this machine: {}", why.join("; "))
    });
    let gpus = match (&api_gpus, &smi_gpus) {
        (Some(a), s) => {
            if let Some(s) = s {
                let an: Vec<&str> = a.iter().map(|g| g.name.as_str()).collect();
                let sn: Vec<&str> = s.iter().map(|g| g.name.as_str()).collect();
                if an != sn {
                    disagreements.push(format!(
                        "GPUs: the driver API lists {an:?}, nvidia-smi lists {sn:?}"
                    ));
                }
            }
            Fact::ok(a.clone(), "probe:cuda driver API")
        }
        (None, Some(s)) => {
            let mut f = Fact::ok(s.clone(), smi_src);
            f.error = api_err.clone();
            f
        }
        (None, None) => {
            if let Some(why) = &no_driver {
                Fact {
                    value: Some(vec![]),
                    source: Some("probe: no NVIDIA driver".into()),
                    error: Some(why.clone()),
                }
            } else if let Some(e) = api_ok.as_ref().and_then(|a| a.init_error.as_ref()) {
                Fact {
                    value: Some(vec![]),
                    source: Some("probe:cuInit".into()),
                    error: Some(e.to_string()),
                }
            } else {
                Fact::err(
                    [api_err.clone(), smi_r.gpus.as_ref().err().cloned()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            }
        }
    };

    ApiFacts {
        driver_cuda,
        gpus,
        no_driver,
        libcuda: api_ok.is_some(),
    }
}
