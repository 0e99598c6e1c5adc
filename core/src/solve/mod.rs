//! Resolve: choose the MXNet wheel and a provider for every requirement it
//! has on the target; record for every other candidate every rule it
//! breaks, in the order the installer, the loader and the run would meet
//! them, in words a user can act on. The model, the rules and their order
//! are in docs/solver.md.
//!
//! Layout: `rules/` holds one function per rule and `rules::evaluate`, which
//! runs them in order for one wheel; `rank` orders the survivors; `fixes`
//! searches the nearest changes to an unsatisfiable target.

pub mod companions;
pub mod constraint;
pub mod fixes;
pub mod gpu_code;
pub mod needs;
pub mod numpy;
pub mod providers;
pub mod rank;
pub(crate) mod rules;

pub use fixes::build_from_source;

use crate::db::model::{Breaker, WheelFile};
use crate::db::Db;
use crate::pep440::{self, Version, VersionSpecifiers};
use crate::target::Target;
use crate::versions::{ComputeCapability, DriverVersion};
use gpu_code::GpuCode;
use providers::Provider;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Limits from the user's config or flags.
#[derive(Debug, Clone, Default)]
pub struct Constraints {
    /// PEP 440 specifier on the MXNet version, e.g. `>=1.9`.
    pub mxnet: Option<VersionSpecifiers>,
    /// The one MXNet distribution the constraint names (`mxnet-cu112==1.9.1`).
    pub mxnet_package: Option<String>,
    /// Only these MXNet distributions (e.g. `mxnet-cu112`).
    pub packages: Option<Vec<String>>,
    /// Companion packages to lock with the stack (`d2l==1.0.3`).
    pub companions: Vec<companions::CompanionSpec>,
}

/// The rules, in the order a candidate meets them: pip's install checks,
/// the CPU/GPU build, the loader (`DT_NEEDED` in ELF order; a missing cuDNN
/// soname is reported there under `cudnn`), the cuDNN build, the driver at
/// the first CUDA call, the GPU code at the first kernel launch. Every
/// broken rule of a candidate is recorded, the first one leading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// Excluded by the user's constraints.
    Constraint,
    Placeholder,
    Platform,
    Python,
    Numpy,
    Device,
    Soname,
    Cudnn,
    Driver,
    GpuCode,
    /// Works, but ranks below the choice (not a broken rule).
    RankedLower,
}

impl Rule {
    /// The one table of rule names: text output, `--json`, the lock-free
    /// compatibility page and the docs all spell a rule this way.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Constraint => "constraint",
            Rule::Placeholder => "placeholder",
            Rule::Platform => "platform",
            Rule::Python => "python",
            Rule::Numpy => "numpy",
            Rule::Device => "device",
            Rule::Soname => "soname",
            Rule::Cudnn => "cudnn",
            Rule::Driver => "driver",
            Rule::GpuCode => "gpu_code",
            Rule::RankedLower => "ranked_lower",
        }
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One broken rule of a candidate.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Broken {
    pub rule: Rule,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    pub package: String,
    pub version: String,
    pub filename: String,
    /// The first broken rule (`rules[0]`).
    pub rule: Rule,
    pub reason: String,
    /// Every broken rule, in the order the candidate meets them.
    pub rules: Vec<Broken>,
}

/// One pinned file: what the solver chose, as the lock records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    pub name: String,
    pub version: String,
    pub filename: String,
    pub url: String,
    pub sha256: String,
    pub size: u64,
    /// `mxnet`, `cuda-redist`, `numpy`, `need` (what `import mxnet` needs
    /// beyond its wheel, and that package's own requirements).
    pub role: String,
    /// Where it is installed ([`install_place`]): `site` (the environment)
    /// or `redist` (a separate directory, so preinstalled `nvidia-*` files
    /// stay intact).
    pub install: String,
}

