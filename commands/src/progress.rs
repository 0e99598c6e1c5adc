//! Progress of gpu-env's long steps (downloads, `db ingest`, `install`):
//! bytes, rate and ETA. On a terminal one line redrawn in place, at most
//! ten times a second; otherwise (a log, CI, a pipe) plain lines, one per
//! `step` percent, so a log stays short and still shows movement.
//!
//! The arithmetic and the text are pure functions of (bytes done, bytes in
//! all, time elapsed); [`Progress`] only decides when to print them.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Bytes per second over the whole step so far; None until time has
/// passed and some bytes arrived.
pub fn rate(done: u64, elapsed: Duration) -> Option<f64> {
    let secs = elapsed.as_secs_f64();
    (secs > 0.0 && done > 0).then(|| done as f64 / secs)
}

/// Time left at the average rate so far: zero once `done` reaches
/// `total`, None while the rate is unknown.
pub fn eta(done: u64, total: u64, elapsed: Duration) -> Option<Duration> {
    if done >= total {
        return Some(Duration::ZERO);
    }
    let r = rate(done, elapsed)?;
    let secs = (total - done) as f64 / r;
    // A rate of a few bytes a second over a large total: no useful bound.
    (secs < 1e9).then(|| Duration::from_secs_f64(secs.ceil()))
}

/// A byte count in decimal units, as PyPI and pip show sizes:
/// `950 B`, `12.3 kB`, `499.4 MB`, `2.10 GB`.
pub fn bytes(n: u64) -> String {
    let f = n as f64;
    if n < 1000 {
        format!("{n} B")
    } else if n < 1_000_000 {
        format!("{:.1} kB", f / 1e3)
    } else if n < 1_000_000_000 {
        format!("{:.1} MB", f / 1e6)
    } else {
        format!("{:.2} GB", f / 1e9)
    }
}

/// A duration to the second: `7 s`, `3 min 05 s`, `2 h 04 min`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{} h {:02} min", s / 3600, s % 3600 / 60)
    }
}

/// `120.0 MB of 456.0 MB (26%), 17.0 MB/s, ETA 20 s`; the rate and ETA
/// read `?` until they are known, and a step of unknown size shows bytes
/// and rate alone.
pub fn status(done: u64, total: u64, elapsed: Duration) -> String {
    let r = rate(done, elapsed).map_or_else(|| "?".into(), |r| format!("{}/s", bytes(r as u64)));
    if total == 0 {
        return format!("{}, {r}", bytes(done));
    }
    let pct = done.min(total).saturating_mul(100) / total;
    let left = eta(done, total, elapsed).map_or_else(|| "?".into(), duration);
    format!(
        "{} of {} ({pct}%), {r}, ETA {left}",
        bytes(done),
        bytes(total)
    )
}

/// The terminal's line: `label [#####.....] ` then [`status`].
pub fn bar(label: &str, done: u64, total: u64, elapsed: Duration) -> String {
    const WIDTH: u64 = 24;
    let filled = done.min(total).saturating_mul(WIDTH) / total.max(1);
    let bar: String = (0..WIDTH)
        .map(|i| if i < filled { '#' } else { '.' })
        .collect();
    format!("{label} [{bar}] {}", status(done, total, elapsed))
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One line redrawn in place (stderr is a terminal).
    Terminal,
    /// A plain line every `step` percent (and at the end).
    Lines { step: u64 },
}

/// The plain-line step when stderr is not a terminal.
pub const LINE_STEP_PERCENT: u64 = 10;

/// How often the terminal line is redrawn at most.
const REDRAW: Duration = Duration::from_millis(100);

/// One step's progress on stderr.
pub struct Progress {
    label: String,
    total: u64,
    mode: Mode,
    start: Instant,
    /// When the terminal line was last drawn.
    drawn: Option<Duration>,
    /// The last percent step a plain line was printed for.
    line_step: Option<u64>,
}

impl Progress {
    /// Progress of `total` bytes (0: unknown) named `label`, drawn as a
    /// bar when stderr is a terminal, else in plain lines.
    pub fn new(label: impl Into<String>, total: u64) -> Progress {
        let mode = if std::io::stderr().is_terminal() {
            Mode::Terminal
        } else {
            Mode::Lines {
                step: LINE_STEP_PERCENT,
            }
        };
        Progress::with_mode(label, total, mode)
    }

    pub fn with_mode(label: impl Into<String>, total: u64, mode: Mode) -> Progress {
        Progress {
            label: label.into(),
            total,
            mode,
            start: Instant::now(),
            drawn: None,
            line_step: None,
        }
    }

