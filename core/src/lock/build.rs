//! A resolution in its locked form.

use super::*;
use crate::solve::{Choice, Resolution, Status};

/// What a resolution chose, as the lock stores it and `resolve --json`
/// prints it: one view of a choice (report.rs serializes these fields).
#[derive(Debug, Clone, Serialize)]
pub struct LockedChoice {
    pub mxnet: LockedMxnet,
    pub driver: LockedDriver,
    pub cudnn: Option<LockedCudnn>,
    pub numpy: LockedNumpy,
    pub package: Vec<Pin>,
    pub provider: Vec<LockedProvider>,
    pub shim: Vec<LockedShim>,
    pub need: Vec<LockedNeed>,
    pub companion: Vec<LockedCompanion>,
    pub env: Vec<LockedEnv>,
}

/// The locked form of the choice `c`.
pub fn locked_choice(c: &Choice) -> LockedChoice {
    LockedChoice {
        mxnet: locked_mxnet(c),
        driver: LockedDriver {
            min: c.driver.min.as_ref().map(|v| v.to_string()),
            found: c.driver.found.as_ref().map(|v| v.to_string()),
            ok: c.driver.ok,
            why: c.driver.why.clone(),
        },
        cudnn: c.cudnn.as_ref().map(|d| LockedCudnn {
            version: d.version.clone(),
            soname: d.soname.clone(),
            provider: d.provider.to_string(),
        }),
        numpy: LockedNumpy {
            version: c.numpy.version.clone(),
            preinstalled: c.numpy.file.is_none(),
            meets_requires_dist: c.numpy.meets_requires_dist,
        },
        package: c.packages.clone(),
        provider: locked_providers(c),
        shim: c
            .shims
            .iter()
            .map(|b| LockedShim {
                id: b.id.clone(),
                statements: b.shim.clone(),
                reason: b.error.clone(),
            })
            .collect(),
        need: c
            .needs
            .iter()
            .map(|n| LockedNeed {
                package: n.package.clone(),
                reason: n.reason.clone(),
            })
            .collect(),
        companion: c.companions.iter().map(locked_companion).collect(),
        env: c
            .env
            .iter()
            .map(|e| LockedEnv {
                name: e.name.clone(),
                value: e.value.clone(),
                why: e.why.clone(),
            })
            .collect(),
    }
}

/// Turn a resolution into its locked form.
pub fn lock_target(
    spec: &str,
    constraints: BTreeMap<String, String>,
    r: &Resolution,
) -> Result<LockedTarget, LockError> {
    let c = match (&r.status, &r.chosen) {
        (Status::Resolved, Some(c)) => c,
        _ => return Err(LockError::Unsatisfiable(r.target.name.clone())),
    };
    let t = &r.target;
    let LockedChoice {
        mxnet,
        driver,
        cudnn,
        numpy,
        package,
        provider,
        shim,
        need,
        companion,
        env,
    } = locked_choice(c);
    Ok(LockedTarget {
        spec: spec.to_string(),
        name: t.name.clone(),
        kind: t.kind.clone(),
        constraints,
        r#override: Vec::new(),
        fact: locked_facts(t),
        gpu: t
            .gpus
            .iter()
            .flat_map(|g| g.value.iter().cloned())
            .collect(),
        mxnet,
        driver,
        cudnn,
        numpy,
        package,
        provider,
        shim,
        need,
        companion,
        env,
    })
}

/// The target facts the resolution used, each with its source, in a fixed
/// order; unknown facts are left out.
fn locked_facts(t: &crate::target::Target) -> Vec<Fact> {
    fn fact<T>(
        name: &str,
        known: &Option<crate::target::Sourced<T>>,
        show: impl Fn(&T) -> String,
    ) -> Option<Fact> {
        known.as_ref().map(|s| Fact {
            name: name.into(),
            value: show(&s.value),
            source: s.source.clone(),
        })
    }
    let gpus = |g: &Vec<crate::target::TargetGpu>| {
        let each = g
            .iter()
            .map(|d| format!("{} ({})", d.name, d.compute_capability));
        each.collect::<Vec<_>>().join(", ")
    };
    [
        fact("python", &t.python, String::clone),
        fact("glibc", &t.glibc, String::clone),
        fact("gpus", &t.gpus, gpus),
        fact("driver", &t.driver, ToString::to_string),
        fact("driver_cuda", &t.driver_cuda, ToString::to_string),
        fact("cuda_toolkit", &t.toolkit, ToString::to_string),
        fact("cudnn", &t.cudnn, String::clone),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn locked_mxnet(c: &Choice) -> LockedMxnet {
    let (own_sass, own_ptx) = crate::solve::gpu_code::own_kernels(&c.wheel);
    LockedMxnet {
        package: c.package.clone(),
        version: c.version.clone(),
        filename: c.wheel.filename.clone(),
        sha256: c.wheel.sha256.clone(),
        cuda: c.wheel.cuda.map(|c| c.to_string()),
        gpu_code: c.gpu_code.clone(),
        sass: own_sass.to_vec(),
        ptx: own_ptx.to_vec(),
    }
}

/// Who provides each library; pip providers name their package (the cell
/// preloads from it).
fn locked_providers(c: &Choice) -> Vec<LockedProvider> {
    c.providers
        .iter()
        .map(|(s, p)| LockedProvider {
            soname: s.clone(),
            provider: p.to_string(),
            package: match p {
                crate::solve::providers::Provider::Pip { package, .. } => Some(package.clone()),
                _ => None,
            },
        })
        .collect()
}

fn locked_companion(c: &crate::solve::companions::CompanionChoice) -> LockedCompanion {
    LockedCompanion {
        spec: c.spec.clone(),
        package: c.package.clone(),
        version: c.version.clone(),
        module: c.module.clone(),
        measured: c.measured.clone(),
        preinstalled: c
            .preinstalled
            .iter()
            .map(|(n, v)| format!("{n} {v}"))
            .collect(),
        r#override: c
            .overrides
            .iter()
            .map(|o| LockedCompanionOverride {
                requirement: o.requirement.clone(),
                locked: o.locked.clone(),
                reason: o.reason.clone(),
            })
            .collect(),
    }
}
