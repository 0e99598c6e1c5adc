//! What `init` writes and merges: each file's new or merged text, or a
//! refusal with the lines to add (toml_edit keeps the user's formatting).

use super::{Args, CRATES};
use crate::exit;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use toml_edit::{Array, DocumentMut, Item, Table, Value};

/// The xtask `main.rs` init writes (examples/consumer/xtask/src/main.rs is
/// the same text).
pub const MAIN_RS: &str = r#"//! This repo's tasks: gpu-env's commands (`cargo xtask resolve`, `check`,
//! `verify`, `doctor`, `install`, ...) next to the repo's own.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", about = "This repo's tasks")]
struct Cli {
    #[command(flatten)]
    global: gpu_env::cli::GlobalArgs,
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    #[command(flatten)]
    GpuEnv(gpu_env::cli::Command),
    // This repo's own tasks go here.
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.task {
        Task::GpuEnv(command) => gpu_env::cli::run(command, cli.global.db.as_deref()),
    }
}
"#;

/// The alias every gpu-env repo uses.
pub const ALIAS: &str = "run --package xtask --";

/// The pre-commit hook, as one item of `repos:` at indentation 0.
pub const HOOK: &str = "- repo: local
  hooks:
    - id: gpu-env-check
      name: gpu-env check (lock and generated Colab files are current)
      entry: cargo xtask check
      language: system
      pass_filenames: false
      always_run: true
";

/// What happened to one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Absent: written with this text.
    Created(String),
    /// Merged: the new text and what changed.
    Changed(String, Vec<String>),
    /// Already in place.
    Unchanged(String),
    /// Left alone: why, and the exact lines to add by hand.
    Refused { why: String, lines: String },
}

/// How the xtask depends on gpu-env.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Path(PathBuf),
    Git {
        url: String,
        tag: Option<String>,
        rev: Option<String>,
    },
}

impl Source {
    /// The `gpu-env = {...}` dependency line: the commands (`cli`) and the
    /// optional `features`, without gpu-env's default features.
    pub fn dependency(&self, features: &[String]) -> String {
        let q = |s: &str| Value::from(s).to_string().trim().to_string();
        let at = match self {
            Source::Path(p) => format!("path = {}", q(&p.display().to_string())),
            Source::Git { url, tag, rev } => {
                let mut s = format!("git = {}", q(url));
                if let Some(t) = tag {
                    s += &format!(", tag = {}", q(t));
                }
                if let Some(r) = rev {
                    s += &format!(", rev = {}", q(r));
                }
                s
            }
        };
        let features: Vec<String> = std::iter::once("cli")
            .chain(features.iter().map(String::as_str))
            .map(q)
            .collect();
        format!(
            "gpu-env = {{ {at}, default-features = false, features = [{}] }}",
            features.join(", ")
        )
    }
}

/// The xtask crate's manifest.
pub fn xtask_manifest(source: &Source, features: &[String]) -> String {
    format!(
        "[package]\nname = \"xtask\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\nclap = {{ version = \"4\", features = [\"derive\"] }}\n{}\n",
        source.dependency(features)
    )
}

fn config_table(targets: &[String]) -> String {
    let list: Vec<String> = targets
        .iter()
        .map(|t| Value::from(t.as_str()).to_string().trim().to_string())
        .collect();
    format!(
        "[workspace.metadata.gpu-env]\ntargets = [{}]\n",
        list.join(", ")
    )
}

/// Why the root manifest gets [`PROFILE_TABLE`], written above the first.
const PROFILE_WHY: &str = "\n# gpu-env is a dependency here, not code that is debugged or edited:
# built without debug info and without an incremental cache (a git
# dependency never gets one), the first `cargo xtask check` takes seconds
# less. Only gpu-env's three crates: this repo's own crates keep the dev
# profile.\n";

/// The body of the dev profile each of [`CRATES`] gets in the root manifest
/// (cargo reads profiles only there).
const PROFILE_TABLE: &str = "debug = false\nincremental = false";