    /// What to print on stderr for `done` bytes after `elapsed`, if
    /// anything: a redraw (`\r` ... erase to the line's end) on a
    /// terminal, a whole line otherwise.
    pub fn due(&mut self, done: u64, elapsed: Duration) -> Option<String> {
        match self.mode {
            Mode::Terminal => {
                if self.drawn.is_some_and(|t| elapsed < t + REDRAW) {
                    return None;
                }
                self.drawn = Some(elapsed);
                Some(format!(
                    "\r{}\x1b[K",
                    bar(&self.label, done, self.total, elapsed)
                ))
            }
            Mode::Lines { step } => {
                let pct = (done.min(self.total).saturating_mul(100))
                    .checked_div(self.total)
                    .unwrap_or(0);
                let at = pct / step.max(1);
                if self.line_step.is_some_and(|s| s >= at) {
                    return None;
                }
                self.line_step = Some(at);
                Some(format!(
                    "{} {}\n",
                    self.label,
                    status(done, self.total, elapsed)
                ))
            }
        }
    }

    /// The text that ends the step: the last state, then a newline on a
    /// terminal; a last line unless one was printed for 100%.
    pub fn end(&mut self, done: u64, elapsed: Duration) -> Option<String> {
        match self.mode {
            Mode::Terminal => Some(format!(
                "\r{}\x1b[K\n",
                bar(&self.label, done, self.total, elapsed)
            )),
            Mode::Lines { .. } => self.due(done, elapsed),
        }
    }

    /// Report `done` bytes now.
    pub fn update(&mut self, done: u64) {
        if let Some(s) = self.due(done, self.start.elapsed()) {
            emit(&s);
        }
    }

    /// End the step at `done` bytes.
    pub fn finish(&mut self, done: u64) {
        if let Some(s) = self.end(done, self.start.elapsed()) {
            emit(&s);
        }
    }
}

/// Progress over files another program (pip) fetches one after another,
/// read from the lines it prints: pip's `Collecting NAME@ URL` line names a
/// file when it starts it, so the files before it are done.
pub struct Files {
    /// (file name, bytes), in the order they are fetched.
    files: Vec<(String, u64)>,
    next: usize,
}

impl Files {
    pub fn new(files: Vec<(String, u64)>) -> Files {
        Files { files, next: 0 }
    }

    /// The line to show when `line` starts one of the files, `elapsed`
    /// after the first began: `[2/10] NAME (699.9 MB); ` then [`status`]
    /// of the bytes before it.
    pub fn on_line(&mut self, line: &str, elapsed: Duration) -> Option<String> {
        if !line.starts_with("Collecting ") {
            return None;
        }
        let k = self.next
            + self.files[self.next..]
                .iter()
                .position(|(f, _)| line.contains(f.as_str()))?;
        self.next = k + 1;
        let done: u64 = self.files[..k].iter().map(|f| f.1).sum();
        let total: u64 = self.files.iter().map(|f| f.1).sum();
        let (name, size) = &self.files[k];
        Some(format!(
            "[{}/{}] {name} ({}); {}",
            k + 1,
            self.files.len(),
            bytes(*size),
            status(done, total, elapsed)
        ))
    }
}

