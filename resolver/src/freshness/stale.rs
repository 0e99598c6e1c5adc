//! Every generated file against what the lock renders to now.

use super::{shown, Finding, Stale};
use crate::config::Loaded;
use crate::db::Db;
use crate::lock::Lock;
use std::path::Path;

pub(super) fn stale(
    db: &Db,
    db_hash: &str,
    loaded: &Loaded,
    lock_path: &Path,
    lock: &Lock,
) -> Vec<Finding> {
    let outputs = match crate::job::rendered_outputs(db, loaded, lock_path, lock) {
        Ok(o) => o,
        Err(e) => {
            return vec![Finding::CellInvalid {
                error: e.to_string(),
            }]
        }
    };
    let mut out = Vec::new();
    // The first output is the lock itself.
    for (i, (path, text)) in outputs.iter().enumerate() {
        let why = match crate::fsutil::read_text_bytes(path) {
            Ok(bytes) if bytes == text.as_bytes() => continue,
            Ok(_) if i == 0 => Stale::HandEdited,
            Ok(_) => Stale::OtherLock {
                lock_hash: lock.hash(),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Stale::Missing,
            Err(e) => Stale::Unreadable {
                error: e.to_string(),
            },
        };
        out.push(Finding::Stale {
            path: shown(path, &loaded.root),
            why,
        });
    }
    out.extend(docs(db_hash, loaded));
    out
}

/// The compatibility page, its screenshot and setup cells, in repos that
/// keep them (this one), judged by their stamps alone (nothing is
/// generated); a page of the repo's own at that path is not gpu-env's.
fn docs(db_hash: &str, loaded: &Loaded) -> Vec<Finding> {
    let dir = loaded.root.join(crate::matrix::DEFAULT_DIR);
    crate::matrix::fresh::stale(&dir, &crate::stamp::inputs(db_hash))
        .into_iter()
        .map(|(path, why)| Finding::Stale {
            path: shown(&path, &loaded.root),
            why: Stale::Docs { why },
        })
        .collect()
}
