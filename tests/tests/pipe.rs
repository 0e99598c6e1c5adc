//! A reader that stops early is not a crash: `cargo xtask db export --json
//! | head -1` ends quietly with status 0 (it panicked with 101).

use gpu_env_tests::xtask;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

#[test]
fn db_export_into_a_closed_pipe_exits_quietly() {
    let mut c = xtask!();
    let mut child = c
        .args(["db", "export", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first, "{\n");
    // The reader is gone (stdout dropped above); the rest of the export
    // meets a closed pipe.
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "quiet: {err}");
}

#[test]
fn shell_pipe_into_head_exits_zero() {
    let exe = xtask_exe();
    let out = std::process::Command::new("bash")
        .args([
            "-c",
            &format!(
                "set -o pipefail; '{}' db export --json | head -1",
                exe.display()
            ),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{\n");
    assert!(!err.contains("panicked"), "{err}");
}

/// The binary `xtask!()` runs (cargo built it for this test).
fn xtask_exe() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_gpu-env-xtask").into()
}
