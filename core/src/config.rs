//! A consuming repo's settings: `[workspace.metadata.gpu-env]` in its
//! Cargo.toml (`[package.metadata.gpu-env]` in a single-crate repo).
//! Unknown keys are errors naming the manifest.
//!
//! The workspace root is found by walking up from the current directory
//! (fast: no `cargo metadata` process on the pre-commit path); with an
//! explicit manifest path, `cargo metadata --no-deps` locates the workspace root the
//! way cargo does.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Targets to resolve when none is given (`colab`, `local`, ...).
    #[serde(default)]
    pub targets: Vec<String>,
    /// Targets with facts of their own (`[[workspace.metadata.gpu-env.target]]`),
    /// resolved after `targets`, so a repo keeps a non-default target under
    /// `check`.
    #[serde(default)]
    pub target: Vec<TargetTable>,
    #[serde(default)]
    pub constraints: ConfigConstraints,
    /// Companion packages locked with the stack (`["d2l==1.0.3"]`,
    /// docs/companions.md); `resolve --with` replaces them.
    #[serde(default)]
    pub companions: Vec<String>,
    #[serde(default)]
    pub output: Outputs,
    /// The table it was read from ([`WORKSPACE_TABLE`] or
    /// [`PACKAGE_TABLE`]); empty for the default config.
    #[serde(skip)]
    pub table: &'static str,
}

/// One configured target and the facts it overrides, as the resolve flags
/// of the same names would.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TargetTable {
    pub spec: String,
    /// One GPU (`"A100"`) or several (`["T4", "T4"]`).
    #[serde(default, deserialize_with = "one_or_many")]
    pub gpu: Vec<String>,
    #[serde(default)]
    pub no_gpu: bool,
    pub driver: Option<String>,
    pub cuda_toolkit: Option<String>,
    pub cudnn: Option<String>,
    pub python_version: Option<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl TargetTable {
    /// Its overrides, each sourced `config:target[i].<key>`.
    pub fn overrides(&self, i: usize) -> crate::target::Overrides {
        use crate::target::{Overrides, Sourced};
        let src = |k: &str| format!("config:target[{i}].{k}");
        let s = |v: &Option<String>, k: &str| v.clone().map(|v| Sourced::new(v, src(k)));
        Overrides {
            gpus: self
                .gpu
                .iter()
                .map(|g| Sourced::new(g.clone(), src("gpu")))
                .collect(),
            no_gpu: self.no_gpu.then(|| src("no-gpu")),
            driver: s(&self.driver, "driver"),
            cuda_toolkit: s(&self.cuda_toolkit, "cuda-toolkit"),
            cudnn: s(&self.cudnn, "cudnn"),
            python: s(&self.python_version, "python-version"),
        }
    }
}