/// Add `[profile.dev.package.<crate>]` with [`PROFILE_TABLE`] for each of
/// [`CRATES`] the manifest has no table for, the comment above the first
/// added; returns the headers added, none when `profile`, `profile.dev` or
/// its `package` is not a table (the manifest's own shape is left alone:
/// the profile only saves build time).
fn add_profile(doc: &mut DocumentMut) -> Vec<String> {
    let mut at = doc.as_table_mut();
    for key in ["profile", "dev", "package"] {
        let item = at.entry(key).or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        });
        match item.as_table_mut() {
            Some(t) => at = t,
            None => return Vec::new(),
        }
    }
    let mut added = Vec::new();
    for name in CRATES {
        if at.contains_key(name) {
            continue;
        }
        let mut t = Table::new();
        t.insert("debug", toml_edit::value(false));
        t.insert("incremental", toml_edit::value(false));
        t.decor_mut()
            .set_prefix(if added.is_empty() { PROFILE_WHY } else { "\n" });
        at.insert(name, Item::Table(t));
        added.push(format!("[profile.dev.package.{name}]"));
    }
    added
}

/// The root `Cargo.toml`: create a workspace with the xtask member, the
/// config table and gpu-env's dev profile, or merge them into an existing
/// manifest.
pub fn root_manifest(text: Option<&str>, targets: &[String]) -> Outcome {
    let table = config_table(targets);
    let Some(text) = text else {
        let mut doc: DocumentMut =
            format!("[workspace]\nresolver = \"2\"\nmembers = [\"xtask\"]\n\n{table}")
                .parse()
                .expect("init's own manifest parses");
        add_profile(&mut doc);
        return Outcome::Created(doc.to_string());
    };
    let refuse = |why: String| Outcome::Refused {
        why,
        lines: format!("[workspace]\nmembers = [\"xtask\"]\n\n{table}"),
    };
    let mut doc: DocumentMut = match text.parse() {
        Ok(d) => d,
        Err(e) => return refuse(format!("cannot parse it: {}", e.message())),
    };
    let mut changes = Vec::new();
    let has_package_config = doc
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("gpu-env"))
        .is_some();
    let has_package = doc.get("package").is_some();
    match doc.get_mut("workspace") {
        None if has_package => {
            // A single-crate repo: the root package becomes the workspace
            // root with the xtask as a second member.
            let mut ws = Table::new();
            let mut members = Array::new();
            members.push("xtask");
            ws.insert("members", Item::Value(Value::Array(members)));
            doc.insert("workspace", Item::Table(ws));
            changes.push(
                "added [workspace] members = [\"xtask\"] (the package stays the root member)"
                    .to_string(),
            );
        }
        None => return refuse("it has neither [package] nor [workspace]".into()),
        Some(Item::Table(ws)) => {
            let excluded = ws
                .get("exclude")
                .and_then(Item::as_array)
                .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("xtask")));
            if excluded {
                return Outcome::Refused {
                    why: "[workspace] exclude lists \"xtask\"".into(),
                    lines: "# remove \"xtask\" from [workspace] exclude, then:\n[workspace]\nmembers = [\"xtask\"]\n".into(),
                };
            }
            match ws.get_mut("members") {
                None => {
                    let mut members = Array::new();
                    members.push("xtask");
                    ws.insert("members", Item::Value(Value::Array(members)));
                    changes.push("added members = [\"xtask\"] to [workspace]".into());
                }
                Some(m) => match m.as_array_mut() {
                    Some(a) if a.iter().all(|v| v.as_str().is_some()) => {
                        let covered = a
                            .iter()
                            .filter_map(Value::as_str)
                            .any(|p| p == "xtask" || p == "*" || p == "./xtask");
                        if !covered {
                            a.push("xtask");
                            changes.push("added \"xtask\" to [workspace] members".into());
                        }
                    }
                    _ => return refuse("[workspace] members is not a list of paths".into()),
                },
            }
        }
        Some(_) => return refuse("its workspace is not a [workspace] table".into()),
    }
    let has_ws_config = doc
        .get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("gpu-env"))
        .is_some();
    if !has_ws_config && !has_package_config {
        let ws = doc["workspace"].as_table_mut().expect("a table by now");
        if !ws.contains_key("metadata") {
            let mut m = Table::new();
            m.set_implicit(true);
            ws.insert("metadata", Item::Table(m));
        }
        let Some(meta) = ws["metadata"].as_table_mut() else {
            return refuse("[workspace] metadata is not a table".into());
        };
        let mut cfg = Table::new();
        let mut list = Array::new();
        for t in targets {
            list.push(t.as_str());
        }
        cfg.insert("targets", Item::Value(Value::Array(list)));
        meta.insert("gpu-env", Item::Table(cfg));
        changes.push(format!("added {}", table.trim_end().replace('\n', " ")));
    }
    let profiles = add_profile(&mut doc);
    if !profiles.is_empty() {
        changes.push(format!(
            "added {} {} (gpu-env's build only)",
            profiles.join(", "),
            PROFILE_TABLE.replace('\n', ", ")
        ));
    }
    if changes.is_empty() {
        return Outcome::Unchanged("xtask is a member and the config table is there".into());
    }
    Outcome::Changed(doc.to_string(), changes)
}

