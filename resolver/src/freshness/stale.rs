//! Every generated file against what the lock renders to now.

use super::{shown, Finding, Stale};
use crate::config::Loaded;
use crate::db::Db;
use crate::lock::Lock;
use std::path::Path;

pub(super) fn stale(db: &Db, loaded: &Loaded, lock_path: &Path, lock: &Lock) -> Vec<Finding> {
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
    out.extend(page(db, loaded));
    out
}

/// The compatibility page, in repos that keep one (this one); a page of
/// the repo's own at that path is not gpu-env's.
fn page(db: &Db, loaded: &Loaded) -> Option<Finding> {
    let page = loaded.root.join(crate::matrix::DEFAULT_OUT);
    let found = crate::fsutil::read_text_bytes(&page).ok()?;
    let ours = crate::generated::may_replace(crate::generated::Kind::Matrix, &found);
    (ours && !found.is_empty() && found != crate::matrix::render(db).as_bytes()).then(|| {
        Finding::Stale {
            path: shown(&page, &loaded.root),
            why: Stale::Page,
        }
    })
}