/// Where a pinned file of `role` is installed on a target of `kind`.
/// Notebook runtimes keep their own CUDA 12 wheels in site-packages: the
/// lock's redistributables go into a directory of their own there.
pub fn install_place(role: &str, kind: &str) -> &'static str {
    if role == "cuda-redist" && crate::target::is_notebook_kind(kind) {
        "redist"
    } else {
        "site"
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DriverCheck {
    /// The floor for this wheel with its chosen CUDA runtime.
    pub min: Option<DriverVersion>,
    pub found: Option<DriverVersion>,
    /// None when the target's driver is unknown.
    pub ok: Option<bool>,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CudnnChoice {
    pub version: String,
    pub soname: String,
    pub provider: Provider,
}

/// The image a device runs from the chosen wheel; the lock stores these
/// as they are (`[[target.mxnet.gpu_code]]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeviceCode {
    pub device: String,
    pub compute_capability: ComputeCapability,
    pub code: GpuCode,
}

#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub package: String,
    pub version: String,
    pub wheel: WheelFile,
    pub gpu_code: Vec<DeviceCode>,
    /// soname -> provider, for every DT_NEEDED of libmxnet.so.
    pub providers: BTreeMap<String, Provider>,
    pub cudnn: Option<CudnnChoice>,
    pub driver: DriverCheck,
    pub numpy: numpy::NumpyChoice,
    /// Every file to install, mxnet first, then redistributables by name, then
    /// numpy, then (role `need`) the pinned needs and their requirements by name.
    pub packages: Vec<Pin>,
    pub shims: Vec<Breaker>,
    /// Modules `import mxnet` needs (from "absent" breakers) that the target
    /// is not known to have and that are not pinned: on notebook runtimes
    /// (which ship them), or where compat-db/pypi has no fitting release
    /// (the reason then says why).
    pub needs: Vec<Need>,
    /// Environment variables the stack runs with (`MXNET_USE_FUSION=0`
    /// when the driver cannot JIT the NVRTC's PTX), each with why.
    pub env: Vec<EnvSetting>,
    /// What works but deserves a word: PTX JIT on first use, ...
    pub warnings: Vec<String>,
    /// Companions (`--with`, config `companions`); their files are in
    /// `packages` too, after the stack's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub companions: Vec<companions::CompanionChoice>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EnvSetting {
    pub name: String,
    pub value: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Need {
    pub package: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Resolved,
    Unsatisfiable,
}

#[derive(Debug, Clone, Serialize)]
pub struct Resolution {
    pub status: Status,
    pub target: Target,
    pub chosen: Option<Choice>,
    pub rejected: Vec<Rejection>,
    /// For unsatisfiable targets: the nearest fixes, in words, best first.
    pub fixes: Vec<String>,
}

type PipChoice<'a> = Option<(
    &'a crate::db::model::RedistPackage,
    &'a crate::db::model::RedistRelease,
)>;

/// What every rule reads: the db, the target, and memoized lookups shared
/// by all candidates of one resolve.
pub(crate) struct Ctx<'a> {
    pub(crate) db: &'a Db,
    pub(crate) target: &'a Target,
    pub(crate) python: Option<Version>,
    /// The target's Python as wheel tags see it (None: version unknown).
    pub(crate) tags: Option<std::sync::Arc<crate::tags::Ranks>>,
    /// pip_provider answers for (soname, CUDA major, the wheel's SASS and
    /// PTX): the same few sonames are asked for by every candidate wheel.
    pip_memo: std::cell::RefCell<std::collections::HashMap<PipKey, PipChoice<'a>>>,
    /// need pins per (needs, MXNet Requires-Dist): the same for most wheels.
    need_memo: std::cell::RefCell<std::collections::HashMap<NeedKey, NeedPins>>,
    /// The numpy files for the target's Python: the same for every candidate.
    numpy: std::cell::OnceCell<Result<numpy::Installable<'a>, String>>,
}

type NeedKey = (Vec<String>, Vec<String>);
type PipKey = (String, Option<u32>, Vec<u32>, Vec<u32>);
type NeedPins = (Vec<Pin>, Vec<Need>);

impl<'a> Ctx<'a> {
    pub(crate) fn new(db: &'a Db, target: &'a Target) -> Self {
        Ctx {
            db,
            target,
            python: target
                .python
                .as_ref()
                .and_then(|p| pep440::version(&p.value).ok()),
            tags: target.interpreter().map(|i| i.ranks()),
            pip_memo: Default::default(),
            need_memo: Default::default(),
            numpy: Default::default(),
        }
    }