fn emit(s: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(s.as_bytes());
    let _ = e.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn eta_is_the_rest_at_the_average_rate() {
        // 100 MB of 400 MB in 10 s: 10 MB/s, 30 s left.
        assert_eq!(rate(100_000_000, S(10)), Some(10_000_000.0));
        assert_eq!(eta(100_000_000, 400_000_000, S(10)), Some(S(30)));
        // Rounded up: 1 byte left at 3 bytes/s is a second, not zero.
        assert_eq!(eta(3, 4, S(1)), Some(S(1)));
        assert_eq!(eta(400, 400, S(0)), Some(Duration::ZERO));
        assert_eq!(eta(500, 400, S(2)), Some(Duration::ZERO));
        // Nothing yet, or no time yet: unknown, never a division by zero.
        assert_eq!(eta(0, 400, S(5)), None);
        assert_eq!(eta(10, 400, Duration::ZERO), None);
        assert_eq!(rate(0, S(5)), None);
        // A trickle over a huge total has no useful bound.
        assert_eq!(eta(1, u64::MAX, S(100_000)), None);
    }

    #[test]
    fn units() {
        assert_eq!(bytes(950), "950 B");
        assert_eq!(bytes(12_345), "12.3 kB");
        assert_eq!(bytes(499_412_345), "499.4 MB");
        assert_eq!(bytes(2_100_000_000), "2.10 GB");
        assert_eq!(duration(S(7)), "7 s");
        assert_eq!(duration(S(185)), "3 min 05 s");
        assert_eq!(duration(S(7440)), "2 h 04 min");
    }

    #[test]
    fn status_and_bar() {
        assert_eq!(
            status(120_000_000, 480_000_000, S(6)),
            "120.0 MB of 480.0 MB (25%), 20.0 MB/s, ETA 18 s"
        );
        assert_eq!(
            status(0, 480_000_000, S(0)),
            "0 B of 480.0 MB (0%), ?, ETA ?"
        );
        assert_eq!(status(5_000, 0, S(1)), "5.0 kB, 5.0 kB/s");
        assert_eq!(
            bar("x.whl", 50, 100, S(1)),
            "x.whl [############............] 50 B of 100 B (50%), 50 B/s, ETA 1 s"
        );
        // Sizes near the integer limit (a hostile answer) never overflow.
        assert!(bar("x", u64::MAX, u64::MAX, S(1)).starts_with("x [#"));
        // More than the total (a server sending too much) stays a full bar.
        assert!(bar("x", 200, 100, S(1)).contains("[########################] "));
    }

    /// Plain lines: the first call, then one per crossed 10% step, never
    /// two for the same step, and a last line only if 100% was not shown.
    #[test]
    fn plain_lines_every_step() {
        let mut p = Progress::with_mode("w.whl", 1000, Mode::Lines { step: 10 });
        let mut out = Vec::new();
        for (done, t) in [
            (0, 0),
            (50, 1),
            (99, 2),
            (100, 3),
            (150, 4),
            (420, 5),
            (999, 6),
        ] {
            out.extend(p.due(done, S(t)));
        }
        out.extend(p.end(1000, S(7)));
        assert_eq!(
            out,
            [
                "w.whl 0 B of 1.0 kB (0%), ?, ETA ?\n",
                "w.whl 100 B of 1.0 kB (10%), 33 B/s, ETA 27 s\n",
                "w.whl 420 B of 1.0 kB (42%), 84 B/s, ETA 7 s\n",
                "w.whl 999 B of 1.0 kB (99%), 166 B/s, ETA 1 s\n",
                "w.whl 1.0 kB of 1.0 kB (100%), 142 B/s, ETA 0 s\n",
            ]
        );
        // 100% already printed: the end adds nothing.
        let mut p = Progress::with_mode("w", 10, Mode::Lines { step: 10 });
        assert!(p.due(10, S(1)).is_some());
        assert_eq!(p.end(10, S(1)), None);
    }

    /// pip's own lines (pip 23.2.1, `pip install --no-deps --require-hashes
    /// -r req.txt --target DIR` of two `name @ url --hash` requirements)
    /// mark where each file starts.
    #[test]
    fn files_from_pip_lines() {
        const PIP: &str = "Collecting six@ https://files.pythonhosted.org/packages/d9/5a/e7c31adbe875f2abbb91bd84cf2dc52d792b5a01506781dbcf25c91daf11/six-1.16.0-py2.py3-none-any.whl (from -r /tmp/pipreq.txt (line 1))
  Downloading six-1.16.0-py2.py3-none-any.whl (11 kB)
Collecting idna@ https://files.pythonhosted.org/packages/e5/3e/741d8c82801c347547f8a2a06aa57dbb1992be9e948df2ea0eda2c8b79e8/idna-3.7-py3-none-any.whl (from -r /tmp/pipreq.txt (line 2))
  Downloading idna-3.7-py3-none-any.whl (66 kB)
Installing collected packages: six, idna
Successfully installed idna-3.7 six-1.16.0";
        let mut f = Files::new(vec![
            ("six-1.16.0-py2.py3-none-any.whl".into(), 10_000),
            ("idna-3.7-py3-none-any.whl".into(), 30_000),
        ]);
        let shown: Vec<String> = PIP
            .lines()
            .enumerate()
            .filter_map(|(i, l)| f.on_line(l, S(i as u64)))
            .collect();
        assert_eq!(
            shown,
            [
                "[1/2] six-1.16.0-py2.py3-none-any.whl (10.0 kB); 0 B of 40.0 kB (0%), ?, ETA ?",
                "[2/2] idna-3.7-py3-none-any.whl (30.0 kB); 10.0 kB of 40.0 kB (25%), 5.0 kB/s, ETA 6 s",
            ]
        );
    }

    /// The terminal line redraws in place, at most every 100 ms, and the
    /// end always draws and closes the line.
    #[test]
    fn terminal_redraws_in_place() {
        let mut p = Progress::with_mode("w", 100, Mode::Terminal);
        let ms = Duration::from_millis;
        let first = p.due(10, ms(0)).expect("first draw");
        assert!(first.starts_with("\rw [##") && first.ends_with("\x1b[K"));
        assert_eq!(p.due(20, ms(50)), None, "within 100 ms of the last draw");
        assert!(p.due(30, ms(100)).is_some());
        let end = p.end(100, ms(120)).expect("end");
        assert!(end.ends_with("\x1b[K\n") && end.contains("(100%)"));
    }
}
