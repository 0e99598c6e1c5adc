//! The main job: resolve every requested target, lock the result, and write
//! the lock and the files derived from it. Nothing is written unless every
//! target resolved.

use crate::config::Loaded;
use crate::db::Db;
use crate::lock::{self, Lock, LockError};
use crate::profile::{self, TargetSpec};
use crate::solve::{self, Constraints, Resolution, Status};
use crate::target::{OverrideError, Overrides};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Target(#[from] profile::TargetError),
    #[error(transparent)]
    Override(#[from] OverrideError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Write(#[from] crate::fsutil::WriteError),
    #[error("constraint: {0}")]
    Constraint(String),
    #[error("target `{spec}`: {message}")]
    Spec { spec: String, message: String },
}

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub targets: Vec<String>,
    /// Overrides for every target (flags, environment); they win over
    /// `per_target`.
    pub overrides: Overrides,
    /// Overrides of target `i` alone (config `[[target]]` tables), if any.
    pub per_target: Vec<Overrides>,
    pub constraints: crate::config::ConfigConstraints,
    /// Where a constraint that is not the config's came from
    /// (`mxnet` -> `override:--mxnet`), recorded in the lock.
    pub constraint_sources: BTreeMap<String, String>,
    pub probe: crate::probe::ProbeOptions,
}

impl Request {
    /// The overrides that apply to target `i`.
    pub fn overrides_for(&self, i: usize) -> Overrides {
        match self.per_target.get(i) {
            Some(base) => self.overrides.clone().over(base),
            None => self.overrides.clone(),
        }
    }
}

pub struct Outcome {
    pub results: Vec<(String, Resolution)>,
    /// Present when every target resolved.
    pub lock: Option<Lock>,
}

pub fn constraints(c: &crate::config::ConfigConstraints) -> Result<Constraints, JobError> {
    Ok(Constraints {
        mxnet: c
            .mxnet
            .as_deref()
            .map(crate::pep440::specifiers)
            .transpose()
            .map_err(|e| JobError::Constraint(e.to_string()))?,
        packages: c.packages.clone(),
    })
}

/// Build the target for one spec (probe for `local`), with overrides applied.
pub fn target(
    db: &Db,
    spec: &str,
    overrides: &Overrides,
    probe: &crate::probe::ProbeOptions,
) -> Result<crate::target::Target, JobError> {
    let parsed = profile_gpu(spec, TargetSpec::parse(spec), overrides)?;
    let mut t = match &parsed {
        TargetSpec::Local => crate::probe::probe(probe).to_target(db),
        p => profile::from_profile(db, p)?,
    };
    if overrides.no_gpu.is_some() && parsed != TargetSpec::Local {
        // The runtime's CPU flavour (Colab offers CPU runtimes): named so.
        let runtime = t
            .name
            .split_once(':')
            .map_or(t.name.clone(), |x| x.0.to_string());
        t.name = format!("{runtime}:CPU");
    }
    t.apply(db, overrides)?;
    Ok(t)
}

/// A runtime profile target with a GPU override becomes `<kind>:<gpu>`, so
/// its name, notebook GPU type and the runtime's offer all agree with the
/// GPU (`--target colab --gpu A100` is `colab:A100`); a contradiction is
/// refused.
fn profile_gpu(spec: &str, parsed: TargetSpec, o: &Overrides) -> Result<TargetSpec, JobError> {
    let TargetSpec::Profile { runtime, gpu, kind } = parsed else {
        return Ok(parsed);
    };
    let err = |message: String| JobError::Spec {
        spec: spec.to_string(),
        message,
    };
    if let (Some(src), Some(g)) = (&o.no_gpu, gpu.as_ref().or(o.gpus.first().map(|g| &g.value))) {
        return Err(err(format!(
            "{src} asks for no GPU, and GPU `{g}` is named: give one"
        )));
    }
    let gpu = match (&gpu, o.gpus.as_slice()) {
        (_, []) => gpu,
        (None, [g]) => Some(g.value.clone()),
        (Some(named), [g]) if named.eq_ignore_ascii_case(&g.value) => gpu,
        (Some(named), [g]) => {
            return Err(err(format!(
                "it names GPU `{named}`, and {} says `{}`: give one",
                g.source, g.value
            )))
        }
        (_, many) => {
            return Err(err(format!(
                "a runtime profile has one GPU type; {} gives {}",
                many[0].source,
                many.len()
            )))
        }
    };
    Ok(TargetSpec::Profile { runtime, gpu, kind })
}

