//! Named targets: `colab`, `colab:<gpu>`, `colab:<gpu>@<runtime>` (and the
//! same for `kaggle`), or a
//! runtime profile name from compat-db/runtimes (`colab-2025.07`).

use crate::db::model::Runtime;
use crate::db::Db;
use crate::target::{parse_gpu, Sourced, Target};
use crate::versions::CudaVersion;
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    Local,
    Profile {
        runtime: Option<String>,
        gpu: Option<String>,
        kind: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("unknown target `{}`: use local, colab, colab:<gpu>, colab:<gpu>@<runtime>, kaggle, kaggle:<gpu>, or a profile name ({})", crate::validate::escape_control(.0), .1)]
    Unknown(String, String),
    #[error("runtime `{runtime}` does not offer GPU `{}`; it offers {offered}{}", crate::validate::escape_control(.gpu), if *.elsewhere { "" } else { LOCAL_HINT })]
    GpuNotOffered {
        runtime: String,
        gpu: String,
        offered: String,
        /// Whether another runtime of the same kind offers it.
        elsewhere: bool,
    },
    #[error(transparent)]
    UnknownGpu(#[from] crate::target::UnknownGpu),
    #[error("compat-db has no {0} runtime profiles")]
    NoProfiles(String),
}

/// For a GPU no notebook runtime of the kind offers (a desktop or
/// workstation card): the target that describes a machine of one's own.
const LOCAL_HINT: &str = "; no runtime of this kind offers it: for your own machine with this GPU use `--target local` (probes it), adding `--gpu` to resolve for that GPU without it";

/// Runtime kinds with a `kind`, `kind:<gpu>`, `kind:<gpu>@<YYYY.MM>` spelling.
const NOTEBOOK_KINDS: [&str; 2] = ["colab", "kaggle"];

impl TargetSpec {
    pub fn parse(s: &str) -> TargetSpec {
        let s = s.trim();
        if s == "local" {
            return TargetSpec::Local;
        }
        for kind in NOTEBOOK_KINDS {
            let Some(rest) = s.strip_prefix(kind) else {
                continue;
            };
            if rest.is_empty() {
                return TargetSpec::Profile {
                    runtime: None,
                    gpu: None,
                    kind: Some(kind.to_string()),
                };
            }
            if let Some(rest) = rest.strip_prefix(':') {
                let (gpu, runtime) = match rest.split_once('@') {
                    Some((g, r)) => (g, Some(r)),
                    None => (rest, None),
                };
                let prefix = format!("{kind}-");
                let runtime = runtime.map(|r| {
                    if r.starts_with(&prefix) {
                        r.to_string()
                    } else {
                        format!("{prefix}{r}")
                    }
                });
                return TargetSpec::Profile {
                    runtime,
                    gpu: (!gpu.is_empty()).then(|| gpu.to_string()),
                    kind: Some(kind.to_string()),
                };
            }
        }
        let (name, gpu) = match s.split_once(':') {
            Some((n, g)) => (n.to_string(), Some(g.to_string())),
            None => (s.to_string(), None),
        };
        TargetSpec::Profile {
            runtime: Some(name),
            gpu,
            kind: None,
        }
    }
}

/// The newest runtime of a kind, by date then name.
pub fn newest<'a>(db: &'a Db, kind: &str) -> Option<&'a Runtime> {
    db.runtimes
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r.kind == kind)
        .max_by(|a, b| (&a.date, &a.name).cmp(&(&b.date, &b.name)))
}

/// Build a target from a runtime profile, on one of its GPUs.
pub fn from_profile(db: &Db, spec: &TargetSpec) -> Result<Target, TargetError> {
    let TargetSpec::Profile { runtime, gpu, kind } = spec else {
        unreachable!("local targets come from the probe")
    };
    let names = || {
        db.runtimes
            .iter()
            .map(|(_, r)| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let rt = match runtime {
        Some(name) => db
            .runtime(name)
            .ok_or_else(|| TargetError::Unknown(name.clone(), names()))?,
        None => {
            let k = kind.as_deref().unwrap_or("colab");
            newest(db, k).ok_or_else(|| TargetError::NoProfiles(k.to_string()))?
        }
    };
    let gpu_name = gpu.clone().unwrap_or_else(|| rt.default_gpu.clone());
    let g = parse_gpu(db, &gpu_name)?;
    let offered = rt
        .gpus
        .iter()
        .any(|o| db.gpu(o).is_some_and(|x| x.name == g.name));
    if !offered && gpu.is_some() && db.gpu(&gpu_name).is_some() {
        let elsewhere = db.runtimes.iter().any(|(_, r)| {
            r.kind == rt.kind
                && r.gpus
                    .iter()
                    .any(|o| db.gpu(o).is_some_and(|x| x.name == g.name))
        });
        return Err(TargetError::GpuNotOffered {
            runtime: rt.name.clone(),
            gpu: gpu_name,
            offered: rt.gpus.join(", "),
            elsewhere,
        });
    }
    let src = format!("profile:{}", rt.name);
    let sonames: BTreeSet<String> = rt.system_sonames.iter().cloned().collect();
    Ok(Target {
        name: format!("{}:{}", rt.name, gpu_name),
        kind: rt.kind.clone(),
        python: Some(Sourced::new(rt.python.clone(), src.clone())),
        glibc: rt.glibc.clone().map(|g| Sourced::new(g, src.clone())),
        gpus: Some(Sourced::new(
            vec![g],
            if gpu.is_some() {
                format!("target {gpu_name} on {}", rt.name)
            } else {
                format!("{src} (default GPU)")
            },
        )),
        driver: rt.driver.clone().map(|d| Sourced::new(d, src.clone())),
        driver_cuda: rt
            .driver
            .as_ref()
            .and_then(|d| crate::target::driver_cuda_for(db, d))
            .map(|c: CudaVersion| {
                Sourced::new(c, format!("compat-db/cuda.toml for the {src} driver"))
            }),
        toolkit: rt.cuda_toolkit.map(|c| Sourced::new(c, src.clone())),
        cudnn: rt.cudnn.clone().map(|c| Sourced::new(c, src.clone())),
        system_sonames: Sourced::new(sonames, src.clone()),
        preinstalled: Sourced::new(rt.preinstalled.clone(), src),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn specs() {
        assert_eq!(TargetSpec::parse("local"), TargetSpec::Local);
        assert_eq!(
            TargetSpec::parse("colab"),
            TargetSpec::Profile {
                runtime: None,
                gpu: None,
                kind: Some("colab".into())
            }
        );
        assert_eq!(
            TargetSpec::parse("colab:A100@2025.07"),
            TargetSpec::Profile {
                runtime: Some("colab-2025.07".into()),
                gpu: Some("A100".into()),
                kind: Some("colab".into())
            }
        );
        assert_eq!(
            TargetSpec::parse("colab-2025.07"),
            TargetSpec::Profile {
                runtime: Some("colab-2025.07".into()),
                gpu: None,
                kind: None
            }
        );
    }
}
