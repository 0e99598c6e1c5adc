//! File writes that never leave a half-written file behind.

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Write `bytes` to a temporary file beside `path`, fsync it, then rename it
/// over `path`: readers see the old file or the new one, never a mix. The
/// mode is the replaced file's, or 0666 less the umask for a new file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_unit(&[(path.to_path_buf(), bytes.to_vec())])
}

/// gpu-env's cache (PyPI answers, check records): `GPU_ENV_CACHE_DIR`, else `$XDG_CACHE_HOME/gpu-env`, else `~/.cache/gpu-env`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("GPU_ENV_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("gpu-env");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/gpu-env"))
        .unwrap_or_else(|| std::env::temp_dir().join("gpu-env-cache"))
}

/// Hex sha256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex(&h.finalize()))
}

/// Prefix of every temporary file gpu-env writes beside an output; a file
/// with it that no running write owns (found under the directory lock) is
/// the leftover of a killed run and is removed.
pub const TEMP_PREFIX: &str = ".gpu-env-";

/// Whether `name` is a gpu-env temporary file: `.gpu-env-<pid>-<n>[.bak].tmp`,
/// or the `.gpu-env-XXXXXX` names of earlier versions (tempfile's).
pub fn is_temp_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
        return false;
    };
    rest.ends_with(".tmp") || (rest.len() == 6 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Remove the stale temporary files of killed runs in `dir` (call it while
/// holding [`DirLock`], so no live write's temps are touched). Returns how
/// many were removed.
pub fn remove_stale_temps(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name();
        let is_file = e.file_type().is_ok_and(|t| t.is_file());
        if is_file
            && name.to_str().is_some_and(is_temp_name)
            && std::fs::remove_file(e.path()).is_ok()
        {
            n += 1;
        }
    }
    n
}

/// An advisory lock (flock) on a directory: concurrent gpu-env writes into
/// the same place take turns. Released on drop (and by the kernel when the
/// process dies, so a killed run never leaves it held).
pub struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    /// Wait up to `timeout` for the lock on `dir`.
    pub fn acquire(dir: &Path, timeout: std::time::Duration) -> Result<DirLock, WriteError> {
        let err = |source| WriteError {
            path: dir.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(dir).map_err(err)?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(DirLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) => {
                    if std::time::Instant::now() >= deadline {
                        return Err(err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!(
                                "another gpu-env run holds the write lock on this directory (waited {} s)",
                                timeout.as_secs()
                            ),
                        )));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(err(e)),
            }
        }
    }
}

static TEMP_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn temp_path(target: &Path, what: &str) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("{TEMP_PREFIX}{}-{n}{what}.tmp", std::process::id());
    parent_dir(target).join(name)
}

/// A new directory under the system's temporary directory, removed with
/// everything in it when dropped: downloads, Chromium's profile, install's
/// staging. Named `<prefix><pid>-<n>-<nanos>` and created with mode 0700;
/// a name that exists (a dead process's) is skipped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> std::io::Result<TempDir> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut last = None;
        for _ in 0..64 {
            let n = TEMP_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = base.join(format!("{prefix}{}-{n}-{nanos}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary directory name")))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Write `bytes` to a new temporary file beside `target` and fsync it. Its