/// `.cargo/config.toml`: the `xtask` alias.
pub fn cargo_config(text: Option<&str>) -> Outcome {
    let lines = format!("[alias]\nxtask = \"{ALIAS}\"\n");
    let Some(text) = text else {
        return Outcome::Created(lines);
    };
    let mut doc: DocumentMut = match text.parse() {
        Ok(d) => d,
        Err(e) => {
            return Outcome::Refused {
                why: format!("cannot parse it: {}", e.message()),
                lines,
            }
        }
    };
    match doc.get_mut("alias") {
        None => {
            let mut t = Table::new();
            t.insert("xtask", toml_edit::value(ALIAS));
            doc.insert("alias", Item::Table(t));
            Outcome::Changed(doc.to_string(), vec!["added [alias] xtask".into()])
        }
        Some(Item::Table(t)) => match t.get("xtask") {
            None => {
                t.insert("xtask", toml_edit::value(ALIAS));
                Outcome::Changed(doc.to_string(), vec!["added xtask to [alias]".into()])
            }
            Some(v) => {
                let words: Option<Vec<String>> = match v {
                    Item::Value(Value::String(s)) => {
                        Some(s.value().split_whitespace().map(String::from).collect())
                    }
                    Item::Value(Value::Array(a)) => {
                        a.iter().map(|x| x.as_str().map(String::from)).collect()
                    }
                    _ => None,
                };
                let ours: Vec<String> = ALIAS.split_whitespace().map(String::from).collect();
                // `run --package xtask` with or without --quiet runs the same crate.
                let same = words.is_some_and(|w| {
                    w.iter()
                        .filter(|x| *x != "--quiet" && *x != "-q")
                        .collect::<Vec<_>>()
                        == ours.iter().filter(|x| *x != "--quiet").collect::<Vec<_>>()
                });
                if same {
                    Outcome::Unchanged("alias xtask is there".into())
                } else {
                    Outcome::Refused {
                        why: format!("[alias] xtask is already `{}`", v.to_string().trim()),
                        lines: format!("xtask = \"{ALIAS}\"\n"),
                    }
                }
            }
        },
        Some(_) => Outcome::Refused {
            why: "alias is not an [alias] table".into(),
            lines,
        },
    }
}

