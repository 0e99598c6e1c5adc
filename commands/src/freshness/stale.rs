//! Every generated file against what the lock renders to now.

use super::{shown, Finding, Stale};
use crate::config::Loaded;
use crate::db::Db;
use crate::lock::Lock;
use std::path::{Path, PathBuf};

/// `compared` gets each file looked at with the
/// [`crate::check_record::state_of`] of what was read (None: not only files);
/// `lock_hash` the sha256 of the lock as rendered (None: it cannot be).
pub(super) fn stale(
    db: &Db,
    db_hash: &str,
    loaded: &Loaded,
    (lock_path, lock): (&Path, &Lock),
    compared: &mut Option<Vec<(PathBuf, String)>>,
    lock_hash: &mut Option<String>,
) -> Vec<Finding> {
    let (outputs, hash) = match crate::job::rendered_outputs_hashed(db, loaded, lock_path, lock) {
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
        let read = crate::fsutil::read_text_bytes(path);
        let same = matches!(&read, Ok(bytes) if bytes == text.as_bytes());
        if let Some(c) = compared.as_mut() {
            // The lock as rendered is hashed already.
            let state = match (i, same) {
                (0, true) => hash.clone(),
                _ => crate::check_record::state_of(&read),
            };
            c.push((path.clone(), state));
        }
        let why = match read {
            _ if same => continue,
            Ok(_) if i == 0 => Stale::HandEdited,
            Ok(_) => Stale::OtherLock {
                lock_hash: hash.clone(),
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
    *lock_hash = Some(hash);
    out.extend(docs(db_hash, loaded));
    // The docs' verdict holds while their page stays absent; a repo that
    // keeps a page is checked in full each time.
    let page = loaded
        .root
        .join(crate::matrix::DEFAULT_DIR)
        .join(crate::matrix::fresh::PAGE);
    let read = crate::fsutil::read_text_bytes(&page);
    match read {
        Err(ref e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(c) = compared.as_mut() {
                c.push((page, crate::check_record::state_of(&read)));
            }
        }
        _ => *compared = None,
    }
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
