//! One grammar (gpu_env::validate) for a value at every layer: `db check`
//! accepts a compat-db value exactly when the lock reader (and so every
//! emitter, which validate through it) accepts the same value in a lock.
//! Each case below was accepted by one layer and refused by the other when
//! they had their own validators.

use gpu_env::db::{load_files, read_dir_files};
use gpu_env::lock::{Lock, LockedShim, LockedTarget};
use gpu_env_tests::fixtures;

/// Whether the fixture compat-db passes `db check` with `from` replaced by
/// `to` in `file`.
fn db_accepts(file: &str, from: &str, to: &str) -> bool {
    let mut files = read_dir_files(&fixtures().join("emit/db")).unwrap();
    let f = files.iter_mut().find(|f| f.path == file).unwrap();
    assert!(f.text.contains(from), "{file} lacks {from:?}");
    f.text = f.text.replacen(from, to, 1);
    load_files(&files).is_ok()
}

/// Whether the fixture lock's first target validates after `change`.
fn lock_accepts(change: impl FnOnce(&mut LockedTarget)) -> bool {
    let mut lock = Lock::read(&fixtures().join("emit/colab-cu112.lock")).unwrap();
    change(&mut lock.target[0]);
    lock.target[0].validate().is_ok()
}

#[test]
fn fixtures_pass_both_layers() {
    assert!(db_accepts("cuda.toml", "", ""));
    assert!(lock_accepts(|_| {}));
}

/// A breaker id becomes the lock's shim id: db check did not look at it.
#[test]
fn breaker_id_with_a_space() {
    let id = "numpy bool alias";
    let db = db_accepts("breakers.toml", "\"numpy-bool-alias\"", &format!("{id:?}"));
    let lock = lock_accepts(|t| {
        t.shim.push(LockedShim {
            id: id.into(),
            statements: vec!["numpy.bool = bool".into()],
            reason: "test".into(),
        })
    });
    assert_eq!((db, lock), (false, false));
}

/// A runtime kind with `!`: the lock's token allowed `!`, db check's not.
#[test]
fn kind_with_a_bang() {
    let db = db_accepts(
        "runtimes/colab-test.toml",
        "kind = \"colab\"",
        "kind = \"colab!\"",
    );
    let lock = lock_accepts(|t| t.kind = "colab!".into());
    assert_eq!((db, lock), (false, false));
}

/// A release version with a trailing space: PEP 440 allows the space, the
/// lock's version grammar does not (it ends up in requirements lines).
#[test]
fn version_with_a_trailing_space() {
    let db = db_accepts(
        "pypi/numpy.toml",
        "version = \"1.26.4\"",
        "version = \"1.26.4 \"",
    );
    let lock = lock_accepts(|t| t.numpy.version = "1.26.4 ".into());
    assert_eq!((db, lock), (false, false));
}

/// A 230-byte wheel filename: db check allowed 255 bytes, the lock 200.
#[test]
fn long_wheel_filename() {
    let long = format!(
        "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.{}.whl",
        "x".repeat(230 - 51)
    );
    assert_eq!(long.len(), 230);
    let db = db_accepts(
        "pypi/numpy.toml",
        "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        &long,
    );
    let lock = lock_accepts(|t| {
        let numpy = t.package.iter_mut().find(|p| p.name == "numpy").unwrap();
        numpy.filename = long.clone();
    });
    assert_eq!((db, lock), (true, true));
}
