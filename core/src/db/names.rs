//! How a GPU name typed by a user meets compat-db's names: one key per
//! spelling, and the nearest known names when none matches.

/// Prefixes that NVIDIA, `nvidia-smi` and people add or leave out
/// (`NVIDIA GeForce RTX 4090`, `GeForce RTX 4090`, `RTX 4090`; `Tesla T4`, `T4`).
const BRAND_PREFIXES: [&str; 3] = ["nvidia", "geforce", "tesla"];

/// A GPU name reduced to what tells models apart: ASCII letters and digits
/// in lower case, without leading brand prefixes. `RTX4090`, `rtx-4090`
/// and `NVIDIA GeForce RTX 4090` all give `rtx4090`.
pub fn key(name: &str) -> String {
    let mut k: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    while let Some(rest) = BRAND_PREFIXES
        .iter()
        .find_map(|p| k.strip_prefix(p).filter(|r| !r.is_empty()))
    {
        k = rest.to_string();
    }
    k
}

/// Whether `name`'s [`key`] is `k`. A key is the end of the name's letters
/// and digits, so names that do not end so are passed over without making
/// their key (the lookup runs for every spelling of every known GPU).
pub fn has_key(name: &str, k: &str) -> bool {
    let mut tail = name
        .chars()
        .rev()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase());
    k.chars().rev().all(|c| tail.next() == Some(c)) && key(name) == k
}

/// Up to `n` of `known` (display name, its spellings) nearest to `typed`,
/// nearest first: spellings whose key contains the typed key or is within
/// a third of its length in edits (a swap of two neighbours is one).
pub fn nearest<'a>(typed: &str, known: &[(&'a str, Vec<String>)], n: usize) -> Vec<&'a str> {
    let t = key(typed);
    if t.is_empty() {
        return Vec::new();
    }
    let limit = t.len().div_ceil(3);
    let mut scored: Vec<(usize, &str)> = known
        .iter()
        .filter_map(|(name, spellings)| {
            let best = spellings
                .iter()
                .map(|s| {
                    let k = key(s);
                    if k.contains(&t) || t.contains(&k) {
                        k.len().abs_diff(t.len()).min(limit)
                    } else {
                        strsim::osa_distance(&k, &t)
                    }
                })
                .min()?;
            (best <= limit).then_some((best, *name))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(n).map(|(_, name)| name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_model_share_a_key() {
        for s in [
            "RTX4090",
            "rtx 4090",
            "RTX-4090",
            "NVIDIA GeForce RTX 4090",
            "geforce rtx4090",
        ] {
            assert_eq!(key(s), "rtx4090", "{s}");
        }
        assert_eq!(key("Tesla T4"), "t4");
        assert_eq!(key("NVIDIA A100-SXM4-40GB"), "a100sxm440gb");
        // A prefix alone is a name, not nothing.
        assert_eq!(key("Tesla"), "tesla");
        assert_eq!(key("--"), "");
    }

    /// `has_key` is `key(name) == k`, for every pair of spellings
    /// compat-db knows and a few made up.
    #[test]
    fn has_key_is_key_equality() {
        let db = crate::db::Db::embedded().unwrap();
        let mut names: Vec<String> = ["Tesla", "--", "NVIDIA", "x tesla t4", "T 4", "t4"]
            .map(String::from)
            .to_vec();
        for g in &db.gpus {
            names.push(g.name.clone());
            names.extend(g.aliases.iter().cloned());
            names.extend(g.smi.iter().map(|s| s.name.clone()));
        }
        for a in &names {
            for b in &names {
                let k = key(b);
                assert_eq!(has_key(a, &k), key(a) == k, "{a} / {b}");
            }
        }
    }

    #[test]
    fn nearest_names_are_close_and_ordered() {
        let known = vec![
            (
                "GeForce RTX 4090",
                vec!["GeForce RTX 4090".to_string(), "RTX 4090".into()],
            ),
            ("GeForce RTX 4080", vec!["GeForce RTX 4080".to_string()]),
            ("NVIDIA T4", vec!["T4".to_string()]),
        ];
        assert_eq!(
            nearest("RTX 4900", &known, 3),
            ["GeForce RTX 4090", "GeForce RTX 4080"]
        );
        assert!(nearest("zzzzzzzz", &known, 3).is_empty());
        assert!(nearest("", &known, 3).is_empty());
    }

    #[test]
    fn no_two_compat_db_gpus_share_a_key() {
        let db = crate::db::Db::open(None).unwrap();
        let mut seen = std::collections::BTreeMap::new();
        for g in &db.gpus {
            for s in crate::db::Db::gpu_spellings(g) {
                if let Some(other) = seen.insert(key(s), &g.name) {
                    assert_eq!(other, &g.name, "`{s}` names two GPUs");
                }
            }
        }
    }
}
