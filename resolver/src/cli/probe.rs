//! `cargo xtask probe`: argument parsing and rendering. The facts come from
//! `crate::probe`; overrides are applied the way `resolve` applies them.

use crate::probe::{Fact, ProbeOptions, ProbeReport};
use crate::target::{Sourced, Target};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct ProbeArgs {
    /// JSON output (schema: docs/probe.md).
    #[arg(long)]
    pub json: bool,
    /// Python interpreter to probe (default: python3 on PATH).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// Seconds each external command or library probe may take.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub timeout: f64,
    #[command(flatten)]
    pub overrides: OverrideArgs,
}

pub fn run(args: &ProbeArgs, db: Option<&std::path::Path>) -> super::CliResult {
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 3600.0) {
        let t = args.timeout;
        return Err(format!("--timeout {t}: give seconds between 0 and 3600").into());
    }
    let python = args
        .python
        .as_deref()
        .map(|p| crate::host::pyexe::find(p, crate::host::pyexe::Advice::PythonVersion))
        .transpose()?;
    // The probe stands without compat-db; only GPU names and the driver
    // table come from it, so a broken database is a warning here.
    let db = crate::db::Db::open(db).unwrap_or_else(|e| {
        let first = e.to_string().lines().take(2).collect::<Vec<_>>().join(" ");
        errln!("warning: compat-db unusable, GPU names and driver table unavailable: {first}");
        crate::db::Db::default()
    });
    let report = crate::probe::probe(&ProbeOptions {
        python,
        timeout: std::time::Duration::from_secs_f64(args.timeout),
        ..Default::default()
    });
    let probed = report.to_target(&db);
    let mut target = probed.clone();
    let overrides = args.overrides.to_overrides()?;
    target.apply(&db, &overrides)?;
    if args.json {
        let doc = serde_json::json!({
            "schema": crate::probe::SCHEMA,
            "probe": report,
            "target": target_json(&target, &probed),
        });
        outln!("{}", serde_json::to_string_pretty(&doc).expect("json"));
    } else {
        print_human(&report, &target, &probed);
    }
    Ok(ExitCode::SUCCESS)
}

fn overridden(src: &str) -> bool {
    src.contains("override:")
}

/// The resolver's view: each fact with value, source, and whether an override set it.
fn target_json(t: &Target, probed: &Target) -> serde_json::Value {
    use serde_json::{json, Value};
    fn one<T: ToString>(s: &Option<Sourced<T>>, before: &Option<Sourced<T>>) -> Value {
        match s {
            Some(s) => json!({
                "value": s.value.to_string(),
                "source": s.source,
                "overridden": overridden(&s.source),
                "probed": if overridden(&s.source) { before.as_ref().map(|b| Value::String(b.value.to_string())).unwrap_or(Value::Null) } else { Value::Null },
            }),
            None => json!({"value": null, "source": null, "overridden": false, "probed": null}),
        }
    }
    let gpus = |g: &Option<Sourced<Vec<crate::target::TargetGpu>>>| {
        g.as_ref()
            .map(|g| Sourced::new(gpu_list(&g.value), g.source.clone()))
    };
    json!({
        "name": t.name,
        "kind": t.kind,
        "python": one(&t.python, &probed.python),
        "glibc": one(&t.glibc, &probed.glibc),
        "gpus": one(&gpus(&t.gpus), &gpus(&probed.gpus)),
        "gpu_list": t.gpus.as_ref().map(|g| g.value.iter().map(|x| json!({"name": x.name, "compute_capability": x.compute_capability.to_string()})).collect::<Vec<_>>()),
        "driver": one(&t.driver, &probed.driver),
        "driver_cuda": one(&t.driver_cuda, &probed.driver_cuda),
        "toolkit": one(&t.toolkit, &probed.toolkit),
        "cudnn": one(&t.cudnn, &probed.cudnn),
        "system_sonames": t.system_sonames,
        "preinstalled": t.preinstalled,
    })
}