impl Config {
    /// Every configured target with its own overrides: `targets` (none),
    /// then each `[[target]]` table; a repeat once ([`crate::target::distinct`]).
    pub fn target_requests(&self) -> Vec<(String, crate::target::Overrides)> {
        let plain = self
            .targets
            .iter()
            .map(|t| (t.clone(), crate::target::Overrides::default()));
        let tables = self
            .target
            .iter()
            .enumerate()
            .map(|(i, t)| (t.spec.clone(), t.overrides(i)));
        crate::target::distinct(plain.chain(tables).collect())
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigConstraints {
    /// The MXNet constraint: a PEP 440 specifier (">=1.9") or a requirement
    /// as written for pip ("mxnet-cu112==1.9.1"); see solve::constraint.
    pub mxnet: Option<String>,
    /// Allowed MXNet distributions, e.g. ["mxnet-cu112"].
    pub packages: Option<Vec<String>>,
    /// The config's top-level `companions` (copied here when the config is
    /// read, so they travel and are recorded with the constraints).
    #[serde(skip)]
    pub companions: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Outputs {
    pub lock: PathBuf,
    pub requirements: PathBuf,
    pub pylock: PathBuf,
    pub colab_cell: PathBuf,
    pub notebook: PathBuf,
    /// Outputs may lie outside the repo root (default: refused, so a
    /// config cannot make `resolve` write anywhere on the machine).
    pub allow_outside_repo: bool,
}

impl Default for Outputs {
    fn default() -> Self {
        Self {
            lock: "gpu-env.lock".into(),
            requirements: "requirements-gpu.txt".into(),
            pylock: "pylock.toml".into(),
            colab_cell: DEFAULT_COLAB_CELL.into(),
            notebook: "colab/gpu-env-setup.ipynb".into(),
            allow_outside_repo: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{manifest}: [{table}]: {message}")]
    Invalid {
        manifest: PathBuf,
        /// `workspace.metadata.gpu-env` or `package.metadata.gpu-env`.
        table: &'static str,
        message: String,
    },
    #[error("{}:{line}: [{table}]: {message}", manifest.display())]
    At {
        manifest: PathBuf,
        line: usize,
        table: &'static str,
        message: String,
    },
    #[error("{}:{line}:{column}: [{table}]: {message}", manifest.display())]
    AtColumn {
        manifest: PathBuf,
        line: usize,
        column: usize,
        table: &'static str,
        message: String,
    },
    #[error("{manifest}: cannot read: {message}")]
    Read { manifest: PathBuf, message: String },
}

/// The loaded config and the directory its relative paths are relative to.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub config: Config,
    pub root: PathBuf,
    pub manifest: Option<PathBuf>,
}

impl Loaded {
    pub fn path(&self, p: &Path) -> PathBuf {
        self.root.join(p)
    }

    /// The table that holds (or would hold) the config.
    pub fn table(&self) -> &'static str {
        match self.config.table {
            "" => WORKSPACE_TABLE,
            t => t,
        }
    }
}

/// `targets = []` with no `[[target]]` table asks for nothing; resolving
/// `local` instead would lock what nobody asked for.
fn check_not_empty(c: &Config, v: &toml::Value) -> Result<(), String> {
    if c.targets.is_empty() && c.target.is_empty() && v.get("targets").is_some() {
        return Err(format!(
            "targets is empty: name at least one (`targets = [\"colab\"]`, `[\"local\"]`), \
             or remove the key to lock `{}`",
            DEFAULT_TARGET
        ));
    }
    Ok(())
}

/// The target a config that names none resolves.
pub const DEFAULT_TARGET: &str = "local";

/// A config that does not deserialize: at its file:line:column with the
/// key and the nearest known keys when the manifest's text shows where
/// (`config_span`), else naming the manifest and table.
fn placed(manifest: &Path, table: &'static str, message: &str) -> ConfigError {
    let text = read_manifest(manifest).ok().flatten().unwrap_or_default();
    match crate::config_span::locate::<Config>(&text, table) {
        Some(p) => ConfigError::AtColumn {
            manifest: manifest.to_path_buf(),
            line: p.line,
            column: p.column,
            table,
            message: p.message(message),
        },
        None => ConfigError::Invalid {
            manifest: manifest.to_path_buf(),
            table,
            message: message.trim().to_string(),
        },
    }
}

/// The table of a workspace (`[workspace.metadata.gpu-env]`).
pub const WORKSPACE_TABLE: &str = "workspace.metadata.gpu-env";
/// The table of a single-crate repo (`[package.metadata.gpu-env]`).
pub const PACKAGE_TABLE: &str = "package.metadata.gpu-env";

fn from_value(
    manifest: &Path,
    table: &'static str,
    v: Option<&toml::Value>,
) -> Result<Config, ConfigError> {
    let Some(v) = v else {
        return Ok(Config::default());
    };
    let mut c: Config = v
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| placed(manifest, table, e.message()))?;
    for (i, t) in c.targets.iter().enumerate() {
        if t.trim().is_empty() {
            return Err(ConfigError::Invalid {
                manifest: manifest.to_path_buf(),
                table,
                message: format!("targets[{i}] is empty"),
            });
        }
    }
    for (i, t) in c.target.iter().enumerate() {
        if t.spec.trim().is_empty() {
            return Err(ConfigError::Invalid {
                manifest: manifest.to_path_buf(),
                table,
                message: format!("target[{i}].spec is empty"),
            });
        }
    }
    if let Some(s) = &c.constraints.mxnet {
        crate::solve::constraint::MxnetConstraint::parse(s).map_err(|e| ConfigError::Invalid {
            manifest: manifest.to_path_buf(),
            table,
            message: format!("constraints.mxnet: {e}"),
        })?;
    }
    for (i, s) in c.companions.iter().enumerate() {
        crate::solve::companions::CompanionSpec::parse(s).map_err(|e| ConfigError::Invalid {
            manifest: manifest.to_path_buf(),
            table,
            message: format!("companions[{i}]: {e}"),
        })?;
    }
    c.constraints.companions = c.companions.clone();
    c.table = table;
    check_not_empty(&c, v).map_err(|message| {
        // The manifest was read bounded just before; the line is a pointer.
        let text = read_manifest(manifest).ok().flatten().unwrap_or_default();
        match crate::config_span::key_line(&text, table, "targets") {
            Some(line) => ConfigError::At {
                manifest: manifest.to_path_buf(),
                line,
                table,
                message,
            },
            None => ConfigError::Invalid {
                manifest: manifest.to_path_buf(),
                table,
                message,
            },
        }
    })?;
    Ok(c)
}

/// Parse the gpu-env table out of a manifest's text: a workspace's
/// `[workspace.metadata.gpu-env]`, or `[package.metadata.gpu-env]` of a
/// single-crate repo (a manifest with no `[workspace]` table, or a root
/// package whose workspace table has no gpu-env config). None when the
/// manifest has neither a workspace nor a package config (discovery goes on
/// upwards).
pub fn parse_manifest(manifest: &Path, text: &str) -> Result<Option<Config>, ConfigError> {
    let doc: toml::Value = toml::from_str(text).map_err(|e| ConfigError::Read {
        manifest: manifest.to_path_buf(),
        message: e.to_string(),
    })?;
    let ws = doc.get("workspace");
    let ws_config = ws
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("gpu-env"));
    let package_config = doc
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("gpu-env"));
    for (table, metadata) in [
        (WORKSPACE_TABLE, ws.and_then(|w| w.get("metadata"))),
        (
            PACKAGE_TABLE,
            doc.get("package").and_then(|p| p.get("metadata")),
        ),
    ] {
        let keys = metadata
            .and_then(|m| m.as_table())
            .into_iter()
            .flat_map(|t| t.keys());
        refuse_misspelled(manifest, table, keys.map(String::as_str))?;
    }
    match (ws, ws_config, package_config) {
        (_, Some(_), Some(_)) => Err(ConfigError::Invalid {
            manifest: manifest.to_path_buf(),
            table: PACKAGE_TABLE,
            message: format!("[{WORKSPACE_TABLE}] is there too; keep one of them"),
        }),
        (_, None, Some(p)) => from_value(manifest, PACKAGE_TABLE, Some(p)).map(Some),
        (Some(_), w, None) => from_value(manifest, WORKSPACE_TABLE, w).map(Some),
        (None, _, None) => Ok(None),
    }
}