/// mode is the replaced file's when `target` exists, else 0666 less the
/// umask (as any new file).
fn write_temp(target: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let existing = std::fs::metadata(target)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.permissions().mode() & 0o7777);
    let tmp = temp_path(target, "");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(&tmp)?;
    let r = (|| {
        if let Some(mode) = existing {
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        f.write_all(bytes)?;
        f.sync_all()
    })();
    match r {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Write every file as one unit: all temporaries first (nothing replaced if
/// any fails: a read-only directory, a full disk), then each renamed over
/// its target, the previous versions kept aside until every rename
/// succeeded; if one fails, those already replaced are put back. Each file
/// is replaced atomically (readers see the old or the new bytes, never a
/// mix). Modes: the replaced file's, or 0666 less the umask. Callers hold
/// a [`DirLock`] against concurrent writers.
pub fn write_unit(files: &[(PathBuf, Vec<u8>)]) -> Result<(), WriteError> {
    write_unit_inner(files, None)
}

/// The journal of a unit write in progress, beside its first file: the
/// (temporary, target) renames still to do. Written whole before the first
/// rename and removed after the last, so a run killed between two renames
/// leaves it, and the next write or `check` there finishes the renames
/// ([`finish_interrupted`]): the set is the old one or the new one, never
/// a mix that lasts.
pub const JOURNAL: &str = ".gpu-env-journal";

/// An injected fault, for the tests of [`write_unit`].
#[derive(Clone, Copy)]
#[cfg_attr(not(test), allow(dead_code))]
enum Fault {
    /// Rename `i` fails.
    FailRename(usize),
    /// The process "dies" after rename `i`: nothing after it runs.
    DieAfterRename(usize),
}

/// Finish the renames a killed unit write left in `dir`'s journal (call it
/// holding the [`DirLock`], before [`remove_stale_temps`]). Only gpu-env
/// temporaries are renamed, each over a file of its own directory. Returns
/// how many files were completed.
pub fn finish_interrupted(dir: &Path) -> usize {
    let journal = dir.join(JOURNAL);
    let Ok(text) = read_text(&journal) else {
        return 0;
    };
    let Ok(renames) = serde_json::from_str::<Vec<(PathBuf, PathBuf)>>(&text) else {
        return 0;
    };
    let mut n = 0;
    for (tmp, target) in renames {
        let ours = tmp
            .file_name()
            .and_then(|f| f.to_str())
            .is_some_and(is_temp_name)
            && tmp.parent() == target.parent()
            && std::fs::symlink_metadata(&tmp).is_ok_and(|m| m.is_file());
        if ours && std::fs::rename(&tmp, &target).is_ok() {
            n += 1;
        }
    }
    let _ = std::fs::remove_file(&journal);
    sync_dir(dir);
    n
}

/// Write the journal of `renames` beside the first target, whole (a
/// temporary renamed into place); nothing for one file (its rename is
/// atomic) or when a path is not UTF-8.
fn write_journal(renames: &[(PathBuf, PathBuf)]) -> std::io::Result<Option<PathBuf>> {
    let [(_, first), _, ..] = renames else {
        return Ok(None);
    };
    if renames
        .iter()
        .any(|(a, b)| a.to_str().is_none() || b.to_str().is_none())
    {
        return Ok(None);
    }
    let journal = parent_dir(first).join(JOURNAL);
    let text = serde_json::to_string(renames).map_err(std::io::Error::other)?;
    let tmp = write_temp(&journal, text.as_bytes())?;
    std::fs::rename(&tmp, &journal).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    sync_dir(parent_dir(first));
    Ok(Some(journal))
}

fn write_unit_inner(files: &[(PathBuf, Vec<u8>)], fault: Option<Fault>) -> Result<(), WriteError> {
    // 1. Directories, then every temporary file.
    let mut temps: Vec<PathBuf> = Vec::new();
    let cleanup = |paths: &[PathBuf]| {
        for p in paths {
            let _ = std::fs::remove_file(p);
        }
    };
    for (path, bytes) in files {
        let err = |source| WriteError {
            path: path.clone(),
            source,
        };
        let made = std::fs::create_dir_all(parent_dir(path)).and_then(|()| write_temp(path, bytes));
        match made {
            Ok(t) => temps.push(t),
            Err(e) => {
                cleanup(&temps);
                return Err(err(e));
            }
        }
    }
    // 2. Keep the previous versions (a hard link, else a copy).
    let mut backups: Vec<Option<PathBuf>> = Vec::new();
    for (path, _) in files {
        let b = if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
            let b = temp_path(path, ".bak");
            let kept =
                std::fs::hard_link(path, &b).or_else(|_| std::fs::copy(path, &b).map(|_| ()));
            if let Err(e) = kept {
                cleanup(&temps);
                cleanup(&backups.iter().flatten().cloned().collect::<Vec<_>>());
                return Err(WriteError {
                    path: path.clone(),
                    source: e,
                });
            }
            Some(b)
        } else {
            None
        };
        backups.push(b);
    }
    // 3. The journal, then each rename; on a failure put the replaced
    // ones back.
    // Absolute, the directory resolved and the name kept: a target that is
    // a symbolic link is replaced itself, never written through.
    let absolute_of = |p: &Path| match p.file_name() {
        Some(name) => resolve_path(parent_dir(p)).join(name),
        None => resolve_path(p),
    };
    let absolute: Vec<(PathBuf, PathBuf)> = files
        .iter()
        .zip(&temps)
        .map(|((p, _), t)| (absolute_of(t), absolute_of(p)))
        .collect();
    let journal = match write_journal(&absolute) {
        Ok(j) => j,
        Err(e) => {
            cleanup(&temps);
            cleanup(&backups.iter().flatten().cloned().collect::<Vec<_>>());
            return Err(WriteError {
                path: files[0].0.clone(),
                source: e,
            });
        }
    };
    for (i, ((path, _), tmp)) in files.iter().zip(&temps).enumerate() {
        let r = if matches!(fault, Some(Fault::FailRename(at)) if at == i) {
            Err(std::io::Error::other("injected rename failure"))
        } else {
            std::fs::rename(tmp, path)
        };
        if let Err(e) = r {
            for (j, (done, _)) in files.iter().enumerate().take(i) {
                match &backups[j] {
                    Some(b) => {
                        let _ = std::fs::rename(b, done);
                    }
                    None => {
                        let _ = std::fs::remove_file(done);
                    }
                }
            }
            cleanup(&temps[i..]);
            cleanup(&backups.iter().flatten().cloned().collect::<Vec<_>>());
            cleanup(journal.as_slice());
            return Err(WriteError {
                path: path.clone(),
                source: e,
            });
        }
        if matches!(fault, Some(Fault::DieAfterRename(at)) if at == i) {
            return Ok(());
        }
    }
    cleanup(journal.as_slice());
    for b in backups.iter().flatten() {
        let _ = std::fs::remove_file(b);
    }
    let mut dirs: Vec<&Path> = files.iter().map(|(p, _)| parent_dir(p)).collect();
    dirs.sort();
    dirs.dedup();
    for d in dirs {
        sync_dir(d);
    }
    Ok(())
}

/// `path` absolute (joined to the current directory) with `.` and `..`
/// resolved lexically, and the deepest existing ancestor canonicalized (so
/// two spellings of one file, through a symlinked directory too, compare
/// equal).
pub fn resolve_path(path: &Path) -> PathBuf {
    use std::path::Component;
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(path)
    };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    // Canonicalize the longest existing prefix; keep the rest as is.
    let mut rest = Vec::new();
    let mut head = out.clone();
    loop {
        if let Ok(c) = std::fs::canonicalize(&head) {
            let mut r = c;
            for part in rest.iter().rev() {
                r.push(part);
            }
            return r;
        }
        match (head.file_name().map(|n| n.to_os_string()), head.parent()) {
            (Some(n), Some(p)) => {
                rest.push(n);
                head = p.to_path_buf();
            }
            _ => return out,
        }
    }
}

/// How long gpu-env waits for one local file (a lock, compat-db, a
/// generated file, the manifest) before giving up on it: a hung network
/// file system is an error, never a hung pre-commit hook.
pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The largest generated file (requirements, pylock, setup cell, notebook,
/// compatibility page) or compat-db file gpu-env reads.
pub const MAX_TEXT_FILE: u64 = 16 << 20;

/// Read a regular file of at most `max` bytes as UTF-8 text, within
/// `timeout` ([`read_bounded_bytes`]).
pub fn read_bounded(
    path: &Path,
    max: u64,
    timeout: std::time::Duration,
) -> std::io::Result<String> {
    String::from_utf8(read_bounded_bytes(path, max, timeout)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"))
}

/// Read at most `max` bytes of a regular file, on a helper thread that is
/// abandoned after `timeout`: a FIFO, a device (/dev/zero, also through a
/// symlink), a file over `max` bytes or a hung file system is an error,
/// never a hang or an unbounded read. Every file gpu-env reads goes
/// through here.
pub fn read_bounded_bytes(
    path: &Path,
    max: u64,
    timeout: std::time::Duration,
) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, device or directory is not read)",
        ));
    }
    let too_large = move || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {max} bytes; not read"),
        )
    };
    if meta.len() > max {
        return Err(too_large());
    }
    let p = path.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("bounded read".into())
        .spawn(move || {
            let r = (|| {
                use std::os::unix::fs::OpenOptionsExt;
                // O_NONBLOCK: a file swapped for a FIFO after the check
                // does not block the open.
                let f = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(0o4000)
                    .open(&p)?;
                let mut buf = Vec::new();
                f.take(max + 1).read_to_end(&mut buf)?;
                if buf.len() as u64 > max {
                    return Err(too_large());
                }
                Ok(buf)
            })();
            let _ = tx.send(r);
        })?;
    match rx.recv_timeout(timeout) {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no data within {:.1} s", timeout.as_secs_f64()),
        )),
    }
}

