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
    #[error(transparent)]
    Emit(#[from] crate::emit::EmitError),
    #[error("{path}: {message}; nothing written")]
    Output { path: String, message: String },
    #[error("constraint: {0}")]
    Constraint(String),
    #[error("constraint: {0}")]
    Companion(#[from] crate::solve::companions::CompanionSpecError),
    #[error("target `{}`: {}", crate::validate::escape_control(.spec), crate::validate::escape_control(.message))]
    Spec { spec: String, message: String },
    #[error("{count} distinct {what} requested; one resolve takes at most {max} (each is resolved and locked on its own): split them over several locks (`--lock PATH`)")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
}

/// The most distinct targets one request resolves: each resolution is
/// kept until the lock is written, so memory grows with their number.
/// Repeated targets (the same spec with the same overrides) count once.
pub const MAX_TARGETS: usize = 64;

/// The most distinct companion specs one request takes.
pub const MAX_COMPANIONS: usize = 64;

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
    /// Only the lock is wanted (`check`): each resolution keeps its choice
    /// without the rejections and fixes that explain it
    /// ([`solve::resolve_choice`]).
    pub lock_only: bool,
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
    let mut companions: Vec<&String> = Vec::new();
    for s in &c.companions {
        if !companions.contains(&s) {
            if companions.len() == MAX_COMPANIONS {
                return Err(JobError::TooMany {
                    what: "companions",
                    count: distinct_count(&c.companions),
                    max: MAX_COMPANIONS,
                });
            }
            companions.push(s);
        }
    }
    let m = c
        .mxnet
        .as_deref()
        .map(crate::solve::constraint::MxnetConstraint::parse)
        .transpose()
        .map_err(|e| JobError::Constraint(e.to_string()))?
        .unwrap_or_default();
    Ok(Constraints {
        mxnet: m.spec,
        mxnet_package: m.package,
        packages: c.packages.clone(),
        companions: companions
            .iter()
            .map(|s| crate::solve::companions::CompanionSpec::parse(s))
            .collect::<Result<_, _>>()?,
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
    let key = crate::db::names::key;
    let gpu = match (&gpu, o.gpus.as_slice()) {
        (_, []) => gpu,
        (None, [g]) => Some(g.value.clone()),
        (Some(named), [g]) if key(named) == key(&g.value) => gpu,
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

fn distinct_count<T: Ord>(items: &[T]) -> usize {
    items
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// The request's targets with their overrides, each distinct one once
/// ([`crate::target::distinct`]), in order; more than [`MAX_TARGETS`] is
/// an error before any is resolved.
fn distinct_targets(req: &Request) -> Result<Vec<(String, Overrides)>, JobError> {
    let all = req
        .targets
        .iter()
        .enumerate()
        .map(|(i, spec)| (spec.clone(), req.overrides_for(i)))
        .collect();
    let out = crate::target::distinct(all);
    if out.len() > MAX_TARGETS {
        return Err(JobError::TooMany {
            what: "targets",
            count: out.len(),
            max: MAX_TARGETS,
        });
    }
    Ok(out)
}

pub fn run(db: &Db, db_hash: &str, req: &Request) -> Result<Outcome, JobError> {
    let cons = constraints(&req.constraints)?;
    let cmap = crate::config::constraint_map(&req.constraints);
    let mut results = Vec::new();
    let mut recorded = Vec::new();
    for (spec, o) in distinct_targets(req)? {
        let t = target(db, &spec, &o, &req.probe)?;
        let resolution = match req.lock_only {
            true => solve::resolve_choice(db, &t, &cons),
            false => solve::resolve(db, &t, &cons),
        };
        results.push((spec, resolution));
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

/// Whether `lock_path` is another lock than the config's `output.lock`
/// (an explicit `--lock`): the config's other outputs belong to its own
/// lock, so only this lock is written (or checked) then.
pub fn is_other_lock(loaded: &Loaded, lock_path: &Path) -> bool {
    crate::fsutil::resolve_path(lock_path)
        != crate::fsutil::resolve_path(&loaded.path(&loaded.config.output.lock))
}

/// Every file derived from a lock, as (path, contents). The lock itself
/// first; requirements and pylock are for the first target; the Colab cell
/// and notebook for every notebook (Colab, Kaggle) target. For another
/// lock than the config's ([`is_other_lock`]) the lock alone: writing the
/// config's requirements or cell from it would leave them disagreeing with
/// the config's lock.
pub fn rendered_outputs(
    db: &Db,
    loaded: &Loaded,
    lock_path: &Path,
    lock: &Lock,
) -> Result<Vec<(PathBuf, String)>, JobError> {
    Ok(rendered_outputs_hashed(db, loaded, lock_path, lock)?.0)
}

/// [`rendered_outputs`] with the sha256 of the rendered lock ([`Lock::hash`],
/// which the other files name), hashed once.
pub fn rendered_outputs_hashed(
    db: &Db,
    loaded: &Loaded,
    lock_path: &Path,
    lock: &Lock,
) -> Result<(Vec<(PathBuf, String)>, String), JobError> {
    // One validation layer: the lock's values are checked before any file
    // is rendered from it (requirements and pylock check again, as does
    // the cell).
    lock.validate()?;
    // Render the lock once: its bytes are written and hashed.
    let text = lock.render();
    let hash = crate::fsutil::sha256_hex(text.as_bytes());
    let mut out = vec![(lock_path.to_path_buf(), text)];
    if is_other_lock(loaded, lock_path) {
        check_output_paths(loaded, lock_path, &out)?;
        return Ok((out, hash));
    }
    let o = &loaded.config.output;
    if let Some(first) = lock.target.first() {
        // A notebook target's CUDA redistributables are installed by the
        // cell, never by `pip install -r` (see lock::requirements).
        let cell = crate::target::is_notebook_kind(&first.kind)
            .then(|| o.colab_cell.to_string_lossy().into_owned());
        let cell = cell.as_deref();
        out.push((
            loaded.path(&o.requirements),
            lock::try_requirements(&hash, first, cell)?,
        ));
        out.push((
            loaded.path(&o.pylock),
            lock::try_pylock(&hash, first, cell)?,
        ));
    }
    out.extend(crate::emit::render_colab_with_hash(
        db, loaded, lock_path, lock, &hash,
    )?);
    check_output_paths(loaded, lock_path, &out)?;
    Ok((out, hash))
}

/// Check every output path before anything is written: each has a name of
/// its own (no output names another, the manifest or `Cargo.lock`; none is
/// empty or a directory), and each stays inside the repo root unless the
/// config sets `output.allow_outside_repo = true` (a `--lock` path given
/// explicitly, one other than the config's, is the caller's choice). The
/// first output is the lock.
pub fn check_output_paths(
    loaded: &Loaded,
    lock_path: &Path,
    outputs: &[(PathBuf, String)],
) -> Result<(), JobError> {
    let o = &loaded.config.output;
    for (key, p) in [
        ("lock", &o.lock),
        ("requirements", &o.requirements),
        ("pylock", &o.pylock),
        ("colab_cell", &o.colab_cell),
        ("notebook", &o.notebook),
    ] {
        if p.as_os_str().is_empty() || p.file_name().is_none() {
            return Err(JobError::Output {
                path: loaded
                    .manifest
                    .as_deref()
                    .unwrap_or(Path::new("Cargo.toml"))
                    .display()
                    .to_string(),
                message: format!(
                    "[workspace.metadata.gpu-env.output] {key} = {:?} names no file",
                    p.display().to_string()
                ),
            });
        }
    }
    let root = crate::fsutil::resolve_path(&loaded.root);
    let explicit_lock = is_other_lock(loaded, lock_path);
    let names = [
        "the lock",
        "the requirements file",
        "pylock.toml",
        "the setup cell",
        "the notebook",
    ];
    let mut seen: Vec<(PathBuf, &str)> = Vec::new();
    for (i, (path, _)) in outputs.iter().enumerate() {
        let what = names.get(i).copied().unwrap_or("an output");
        let r = crate::fsutil::resolve_path(path);
        let refuse = |message: String| JobError::Output {
            path: path.display().to_string(),
            message,
        };
        if r.is_dir() {
            return Err(refuse(format!("{what} would replace a directory")));
        }
        refuse_reserved(path)?;
        if let Some((_, other)) = seen.iter().find(|(p, _)| *p == r) {
            return Err(refuse(format!("{what} and {other} name the same file")));
        }
        let may_leave = o.allow_outside_repo || (i == 0 && explicit_lock);
        if !may_leave && !r.starts_with(&root) {
            return Err(refuse(format!(
                "{what} lies outside the repo root {} (set `allow_outside_repo = true` in [workspace.metadata.gpu-env.output] to allow it)",
                root.display()
            )));
        }
        seen.push((r, what));
    }
    Ok(())
}

/// How long a write waits for another gpu-env run writing the same place.
pub const WRITE_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Refuse an output path that names one of the repo's own files
/// ([`crate::generated::reserved`]), as given or after resolving links.
fn refuse_reserved(path: &Path) -> Result<(), JobError> {
    let r = crate::fsutil::resolve_path(path);
    match crate::generated::reserved(path).or_else(|| crate::generated::reserved(&r)) {
        Some(what) => Err(JobError::Output {
            path: path.display().to_string(),
            message: format!("an output would replace {what}, a file of the repo's own that is never a gpu-env output; name another file in [workspace.metadata.gpu-env.output]"),
        }),
        None => Ok(()),
    }
}

/// Whether `path` may be written as an output of `kind`, asked before the
/// work of making it: not one of the repo's own files, and absent or a
/// file gpu-env wrote as that kind. [`write_outputs`] asks again.
pub fn check_writable(path: &Path, kind: crate::generated::Kind) -> Result<(), JobError> {
    refuse_reserved(path)?;
    check_generated(path, kind)
}

/// Whether an existing file may be replaced by an output of `kind`:
/// absent, or a regular file (or a link to one: the rename replaces the
/// link, its target untouched) that is empty or carries that kind's marker
/// ([`crate::generated::may_replace`]). The lock has its own rule
/// ([`Lock::check_overwritable`]).
fn check_generated(path: &Path, kind: crate::generated::Kind) -> Result<(), JobError> {
    if kind == crate::generated::Kind::Lock {
        return Ok(Lock::check_overwritable(path)?);
    }
    let refuse = |message: String| JobError::Output {
        path: path.display().to_string(),
        message: format!("{message}; refusing to overwrite it (move it away or delete it)"),
    };
    match std::fs::symlink_metadata(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(refuse(format!("cannot inspect it: {e}"))),
    }
    match std::fs::metadata(path) {
        // A dangling link: the rename replaces the link alone.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Ok(m) if !m.is_file() => return Err(refuse("it is not a regular file".into())),
        _ => {}
    }
    let bytes =
        crate::fsutil::read_text_bytes(path).map_err(|e| refuse(format!("cannot read it: {e}")))?;
    if crate::generated::may_replace(kind, &bytes) {
        Ok(())
    } else {
        Err(refuse(format!(
            "it was not generated by gpu-env as {} (its first line has no `{}` marker)",
            kind.describe(),
            kind.tag()
        )))
    }
}

/// The deepest directory holding every path (all absolute).
fn common_dir(paths: &[PathBuf]) -> PathBuf {
    let mut it = paths.iter().map(|p| p.parent().unwrap_or(Path::new("/")));
    let Some(first) = it.next() else {
        return PathBuf::from(".");
    };
    let mut common = first.to_path_buf();
    for p in it {
        while !p.starts_with(&common) {
            if !common.pop() {
                return PathBuf::from("/");
            }
        }
    }
    common
}

/// Write outputs as one unit (a resolve's lock and the files derived from
/// it, or the compatibility page): paths checked first (no two the same,
/// none of the repo's own files; each replaces only a file carrying the
/// marker of its kind, the lock only a whole gpu-env lock of this format
/// or an older one), under an advisory lock on their common directory
/// (concurrent resolves take turns, so the set is one run's), stale
/// temporaries of killed runs removed, then all written or none
/// ([`crate::fsutil::write_unit`]). Modes follow the replaced file, or the
/// umask for a new one.
pub fn write_outputs(outputs: &[(PathBuf, String)]) -> Result<(), JobError> {
    write_outputs_under(outputs, None)
}

/// The directory whose advisory lock guards a lock and the files derived
/// from it: the deepest one holding every output path the config names
/// (only the lock for another lock than the config's). `resolve` writes
/// under it and `check` reads under it, so a check never sees half of a
/// concurrent resolve's set.
pub fn guard_dir(loaded: &Loaded, lock_path: &Path) -> PathBuf {
    let o = &loaded.config.output;
    let mut paths = vec![crate::fsutil::resolve_path(lock_path)];
    if !is_other_lock(loaded, lock_path) {
        for p in [&o.requirements, &o.pylock, &o.colab_cell, &o.notebook] {
            paths.push(crate::fsutil::resolve_path(&loaded.path(p)));
        }
    }
    common_dir(&paths)
}

/// [`write_outputs`] under the advisory lock of `guard` (default: the
/// outputs' deepest common directory).
pub fn write_outputs_under(
    outputs: &[(PathBuf, String)],
    guard: Option<&Path>,
) -> Result<(), JobError> {
    let bytes: Vec<(PathBuf, Vec<u8>)> = outputs
        .iter()
        .map(|(p, t)| (p.clone(), t.as_bytes().to_vec()))
        .collect();
    write_bytes_under(&bytes, guard)
}

/// [`write_outputs`] of files that need not be text (the page's PNG).
pub fn write_output_bytes(outputs: &[(PathBuf, Vec<u8>)]) -> Result<(), JobError> {
    write_bytes_under(outputs, None)
}

fn write_bytes_under(outputs: &[(PathBuf, Vec<u8>)], guard: Option<&Path>) -> Result<(), JobError> {
    let resolved: Vec<PathBuf> = outputs
        .iter()
        .map(|(p, _)| crate::fsutil::resolve_path(p))
        .collect();
    let mut kinds = Vec::new();
    for (i, r) in resolved.iter().enumerate() {
        refuse_reserved(&outputs[i].0)?;
        // Every renderer writes its marker; an output without one is a bug.
        let kind = crate::generated::kind_of(&outputs[i].1).ok_or_else(|| JobError::Output {
            path: outputs[i].0.display().to_string(),
            message: "the text to write carries no gpu-env marker (a bug: please report it)".into(),
        })?;
        kinds.push(kind);
        if r.file_name().is_none() || r.is_dir() {
            return Err(JobError::Output {
                path: outputs[i].0.display().to_string(),
                message: "names a directory, not a file".into(),
            });
        }
        if resolved[..i].contains(r) {
            return Err(JobError::Output {
                path: outputs[i].0.display().to_string(),
                message: "two outputs name the same file".into(),
            });
        }
    }
    let mut dirs: Vec<PathBuf> = resolved
        .iter()
        .filter_map(|r| r.parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    for d in &dirs {
        std::fs::create_dir_all(d).map_err(|source| crate::fsutil::WriteError {
            path: d.clone(),
            source,
        })?;
    }
    let guard = guard.map_or_else(|| common_dir(&resolved), Path::to_path_buf);
    std::fs::create_dir_all(&guard).map_err(|source| crate::fsutil::WriteError {
        path: guard.clone(),
        source,
    })?;
    let _guard = crate::fsutil::DirLock::acquire(&guard, WRITE_LOCK_TIMEOUT)?;
    for d in &dirs {
        // A run killed between its renames: its set is finished first.
        crate::fsutil::finish_interrupted(d);
        crate::fsutil::remove_stale_temps(d);
    }
    for ((path, _), kind) in outputs.iter().zip(kinds) {
        check_generated(path, kind)?;
    }
    crate::fsutil::write_unit(outputs)?;
    Ok(())
}