/// `.pre-commit-config.yaml`: the hook, appended to `repos:` when that is
/// the file's last top-level key.
pub fn precommit(text: Option<&str>) -> Outcome {
    let Some(text) = text else {
        return Outcome::Created(format!("repos:\n{}", indent(HOOK, "  ")));
    };
    if text.contains("cargo xtask check") {
        return Outcome::Unchanged("a hook runs `cargo xtask check`".into());
    }
    let refuse = |why: &str| Outcome::Refused {
        why: why.into(),
        lines: format!("# under repos:\n{}", indent(HOOK, "  ")),
    };
    let lines: Vec<&str> = text.lines().collect();
    let Some(at) = lines
        .iter()
        .position(|l| l.split('#').next().unwrap_or("").trim_end() == "repos:")
    else {
        return refuse("no block `repos:` at the top level");
    };
    let rest = &lines[at + 1..];
    let top_level_after = rest.iter().any(|l| {
        !l.is_empty() && !l.starts_with(' ') && !l.starts_with('-') && !l.starts_with('#')
    });
    if top_level_after {
        return refuse("`repos:` is not the last top-level key");
    }
    let Some(item) = rest.iter().find(|l| l.trim_start().starts_with("- ")) else {
        return refuse("`repos:` has no list item to align with");
    };
    let ind = &item[..item.len() - item.trim_start().len()];
    let mut new = text.to_string();
    if !new.ends_with('\n') {
        new.push('\n');
    }
    new += &indent(HOOK, ind);
    Outcome::Changed(
        new,
        vec!["appended a local hook `cargo xtask check` to repos".into()],
    )
}

fn indent(text: &str, ind: &str) -> String {
    text.lines().map(|l| format!("{ind}{l}\n")).collect()
}

/// `xtask/Cargo.toml` and `xtask/src/main.rs`.
fn xtask_crate(
    manifest: Option<&str>,
    main: Option<&str>,
    source: &Source,
    features: &[String],
) -> [Outcome; 2] {
    let has_dep = |m: &str| {
        m.parse::<DocumentMut>().ok().is_some_and(|d| {
            d.get("dependencies")
                .and_then(|x| x.get("gpu-env"))
                .is_some()
        })
    };
    let main_lines = || MAIN_RS.to_string();
    match manifest {
        None => [
            Outcome::Created(xtask_manifest(source, features)),
            match main {
                None => Outcome::Created(main_lines()),
                Some(m) if m.contains("gpu_env::cli") => {
                    Outcome::Unchanged("it runs gpu_env::cli".into())
                }
                Some(_) => Outcome::Refused {
                    why: "it exists and does not run gpu_env::cli; embed gpu-env's commands as in"
                        .into(),
                    lines: main_lines(),
                },
            },
        ],
        Some(m) => {
            let dep = if has_dep(m) {
                Outcome::Unchanged("it depends on gpu-env".into())
            } else {
                Outcome::Refused {
                    why: "it exists and does not depend on gpu-env; add under [dependencies]"
                        .into(),
                    lines: format!(
                        "clap = {{ version = \"4\", features = [\"derive\"] }}\n{}\n",
                        source.dependency(features)
                    ),
                }
            };
            let main = match main {
                Some(m) if m.contains("gpu_env::cli") => {
                    Outcome::Unchanged("it runs gpu_env::cli".into())
                }
                _ => Outcome::Refused {
                    why: "the xtask crate exists and this file does not run gpu_env::cli; embed gpu-env's commands as in".into(),
                    lines: main_lines(),
                },
            };
            [dep, main]
        }
    }
}

/// A file init looks at, as found.
enum Existing {
    Absent,
    Text(String),
    /// Present and not readable as a regular UTF-8 file inside the repo
    /// (a FIFO, a symbolic link, another encoding, a path that leaves the
    /// repo): why. init never writes such a file.
    Unusable(String),
}

impl Existing {
    fn read(dir: &Path, rel: &str) -> Existing {
        let path = dir.join(rel);
        let root = crate::fsutil::resolve_path(dir);
        if !crate::fsutil::resolve_path(&path).starts_with(&root) {
            return Existing::Unusable("its path leaves the repo through a symbolic link".into());
        }
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Existing::Absent,
            Err(e) => return Existing::Unusable(format!("cannot inspect it: {e}")),
        };
        if meta.file_type().is_symlink() {
            return Existing::Unusable(
                "it is a symbolic link; init edits regular files only".into(),
            );
        }
        match crate::fsutil::read_text(&path) {
            Ok(text) => Existing::Text(text),
            Err(e) => Existing::Unusable(format!("cannot be read as UTF-8 text ({e})")),
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            Existing::Text(t) => Some(t),
            _ => None,
        }
    }

    /// `o` as planned from [`Existing::text`]; for an unusable file, a
    /// refusal naming why, with the lines the plan would have written.
    fn guard(&self, o: Outcome) -> Outcome {
        let Existing::Unusable(why) = self else {
            return o;
        };
        let lines = match o {
            Outcome::Created(t) | Outcome::Changed(t, _) => t,
            Outcome::Refused { lines, .. } => lines,
            Outcome::Unchanged(_) => String::new(),
        };
        Outcome::Refused {
            why: format!("{why}; left as it is, add"),
            lines,
        }
    }
}