/// [`read_bounded`] with the limits of a generated or compat-db file.
pub fn read_text(path: &Path) -> std::io::Result<String> {
    read_bounded(path, MAX_TEXT_FILE, READ_TIMEOUT)
}

/// [`read_bounded_bytes`] with the limits of a generated or compat-db file.
pub fn read_text_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    read_bounded_bytes(path, MAX_TEXT_FILE, READ_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_dirs_are_distinct_private_and_removed_on_drop() {
        use std::os::unix::fs::PermissionsExt;
        let a = TempDir::new("gpu-env-test-").unwrap();
        let b = TempDir::new("gpu-env-test-").unwrap();
        assert_ne!(a.path(), b.path());
        assert!(a.path().starts_with(std::env::temp_dir()));
        let mode = std::fs::metadata(a.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::create_dir(a.path().join("sub")).unwrap();
        std::fs::write(a.path().join("sub/f"), "x").unwrap();
        let path = a.path().to_path_buf();
        drop(a);
        assert!(!path.exists());
        assert!(b.path().is_dir());
    }

    #[test]
    fn a_failed_rename_rolls_back_the_replaced_files() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("c"),
        );
        std::fs::write(&a, "old a").unwrap();
        std::fs::write(&b, "old b").unwrap();
        let files = vec![
            (a.clone(), b"new a".to_vec()),
            (c.clone(), b"new c".to_vec()),
            (b.clone(), b"new b".to_vec()),
        ];
        assert!(write_unit_inner(&files, Some(Fault::FailRename(2))).is_err());
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old a");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "old b");
        assert!(!c.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
        write_unit(&files).unwrap();
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "new b");
        assert!(!dir.path().join(JOURNAL).exists());
    }

    #[test]
    fn a_run_killed_between_renames_is_finished_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("sub/b"));
        write_unit(&[
            (a.clone(), b"old a".to_vec()),
            (b.clone(), b"old b".to_vec()),
        ])
        .unwrap();
        let files = vec![
            (a.clone(), b"new a".to_vec()),
            (b.clone(), b"new b".to_vec()),
        ];
        write_unit_inner(&files, Some(Fault::DieAfterRename(0))).unwrap();
        // The mix a kill -9 leaves: a new, b old, the journal there.
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "new a");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "old b");
        assert!(dir.path().join(JOURNAL).exists());
        assert_eq!(finish_interrupted(dir.path()), 1);
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "new b");
        assert!(!dir.path().join(JOURNAL).exists());
        // A journal naming a file that is not a gpu-env temporary renames nothing.
        let victim = dir.path().join("mine.txt");
        std::fs::write(&victim, "mine").unwrap();
        let j = serde_json::to_string(&[(victim.clone(), a.clone())]).unwrap();
        std::fs::write(dir.path().join(JOURNAL), j).unwrap();
        assert_eq!(finish_interrupted(dir.path()), 0);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "mine");
    }
}
