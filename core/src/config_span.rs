//! Where a config error sits in the manifest's text. `cargo metadata` and
//! `toml::Value` hand the config over without positions, so on an error the
//! manifest text is deserialized again with toml's spanned deserializer:
//! its error carries the byte span of the offending key or value, which
//! becomes line:column, the key on that line, and the known keys nearest
//! to it ("did you mean").

use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Every key the config knows, at any level (`[[target]]`, `constraints`,
/// `output` included): the candidates for "did you mean".
const KNOWN_KEYS: &[&str] = &[
    "targets",
    "target",
    "constraints",
    "companions",
    "output",
    "spec",
    "gpu",
    "no-gpu",
    "driver",
    "cuda-toolkit",
    "cudnn",
    "python-version",
    "mxnet",
    "packages",
    "lock",
    "requirements",
    "pylock",
    "colab_cell",
    "notebook",
    "allow_outside_repo",
];

/// A config error's place: 1-based line and column, the key written
/// there, and the known keys nearest to it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Place {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) key: Option<String>,
    pub(crate) nearest: Vec<&'static str>,
}

impl Place {
    /// `targets: ...; did you mean `targets`?` around serde's message.
    pub(crate) fn message(&self, serde_message: &str) -> String {
        let key = self
            .key
            .as_deref()
            .map(|k| format!("`{k}`: "))
            .unwrap_or_default();
        let hint = match self.nearest.as_slice() {
            [] => String::new(),
            [one] => format!("; did you mean `{one}`?"),
            [a, b, ..] => format!("; did you mean `{a}` or `{b}`?"),
        };
        format!("{key}{}{hint}", serde_message.trim())
    }
}

#[derive(Deserialize)]
struct Workspace<T> {
    #[serde(rename = "workspace")]
    _workspace: Metadata<T>,
}
#[derive(Deserialize)]
struct Package<T> {
    #[serde(rename = "package")]
    _package: Metadata<T>,
}
#[derive(Deserialize)]
struct Metadata<T> {
    #[serde(rename = "metadata")]
    _metadata: GpuEnv<T>,
}
#[derive(Deserialize)]
struct GpuEnv<T> {
    #[serde(rename = "gpu-env")]
    _config: T,
}

/// The place of the first error in `table` (`workspace.metadata.gpu-env`
/// or `package.metadata.gpu-env`) of the manifest `text`, read as the
/// config type `C`; None when the text deserializes cleanly or the error
/// has no span.
pub(crate) fn locate<C: DeserializeOwned>(text: &str, table: &str) -> Option<Place> {
    // Only an error inside the config's own table is placed (the text may
    // be another manifest's, or gone).
    let whole: toml::Value = toml::from_str(text).ok()?;
    table.split('.').try_fold(&whole, |v, k| v.get(k))?;
    let err = if table.starts_with("package.") {
        toml::from_str::<Package<C>>(text).err()?
    } else {
        toml::from_str::<Workspace<C>>(text).err()?
    };
    let start = err.span()?.start.min(text.len());
    let (line, _) = crate::db::diag::line_col(text, start);
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    // In characters, as an editor counts them.
    let column = text[line_start..start].chars().count() + 1;
    let key = key_at(text, line_start);
    let nearest = key.as_deref().map(nearest_keys).unwrap_or_default();
    Some(Place {
        line,
        column,
        key,
        nearest,
    })
}

/// The 1-based line of `key` in `table` (dotted: `workspace.metadata.gpu-env`)
/// of the manifest `text`, from the parser's spans; None when it is absent.
pub(crate) fn key_line(text: &str, table: &str, key: &str) -> Option<usize> {
    use crate::db::diag::{self, Seg};
    let path: Vec<Seg> = table.split('.').chain([key]).map(diag::key).collect();
    let offset = diag::Locator::new(text).exact(&path)?;
    Some(diag::line_col(text, offset).0)
}

/// The key of the `key = value` line that starts at or above `line_start`
/// (a value may continue over several lines).
fn key_at(text: &str, line_start: usize) -> Option<String> {
    let upto = text[..line_start].lines().count();
    let lines: Vec<&str> = text.lines().collect();
    lines[..(upto + 1).min(lines.len())]
        .iter()
        .rev()
        .find_map(|l| {
            let (k, _) = l.split_once('=')?;
            let k = k.trim().trim_matches('"');
            let plain = !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            plain.then(|| k.to_string())
        })
}

/// Known keys within two edits of `key`, other than `key` itself, nearest
/// first (at most two).
fn nearest_keys(key: &str) -> Vec<&'static str> {
    let mut near: Vec<(usize, &'static str)> = KNOWN_KEYS
        .iter()
        .filter(|k| **k != key)
        .map(|k| (strsim::osa_distance(k, key), *k))
        .filter(|(d, _)| *d <= 2)
        .collect();
    near.sort();
    near.into_iter().take(2).map(|(_, k)| k).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "[workspace]\n\n[workspace.metadata.gpu-env]\n";

    /// The config's shape where these tests need it.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Config {
        #[serde(default, rename = "targets")]
        _targets: Vec<String>,
        #[serde(default, rename = "target")]
        _target: Vec<Target>,
    }
    #[derive(Deserialize)]
    struct Target {
        #[serde(rename = "spec")]
        _spec: String,
    }

    fn locate(text: &str, table: &str) -> Option<Place> {
        super::locate::<Config>(text, table)
    }

    #[test]
    fn a_near_miss_key_is_placed_and_named() {
        let text = format!("{HEAD}target = [\"colab\"]\n");
        let p = locate(&text, "workspace.metadata.gpu-env").unwrap();
        assert_eq!((p.line, p.key.as_deref()), (4, Some("target")));
        assert_eq!(p.nearest, ["targets"]);
        assert!(p
            .message("invalid type")
            .ends_with("; did you mean `targets`?"));
        let text = format!("{HEAD}targets = [\"colab\"]\ntagets = 1\n");
        let p = locate(&text, "workspace.metadata.gpu-env").unwrap();
        assert_eq!((p.line, p.column, p.key.as_deref()), (5, 1, Some("tagets")));
        assert!(p.nearest.contains(&"targets"), "{:?}", p.nearest);
    }

    #[test]
    fn a_clean_config_or_another_manifest_has_no_place() {
        let text = format!("{HEAD}targets = [\"colab\"]\n");
        assert_eq!(locate(&text, "workspace.metadata.gpu-env"), None);
        assert_eq!(locate("", "workspace.metadata.gpu-env"), None);
        assert_eq!(locate("[workspace]\n", "workspace.metadata.gpu-env"), None);
    }
}