fn gpu_list(g: &[crate::target::TargetGpu]) -> String {
    if g.is_empty() {
        return "none".into();
    }
    g.iter()
        .map(|x| format!("{} (sm_{})", x.name, x.compute_capability.sm()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row of the facts table: name, value, source.
type Row = (String, String, String);

fn print_human(r: &ProbeReport, t: &Target, probed: &Target) {
    let rows = fact_rows(r, t, probed);
    print_table(&rows);
    print_toolkits(r);
    if let Some(why) = &r.no_driver {
        outln!("\n{why}");
    }
    for d in &r.disagreements {
        outln!("disagreement: {d}");
    }
    outln!(
        "\nprobed in {} ms (timeout {} s each)",
        r.elapsed_ms,
        r.timeout_secs
    );
}

/// The facts as the resolver will use them, each with its source (an
/// override shows the probed value beside it).
fn fact_rows(r: &ProbeReport, t: &Target, probed: &Target) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    fn row<T: ToString>(
        rows: &mut Vec<Row>,
        name: &str,
        s: &Option<Sourced<T>>,
        before: &Option<Sourced<T>>,
        fact_err: Option<&String>,
    ) {
        let (v, src) = match s {
            Some(s) if overridden(&s.source) => (
                format!("{} *", s.value.to_string()),
                format!(
                    "{} (probed: {})",
                    s.source,
                    before
                        .as_ref()
                        .map(|b| b.value.to_string())
                        .unwrap_or_else(|| "-".into())
                ),
            ),
            Some(s) => (s.value.to_string(), s.source.clone()),
            None => (
                "-".into(),
                fact_err.cloned().unwrap_or_else(|| "unknown".into()),
            ),
        };
        rows.push((name.into(), v, src));
    }
    let py = r.python.value.as_ref();
    row(
        &mut rows,
        "python",
        &t.python,
        &probed.python,
        r.python.error.as_ref(),
    );
    row(
        &mut rows,
        "glibc",
        &t.glibc,
        &probed.glibc,
        r.python.error.as_ref(),
    );
    let g = |x: &Option<Sourced<Vec<crate::target::TargetGpu>>>| {
        x.as_ref()
            .map(|g| Sourced::new(gpu_list(&g.value), g.source.clone()))
    };
    let gpu_err = r.gpus.error.as_ref().filter(|_| t.gpus.is_none());
    row(&mut rows, "gpus", &g(&t.gpus), &g(&probed.gpus), gpu_err);
    row(
        &mut rows,
        "driver",
        &t.driver,
        &probed.driver,
        r.driver.error.as_ref(),
    );
    row(
        &mut rows,
        "driver CUDA",
        &t.driver_cuda,
        &probed.driver_cuda,
        r.driver_cuda.error.as_ref(),
    );
    row(
        &mut rows,
        "CUDA toolkit",
        &t.toolkit,
        &probed.toolkit,
        r.toolkit.error.as_ref(),
    );
    row(
        &mut rows,
        "cuDNN",
        &t.cudnn,
        &probed.cudnn,
        r.cudnn.error.as_ref(),
    );
    let plain = |f: &Fact<String>| {
        f.value
            .clone()
            .map(|v| Sourced::new(v, f.source.clone().unwrap_or_default()))
    };
    row(
        &mut rows,
        "NVRTC",
        &plain(&r.nvrtc),
        &None,
        r.nvrtc.error.as_ref(),
    );
    let colab = r.colab.value.map(|c| {
        Sourced::new(
            if c { "yes" } else { "no" },
            r.colab.source.clone().unwrap_or_default(),
        )
    });
    row(&mut rows, "Colab", &colab, &None, r.colab.error.as_ref());
    if let Some(p) = py {
        let pk: Vec<String> = p
            .packages
            .iter()
            .filter(|(n, _)| n.starts_with("mxnet") || *n == "numpy")
            .map(|(n, v)| format!("{n} {v}"))
            .collect();
        let v = if pk.is_empty() {
            "none".to_string()
        } else {
            pk.join(", ")
        };
        rows.push((
            "mxnet/numpy".into(),
            v,
            format!("importlib.metadata ({})", p.executable),
        ));
    }
    rows
}

fn print_table(rows: &[Row]) {
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let w1 = rows
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0)
        .min(48);
    outln!("{:w0$}  {:w1$}  SOURCE", "FACT", "VALUE");
    for (a, b, c) in rows {
        outln!("{a:w0$}  {b:w1$}  {c}");
    }
    if rows.iter().any(|r| r.1.ends_with(" *")) {
        outln!("(* overridden)");
    }
}

/// Every toolkit found; `*` marks the active one.
fn print_toolkits(r: &ProbeReport) {
    if !r.toolkits.is_empty() {
        outln!("\ntoolkits:");
        for tk in &r.toolkits {
            let v = match (&tk.version, &tk.error) {
                (Some(v), _) => format!(
                    "{}{}",
                    v.cuda,
                    v.full
                        .as_ref()
                        .map(|f| format!(" ({f})"))
                        .unwrap_or_default()
                ),
                (None, Some(e)) => format!("error: {e}"),
                (None, None) => "?".into(),
            };
            let libs: Vec<String> = tk
                .lib_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect();
            outln!(
                "  {} {} [{}] {v}; lib dirs: {}",
                if tk.active { "*" } else { " " },
                tk.nvcc.display(),
                tk.found_via,
                if libs.is_empty() {
                    "none".into()
                } else {
                    libs.join(":")
                }
            );
        }
    }
}

/// Fact overrides shared by probe and resolve (flags win over GPU_ENV_OVERRIDE_*).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OverrideArgs {
    /// GPU model, sm_XY or compute capability (repeatable). Env: GPU_ENV_OVERRIDE_GPU (comma list).
    #[arg(long = "gpu", value_name = "GPU")]
    pub gpu: Vec<String>,
    /// Pretend there is no GPU. Env: GPU_ENV_OVERRIDE_NO_GPU.
    #[arg(long)]
    pub no_gpu: bool,
    /// NVIDIA driver version. Env: GPU_ENV_OVERRIDE_DRIVER.
    #[arg(long, value_name = "VERSION")]
    pub driver: Option<String>,
    /// CUDA toolkit version. Env: GPU_ENV_OVERRIDE_CUDA_TOOLKIT.
    #[arg(long, value_name = "MAJOR.MINOR")]
    pub cuda_toolkit: Option<String>,
    /// cuDNN version. Env: GPU_ENV_OVERRIDE_CUDNN.
    #[arg(long, value_name = "VERSION")]
    pub cudnn: Option<String>,
    /// Python version. Env: GPU_ENV_OVERRIDE_PYTHON.
    #[arg(long, value_name = "VERSION")]
    pub python_version: Option<String>,
}

impl OverrideArgs {
    /// The flags, then `GPU_ENV_OVERRIDE_*` for what no flag gave; a bad
    /// variable (non-UTF-8, an unknown NO_GPU spelling) is an error naming it.
    pub fn to_overrides(&self) -> Result<crate::target::Overrides, crate::target::OverrideError> {
        use crate::target::{Overrides, Sourced};
        let s = |v: &Option<String>, flag: &str| {
            v.clone()
                .map(|v| Sourced::new(v, format!("override:--{flag}")))
        };
        Overrides {
            gpus: self
                .gpu
                .iter()
                .map(|g| Sourced::new(g.clone(), "override:--gpu"))
                .collect(),
            no_gpu: self.no_gpu.then(|| "override:--no-gpu".to_string()),
            driver: s(&self.driver, "driver"),
            cuda_toolkit: s(&self.cuda_toolkit, "cuda-toolkit"),
            cudnn: s(&self.cudnn, "cudnn"),
            python: s(&self.python_version, "python-version"),
        }
        .try_with_process_env()
    }
}
