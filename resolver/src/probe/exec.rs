//! Run an external command or an in-process probe with a deadline. A hung
//! child is killed (with its process group); a hung library call is left on
//! its own thread and no longer waited for.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecError {
    #[error("{0}: not found")]
    NotFound(String),
    #[error("{program}: could not start: {message}")]
    Spawn { program: String, message: String },
    #[error("{program}: no answer within {secs:.1} s (killed)")]
    Timeout { program: String, secs: f64 },
    #[error("{program}: exited with {code}{}", if .stderr.is_empty() { String::new() } else { format!(": {}", .stderr) })]
    Failed {
        program: String,
        code: String,
        stdout: String,
        stderr: String,
    },
    #[error("{what}: panicked: {message}")]
    Panicked { what: String, message: String },
}

/// What a command printed, when it exited with status 0.
#[derive(Debug, Clone)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

/// Run `program args...` with `timeout`; stdin is closed. Exit status other
/// than 0 is `Failed` (carrying both streams); no answer in time kills the
/// child's whole process group and is `Timeout`.
pub fn run(
    program: &Path,
    args: &[&str],
    env: &[(String, String)],
    timeout: Duration,
) -> Result<Output, ExecError> {
    use std::os::unix::process::CommandExt;
    let name = program.display().to_string();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ExecError::NotFound(name.clone())
        } else {
            ExecError::Spawn {
                program: name.clone(),
                message: e.to_string(),
            }
        }
    })?;
    // Readers on their own threads (a full pipe must not block the child);
    // a grandchild may keep a pipe open after a kill, so they are never joined.
    let (tx, rx) = mpsc::channel::<(bool, String)>();
    for (is_out, pipe) in [
        (
            true,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
        (
            false,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
    ] {
        let tx = tx.clone();
        if let Some(mut p) = pipe {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = p.read_to_end(&mut buf);
                let _ = tx.send((is_out, String::from_utf8_lossy(&buf).into_owned()));
            });
        }
    }
    drop(tx);
    let start = Instant::now();
    let deadline = start + timeout;
    let mut nap = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => {
                kill_group(&mut child);
                return Err(ExecError::Spawn {
                    program: name,
                    message: e.to_string(),
                });
            }
        }
        let now = Instant::now();
        if now >= deadline {
            kill_group(&mut child);
            return Err(ExecError::Timeout {
                program: name,
                secs: timeout.as_secs_f64(),
            });
        }
        std::thread::sleep(nap.min(deadline - now));
        nap = (nap * 2).min(Duration::from_millis(20));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    for _ in 0..2 {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(50));
        match rx.recv_timeout(left) {
            Ok((true, s)) => stdout = s,
            Ok((false, s)) => stderr = s,
            Err(_) => break,
        }
    }
    if status.success() {
        Ok(Output { stdout, stderr })
    } else {
        let code = status
            .code()
            .map(|c| format!("status {c}"))
            .unwrap_or_else(|| "a signal".to_string());
        Err(ExecError::Failed {
            program: name,
            code,
            stdout,
            stderr: stderr.trim().to_string(),
        })
    }
}

fn kill_group(child: &mut std::process::Child) {
    // The child leads its own process group (process_group(0)): take down
    // whatever it started too (a shell script's `sleep`).
    let pgid = child.id();
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// Run an in-process probe (a library load and call) on its own thread;
/// stop waiting after `timeout` (the thread is then left behind) and turn a
/// panic into an error.
pub fn on_thread<T: Send + 'static>(
    what: &str,
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ExecError> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("probe {what}"))
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        });
    if let Err(e) = spawned {
        return Err(ExecError::Spawn {
            program: what.to_string(),
            message: e.to_string(),
        });
    }
    match rx.recv_timeout(timeout) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(p)) => Err(ExecError::Panicked {
            what: what.to_string(),
            message: p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into()),
        }),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(ExecError::Timeout {
            program: what.to_string(),
            secs: timeout.as_secs_f64(),
        }),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(ExecError::Panicked {
            what: what.to_string(),
            message: "probe thread ended without an answer".into(),
        }),
    }
}

/// `name` on a PATH string (the `which` crate).
pub fn which_in(name: &str, path: Option<&str>) -> Option<PathBuf> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    which::which_in(name, path, cwd).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hung_command_is_killed_in_time() {
        let t = Instant::now();
        let r = run(
            Path::new("/bin/sh"),
            &["-c", "sleep 30"],
            &[],
            Duration::from_millis(300),
        );
        assert!(matches!(r, Err(ExecError::Timeout { .. })), "{r:?}");
        assert!(t.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn output_and_failure() {
        let o = run(
            Path::new("/bin/sh"),
            &["-c", "echo hi"],
            &[],
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(o.stdout, "hi\n");
        let e = run(
            Path::new("/bin/sh"),
            &["-c", "echo bad >&2; exit 2"],
            &[],
            Duration::from_secs(5),
        );
        assert!(
            matches!(&e, Err(ExecError::Failed { stderr, .. }) if stderr == "bad"),
            "{e:?}"
        );
        let e = run(
            Path::new("/nonexistent/x"),
            &[],
            &[],
            Duration::from_secs(5),
        );
        assert!(matches!(e, Err(ExecError::NotFound(_))));
    }

    #[test]
    fn thread_probe_timeout_and_panic() {
        let r = on_thread("sleepy", Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(2));
            1
        });
        assert!(matches!(r, Err(ExecError::Timeout { .. })));
        let r: Result<(), _> = on_thread("boom", Duration::from_secs(1), || panic!("no lib"));
        assert!(matches!(r, Err(ExecError::Panicked { message, .. }) if message == "no lib"));
    }
}