/// Every file init looks at, relative to the repo root, with its outcome.
pub fn plan(dir: &Path, args: &Args) -> Vec<(PathBuf, Outcome)> {
    let read = |rel: &str| Existing::read(dir, rel);
    let source = match &args.git {
        Some(url) => Source::Git {
            url: url.clone(),
            tag: args.tag.clone(),
            rev: args.rev.clone(),
        },
        None => Source::Path(built_from()),
    };
    let targets = if args.targets.is_empty() {
        vec!["colab".to_string()]
    } else {
        args.targets.clone()
    };
    let root = read("Cargo.toml");
    let mut out = vec![(
        PathBuf::from("Cargo.toml"),
        root.guard(root_manifest(root.text(), &targets)),
    )];
    let (cfg_new, cfg_old) = (read(".cargo/config.toml"), read(".cargo/config"));
    let cfg = match (&cfg_new, &cfg_old) {
        (Existing::Absent, Existing::Text(_) | Existing::Unusable(_)) => Outcome::Refused {
            why: "the repo uses the older .cargo/config; add to it".into(),
            lines: format!("[alias]\nxtask = \"{ALIAS}\"\n"),
        },
        (t, _) => t.guard(cargo_config(t.text())),
    };
    out.push((PathBuf::from(".cargo/config.toml"), cfg));
    let (manifest, main_rs) = (read("xtask/Cargo.toml"), read("xtask/src/main.rs"));
    let [m, main] = xtask_crate(manifest.text(), main_rs.text(), &source, &args.features);
    out.push((PathBuf::from("xtask/Cargo.toml"), manifest.guard(m)));
    out.push((PathBuf::from("xtask/src/main.rs"), main_rs.guard(main)));
    let hooks = read(".pre-commit-config.yaml");
    out.push((
        PathBuf::from(".pre-commit-config.yaml"),
        hooks.guard(precommit(hooks.text())),
    ));
    out
}

/// The gpu-env source this binary was built from.
fn built_from() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"));
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

