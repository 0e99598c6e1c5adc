//! Lock format 3 stores GPUs as data (`[[target.gpu]]`: name and compute
//! capability) instead of text verify parsed back. An older lock is refused
//! with the command that rewrites it, and resolve may replace it.

use gpu_env::lock::{Lock, LockError, FORMAT};
use gpu_env_tests::workspace_root;

fn committed() -> String {
    std::fs::read_to_string(workspace_root().join("gpu-env.lock")).unwrap()
}

#[test]
fn the_lock_stores_gpus_as_name_and_compute_capability() {
    assert_eq!(FORMAT, 3);
    let lock = Lock::parse("gpu-env.lock", &committed()).unwrap();
    let t = &lock.target[0];
    assert!(
        !t.gpu.is_empty(),
        "the committed lock has no [[target.gpu]]"
    );
    assert_eq!(
        t.gpu_capabilities(),
        t.gpu
            .iter()
            .map(|g| g.compute_capability)
            .collect::<Vec<_>>()
    );
}

#[test]
fn an_older_lock_names_the_command_that_rewrites_it_and_may_be_replaced() {
    let old = committed().replacen("format = 3\n", "format = 2\n", 1);
    let err = Lock::parse("gpu-env.lock", &old).unwrap_err();
    assert!(matches!(err, LockError::Older { found: 2, .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("older gpu-env"), "{text}");
    assert!(text.contains("run `cargo xtask resolve`"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gpu-env.lock");
    std::fs::write(&path, old).unwrap();
    Lock::check_overwritable(&path).unwrap();
}
