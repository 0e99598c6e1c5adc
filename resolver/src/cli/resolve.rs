//! `cargo xtask resolve`: parse arguments, run the job, render the result.

use crate::exit;
use crate::host::pyexe;
use crate::job::{self, Request};
use crate::solve::{Choice, Resolution, Rule, Status};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct Args {
    /// local | colab | colab:<gpu> | colab:<gpu>@<YYYY.MM> | kaggle | kaggle:<gpu> |
    /// kaggle:<gpu>@<YYYY.MM> | <profile> (colab-2026.08); repeatable.
    /// Default: the targets in [workspace.metadata.gpu-env], else local.
    #[arg(long = "target", value_name = "TARGET")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub overrides: super::probe::OverrideArgs,
    /// Python interpreter to probe for `local` (default: python3 on PATH).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// Use only compat-db and the local cache; never the network.
    #[arg(long)]
    pub offline: bool,
    /// Print the decision as JSON (one object per target; an array for several).
    #[arg(long)]
    pub json: bool,
    /// List every rejected candidate with its reason.
    #[arg(long)]
    pub explain: bool,
    #[arg(long, value_name = "PATH", help = super::HELP_LOCK)]
    pub lock: Option<PathBuf>,
    /// Cross-check every pinned file's sha256 against PyPI (concurrent, cached).
    #[arg(long)]
    pub verify_pypi: bool,
    /// Resolve and print only; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// MXNet constraint, overriding the config's: a PEP 440 specifier
    /// (`>=1.6,<1.8`) or a requirement as for pip (`mxnet-cu112==1.9.1`).
    #[arg(long, value_name = "SPEC")]
    pub mxnet: Option<String>,
    /// A companion package to lock with the stack (`d2l==1.0.3`);
    /// repeatable; replaces the config's `companions` (docs/companions.md).
    #[arg(long = "with", value_name = "SPEC")]
    pub with: Vec<String>,
    #[arg(long, value_name = "PATH", help = super::HELP_MANIFEST_PATH)]
    pub manifest_path: Option<PathBuf>,
}

pub fn run(args: &Args, db_dir: Option<&Path>) -> super::CliResult {
    let python = args
        .python
        .as_deref()
        .map(|p| pyexe::find(p, pyexe::Advice::PythonVersion))
        .transpose()?;
    let (db, db_hash) = crate::db::Db::open_with_hash(db_dir)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let loaded = crate::config::load(args.manifest_path.as_deref(), &cwd)?;
    let mut constraints = loaded.config.constraints.clone();
    let mut constraint_sources = std::collections::BTreeMap::new();
    if let Some(m) = &args.mxnet {
        constraints.mxnet = Some(m.clone());
        constraint_sources.insert("mxnet".to_string(), "override:--mxnet".to_string());
    }
    if !args.with.is_empty() {
        constraints.companions = args.with.clone();
        constraint_sources.insert("companions".to_string(), "override:--with".to_string());
    }
    // Targets from the command line, else the config's (plain and
    // `[[target]]` tables with their own overrides), else `local`.
    let (targets, per_target) = if !args.targets.is_empty() {
        (args.targets.clone(), Vec::new())
    } else {
        crate::request::configured_targets(&loaded.config)
            .into_iter()
            .unzip()
    };
    let overrides = args.overrides.to_overrides()?;
    let req = Request {
        targets,
        overrides,
        per_target,
        constraint_sources,
        constraints,
        probe: crate::probe::ProbeOptions {
            python,
            ..Default::default()
        },
        lock_only: false,
    };
    let outcome = job::run(&db, &db_hash, &req)?;
    if args.json {
        let docs: Vec<_> = outcome
            .results
            .iter()
            .map(|(s, r)| crate::report::resolution_json(s, r))
            .collect();
        let v = if docs.len() == 1 {
            docs.into_iter().next().unwrap()
        } else {
            serde_json::Value::Array(docs)
        };
        outln!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        for (spec, r) in &outcome.results {
            print_human(spec, r, args.explain);
        }
    }
    let Some(mut lock) = outcome.lock else {
        errln!("nothing written");
        return Ok(ExitCode::from(exit::NO));
    };
    if args.verify_pypi {
        verify_pypi(&mut lock, args.offline).map_err(|e| format!("{e}; nothing written"))?;
    }
    if args.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    if args.lock.is_none() && outside_any_workspace(&loaded, &cwd) {
        return Err(format!(
            "{}: no Cargo.toml here or in any parent directory, so no repo to write gpu-env.lock and its files into; add gpu-env to your repo with `cargo xtask init DIR` (from a gpu-env checkout) and resolve there, or pass --dry-run to only print the decision",
            cwd.display()
        ).into());
    }
    let lock_path = args
        .lock
        .clone()
        .unwrap_or_else(|| loaded.path(&loaded.config.output.lock));
    let outputs = job::rendered_outputs(&db, &loaded, &lock_path, &lock)?;
    let guard = job::guard_dir(&loaded, &lock_path);
    job::write_outputs_under(&outputs, Some(&guard))?;
    if !args.json {
        print_written(&loaded, &lock, &lock_path, &outputs, &cwd);
    }
    note_beyond_config(&loaded, &lock, &lock_path, &cwd);
    Ok(ExitCode::SUCCESS)
}