pub fn run(args: &Args) -> crate::cli::CliResult {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let dir = cwd.join(args.dir.as_deref().unwrap_or(Path::new(".")));
    if !dir.is_dir() {
        return Err(format!("{}: no such directory", dir.display()).into());
    }
    outln!("gpu-env init: {}", dir.display());
    let mut refused = 0;
    for (rel, outcome) in plan(&dir, args) {
        let shown = rel.display();
        // Atomic: a failed write leaves the file as it was.
        let write = |text: &str| crate::fsutil::write_atomic(&dir.join(&rel), text.as_bytes());
        match outcome {
            Outcome::Created(text) => {
                write(&text).map_err(|e| format!("{shown}: {e}"))?;
                outln!("  created   {shown}");
            }
            Outcome::Changed(text, what) => {
                write(&text).map_err(|e| format!("{shown}: {e}"))?;
                outln!("  changed   {shown}: {}", what.join("; "));
            }
            Outcome::Unchanged(why) => outln!("  unchanged {shown}: {why}"),
            Outcome::Refused { why, lines } => {
                refused += 1;
                outln!("  refused   {shown}: {why}:");
                outln!("{}", lines.trim_end());
            }
        }
    }
    if refused > 0 {
        outln!("init: {refused} file(s) left as they were; add the lines above by hand and run init again");
        Ok(ExitCode::from(exit::NO))
    } else {
        outln!("init: done; next: `cargo xtask resolve` (writes the lock and Colab files), then commit them; pre-commit runs `cargo xtask check`");
        Ok(ExitCode::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn colab() -> Vec<String> {
        vec!["colab".into()]
    }

    fn changed(o: Outcome) -> (String, Vec<String>) {
        match o {
            Outcome::Changed(t, w) => (t, w),
            o => panic!("not changed: {o:?}"),
        }
    }

    #[test]
    fn main_rs_is_at_most_30_lines() {
        assert!(MAIN_RS.lines().count() <= 30, "{}", MAIN_RS.lines().count());
    }

    #[test]
    fn fresh_root_manifest_parses_as_a_config() {
        let Outcome::Created(t) = root_manifest(None, &colab()) else {
            panic!()
        };
        let c = crate::config::parse_manifest(Path::new("Cargo.toml"), &t)
            .unwrap()
            .unwrap();
        assert_eq!(c.targets, ["colab"]);
    }

    #[test]
    fn workspace_gets_the_member_and_table_and_keeps_the_rest() {
        let before = "# my workspace\n[workspace]\nmembers = [\"model\"] # the model\nresolver = \"2\"\n\n[workspace.dependencies]\nserde = \"1\"\n";
        let (after, what) = changed(root_manifest(Some(before), &colab()));
        assert_eq!(what.len(), 3, "{what:?}");
        assert!(after.starts_with("# my workspace\n[workspace]\nmembers = [\"model\", \"xtask\"] # the model\nresolver = \"2\"\n"), "{after}");
        assert!(
            after.contains("[workspace.dependencies]\nserde = \"1\"\n"),
            "{after}"
        );
        assert!(
            after.contains("[workspace.metadata.gpu-env]\ntargets = [\"colab\"]\n"),
            "{after}"
        );
        // Idempotent.
        assert!(matches!(
            root_manifest(Some(&after), &colab()),
            Outcome::Unchanged(_)
        ));
    }

    #[test]
    fn single_crate_gets_a_workspace_table() {
        let before = "[package]\nname = \"model\"\nversion = \"0.1.0\"\n";
        let (after, _) = changed(root_manifest(Some(before), &colab()));
        assert!(after.starts_with(before), "{after}");
        assert!(
            after.contains("[workspace]\nmembers = [\"xtask\"]\n"),
            "{after}"
        );
        assert!(after.contains("[workspace.metadata.gpu-env]"), "{after}");
        // A package config stays where it is.
        let before =
            "[package]\nname = \"model\"\n\n[package.metadata.gpu-env]\ntargets = [\"kaggle\"]\n";
        let (after, what) = changed(root_manifest(Some(before), &colab()));
        assert_eq!(what.len(), 2, "{what:?}");
        assert!(!after.contains("workspace.metadata"), "{after}");
    }

    /// The profile tables `init` writes for `names`, the comment above the first.
    fn tables(names: &[&str]) -> String {
        let mut out = format!("\n{}\n", PROFILE_WHY.trim());
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&format!("[profile.dev.package.{name}]\n{PROFILE_TABLE}\n"));
        }
        out
    }

    #[test]
    fn gpu_env_crates_get_a_dev_profile_with_its_reason() {
        let Outcome::Created(fresh) = root_manifest(None, &colab()) else {
            panic!()
        };
        let tail = tables(&CRATES);
        assert!(fresh.ends_with(&tail), "{fresh}");
        // Beside the repo's own profiles, which stay as they were.
        let before = "[workspace]\nmembers = [\"xtask\"]\n\n[workspace.metadata.gpu-env]\ntargets = [\"colab\"]\n\n[profile.dev]\nopt-level = 1\n\n[profile.dev.package.\"*\"]\nopt-level = 2\n";
        let (after, what) = changed(root_manifest(Some(before), &colab()));
        assert_eq!(what, ["added [profile.dev.package.gpu-env], [profile.dev.package.gpu-env-commands], [profile.dev.package.gpu-env-core] debug = false, incremental = false (gpu-env's build only)"]);
        assert_eq!(after, format!("{before}{tail}"));
        assert!(matches!(
            root_manifest(Some(&after), &colab()),
            Outcome::Unchanged(_)
        ));
        // The repo's own setting for a crate is kept; the others are added.
        let own = format!("{before}\n[profile.dev.package.gpu-env]\ndebug = 2\n");
        let (after, what) = changed(root_manifest(Some(&own), &colab()));
        assert!(
            what[0].starts_with(
                "added [profile.dev.package.gpu-env-commands], [profile.dev.package.gpu-env-core] "
            ),
            "{what:?}"
        );
        assert_eq!(after, format!("{own}{}", tables(&CRATES[1..])));
        // A profile that is not a table is left alone.
        let odd = "[workspace]\nmembers = [\"xtask\"]\n\n[workspace.metadata.gpu-env]\ntargets = [\"colab\"]\n[profile]\ndev = 1\n";
        assert!(
            matches!(root_manifest(Some(odd), &colab()), Outcome::Unchanged(_)),
            "{odd}"
        );
    }

    #[test]
    fn ambiguous_manifests_are_refused_with_lines() {
        for text in [
            "[workspace]\nmembers = \"xtask\"\n",
            "[workspace]\nmembers = [\"a\"]\nexclude = [\"xtask\"]\n",
            "not toml [",
            "[dependencies]\n",
        ] {
            match root_manifest(Some(text), &colab()) {
                Outcome::Refused { lines, .. } => assert!(lines.contains("xtask"), "{lines}"),
                o => panic!("{text}: {o:?}"),
            }
        }
    }

    #[test]
    fn alias_is_added_kept_or_refused() {
        let (t, _) = changed(cargo_config(Some("[build]\njobs = 2\n")));
        assert_eq!(
            t,
            format!("[build]\njobs = 2\n\n[alias]\nxtask = \"{ALIAS}\"\n")
        );
        let (t, _) = changed(cargo_config(Some("[alias]\nb = \"build\"\n")));
        assert_eq!(t, format!("[alias]\nb = \"build\"\nxtask = \"{ALIAS}\"\n"));
        assert!(matches!(cargo_config(Some(&t)), Outcome::Unchanged(_)));
        assert!(matches!(
            cargo_config(Some(
                "[alias]\nxtask = \"run --quiet --package xtask --\"\n"
            )),
            Outcome::Unchanged(_)
        ));
        match cargo_config(Some("[alias]\nxtask = \"run -p tools --\"\n")) {
            Outcome::Refused { why, lines } => {
                assert!(why.contains("run -p tools"), "{why}");
                assert_eq!(lines, format!("xtask = \"{ALIAS}\"\n"));
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn hook_is_appended_aligned_or_refused() {
        let before = "repos:\n- repo: https://github.com/psf/black\n  rev: 24.1.0\n  hooks:\n  - id: black\n";
        let (after, _) = changed(precommit(Some(before)));
        assert!(after.starts_with(before));
        assert!(after.ends_with(HOOK), "{after}");
        let before = "default_stages: [pre-commit]\nrepos:\n    - repo: local\n      hooks: []\n";
        let (after, _) = changed(precommit(Some(before)));
        assert!(
            after.contains("\n    - repo: local\n      hooks:\n        - id: gpu-env-check\n"),
            "{after}"
        );
        assert!(matches!(precommit(Some(&after)), Outcome::Unchanged(_)));
        for text in [
            "repos:\n- repo: local\n  hooks: []\nci:\n  skip: []\n",
            "repos: []\n",
        ] {
            match precommit(Some(text)) {
                Outcome::Refused { lines, .. } => assert!(lines.contains("cargo xtask check")),
                o => panic!("{text}: {o:?}"),
            }
        }
    }

    #[test]
    fn dependency_lines() {
        let g = Source::Git {
            url: "https://example.org/gpu-env".into(),
            tag: Some("v0.1.0".into()),
            rev: None,
        };
        assert_eq!(
            g.dependency(&[]),
            "gpu-env = { git = \"https://example.org/gpu-env\", tag = \"v0.1.0\", default-features = false, features = [\"cli\"] }"
        );
        assert!(g
            .dependency(&["net".into(), "cuda".into()])
            .ends_with("default-features = false, features = [\"cli\", \"net\", \"cuda\"] }"));
        let m: DocumentMut = xtask_manifest(&g, &[]).parse().unwrap();
        assert!(m["dependencies"]["gpu-env"].is_inline_table());
    }
}