/// A metadata table spelled almost as gpu-env's (`gpu_env`, `GPU-env`) is
/// an error: ignored, it would resolve the default `local` target without
/// the repo's config.
fn refuse_misspelled<'a>(
    manifest: &Path,
    table: &'static str,
    keys: impl Iterator<Item = &'a str>,
) -> Result<(), ConfigError> {
    let squash = |k: &str| -> String {
        k.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    for k in keys {
        if k != "gpu-env" && squash(k) == "gpuenv" {
            let parent = table.trim_end_matches("gpu-env");
            return Err(ConfigError::Invalid {
                manifest: manifest.to_path_buf(),
                table,
                message: format!(
                    "found [{parent}{}], which gpu-env does not read: did you mean [{table}]?",
                    crate::validate::shown(k, 40)
                ),
            });
        }
    }
    Ok(())
}

/// The largest manifest read (a Cargo.toml is kilobytes).
const MAX_MANIFEST: u64 = 16 << 20;

/// A manifest's text, None when there is none. One that exists but cannot
/// be read (not UTF-8, a FIFO, a device, too large) is an error naming it,
/// never skipped as if absent: that resolved the default `local` target
/// without the repo's config (issue 13's fault matrix).
fn read_manifest(manifest: &Path) -> Result<Option<String>, ConfigError> {
    if let Err(e) = std::fs::metadata(manifest) {
        if e.kind() == std::io::ErrorKind::NotFound {
            return Ok(None);
        }
    }
    crate::fsutil::read_bounded(manifest, MAX_MANIFEST, std::time::Duration::from_secs(5))
        .map(Some)
        .map_err(|e| ConfigError::Read {
            manifest: manifest.to_path_buf(),
            message: e.to_string(),
        })
}

/// Walk up from `start` to the first Cargo.toml with a `[workspace]`.
pub fn discover(start: &Path) -> Result<Loaded, ConfigError> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let manifest = d.join("Cargo.toml");
        if let Some(text) = read_manifest(&manifest)? {
            if let Some(config) = parse_manifest(&manifest, &text)? {
                return Ok(Loaded {
                    config,
                    root: d.to_path_buf(),
                    manifest: Some(manifest),
                });
            }
        }
        dir = d.parent();
    }
    Ok(Loaded {
        config: Config::default(),
        root: start.to_path_buf(),
        manifest: None,
    })
}

