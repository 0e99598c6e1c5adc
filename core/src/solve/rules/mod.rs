//! One function per rule, and [`evaluate`], which runs them for one wheel
//! in the order the candidate would meet them (docs/solver.md "Rules"):
//! pip's checks (constraint, placeholder, platform, python, numpy), the
//! build kind (device), the loader (soname; a missing cuDNN is `cudnn`
//! there, in `DT_NEEDED` order), the cuDNN build, the driver at the first
//! CUDA call, the GPU code at the first kernel launch. Every rule runs, so
//! a rejection lists all it breaks; the first leads.

pub(crate) mod arch;
pub(crate) mod cudnn;
pub(crate) mod device;
pub(crate) mod driver;
pub(crate) mod install;
pub(crate) mod loader;
pub(crate) mod nvrtc;
pub(crate) mod pins;
pub(crate) mod support;

use super::{Broken, Choice, Constraints, Ctx, CudnnChoice, Rejection, Rule};
use crate::db::model::{RedistRelease, WheelFile, WheelRelease};
use crate::solve::providers::Provider;
use std::collections::BTreeMap;

// Shared by the loader's rules (loader, cudnn, nvrtc and the rules that
// read what the loader chose), kept here so those siblings do not import
// one another.

/// The providers one wheel loads with.
#[derive(Debug, Default)]
pub(crate) struct Loaded<'a> {
    /// soname -> provider, for every `DT_NEEDED` that has one.
    pub providers: BTreeMap<String, Provider>,
    /// Pip redistributables to install, by package name.
    pub pip: BTreeMap<String, &'a RedistRelease>,
    pub cudnn: Option<CudnnChoice>,
    /// A cuDNN the loader finds but that is the wrong build for this wheel
    /// (rule `cudnn`, judged after the loader).
    pub cudnn_mismatch: Option<String>,
}

/// " for CUDA 10" (pip redistributables only serve their own CUDA major).
pub(crate) fn for_major(major: Option<u32>) -> String {
    major.map(|m| format!(" for CUDA {m}")).unwrap_or_default()
}

/// `8.9.6.50` -> `8.9`.
pub(crate) fn series(v: &str) -> String {
    v.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// The broken rules of one candidate, in the order they were met.
#[derive(Debug, Default)]
pub(crate) struct Breaks(pub Vec<Broken>, Depth);

/// How far a candidate is judged.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// Every rule it breaks (what `resolve` explains).
    #[default]
    Every,
    /// Whether it breaks any: judging stops at the first broken rule.
    Verdict,
}

impl Breaks {
    pub(crate) fn push(&mut self, rule: Rule, reason: impl Into<String>) {
        self.0.push(Broken {
            rule,
            reason: reason.into(),
        });
    }

    /// Whether judging can stop: a rule is broken and only the verdict is
    /// wanted.
    pub(crate) fn settled(&self) -> bool {
        self.1 == Depth::Verdict && !self.0.is_empty()
    }

    /// `Some` while no rule is broken, for `?` in [`works`].
    fn none(&self) -> Option<()> {
        self.0.is_empty().then_some(())
    }
}

fn rejection(rel: &WheelRelease, w: &WheelFile, breaks: Breaks) -> Box<Rejection> {
    let first = breaks.0[0].clone();
    Box::new(Rejection {
        package: rel.package.clone(),
        version: rel.version.clone(),
        filename: w.filename.clone(),
        rule: first.rule,
        reason: first.reason,
        rules: breaks.0,
    })
}

/// Evaluate one wheel against every rule: the choice it would make, or
/// every rule it breaks.
pub(crate) fn evaluate(
    cx: &Ctx,
    rel: &WheelRelease,
    w: &WheelFile,
    constraints: &Constraints,
) -> Result<Choice, Box<Rejection>> {
    let mut b = Breaks::default();
    let version = install::constraint(rel, constraints, &mut b);
    // A placeholder has no library, and an unreadable version no place in
    // the ranking: nothing further can be judged.
    if w.placeholder {
        b.push(
            Rule::Placeholder,
            "placeholder wheel: it contains no mxnet package",
        );
    }
    let Some(version) = version.filter(|_| !w.placeholder) else {
        return Err(rejection(rel, w, b));
    };
    install::platform(cx, w, &mut b);
    install::python(cx, rel, w, &mut b);
    let numpy = pins::numpy(cx, rel, w, &mut b);
    device::device(cx, w, &mut b);
    let code = device::select(cx, w);
    let loaded = loader::providers(cx, w, &mut b);
    cudnn::build(&loaded, &mut b);
    let driver = driver::rule(cx, w, &loaded, &code, &mut b);
    let gpu_code = device::gpu_code(cx, w, code, &loaded, &mut b);
    let (env, warnings) = nvrtc::fusion(cx, w, &loaded, &gpu_code);
    match numpy {
        Some(numpy) if b.0.is_empty() => Ok(pins::choice(
            cx,
            rel,
            w,
            &version,
            pins::Parts {
                numpy,
                gpu_code,
                loaded,
                driver,
                env,
                warnings,
            },
        )),
        _ => Err(rejection(rel, w, b)),
    }
}

/// The choice a wheel makes when it breaks no rule, else None: the verdict
/// of [`evaluate`] without its explanations. The same rules run, the
/// cheapest first, and judging stops at the first one broken; a wheel
/// breaks no rule in any order, so the survivors and their choices are
/// [`evaluate`]'s.
pub(crate) fn works(
    cx: &Ctx,
    rel: &WheelRelease,
    w: &WheelFile,
    constraints: &Constraints,
) -> Option<Choice> {
    let mut b = Breaks(Vec::new(), Depth::Verdict);
    let version = install::constraint(rel, constraints, &mut b)?;
    b.none().filter(|_| !w.placeholder)?;
    device::device(cx, w, &mut b);
    b.none()?;
    install::python(cx, rel, w, &mut b);
    b.none()?;
    install::platform(cx, w, &mut b);
    b.none()?;
    let code = device::select(cx, w);
    let loaded = loader::providers(cx, w, &mut b);
    b.none()?;
    cudnn::build(&loaded, &mut b);
    b.none()?;
    let driver = driver::rule(cx, w, &loaded, &code, &mut b);
    b.none()?;
    let gpu_code = device::gpu_code(cx, w, code, &loaded, &mut b);
    b.none()?;
    let numpy = pins::numpy(cx, rel, w, &mut b)?;
    let (env, warnings) = nvrtc::fusion(cx, w, &loaded, &gpu_code);
    let parts = pins::Parts {
        numpy,
        gpu_code,
        loaded,
        driver,
        env,
        warnings,
    };
    Some(pins::choice(cx, rel, w, &version, parts))
}
