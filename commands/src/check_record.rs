//! A passed `check`, recorded outside the repo: the next `check` with the
//! same inputs compares file hashes instead of loading compat-db,
//! re-resolving and re-rendering. What the verdict depends on is named in
//! the record: the gpu-env program (its path, size and modification time:
//! a rebuilt or upgraded gpu-env is another program), the compat-db hash,
//! the repo's root, manifest and lock path, the `GPU_ENV_*` variables, and
//! every file the check compared, each with its sha256 or `absent`. A record
//! that differs in any line is not used, and a record that cannot be
//! written is skipped: the full check gives the answer either way.
//!
//! Records live in `<cache>/check/` ([`crate::fsutil::cache_dir`]), one per
//! repo root and lock path, replaced by each passing check.

use crate::fsutil::{self, sha256_hex};
use std::path::{Path, PathBuf};

/// The first line of a record; another format is not read.
const FORMAT: &str = "gpu-env check record 1";

/// The largest record read back.
const MAX_RECORD: u64 = 64 << 10;

/// Where a check's record lives and the inputs it must match.
#[derive(Debug, Clone)]
pub struct Record {
    path: PathBuf,
    /// The lines that name the inputs (every line before the files).
    inputs: String,
}

/// The program's identity: path, size and modification time in nanoseconds.
fn program() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let meta = std::fs::metadata(&exe).ok()?;
    let mtime = meta.modified().ok()?;
    let ns = mtime.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
    Some(format!("{} {} {ns}", exe.display(), meta.len()))
}

/// A file's state as a record line holds it, from what reading it gave:
/// its sha256, or `absent`.
pub fn state_of(read: &std::io::Result<Vec<u8>>) -> String {
    match read {
        Ok(bytes) => sha256_hex(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "absent".into(),
        Err(e) => format!("unreadable-{:?}", e.kind()),
    }
}

fn state(path: &Path) -> String {
    state_of(&fsutil::read_text_bytes(path))
}

impl Record {
    /// The record for a check of `lock` in the repo at `root` (config from
    /// `manifest`) with compat-db `db_hash`; None when the program cannot
    /// be identified.
    pub fn new(db_hash: &str, root: &Path, manifest: Option<&Path>, lock: &Path) -> Option<Record> {
        let mut inputs = format!("{FORMAT}\nprogram {}\ndb {db_hash}\n", program()?);
        inputs += &format!("root {}\nlock {}\n", root.display(), lock.display());
        if let Some(m) = manifest {
            inputs += &format!("manifest {} {}\n", state(m), m.display());
        }
        let mut vars: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())))
            .filter(|(k, _)| k.starts_with("GPU_ENV_"))
            .collect();
        vars.sort();
        for (k, v) in vars {
            inputs += &format!("env {k}={v:?}\n");
        }
        let name = sha256_hex(format!("{}\n{}", root.display(), lock.display()).as_bytes());
        Some(Record {
            path: fsutil::cache_dir().join("check").join(&name[..32]),
            inputs,
        })
    }

    /// The verdict line a passed check printed, when the record names these
    /// inputs and every file it lists still has its recorded state.
    pub fn verdict(&self) -> Option<String> {
        let text = fsutil::read_bounded(&self.path, MAX_RECORD, fsutil::READ_TIMEOUT).ok()?;
        let rest = text.strip_prefix(&self.inputs)?;
        let mut verdict = None;
        for line in rest.lines() {
            if let Some(v) = line.strip_prefix("ok ") {
                verdict = Some(v.to_string());
            } else {
                let (want, path) = line.strip_prefix("file ")?.split_once(' ')?;
                if state(Path::new(path)) != want {
                    return None;
                }
            }
        }
        verdict
    }

    /// Record a passed check that compared `files` (each with the
    /// [`state_of`] of the bytes it compared) and printed `verdict`. A
    /// record that cannot be written is skipped (the next check is a full
    /// one).
    pub fn record(&self, files: &[(PathBuf, String)], verdict: &str) {
        let mut text = self.inputs.clone();
        for (f, state) in files {
            let Some(p) = f.to_str().filter(|p| !p.contains('\n')) else {
                return;
            };
            text += &format!("file {state} {p}\n");
        }
        text += &format!("ok {}\n", verdict.replace('\n', " "));
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
            prune(dir);
        }
        let _ = fsutil::write_atomic(&self.path, text.as_bytes());
    }
}

/// The most records kept: one per repo and lock, so a machine that checks
/// many temporary repos (tests) starts over instead of growing the cache.
const MAX_RECORDS: usize = 256;

/// Remove every record when there are more than [`MAX_RECORDS`] (a lost
/// record costs one full check).
fn prune(dir: &Path) {
    let count = |d: std::fs::ReadDir| d.take(MAX_RECORDS + 1).count();
    if std::fs::read_dir(dir).map(count).unwrap_or(0) <= MAX_RECORDS {
        return;
    }
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let _ = std::fs::remove_file(e.path());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_holds_while_its_files_do() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("gpu-env.lock");
        std::fs::write(&file, "a").unwrap();
        let record = Record {
            path: tmp.path().join("cache/check/x"),
            inputs: format!("{FORMAT}\nprogram p\n"),
        };
        assert_eq!(record.verdict(), None);
        record.record(&[(file.clone(), state(&file))], "check: OK");
        assert_eq!(record.verdict().as_deref(), Some("check: OK"));
        std::fs::write(&file, "b").unwrap();
        assert_eq!(record.verdict(), None);
        std::fs::write(&file, "a").unwrap();
        let other = Record {
            inputs: format!("{FORMAT}\nprogram q\n"),
            ..record.clone()
        };
        assert_eq!(other.verdict(), None);
        std::fs::remove_file(&file).unwrap();
        assert_eq!(record.verdict(), None);
        std::fs::write(&record.path, "garbage").unwrap();
        assert_eq!(record.verdict(), None);
        // Past MAX_RECORDS records the cache starts over.
        let dir = record.path.parent().unwrap();
        for i in 0..=MAX_RECORDS {
            std::fs::write(dir.join(format!("r{i}")), "").unwrap();
        }
        std::fs::write(&file, "a").unwrap();
        record.record(&[(file.clone(), state(&file))], "check: OK");
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), 1);
        assert_eq!(record.verdict().as_deref(), Some("check: OK"));
    }
}