/// How long `cargo metadata --no-deps` may take (it reads manifests only).
const CARGO_METADATA_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// What `cargo metadata --no-deps --format-version 1` says of a workspace
/// (the fields read here).
#[derive(Deserialize)]
struct Metadata {
    workspace_root: PathBuf,
    #[serde(default)]
    metadata: serde_json::Value,
    #[serde(default)]
    packages: Vec<MetadataPackage>,
}

#[derive(Deserialize)]
struct MetadataPackage {
    manifest_path: PathBuf,
    #[serde(default)]
    metadata: serde_json::Value,
}

/// `cargo metadata --no-deps` for `manifest_path` (cargo as `$CARGO`, the
/// one running this command, else from PATH), bounded in time and output.
fn cargo_metadata(manifest_path: &Path) -> Result<Metadata, ConfigError> {
    let err = |message: String| ConfigError::Read {
        manifest: manifest_path.to_path_buf(),
        message,
    };
    let cargo = std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
    let path = manifest_path.to_string_lossy();
    let args = [
        "metadata",
        "--no-deps",
        "--format-version",
        "1",
        "--manifest-path",
        &path,
    ];
    let out = crate::host::exec::run(&cargo, &args, &[], CARGO_METADATA_TIMEOUT)
        .map_err(|e| err(format!("`cargo metadata` failed: {e}")))?;
    serde_json::from_str(&out.stdout).map_err(|e| {
        err(format!(
            "`cargo metadata` printed what is not its JSON: {e}"
        ))
    })
}

/// The config of the workspace `manifest_path` belongs to, located by
/// `cargo metadata` (for an explicit manifest path).
pub fn from_cargo_metadata(manifest_path: &Path) -> Result<Loaded, ConfigError> {
    let md = cargo_metadata(manifest_path)?;
    // A single-crate repo's config is its root package's: the package whose
    // manifest is the workspace root's.
    let root_manifest = md.workspace_root.join("Cargo.toml");
    let root_package = md
        .packages
        .iter()
        .find(|p| p.manifest_path == root_manifest);
    let md_workspace_metadata = &md.metadata;
    let root: PathBuf = md.workspace_root.clone();
    let manifest = root.join("Cargo.toml");
    // cargo metadata hands the table over as JSON without positions: convert
    // and validate it here so errors still name the manifest.
    let package = root_package
        .and_then(|p| p.metadata.get("gpu-env"))
        .filter(|v| !v.is_null());
    let keys = |v: &'_ serde_json::Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    refuse_misspelled(
        &manifest,
        WORKSPACE_TABLE,
        keys(md_workspace_metadata).iter().map(String::as_str),
    )?;
    if let Some(p) = root_package {
        refuse_misspelled(
            &manifest,
            PACKAGE_TABLE,
            keys(&p.metadata).iter().map(String::as_str),
        )?;
    }
    let (table, value) = match (
        md_workspace_metadata
            .get("gpu-env")
            .filter(|v| !v.is_null()),
        package,
    ) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Invalid {
                manifest,
                table: PACKAGE_TABLE,
                message: format!("[{WORKSPACE_TABLE}] is there too; keep one of them"),
            })
        }
        (None, Some(p)) => (PACKAGE_TABLE, Some(p)),
        (w, None) => (WORKSPACE_TABLE, w),
    };
    let value = value.map(|v| serde_json::from_value::<toml::Value>(v.clone()));
    let value = match value {
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            return Err(ConfigError::Invalid {
                manifest,
                table,
                message: e.to_string(),
            })
        }
        None => None,
    };
    let config = from_value(&manifest, table, value.as_ref())?;
    Ok(Loaded {
        config,
        root,
        manifest: Some(manifest),
    })
}

/// The repo's config: from `manifest` (`--manifest-path`, relative to
/// `cwd`) through cargo metadata, else discovered from `cwd` upwards.
pub fn load(manifest: Option<&Path>, cwd: &Path) -> Result<Loaded, ConfigError> {
    match manifest {
        Some(m) => from_cargo_metadata(&cwd.join(m)),
        None => discover(cwd),
    }
}

/// Where the setup cell is written unless `output.colab_cell` says otherwise.
pub const DEFAULT_COLAB_CELL: &str = "colab/setup_cell.py";

