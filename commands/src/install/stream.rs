//! Run a long command (pip) with a deadline, passing each output line on as
//! it comes and keeping only the last lines for the error message.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Lines of output kept for an error message.
const KEEP_LINES: usize = 60;
/// Longest line kept (pip prints long URLs; a binary blob must not fill memory).
const MAX_LINE: usize = 2000;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    #[error("{program}: could not start: {message}")]
    Spawn { program: String, message: String },
    #[error("{program}: no result within {secs} s (killed); its last output:\n{tail}")]
    Timeout {
        program: String,
        secs: u64,
        tail: String,
    },
    #[error("{program}: exited with {code}; its last output:\n{tail}")]
    Failed {
        program: String,
        code: String,
        tail: String,
    },
}

/// Run `program args...` (stdin closed, its own process group) until it
/// exits or `timeout` passes; `line` gets every stdout/stderr line.
pub(crate) fn run(
    program: &Path,
    args: &[String],
    timeout: Duration,
    line: &mut dyn FnMut(&str),
) -> Result<(), RunError> {
    use std::os::unix::process::CommandExt;
    let name = program.display().to_string();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| RunError::Spawn {
            program: name.clone(),
            message: e.to_string(),
        })?;
    let (tx, rx) = mpsc::channel::<String>();
    let pipes: [Option<Box<dyn Read + Send>>; 2] = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ];
    for pipe in pipes.into_iter().flatten() {
        let tx = tx.clone();
        // Never joined: a grandchild may hold the pipe open after a kill.
        std::thread::spawn(move || {
            let mut r = BufReader::new(pipe);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        buf.truncate(MAX_LINE);
                        let s = String::from_utf8_lossy(&buf);
                        if tx.send(s.trim_end().to_string()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
    drop(tx);
    let mut tail: VecDeque<String> = VecDeque::new();
    let mut keep = |s: String, line: &mut dyn FnMut(&str)| {
        line(&s);
        if tail.len() == KEEP_LINES {
            tail.pop_front();
        }
        tail.push_back(s);
    };
    let deadline = Instant::now() + timeout;
    let status = loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(s) => {
                keep(s, line);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {}
        }
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => {
                kill_group(&mut child);
                return Err(RunError::Spawn {
                    program: name,
                    message: e.to_string(),
                });
            }
        }
        if Instant::now() >= deadline {
            kill_group(&mut child);
            return Err(RunError::Timeout {
                program: name,
                secs: timeout.as_secs(),
                tail: Vec::from(tail).join("\n"),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // What is still in the pipes (bounded wait: a grandchild may keep them open).
    let drain_until = Instant::now() + Duration::from_secs(2);
    while let Ok(s) = rx.recv_timeout(drain_until.saturating_duration_since(Instant::now())) {
        keep(s, line);
    }
    if status.success() {
        Ok(())
    } else {
        Err(RunError::Failed {
            program: name,
            code: status
                .code()
                .map(|c| format!("status {c}"))
                .unwrap_or_else(|| "a signal".into()),
            tail: Vec::from(tail).join("\n"),
        })
    }
}

fn kill_group(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_lines_keeps_tail_and_kills_on_timeout() {
        let mut seen = Vec::new();
        let sh = Path::new("/bin/sh");
        run(
            sh,
            &["-c".into(), "echo one; echo two >&2".into()],
            Duration::from_secs(10),
            &mut |l| seen.push(l.to_string()),
        )
        .unwrap();
        seen.sort();
        assert_eq!(seen, ["one", "two"]);
        let e = run(
            sh,
            &[
                "-c".into(),
                "for i in $(seq 100); do echo l$i; done; exit 3".into(),
            ],
            Duration::from_secs(10),
            &mut |_| {},
        )
        .unwrap_err();
        match e {
            RunError::Failed { code, tail, .. } => {
                assert_eq!(code, "status 3");
                assert_eq!(tail.lines().count(), KEEP_LINES);
                assert!(tail.ends_with("l100"), "{tail}");
            }
            e => panic!("{e:?}"),
        }
        let t = Instant::now();
        let e = run(
            sh,
            &["-c".into(), "echo started; sleep 600".into()],
            Duration::from_millis(500),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(
            matches!(&e, RunError::Timeout { tail, .. } if tail == "started"),
            "{e:?}"
        );
        // Killed, not awaited (the child sleeps 600 s); loose for loaded CI.
        assert!(t.elapsed() < Duration::from_secs(120));
    }
}
