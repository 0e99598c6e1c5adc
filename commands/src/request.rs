//! The config is the request. A lock is the answer to what the repo's
//! config asks; targets given by `--target` and facts or constraints given
//! by flags or `GPU_ENV_OVERRIDE_*` variables explore, and a lock made with
//! them is not the config's answer until the config records them. This
//! module says what a lock asked beyond the config and writes the config
//! lines that record it; `check` and `resolve` render its answer.

use crate::config::Config;
use crate::lock::{Lock, LockedOverride, LockedTarget};
use crate::target::Overrides;

/// The targets the config asks for, each with its own facts: `targets`,
/// then `[[target]]` tables; `local` when it names none.
pub fn configured_targets(config: &Config) -> Vec<(String, Overrides)> {
    let asked = config.target_requests();
    if asked.is_empty() {
        vec![(
            crate::config::DEFAULT_TARGET.to_string(),
            Overrides::default(),
        )]
    } else {
        asked
    }
}

/// One fact or constraint a lock was given by a flag or a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The locked target it applied to (`colab`, `local`).
    pub target: String,
    /// The override's name in the lock (`driver`, `gpu`, `mxnet`).
    pub name: String,
    pub value: String,
    /// `--driver` or `GPU_ENV_OVERRIDE_DRIVER`.
    pub given_by: String,
}

impl Flag {
    /// The override as given by a flag or variable; None for the config's
    /// facts and probed ones.
    pub(crate) fn of(target: &str, o: &LockedOverride) -> Option<Flag> {
        let given_by = o.source.strip_prefix("override:")?;
        Some(Flag {
            target: target.to_string(),
            name: o.name.clone(),
            value: o.value.clone(),
            given_by: given_by.to_string(),
        })
    }

    /// As the user typed it: `--driver 600.1`, `--no-gpu`,
    /// `GPU_ENV_OVERRIDE_DRIVER=600.1`, one `--with` per companion.
    pub fn as_typed(&self) -> String {
        use crate::validate::shell_word;
        if self.given_by.starts_with("GPU_ENV_") {
            format!("{}={}", self.given_by, shell_word(&self.value))
        } else if self.name == "no_gpu" {
            self.given_by.clone()
        } else if self.name == "companions" {
            let each = crate::config::split_companions(&self.value);
            let typed: Vec<String> = each
                .iter()
                .map(|c| format!("{} {}", self.given_by, shell_word(c)))
                .collect();
            typed.join(" ")
        } else {
            format!("{} {}", self.given_by, shell_word(&self.value))
        }
    }
}

/// What a lock asked that the config does not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BeyondConfig {
    /// Facts and constraints given by flags or variables, per target.
    pub flags: Vec<Flag>,
    /// The locked targets and the configured ones, when they differ
    /// (a `--target`, or a config edited since).
    pub targets: Option<(Vec<String>, Vec<String>)>,
}

impl BeyondConfig {
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty() && self.targets.is_none()
    }
}

/// A target as the config would write it: its spec and the facts the
/// config gave it (`config:` sources), in the lock's order.
fn as_configured(t: &LockedTarget) -> (String, Vec<(String, String)>) {
    let facts = t
        .r#override
        .iter()
        .filter(|o| o.source.starts_with("config:"))
        .map(|o| (o.name.clone(), o.value.clone()))
        .collect();
    (t.spec.clone(), facts)
}

fn describe(targets: &[(String, Vec<(String, String)>)]) -> Vec<String> {
    targets
        .iter()
        .map(|(spec, facts)| match facts.is_empty() {
            true => spec.clone(),
            false => {
                let f: Vec<String> = facts.iter().map(|(n, v)| format!("{n}={v}")).collect();
                format!("{spec} ({})", f.join(", "))
            }
        })
        .collect()
}