fn print_written(
    loaded: &crate::config::Loaded,
    lock: &crate::lock::Lock,
    lock_path: &Path,
    outputs: &[(PathBuf, String)],
    cwd: &Path,
) {
    outln!();
    for (p, _) in outputs {
        outln!("wrote {}", p.strip_prefix(cwd).unwrap_or(p).display());
    }
    if job::is_other_lock(loaded, lock_path) {
        let own = loaded.path(&loaded.config.output.lock);
        outln!(
            "(only the lock: the requirements, pylock and Colab files follow {}, the config's lock)",
            own.strip_prefix(cwd).unwrap_or(&own).display()
        );
    }
    outln!("lock sha256 {}", lock.hash());
    if !job::is_other_lock(loaded, lock_path) {
        print_next(lock, loaded, cwd);
    }
}

/// The config's lock made with a flag the config lacks: the words `check`
/// will print, said when the lock is written.
fn note_beyond_config(
    loaded: &crate::config::Loaded,
    lock: &crate::lock::Lock,
    lock_path: &Path,
    cwd: &Path,
) {
    if job::is_other_lock(loaded, lock_path) {
        return;
    }
    let beyond = crate::request::beyond_config(&loaded.config, lock);
    if !beyond.is_empty() {
        let shown = lock_path.strip_prefix(cwd).unwrap_or(lock_path);
        let shown = shown.display().to_string();
        let text = super::check::beyond_config_text(&beyond, lock, loaded, &shown);
        errln!("note: {text}");
    }
}

/// Whether resolve runs outside every Cargo workspace: no config was found
/// and no Cargo.toml is in `cwd` or above it (writing there would scatter a
/// lock and a Colab folder into an arbitrary directory).
fn outside_any_workspace(loaded: &crate::config::Loaded, cwd: &Path) -> bool {
    loaded.manifest.is_none() && !cwd.ancestors().any(|d| d.join("Cargo.toml").is_file())
}

/// What to do with each written target: a notebook target's cell goes into
/// a notebook; a local target is installed, then verified.
fn print_next(lock: &crate::lock::Lock, loaded: &crate::config::Loaded, cwd: &Path) {
    let shown = |p: &Path| {
        let p = loaded.path(p);
        p.strip_prefix(cwd).unwrap_or(&p).display().to_string()
    };
    let o = &loaded.config.output;
    let several = lock.target.len() > 1;
    for t in &lock.target {
        let gpus: Vec<&str> = t.gpu.iter().map(|g| g.name.as_str()).collect();
        let runtime = if gpus.is_empty() {
            "a CPU runtime".to_string()
        } else {
            format!("a runtime with GPU {}", gpus.join(", "))
        };
        let name = crate::validate::escape_control(&t.name);
        let step = match t.kind.as_str() {
            "colab" => format!(
                "in Colab on {runtime}, paste {} into the first cell, or upload {} (File > Upload notebook) and run all",
                shown(&o.colab_cell),
                shown(&o.notebook)
            ),
            "kaggle" => format!(
                "in a Kaggle notebook on {runtime}, paste {} into the first cell, or import {} and run all",
                shown(&o.colab_cell),
                shown(&o.notebook)
            ),
            _ => {
                let pick = if several {
                    format!(" --target {}", crate::validate::shell_word(&t.spec))
                } else {
                    String::new()
                };
                format!(
                    "`cargo xtask install{pick}` installs it into python3's environment (`--python PATH` for another), then `cargo xtask verify{pick}` proves it on this machine"
                )
            }
        };
        outln!("next ({name}): {step}");
    }
}