    /// The numpy releases that install on the target's Python (`python`:
    /// its version), computed on first use.
    pub(crate) fn numpy_installable(
        &self,
        python: &str,
    ) -> &Result<numpy::Installable<'a>, String> {
        self.numpy.get_or_init(|| {
            let glibc = self.target.glibc.as_ref().map(|g| g.value.as_str());
            numpy::Installable::new(self.db, python, glibc)
        })
    }

    /// The target's devices (empty: no GPU).
    pub(crate) fn gpus(&self) -> &'a [crate::target::TargetGpu] {
        self.target
            .gpus
            .as_ref()
            .map(|g| g.value.as_slice())
            .unwrap_or(&[])
    }

    /// [`providers::pip_provider`] for `soname` as wheel `w` needs it.
    pub(crate) fn pip_provider(
        &self,
        soname: &str,
        w: &crate::db::model::WheelFile,
    ) -> PipChoice<'a> {
        let cuda_major = w.cuda.map(|c| c.major);
        let code = crate::solve::gpu_code::own_kernels(w);
        let key = (
            soname.to_string(),
            cuda_major,
            code.0.to_vec(),
            code.1.to_vec(),
        );
        if let Some(hit) = self.pip_memo.borrow().get(&key) {
            return *hit;
        }
        let found = providers::pip_provider(
            self.db,
            soname,
            cuda_major,
            self.python.as_ref(),
            Some(code),
        );
        self.pip_memo.borrow_mut().insert(key, found);
        found
    }

    /// [`needs::pin`], memoized; `by` only names MXNet in reasons, and
    /// wheels of one release share it.
    pub(crate) fn need_pins(
        &self,
        python: &str,
        needs: Vec<Need>,
        requires_dist: &[crate::pep508::Dependency],
        by: &str,
    ) -> NeedPins {
        let key = (
            needs
                .iter()
                .map(|n| n.package.clone())
                .chain([by.to_string()])
                .collect(),
            requires_dist.iter().map(|r| r.to_string()).collect(),
        );
        if let Some(hit) = self.need_memo.borrow().get(&key) {
            return hit.clone();
        }
        let out = needs::pin(
            self.db,
            python,
            &self.target.preinstalled.value,
            needs,
            requires_dist,
            by,
        );
        self.need_memo.borrow_mut().insert(key, out.clone());
        out
    }
}

/// Every candidate of `db` evaluated on `target`: the survivors, best
/// first, and the rejections (every broken rule each).
pub(crate) fn survivors(
    db: &Db,
    target: &Target,
    constraints: &Constraints,
) -> (Vec<Choice>, Vec<Rejection>) {
    let cx = Ctx::new(db, target);
    let mut ok = Vec::new();
    let mut rejected = Vec::new();
    for (rel, w) in db.wheel_files() {
        match rules::evaluate(&cx, rel, w, constraints) {
            Ok(c) => ok.push(c),
            Err(r) => rejected.push(*r),
        }
    }
    ok.sort_by_cached_key(rank::preference);
    (ok, rejected)
}

/// [`survivors`] alone, best first, without the rejections: each
/// candidate is judged until its first broken rule ([`rules::works`]).
pub(crate) fn survivors_only(db: &Db, target: &Target, constraints: &Constraints) -> Vec<Choice> {
    let cx = Ctx::new(db, target);
    let mut ok: Vec<Choice> = db
        .wheel_files()
        .filter_map(|(rel, w)| rules::works(&cx, rel, w, constraints))
        .collect();
    ok.sort_by_cached_key(rank::preference);
    ok
}

/// Resolve `target` against every MXNet wheel in `db`.
pub fn resolve(db: &Db, target: &Target, constraints: &Constraints) -> Resolution {
    resolve_with(db, target, constraints, true)
}

/// [`resolve`] without the search for the nearest fixes of an
/// unsatisfiable target (its rejections still say what each candidate
/// breaks): for callers that ask many targets, such as the compatibility
/// page.
pub fn resolve_unexplained(db: &Db, target: &Target, constraints: &Constraints) -> Resolution {
    resolve_with(db, target, constraints, false)
}

/// [`resolve`]'s choice and status alone, for a caller that needs only the
/// lock (`check`): `rejected` and `fixes` are left empty, and each
/// candidate is judged until its first broken rule. The choice is
/// [`resolve`]'s.
pub fn resolve_choice(db: &Db, target: &Target, constraints: &Constraints) -> Resolution {
    let mut chosen = survivors_only(db, target, constraints).into_iter().next();
    if let Some(c) = chosen.as_mut() {
        if companions::add(db, target, c, &constraints.companions).is_err() {
            chosen = None;
        }
    }
    Resolution {
        status: if chosen.is_some() {
            Status::Resolved
        } else {
            Status::Unsatisfiable
        },
        target: target.clone(),
        chosen,
        rejected: Vec::new(),
        fixes: Vec::new(),
    }
}