/// What `lock` asked beyond `config`.
pub fn beyond_config(config: &Config, lock: &Lock) -> BeyondConfig {
    let flags = lock
        .target
        .iter()
        .flat_map(|t| t.r#override.iter().filter_map(|o| Flag::of(&t.spec, o)))
        .collect();
    let want: Vec<(String, Vec<(String, String)>)> = configured_targets(config)
        .into_iter()
        .map(|(spec, o)| {
            let facts = o.entries().into_iter().map(|(n, v, _)| (n, v)).collect();
            (spec, facts)
        })
        .collect();
    let have: Vec<_> = lock.target.iter().map(as_configured).collect();
    let targets = (want != have).then(|| (describe(&have), describe(&want)));
    BeyondConfig { flags, targets }
}

/// The config key of a locked override (`cuda_toolkit` -> `cuda-toolkit`).
fn config_key(name: &str) -> &str {
    match name {
        "no_gpu" => "no-gpu",
        "cuda_toolkit" => "cuda-toolkit",
        "python" => "python-version",
        other => other,
    }
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn quoted_list(items: &[String]) -> String {
    let q: Vec<String> = items.iter().map(|s| quoted(s)).collect();
    format!("[{}]", q.join(", "))
}

/// One `[[<table>.target]]` table for a locked target with facts.
fn target_table(table: &str, t: &LockedTarget, facts: &[&LockedOverride]) -> String {
    let mut out = format!("[[{table}.target]]\nspec = {}\n", quoted(&t.spec));
    let gpus: Vec<String> = facts
        .iter()
        .filter(|o| o.name == "gpu")
        .map(|o| o.value.clone())
        .collect();
    match gpus.len() {
        0 => {}
        1 => out.push_str(&format!("gpu = {}\n", quoted(&gpus[0]))),
        _ => out.push_str(&format!("gpu = {}\n", quoted_list(&gpus))),
    }
    for o in facts.iter().filter(|o| o.name != "gpu") {
        match o.name.as_str() {
            "no_gpu" => out.push_str("no-gpu = true\n"),
            n => out.push_str(&format!("{} = {}\n", config_key(n), quoted(&o.value))),
        }
    }
    out
}

/// The config lines that ask for exactly what `lock` holds: `targets` for
/// the targets without facts, a `[[<table>.target]]` table for each one
/// with facts, and the constraints given by flags. They replace the
/// config's `targets` and `[[target]]` tables; `table` is
/// `workspace.metadata.gpu-env` (or `package.metadata.gpu-env`).
pub fn config_lines(lock: &Lock, table: &str) -> String {
    let is_constraint = |o: &&LockedOverride| o.name == "mxnet" || o.name == "companions";
    let mut plain = Vec::new();
    let mut tables = Vec::new();
    for t in &lock.target {
        let facts: Vec<&LockedOverride> =
            t.r#override.iter().filter(|o| !is_constraint(o)).collect();
        if facts.is_empty() {
            plain.push(t.spec.clone());
        } else {
            tables.push(target_table(table, t, &facts));
        }
    }
    let mut head = Vec::new();
    if !plain.is_empty() {
        head.push(format!("targets = {}", quoted_list(&plain)));
    }
    let flagged = |name: &str| {
        lock.target
            .iter()
            .flat_map(|t| &t.r#override)
            .find(|o| o.name == name && o.source.starts_with("override:"))
    };
    if let Some(o) = flagged("companions") {
        let list = crate::config::split_companions(&o.value);
        head.push(format!("companions = {}", quoted_list(&list)));
    }
    let mut out = String::new();
    if !head.is_empty() {
        out.push_str(&format!("[{table}]\n{}\n", head.join("\n")));
    }
    if let Some(o) = flagged("mxnet") {
        out.push_str(&format!(
            "[{table}.constraints]\nmxnet = {}\n",
            quoted(&o.value)
        ));
    }
    for t in tables {
        out.push_str(&t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TargetTable;
    use crate::lock::LockedOverride;

    fn ov(name: &str, value: &str, source: &str) -> LockedOverride {
        LockedOverride {
            name: name.into(),
            value: value.into(),
            source: source.into(),
        }
    }

    #[test]
    fn flags_read_as_typed_one_with_per_companion() {
        let typed = |o: LockedOverride| Flag::of("colab", &o).unwrap().as_typed();
        let two = ov(
            "companions",
            "d2l==1.0.3; gluoncv==0.10.5.post0",
            "override:--with",
        );
        assert_eq!(typed(two), "--with d2l==1.0.3 --with gluoncv==0.10.5.post0");
        let env = ov("driver", "600.1", "override:GPU_ENV_OVERRIDE_DRIVER");
        assert_eq!(typed(env), "GPU_ENV_OVERRIDE_DRIVER=600.1");
        assert_eq!(typed(ov("no_gpu", "true", "override:--no-gpu")), "--no-gpu");
        assert!(Flag::of("colab", &ov("gpu", "T4", "config:target[0].gpu")).is_none());
    }

    #[test]
    fn flags_are_typed_as_the_user_typed_them() {
        let f = |name: &str, value: &str, src: &str| Flag::of("colab", &ov(name, value, src));
        assert_eq!(
            f("driver", "600.1", "override:--driver")
                .unwrap()
                .as_typed(),
            "--driver 600.1"
        );
        assert_eq!(
            f("no_gpu", "true", "override:--no-gpu").unwrap().as_typed(),
            "--no-gpu"
        );
        assert_eq!(
            f("gpu", "RTX 4090", "override:GPU_ENV_OVERRIDE_GPU")
                .unwrap()
                .as_typed(),
            "GPU_ENV_OVERRIDE_GPU='RTX 4090'"
        );
        assert!(f("gpu", "T4", "config:target[0].gpu").is_none());
    }

    #[test]
    fn config_keys_are_the_target_table_keys() {
        // Every key written here must parse back as a [[target]] table.
        for name in ["gpu", "no_gpu", "driver", "cuda_toolkit", "cudnn", "python"] {
            let line = match name {
                "no_gpu" => "no-gpu = true".to_string(),
                n => format!("{} = \"1\"", config_key(n)),
            };
            let t: Result<TargetTable, _> = toml::from_str(&format!("spec = \"x\"\n{line}"));
            assert!(t.is_ok(), "{line}: {t:?}");
        }
    }
}