fn print_human(spec: &str, r: &Resolution, explain: bool) {
    outln!(
        "target {} -> {}",
        crate::validate::escape_control(spec),
        crate::validate::escape_control(&r.target.name)
    );
    print_facts(&r.target);
    match (&r.status, &r.chosen) {
        (Status::Resolved, Some(c)) => {
            outln!("resolved:");
            print_stack(c);
            print_additions(c, explain);
            print_packages(c);
        }
        _ => print_unsatisfiable(r),
    }
    print_rejected(r, explain);
}

/// The target's facts the resolution used, each with where it came from;
/// the source column starts after the longest value.
fn print_facts(t: &crate::target::Target) {
    let gpus = t.gpus.as_ref().map(|g| {
        let v = if g.value.is_empty() {
            "none".to_string()
        } else {
            g.value
                .iter()
                .map(|d| format!("{} ({})", d.name, d.compute_capability))
                .collect::<Vec<_>>()
                .join(", ")
        };
        (v, &g.source)
    });
    let facts = [
        (
            "python",
            t.python.as_ref().map(|p| (p.value.clone(), &p.source)),
        ),
        ("gpus", gpus),
        (
            "driver",
            t.driver.as_ref().map(|d| (d.value.to_string(), &d.source)),
        ),
        (
            "cuda toolkit",
            t.toolkit.as_ref().map(|d| (d.value.to_string(), &d.source)),
        ),
        (
            "cudnn",
            t.cudnn.as_ref().map(|d| (d.value.clone(), &d.source)),
        ),
    ];
    let width = column(
        facts
            .iter()
            .filter_map(|(_, v)| v.as_ref().map(|v| v.0.as_str())),
        28,
    );
    for (name, v) in facts {
        if let Some((v, s)) = v {
            outln!("  {name:<13} {v:<width$} [{s}]");
        }
    }
}

/// A column's width: its longest entry, at least `min` (columns of the
/// usual names keep their place; a long name moves the next column for
/// every row).
fn column<'a>(entries: impl Iterator<Item = &'a str>, min: usize) -> usize {
    entries
        .map(|e| e.chars().count())
        .max()
        .unwrap_or(0)
        .max(min)
}

/// The chosen MXNet wheel and what it needs from the target: GPU code
/// per device, the driver, cuDNN and numpy.
fn print_stack(c: &Choice) {
    outln!(
        "  mxnet         {} {}  ({})",
        c.package,
        c.version,
        c.wheel.filename
    );
    for d in &c.gpu_code {
        outln!(
            "  gpu code      {} ({}): {}",
            d.device,
            d.compute_capability,
            d.code
        );
    }
    match (&c.driver.min, c.driver.ok) {
        (Some(min), Some(true)) => {
            outln!("  driver        >= {min} ok ({})", c.driver.why)
        }
        (Some(min), None) => outln!(
            "  driver        >= {min} (target driver unknown; {})",
            c.driver.why
        ),
        _ => outln!("  driver        {}", c.driver.why),
    }
    if let Some(d) = &c.cudnn {
        outln!(
            "  cudnn         {} ({}) from {}",
            d.version,
            d.soname,
            d.provider
        );
    }
    outln!(
        "  numpy         {}{}{}",
        c.numpy.version,
        if c.numpy.file.is_none() {
            " (preinstalled)"
        } else {
            ""
        },
        match (c.numpy.meets_requires_dist, c.numpy.file.is_none()) {
            (true, _) => "",
            (false, true) => " (outside mxnet's Requires-Dist; works with the shims below)",
            (false, false) => {
                " (outside mxnet's Requires-Dist: installed with --no-deps; works with the shims below)"
            }
        }
    );
}

/// What the lock adds around the wheel to make it work: shims, needed
/// packages, companions, environment variables, and warnings.
fn print_additions(c: &Choice, explain: bool) {
    for s in &c.shims {
        outln!("  shim          {}: {}", s.id, s.shim.join("; "));
    }
    for n in &c.needs {
        outln!("  needs         {} installed: {}", n.package, n.reason);
    }
    print_companions(&c.companions, explain);
    for e in &c.env {
        outln!("  env           {}={}: {}", e.name, e.value, e.why);
    }
    for w in &c.warnings {
        outln!("  warning       {w}");
    }
}

