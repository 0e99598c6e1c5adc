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
    #[error("{program}: exited with {code}{}", if .stderr.is_empty() { String::new() } else { format!(": {}", crate::validate::shown(.stderr, MAX_SHOWN)) })]
    Failed {
        program: String,
        code: String,
        stdout: String,
        stderr: String,
    },
    #[error(
        "{program}: printed more than {limit} bytes on {stream} (killed; output not read further)"
    )]
    TooMuchOutput {
        program: String,
        stream: &'static str,
        limit: usize,
    },
    #[error("{what}: panicked: {message}")]
    Panicked { what: String, message: String },
}

/// The most characters of a command's output an error message quotes.
pub const MAX_SHOWN: usize = 2000;

/// The most a command may print on each of stdout and stderr: the probes'
/// tools (nvcc, nvidia-smi, python3) print kilobytes; one that prints more
/// is killed and the fact marked failed.
pub const MAX_OUTPUT: usize = 4 << 20;

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
    let name = program.display().to_string();
    let mut child = spawn(program, args, env, &name)?;
    let mut streams = Streams::read(&mut child, name.clone());
    let deadline = Instant::now() + timeout;
    let status = wait(&mut child, &mut streams, deadline, &name, timeout)?;
    streams.finish(deadline)?;
    let (stdout, stderr) = (
        streams.stdout.unwrap_or_default(),
        streams.stderr.unwrap_or_default(),
    );
    if status.success() {
        return Ok(Output { stdout, stderr });
    }
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

/// Start the child in its own process group (so a kill takes its children
/// too), stdin closed, both streams piped.
fn spawn(
    program: &Path,
    args: &[&str],
    env: &[(String, String)],
    name: &str,
) -> Result<std::process::Child, ExecError> {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ExecError::NotFound(name.to_string())
        } else {
            ExecError::Spawn {
                program: name.to_string(),
                message: e.to_string(),
            }
        }
    })
}

/// The child's two streams, each read on its own thread (a full pipe must
/// not block the child) up to [`MAX_OUTPUT`]; a grandchild may keep a pipe
/// open after a kill, so the readers are never joined.
struct Streams {
    program: String,
    /// (is stdout, the text; None when it went over the cap).
    rx: mpsc::Receiver<(bool, Option<String>)>,
    got: usize,
    stdout: Option<String>,
    stderr: Option<String>,
}

impl Streams {
    fn read(child: &mut std::process::Child, program: String) -> Self {
        let (tx, rx) = mpsc::channel();
        let pipes: [(bool, Option<Box<dyn Read + Send>>); 2] = [
            (true, child.stdout.take().map(|p| Box::new(p) as _)),
            (false, child.stderr.take().map(|p| Box::new(p) as _)),
        ];
        for (is_out, pipe) in pipes {
            let tx = tx.clone();
            if let Some(p) = pipe {
                std::thread::spawn(move || {
                    // At most MAX_OUTPUT + 1 bytes: one more means too much.
                    let mut buf = Vec::new();
                    let _ = p.take(MAX_OUTPUT as u64 + 1).read_to_end(&mut buf);
                    let text = (buf.len() <= MAX_OUTPUT)
                        .then(|| String::from_utf8_lossy(&buf).into_owned());
                    let _ = tx.send((is_out, text));
                });
            }
        }
        Streams {
            program,
            rx,
            got: 0,
            stdout: None,
            stderr: None,
        }
    }

    /// Keep one stream's text; a stream over the cap is an error.
    fn take(&mut self, (is_out, text): (bool, Option<String>)) -> Result<(), ExecError> {
        self.got += 1;
        match text {
            Some(t) if is_out => self.stdout = Some(t),
            Some(t) => self.stderr = Some(t),
            None => {
                return Err(ExecError::TooMuchOutput {
                    program: self.program.clone(),
                    stream: if is_out { "stdout" } else { "stderr" },
                    limit: MAX_OUTPUT,
                })
            }
        }
        Ok(())
    }

    /// After the child exited: the streams still unread, until the deadline
    /// (at least 50 ms more).
    fn finish(&mut self, deadline: Instant) -> Result<(), ExecError> {
        while self.got < 2 {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(50));
            match self.rx.recv_timeout(left) {
                Ok(m) => self.take(m)?,
                Err(_) => break,
            }
        }
        Ok(())
    }
}