fn resolve_with(db: &Db, target: &Target, constraints: &Constraints, explain: bool) -> Resolution {
    let (survivors, mut rejected) = survivors(db, target, constraints);
    let mut survivors = survivors.into_iter();
    let mut chosen = survivors.next();
    if let Some(c) = &chosen {
        rejected.extend(survivors.map(|s| rank::ranked_lower(&s, c)));
    }
    rank::sort_rejections(&mut rejected);
    // Companions lock on top of the chosen stack; one that cannot makes
    // the target unsatisfiable, with the reason as its fix.
    let companion_error = chosen
        .as_mut()
        .and_then(|c| companions::add(db, target, c, &constraints.companions).err());
    let fixes = match (&chosen, companion_error) {
        (_, Some(e)) => {
            chosen = None;
            vec![e]
        }
        (None, None) if explain => {
            let mut f = constraint::explain(db, target, constraints);
            f.extend(fixes::fixes(db, target, constraints, &rejected));
            f
        }
        (None, None) => vec![],
        (Some(_), None) => vec![],
    };
    Resolution {
        status: if chosen.is_some() {
            Status::Resolved
        } else {
            Status::Unsatisfiable
        },
        target: target.clone(),
        chosen,
        rejected,
        fixes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{Overrides, Sourced};

    /// Targets across compat-db: every runtime with every GPU it offers,
    /// the newest Colab with other Pythons, drivers, toolkits and no GPU,
    /// and one that nothing satisfies.
    fn targets(db: &Db) -> Vec<Target> {
        // Built from the profiles directly (not through `job`, which
        // depends on this module): runtime and GPU as the profile names them.
        let profile = |runtime: &str, gpu: Option<&str>, o: &Overrides| {
            let spec = crate::profile::TargetSpec::Profile {
                runtime: Some(runtime.to_string()),
                gpu: gpu.map(str::to_string),
                kind: None,
            };
            let mut t = crate::profile::from_profile(db, &spec).unwrap();
            t.apply(db, o).unwrap();
            t
        };
        let mut out = Vec::new();
        for (_, rt) in &db.runtimes {
            for gpu in &rt.gpus {
                out.push(profile(&rt.name, Some(gpu), &Overrides::default()));
            }
        }
        let given = |v: &str| Some(Sourced::new(v.to_string(), "override:test"));
        let overrides = [
            Overrides {
                python: given("3.8"),
                ..Default::default()
            },
            Overrides {
                python: given("3.11"),
                driver: given("450.80.02"),
                ..Default::default()
            },
            Overrides {
                cuda_toolkit: given("11.2"),
                cudnn: given("8.1.1"),
                ..Default::default()
            },
            Overrides {
                no_gpu: Some("override:test".into()),
                ..Default::default()
            },
        ];
        let newest_colab = crate::profile::newest(db, "colab").unwrap().name.clone();
        for o in &overrides {
            out.push(profile(&newest_colab, None, o));
        }
        // Unsatisfiable (README): Colab's last CUDA 11.8 image on a K80.
        let k80 = Overrides {
            gpus: vec![Sourced::new("3.7".to_string(), "override:test")],
            ..Default::default()
        };
        out.push(profile("colab-2023.11", None, &k80));
        out
    }

    fn json<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).unwrap()
    }

    /// Judging a candidate until its first broken rule keeps exactly the
    /// survivors, and the choices, of judging every rule.
    #[test]
    fn the_verdict_alone_keeps_every_survivor_and_choice() {
        let db = Db::embedded().unwrap();
        let constraints = [
            Constraints::default(),
            Constraints {
                mxnet: Some("<1.6".parse().unwrap()),
                ..Default::default()
            },
            Constraints {
                companions: vec![companions::CompanionSpec::parse("d2l==1.0.3").unwrap()],
                ..Default::default()
            },
        ];
        for t in targets(&db) {
            for c in &constraints {
                let (every, _) = survivors(&db, &t, c);
                assert_eq!(
                    json(&every),
                    json(&survivors_only(&db, &t, c)),
                    "{}",
                    t.name
                );
                let (full, choice) = (resolve(&db, &t, c), resolve_choice(&db, &t, c));
                assert_eq!(full.status, choice.status, "{}", t.name);
                assert_eq!(json(&full.chosen), json(&choice.chosen), "{}", t.name);
            }
        }
    }
}