/// Every pinned file, then who provides each library (the base system's
/// own libraries are not listed).
fn print_packages(c: &Choice) {
    outln!("  packages:");
    let name = column(c.packages.iter().map(|p| p.name.as_str()), 28);
    let version = column(c.packages.iter().map(|p| p.version.as_str()), 12);
    for p in &c.packages {
        outln!(
            "    {:<name$} {:<version$} {:>7.1} MB  sha256:{}…",
            p.name,
            p.version,
            p.size as f64 / 1e6,
            &p.sha256[..12]
        );
    }
    outln!("  providers:");
    let shown = |p: &crate::solve::providers::Provider| {
        !matches!(p, crate::solve::providers::Provider::BaseSystem)
    };
    let width = column(
        c.providers
            .iter()
            .filter(|(_, p)| shown(p))
            .map(|(s, _)| s.as_str()),
        24,
    );
    for (s, p) in &c.providers {
        if shown(p) {
            outln!("    {s:<width$} {p}");
        }
    }
}

/// Why nothing was locked (a companion, or no MXNet wheel), and the fixes.
fn print_unsatisfiable(r: &Resolution) {
    if r.fixes.iter().any(|f| f.starts_with("companion ")) {
        outln!("unsatisfiable: a companion cannot be locked on this target");
    } else {
        outln!("unsatisfiable: no MXNet wheel works on this target");
    }
    for f in &r.fixes {
        outln!("  fix: {f}");
    }
}

/// Rejections: all with --explain, else a count per rule and the nearest few.
fn print_rejected(r: &Resolution, explain: bool) {
    if explain {
        outln!("rejected ({}):", r.rejected.len());
        for x in &r.rejected {
            outln!(
                "  {} {} [{}]: {}",
                x.package,
                x.version,
                rule_name(x.rule),
                x.reason
            );
            // Every further rule it breaks, in the order it would meet them.
            for b in x.rules.iter().skip(1) {
                outln!("      then [{}]: {}", rule_name(b.rule), b.reason);
            }
        }
    } else {
        let mut counts = std::collections::BTreeMap::new();
        for x in &r.rejected {
            *counts.entry(rule_name(x.rule)).or_insert(0) += 1;
        }
        let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        outln!(
            "rejected {} candidates ({}, by first rule); --explain lists every reason",
            r.rejected.len(),
            summary.join(", ")
        );
    }
}

/// Each companion, the packages it takes from the target, and every
/// Requires-Dist entry the lock overrides (with the reason under --explain,
/// and always for one it drops).
fn print_companions(cs: &[crate::solve::companions::CompanionChoice], explain: bool) {
    for c in cs {
        outln!(
            "  companion     {} {} ({}; {} file(s) pinned, {} preinstalled)",
            c.package,
            c.version,
            c.module,
            c.pins.len(),
            c.preinstalled.len()
        );
        for o in &c.overrides {
            outln!("    override    {} -> {}", o.requirement, o.locked);
            // A dropped requirement is explained always: the user would
            // otherwise miss a package the companion asks for.
            if explain || o.locked == "dropped" {
                outln!("                because {}", o.reason);
            }
        }
        if explain {
            outln!("    measured    {}", c.measured);
        }
    }
}

/// A rule's name: [`Rule::name`], the same as in `--json`.
fn rule_name(r: Rule) -> &'static str {
    r.name()
}

#[cfg(feature = "net")]
fn verify_pypi(
    lock: &mut crate::lock::Lock,
    offline: bool,
) -> Result<(), crate::hashes::HashError> {
    let client = crate::pypi::Client::new();
    let cache = crate::hashes::cache_dir();
    for t in &mut lock.target {
        crate::hashes::verify(&client, &cache, &mut t.package, offline)?;
    }
    Ok(())
}

#[cfg(not(feature = "net"))]
fn verify_pypi(_lock: &mut crate::lock::Lock, _offline: bool) -> Result<(), String> {
    Err(crate::features::missing("net", "--verify-pypi"))
}
