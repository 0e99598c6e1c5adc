//! `cargo xtask probe`: argument parsing and rendering (issue 3). STUB.

use std::process::ExitCode;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct ProbeArgs {
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

pub fn run(_args: &ProbeArgs, _db: Option<&std::path::Path>) -> ExitCode {
    println!("probe: not implemented yet");
    ExitCode::SUCCESS
}

/// Fact overrides shared by probe and resolve (flags win over GPU_ENV_OVERRIDE_*).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OverrideArgs {
    /// GPU model, sm_XY or compute capability (repeatable).
    #[arg(long = "gpu", value_name = "GPU")]
    pub gpu: Vec<String>,
    /// Pretend there is no GPU.
    #[arg(long)]
    pub no_gpu: bool,
    /// NVIDIA driver version.
    #[arg(long, value_name = "VERSION")]
    pub driver: Option<String>,
    /// CUDA toolkit version.
    #[arg(long, value_name = "MAJOR.MINOR")]
    pub cuda_toolkit: Option<String>,
    /// cuDNN version.
    #[arg(long, value_name = "VERSION")]
    pub cudnn: Option<String>,
    /// Python version.
    #[arg(long, value_name = "VERSION")]
    pub python_version: Option<String>,
}

impl OverrideArgs {
    pub fn to_overrides(&self) -> gpu_env::target::Overrides {
        use gpu_env::target::{Overrides, Sourced};
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
        .with_env(|k| std::env::var(k).ok())
    }
}