pub fn run(db: &Db, db_hash: &str, req: &Request) -> Result<Outcome, JobError> {
    let cons = constraints(&req.constraints)?;
    let cmap = crate::config::constraint_map(&req.constraints);
    let mut results = Vec::new();
    let mut recorded = Vec::new();
    for (i, spec) in req.targets.iter().enumerate() {
        let o = req.overrides_for(i);
        let t = target(db, spec, &o, &req.probe)?;
        results.push((spec.clone(), solve::resolve(db, &t, &cons)));
        let mut entries = o.entries();
        entries.extend(
            req.constraint_sources
                .iter()
                .filter_map(|(k, src)| Some((k.clone(), cmap.get(k)?.clone(), src.clone()))),
        );
        recorded.push(entries);
    }
    let lock = if results.iter().all(|(_, r)| r.status == Status::Resolved) {
        let mut targets = Vec::new();
        for ((spec, r), entries) in results.iter().zip(recorded) {
            let mut t = lock::lock_target(spec, cmap.clone(), r)?;
            t.r#override = entries
                .into_iter()
                .map(|(name, value, source)| lock::LockedOverride {
                    name,
                    value,
                    source,
                })
                .collect();
            targets.push(t);
        }
        Some(Lock {
            format: lock::FORMAT,
            gpu_env: Some(crate::version().to_string()),
            db: db_hash.to_string(),
            target: targets,
        })
    } else {
        None
    };
    Ok(Outcome { results, lock })
}

/// Every file derived from a lock, as (path, contents). The lock itself
/// first; requirements and pylock are for the first target; the Colab cell
/// and notebook for every notebook (Colab, Kaggle) target.
pub fn rendered_outputs(
    db: &Db,
    loaded: &Loaded,
    lock_path: &Path,
    lock: &Lock,
) -> Result<Vec<(PathBuf, String)>, crate::emit::EmitError> {
    // Render the lock once: its bytes are written and hashed.
    let text = lock.render();
    let hash = crate::fsutil::sha256_hex(text.as_bytes());
    let mut out = vec![(lock_path.to_path_buf(), text)];
    let o = &loaded.config.output;
    if let Some(first) = lock.target.first() {
        // A notebook target's CUDA redistributables are installed by the
        // cell, never by `pip install -r` (see lock::requirements).
        let cell = crate::emit::is_notebook_kind(&first.kind)
            .then(|| o.colab_cell.to_string_lossy().into_owned());
        let cell = cell.as_deref();
        out.push((
            loaded.path(&o.requirements),
            lock::requirements(&hash, first, cell),
        ));
        out.push((loaded.path(&o.pylock), lock::pylock(&hash, first, cell)));
    }
    out.extend(crate::emit::render_colab_with_hash(
        db, loaded, lock_path, lock, &hash,
    )?);
    Ok(out)
}

/// Write every output atomically; refuses to overwrite a newer-format lock.
pub fn write_outputs(outputs: &[(PathBuf, String)]) -> Result<(), JobError> {
    if let Some((lock_path, _)) = outputs.first() {
        Lock::check_overwritable(lock_path)?;
    }
    for (path, text) in outputs {
        crate::fsutil::write_atomic(path, text.as_bytes())?;
    }
    Ok(())
}
