//! Render the page in headless Chromium (Debian's `chromium` package): a
//! screenshot for README and the browser's DOM for tests, plus a small PNG
//! reader to tell a blank screenshot from a page.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one Chromium run may take.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The window `screenshot` renders into (README's screenshot).
pub const WINDOW: (u32, u32) = crate::generated::SCREENSHOT_WINDOW;

/// Why Chromium rendered nothing usable (`matrix` warns and goes on
/// without a screenshot; tests fail with it).
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// Temporary directories, output files, the working directory.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{}: {source}", .page.display())]
    Page {
        page: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", .chromium.display())]
    Spawn {
        chromium: PathBuf,
        source: std::io::Error,
    },
    #[error("{} did not finish within {secs}s", .chromium.display())]
    Timeout { chromium: PathBuf, secs: u64 },
    #[error("{} failed ({status}):\n{stderr}", .chromium.display())]
    Failed {
        chromium: PathBuf,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("{} wrote no screenshot at {}", .chromium.display(), .png.display())]
    NoScreenshot { chromium: PathBuf, png: PathBuf },
}

/// Why [`png_summary`] cannot read an image: not a PNG Chromium writes.
#[derive(Debug, thiserror::Error)]
pub enum PngError {
    #[error("not a PNG (signature)")]
    Signature,
    #[error("truncated PNG chunk")]
    TruncatedChunk,
    #[error("PNG without IHDR")]
    NoHeader,
    #[error("short IHDR")]
    ShortHeader,
    #[error("PNG colour type {0} not supported")]
    ColourType(u8),
    #[error("PNG bit depth {depth}, interlace {interlace} not supported")]
    Format { depth: u8, interlace: u8 },
    #[error("PNG data: {0}")]
    Data(#[source] std::io::Error),
    #[error("PNG data shorter than the image")]
    ShortData,
    #[error("PNG filter {0}")]
    Filter(u8),
}

/// `chromium` (Debian) or `chromium-browser` on PATH.
pub fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"]
        .iter()
        .find_map(|n| crate::host::exec::which_in(n, std::env::var("PATH").ok().as_deref()))
}

fn file_url(page: &Path) -> Result<String, BrowserError> {
    let abs = std::fs::canonicalize(page).map_err(|source| BrowserError::Page {
        page: page.to_path_buf(),
        source,
    })?;
    Ok(format!("file://{}", abs.display()))
}

/// Run Chromium headless on `page` with `extra` flags and its own profile
/// directory; no network, no first-run or background work. Returns stdout.
fn run(chromium: &Path, page: &Path, extra: &[String]) -> Result<String, BrowserError> {
    run_url(chromium, &file_url(page)?, extra)
}