/// Where the lock is, for every command that reads one: `lock` (against
/// `cwd`), else the config's `output.lock` (the config from `manifest`, else
/// discovered upwards from `cwd`), and the config when there is one. An
/// explicit `lock` without `manifest` is used even in a repo whose config
/// is broken (the config is then None).
pub fn locate_lock(
    lock: Option<&Path>,
    manifest: Option<&Path>,
    cwd: &Path,
) -> Result<(PathBuf, Option<Loaded>), ConfigError> {
    if let (Some(l), None) = (lock, manifest) {
        return Ok((cwd.join(l), load(None, cwd).ok()));
    }
    let loaded = load(manifest, cwd)?;
    let path = match lock {
        Some(l) => cwd.join(l),
        None => loaded.path(&loaded.config.output.lock),
    };
    Ok((path, Some(loaded)))
}

/// Constraints as recorded in a lock (stable key order).
pub fn constraint_map(c: &ConfigConstraints) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Some(s) = &c.mxnet {
        m.insert("mxnet".into(), s.clone());
    }
    if let Some(p) = &c.packages {
        m.insert("packages".into(), p.join(","));
    }
    if !c.companions.is_empty() {
        m.insert("companions".into(), c.companions.join(COMPANION_SEP));
    }
    m
}

/// Between the companions of the lock's `companions` constraint (a spec
/// holds commas, never a `;`: companions take no markers).
pub const COMPANION_SEP: &str = "; ";

/// The companions of a recorded `companions` value.
pub fn split_companions(v: &str) -> Vec<String> {
    v.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_and_rejects_unknown_keys() {
        let m = Path::new("/r/Cargo.toml");
        let c = parse_manifest(m, "[workspace]\n[workspace.metadata.gpu-env]\ntargets = [\"colab\"]\nconstraints = { mxnet = \">=1.9\" }\n").unwrap().unwrap();
        assert_eq!(c.targets, vec!["colab"]);
        assert_eq!(c.constraints.mxnet.as_deref(), Some(">=1.9"));
        let e = parse_manifest(
            m,
            "[workspace]\n[workspace.metadata.gpu-env]\ntarget_list = [\"colab\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(
                "/r/Cargo.toml: [workspace.metadata.gpu-env]: unknown field `target_list`"
            ),
            "{e}"
        );
        let c = parse_manifest(m, "[workspace]\n[[workspace.metadata.gpu-env.target]]\nspec = \"colab\"\ngpu = \"A100\"\npython-version = \"3.12\"\n").unwrap().unwrap();
        let r = c.target_requests();
        assert_eq!(r[0].0, "colab");
        let e = r[0].1.entries();
        assert_eq!(
            e[0],
            ("gpu".into(), "A100".into(), "config:target[0].gpu".into())
        );
        assert_eq!(e[1].0, "python");
        let e = parse_manifest(m, "[workspace]\n[[workspace.metadata.gpu-env.target]]\nspec = \"colab\"\ngpus = \"A100\"\n").unwrap_err().to_string();
        assert!(e.contains("unknown field `gpus`"), "{e}");
        let e = parse_manifest(
            m,
            "[workspace]\n[workspace.metadata.gpu-env.constraints]\nmxnet = \"> =1\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("constraints.mxnet"), "{e}");
        assert_eq!(
            parse_manifest(m, "[package]\nname = \"x\"\n").unwrap(),
            None
        );
    }

    #[test]
    fn single_crate_repo_config_is_package_metadata() {
        let m = Path::new("/r/Cargo.toml");
        let c = parse_manifest(
            m,
            "[package]\nname = \"x\"\n[package.metadata.gpu-env]\ntargets = [\"kaggle\"]\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.targets, ["kaggle"]);
        // A root package that is also the workspace root (after `init`).
        let c = parse_manifest(m, "[package]\nname = \"x\"\n[package.metadata.gpu-env]\ntargets = [\"kaggle\"]\n[workspace]\nmembers = [\"xtask\"]\n").unwrap().unwrap();
        assert_eq!(c.targets, ["kaggle"]);
        let e = parse_manifest(
            m,
            "[package]\nname = \"x\"\n[package.metadata.gpu-env]\ntarget = \"colab\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("/r/Cargo.toml: [package.metadata.gpu-env]: "),
            "{e}"
        );
        let e = parse_manifest(
            m,
            "[package]\nname = \"x\"\n[package.metadata.gpu-env]\n[workspace.metadata.gpu-env]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("keep one of them"), "{e}");
        // Discovery stops at the single-crate repo's manifest.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"x\"\n[package.metadata.gpu-env]\ntargets = [\"colab\"]\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        let l = discover(&dir.path().join("src")).unwrap();
        assert_eq!(l.config.targets, ["colab"]);
        assert_eq!(l.root, dir.path());
    }
}
