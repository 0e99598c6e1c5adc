//! Reading, rendering and replacing a lock file: the format is checked
//! before the rest is trusted.

use super::{Lock, LockError, FORMAT, HEADER};
use std::path::Path;

/// Read the format number without trusting the rest of the file.
fn peek_format(text: &str) -> Option<u32> {
    let v: toml::Value = toml::from_str(text).ok()?;
    v.get("format")?
        .as_integer()
        .and_then(|i| u32::try_from(i).ok())
}

/// The largest lock gpu-env reads or replaces.
pub const MAX_LOCK_BYTES: u64 = 16 << 20;

/// `format = N` on a line of its own, for a file too damaged to parse
/// (a truncated newer lock must still be recognised as newer).
fn scan_format(text: &str) -> Option<u32> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "format").then(|| v.trim().parse().ok())?
    })
}

impl Lock {
    pub fn parse(path: &str, text: &str) -> Result<Lock, LockError> {
        // A lock of this format parses once; anything else is parsed again
        // below for the error that fits it.
        let lock = toml::from_str::<Lock>(text)
            .ok()
            .filter(|l| l.format == FORMAT);
        if let Some(lock) = lock {
            return Self::validated(path, lock);
        }
        if let Some(found) = peek_format(text) {
            let path = path.into();
            if found > FORMAT {
                return Err(LockError::Newer { path, found });
            }
            if found < FORMAT {
                return Err(LockError::Older { path, found });
            }
        }
        let lock: Lock = toml::from_str(text).map_err(|e| LockError::Parse {
            path: path.into(),
            message: e.to_string().trim().to_string(),
        })?;
        Self::validated(path, lock)
    }

    fn validated(path: &str, lock: Lock) -> Result<Lock, LockError> {
        // The one validation layer: a lock read from disk is held to the
        // grammar every renderer needs, so a hand-edited value fails here,
        // naming the lock, and never reaches a generated file.
        lock.validate().map_err(|e| LockError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
        Ok(lock)
    }

    pub fn read(path: &Path) -> Result<Lock, LockError> {
        let text = crate::fsutil::read_bounded(path, MAX_LOCK_BYTES, crate::fsutil::READ_TIMEOUT)
            .map_err(|source| LockError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    pub fn render(&self) -> String {
        format!(
            "{HEADER}{}",
            toml::to_string(self).expect("lock serializes")
        )
    }

    /// sha256 of the rendered lock: generated files name it.
    pub fn hash(&self) -> String {
        crate::fsutil::sha256_hex(self.render().as_bytes())
    }

    /// Whether the file at `path` may be replaced by a new lock: absent, or
    /// a whole gpu-env lock of this format or an older one. A newer format
    /// (even one that does not fully parse: D2), a damaged lock and a file
    /// that is no lock at all (`--lock notes.txt`: D19) are refused.
    pub fn check_overwritable(path: &Path) -> Result<(), LockError> {
        let shown = path.display().to_string();
        let refuse = |message: String| LockError::NotOverwritable {
            path: shown.clone(),
            message,
        };
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(refuse(format!("cannot inspect it: {e}"))),
        };
        if !meta.is_file() {
            return Err(refuse("it is not a regular file".into()));
        }
        if meta.len() > MAX_LOCK_BYTES {
            return Err(refuse(format!(
                "it is {} bytes, larger than any gpu-env lock ({MAX_LOCK_BYTES})",
                meta.len()
            )));
        }
        let bytes =
            crate::fsutil::read_bounded_bytes(path, MAX_LOCK_BYTES, crate::fsutil::READ_TIMEOUT)
                .map_err(|e| refuse(format!("cannot read it: {e}")))?;
        if bytes.is_empty() {
            return Ok(());
        }
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return Err(refuse("it is not a gpu-env lock (not UTF-8 text)".into()));
        };
        if let Some(found) = peek_format(text).or_else(|| scan_format(text)) {
            if found > FORMAT {
                return Err(LockError::Newer {
                    path: shown.clone(),
                    found,
                });
            }
        }
        match Lock::parse(&shown, text) {
            // A lock of an older format is replaced by the current one.
            Ok(_) | Err(LockError::Older { .. }) => Ok(()),
            Err(LockError::Newer { found, .. }) => Err(LockError::Newer {
                path: shown.clone(),
                found,
            }),
            Err(e) if text.starts_with(HEADER.trim_end()) => Err(refuse(format!(
                "it is a damaged or partial gpu-env lock ({e})"
            ))),
            Err(_) => Err(refuse("it is not a gpu-env lock".into())),
        }
    }
}