fn run_url(chromium: &Path, url: &str, extra: &[String]) -> Result<String, BrowserError> {
    let profile = crate::fsutil::TempDir::new("gpu-env-chromium-")?;
    let out_dir = crate::fsutil::TempDir::new("gpu-env-chromium-")?;
    let stdout_path = out_dir.path().join("stdout");
    let stderr_path = out_dir.path().join("stderr");
    let stdout = std::fs::File::create(&stdout_path)?;
    let stderr = std::fs::File::create(&stderr_path)?;
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(url)
    .stdin(Stdio::null())
    .stdout(stdout)
    .stderr(stderr);
    let mut child = cmd.spawn().map_err(|source| BrowserError::Spawn {
        chromium: chromium.to_path_buf(),
        source,
    })?;
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BrowserError::Timeout {
                chromium: chromium.to_path_buf(),
                secs: TIMEOUT.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    if !status.success() {
        return Err(BrowserError::Failed {
            chromium: chromium.to_path_buf(),
            status,
            stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Screenshot of `page` (the top `WINDOW`) into `png`.
pub fn screenshot(chromium: &Path, page: &Path, png: &Path) -> Result<(), BrowserError> {
    let png_abs = if png.is_absolute() {
        png.to_path_buf()
    } else {
        std::env::current_dir()?.join(png)
    };
    let _ = std::fs::remove_file(&png_abs);
    run(
        chromium,
        page,
        &[
            format!("--screenshot={}", png_abs.display()),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
        ],
    )?;
    if !png_abs.is_file() {
        return Err(BrowserError::NoScreenshot {
            chromium: chromium.to_path_buf(),
            png: png_abs,
        });
    }
    Ok(())
}

/// The DOM of `page` as Chromium serializes it after loading.
pub fn dump_dom(chromium: &Path, page: &Path) -> Result<String, BrowserError> {
    run(chromium, page, &["--dump-dom".to_string()])
}

/// The DOM of `page` opened at `#fragment` (the chooser's choices), after
/// its script ran.
pub fn dump_dom_at(chromium: &Path, page: &Path, fragment: &str) -> Result<String, BrowserError> {
    let url = format!("{}#{fragment}", file_url(page)?);
    run_url(chromium, &url, &["--dump-dom".to_string()])
}

/// What a screenshot shows, enough to tell a page from a blank image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PngSummary {
    pub width: u32,
    pub height: u32,
    /// Distinct RGBA values.
    pub distinct: usize,
    /// Pixels that differ from the most common value.
    pub not_background: u64,
}

/// Decode a non-interlaced 8-bit PNG (grey, grey+alpha, RGB, RGBA; what
/// Chromium writes) and summarize its pixels.
pub fn png_summary(bytes: &[u8]) -> Result<PngSummary, PngError> {
    use std::io::Read;
    const SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
    let body = bytes.strip_prefix(SIG).ok_or(PngError::Signature)?;
    let (mut pos, mut ihdr, mut idat) = (0usize, None, Vec::new());
    while pos + 8 <= body.len() {
        let len = u32::from_be_bytes(body[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &body[pos + 4..pos + 8];
        let data = body
            .get(pos + 8..pos + 8 + len)
            .ok_or(PngError::TruncatedChunk)?;
        match kind {
            b"IHDR" => ihdr = Some(data.to_vec()),
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        pos += 12 + len;
    }
    let ihdr = ihdr.ok_or(PngError::NoHeader)?;
    if ihdr.len() < 13 {
        return Err(PngError::ShortHeader);
    }
    let width = u32::from_be_bytes(ihdr[0..4].try_into().unwrap());
    let height = u32::from_be_bytes(ihdr[4..8].try_into().unwrap());
    let (depth, color, interlace) = (ihdr[8], ihdr[9], ihdr[12]);
    let channels = match color {
        0 => 1,
        2 => 3,
        4 => 2,
        6 => 4,
        _ => return Err(PngError::ColourType(color)),
    };
    if depth != 8 || interlace != 0 {
        return Err(PngError::Format { depth, interlace });
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .map_err(PngError::Data)?;
    let stride = width as usize * channels;
    if raw.len() < (stride + 1) * height as usize {
        return Err(PngError::ShortData);
    }
    let mut prev = vec![0u8; stride];
    let mut cur = vec![0u8; stride];
    let mut counts: std::collections::HashMap<[u8; 4], u64> = Default::default();
    for y in 0..height as usize {
        let line = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        let (filter, data) = (line[0], &line[1..]);
        for i in 0..stride {
            let a = if i >= channels { cur[i - channels] } else { 0 };
            let b = prev[i];
            let c = if i >= channels { prev[i - channels] } else { 0 };
            let pred = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((a as u16 + b as u16) / 2) as u8,
                4 => {
                    let p = a as i16 + b as i16 - c as i16;
                    let (pa, pb, pc) = (
                        (p - a as i16).abs(),
                        (p - b as i16).abs(),
                        (p - c as i16).abs(),
                    );
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => return Err(PngError::Filter(f)),
            };
            cur[i] = data[i].wrapping_add(pred);
        }
        for px in cur.chunks(channels) {
            let v = match channels {
                1 => [px[0], px[0], px[0], 255],
                2 => [px[0], px[0], px[0], px[1]],
                3 => [px[0], px[1], px[2], 255],
                _ => [px[0], px[1], px[2], px[3]],
            };
            *counts.entry(v).or_default() += 1;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let total: u64 = counts.values().sum();
    let top = counts.values().copied().max().unwrap_or(0);
    Ok(PngSummary {
        width,
        height,
        distinct: counts.len(),
        not_background: total - top,
    })
}