/// Wait for the child to exit by `deadline`, killing its group when a
/// stream goes over the cap or time runs out.
fn wait(
    child: &mut std::process::Child,
    streams: &mut Streams,
    deadline: Instant,
    name: &str,
    timeout: Duration,
) -> Result<std::process::ExitStatus, ExecError> {
    let mut nap = Duration::from_millis(1);
    loop {
        while let Ok(m) = streams.rx.try_recv() {
            if let Err(e) = streams.take(m) {
                kill_group(child);
                return Err(e);
            }
        }
        match child.try_wait() {
            Ok(Some(st)) => return Ok(st),
            Ok(None) => {}
            Err(e) => {
                kill_group(child);
                return Err(ExecError::Spawn {
                    program: name.to_string(),
                    message: e.to_string(),
                });
            }
        }
        let now = Instant::now();
        if now >= deadline {
            kill_group(child);
            return Err(ExecError::Timeout {
                program: name.to_string(),
                secs: timeout.as_secs_f64(),
            });
        }
        std::thread::sleep(nap.min(deadline - now));
        nap = (nap * 2).min(Duration::from_millis(20));
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
            message: super::panic_message(p.as_ref()),
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

/// The most read of one file under the sysroot (a driver version file, an
/// ld.so.conf, a cuDNN header): they are kilobytes.
pub const MAX_SYS_FILE: u64 = 1 << 20;

/// How long one sysroot file read may take when no probe timeout applies.
pub const SYS_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Read a file under the sysroot, bounded in size ([`MAX_SYS_FILE`]) and
/// time (off the calling thread): a FIFO, /dev/zero or a hung mount is an
/// error, never a hang or a 2 GB read.
pub fn read_sys(path: &Path, timeout: Duration) -> std::io::Result<String> {
    crate::fsutil::read_bounded(path, MAX_SYS_FILE, timeout)
}

/// `name` on a PATH string, found as a shell finds a command: a name with
/// a `/` is that path (relative to the working directory); otherwise the
/// first entry of `path` that holds an executable regular file by that name
/// (an empty entry is the working directory).
pub fn which_in(name: &str, path: Option<&str>) -> Option<PathBuf> {
    let cwd = || std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    if name.is_empty() {
        return None;
    }
    if name.contains('/') {
        let p = cwd().join(name);
        return is_executable(&p).then_some(p);
    }
    path?.split(':').find_map(|dir| {
        let p = if dir.is_empty() {
            cwd().join(name)
        } else {
            Path::new(dir).join(name)
        };
        is_executable(&p).then_some(p)
    })
}

/// A regular file (after links) with an execute bit.
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_in_finds_the_first_executable_file_on_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(a.join("sub")).unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(a.join("tool"), "").unwrap(); // not executable
        std::fs::create_dir(a.join("dir")).unwrap();
        for f in [b.join("tool"), b.join("dir")] {
            std::fs::write(&f, "").unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let path = format!("{}::{}", a.display(), b.display());
        assert_eq!(which_in("tool", Some(&path)), Some(b.join("tool")));
        assert_eq!(which_in("dir", Some(&path)), Some(b.join("dir")));
        assert_eq!(which_in("missing", Some(&path)), None);
        assert_eq!(which_in("tool", None), None);
        assert_eq!(which_in("", Some(&path)), None);
        let abs = b.join("tool");
        assert_eq!(which_in(abs.to_str().unwrap(), None), Some(abs));
        assert_eq!(which_in(a.join("tool").to_str().unwrap(), None), None);
    }

    #[test]
    fn hung_command_is_killed_in_time() {
        let t = Instant::now();
        let r = run(
            Path::new("/bin/sh"),
            &["-c", "sleep 600"],
            &[],
            Duration::from_millis(300),
        );
        assert!(matches!(r, Err(ExecError::Timeout { .. })), "{r:?}");
        // Killed, not awaited: far below the child's 600 s, with room for a
        // loaded CI machine (no tight wall-clock bound).
        assert!(t.elapsed() < Duration::from_secs(120));
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
    fn endless_output_is_capped_and_killed() {
        // D8: a tool printing forever took 3.8 GB in 5 s.
        let r = run(
            Path::new("/bin/sh"),
            &["-c", "yes nvcc"],
            &[],
            Duration::from_secs(30),
        );
        assert!(
            matches!(
                r,
                Err(ExecError::TooMuchOutput {
                    stream: "stdout",
                    ..
                })
            ),
            "{r:?}"
        );
        // The variant proves the cap stopped it, not the 30 s timeout.
        let r = run(
            Path::new("/bin/sh"),
            &["-c", "yes err >&2"],
            &[],
            Duration::from_secs(30),
        );
        assert!(
            matches!(
                r,
                Err(ExecError::TooMuchOutput {
                    stream: "stderr",
                    ..
                })
            ),
            "{r:?}"
        );
    }

    #[test]
    fn sysroot_reads_are_bounded() {
        // D10: a FIFO hung the probe; a link to /dev/zero read 2 GB.
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("version");
        let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(st.success());
        let t = Instant::now();
        assert!(read_sys(&fifo, Duration::from_secs(2)).is_err());
        assert!(read_sys(Path::new("/dev/zero"), Duration::from_secs(2)).is_err());
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; MAX_SYS_FILE as usize + 1]).unwrap();
        let e = read_sys(&big, Duration::from_secs(2)).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(read_sys(&zero, Duration::from_secs(2)).is_err());
        // A FIFO without a writer blocks forever: any bound shows the cut.
        assert!(t.elapsed() < Duration::from_secs(120));
        std::fs::write(dir.path().join("ok"), "NVRM 580.82.07\n").unwrap();
        assert_eq!(
            read_sys(&dir.path().join("ok"), Duration::from_secs(2)).unwrap(),
            "NVRM 580.82.07\n"
        );
    }

    #[test]
    fn thread_probe_timeout_and_panic() {
        let r = on_thread("sleepy", Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(2));
            1
        });
        assert!(matches!(r, Err(ExecError::Timeout { .. })));
        // Generous: with RUST_BACKTRACE set, the panic hook symbolicates a
        // backtrace first, which took over a second on a fresh CI machine.
        let r: Result<(), _> = on_thread("boom", Duration::from_secs(120), || panic!("no lib"));
        assert!(matches!(r, Err(ExecError::Panicked { message, .. }) if message == "no lib"));
    }
}
