//! PyPI's JSON API (`/pypi/NAME/json`) and file downloads. The base URL is
//! `https://pypi.org` unless `GPU_ENV_PYPI_URL` points elsewhere (tests serve
//! recorded responses from 127.0.0.1).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::Duration;

pub const DEFAULT_BASE: &str = "https://pypi.org";

pub fn base_url() -> String {
    std::env::var("GPU_ENV_PYPI_URL").unwrap_or_else(|_| DEFAULT_BASE.to_string())
}

#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    pub releases: BTreeMap<String, Vec<File>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct File {
    pub filename: String,
    pub url: String,
    pub digests: Digests,
    pub size: u64,
    #[serde(default)]
    pub requires_python: Option<String>,
    #[serde(default)]
    pub yanked: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Digests {
    pub sha256: String,
}

impl Project {
    pub fn file(&self, filename: &str) -> Option<(&str, &File)> {
        self.releases
            .iter()
            .flat_map(|(v, fs)| fs.iter().map(move |f| (v.as_str(), f)))
            .find(|(_, f)| f.filename == filename)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PypiError {
    #[error("GET {url}: {message}")]
    Network { url: String, message: String },
    #[error("GET {url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("GET {url}: response is not PyPI JSON: {message}")]
    Json { url: String, message: String },
    #[error("{url}: download truncated: got {got} bytes, expected {expected}")]
    Truncated {
        url: String,
        got: u64,
        expected: u64,
    },
    #[error("{url}: sha256 {got} does not match PyPI's {expected}")]
    Hash {
        url: String,
        got: String,
        expected: String,
    },
    #[error("writing download of {url}: {source}")]
    Io { url: String, source: std::io::Error },
    #[error("{url}: download stalled: no data for {secs} s after {got} bytes; retry, or check the network")]
    Stalled { url: String, secs: u64, got: u64 },
}

/// How long one PyPI JSON request may take (connect, answer and body).
pub const JSON_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest PyPI JSON answer read (mxnet's project page is ~2 MB).
pub const MAX_JSON: u64 = 64 << 20;
/// How long a download may go without receiving a byte: a stalled body
/// is an error after this, not after the client's 30-minute limit.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Client {
    http: reqwest::blocking::Client,
    base: String,
    retries: u32,
    json_timeout: Duration,
    stall_timeout: Duration,
}

impl Client {
    pub fn new() -> Self {
        Self::with_base(base_url())
    }

    pub fn with_base(base: String) -> Self {
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(30 * 60))
            .user_agent(concat!("gpu-env/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("TLS backend initializes");
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            retries: 3,
            json_timeout: JSON_TIMEOUT,
            stall_timeout: STALL_TIMEOUT,
        }
    }

    /// How long a download may receive nothing (default [`STALL_TIMEOUT`]).
    pub fn with_stall_timeout(mut self, t: Duration) -> Self {
        self.stall_timeout = t;
        self
    }

    /// The time limit of each JSON request (default [`JSON_TIMEOUT`]).
    pub fn with_json_timeout(mut self, t: Duration) -> Self {
        self.json_timeout = t;
        self
    }

    pub fn project_url(&self, name: &str) -> String {
        format!(
            "{}/pypi/{}/json",
            self.base,
            crate::pep440::normalize_name(name)
        )
    }

    /// GET with retries and exponential backoff on network errors and 5xx.
    /// `timeout`: this request's limit (a JSON call's; downloads keep the
    /// client's 30 minutes).
    fn get(
        &self,
        url: &str,
        timeout: Option<Duration>,
    ) -> Result<reqwest::blocking::Response, PypiError> {
        let mut delay = Duration::from_millis(300);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self.http.get(url);
            if let Some(t) = timeout {
                req = req.timeout(t);
            }
            let res = req.send();
            let retry = match &res {
                Ok(r) => r.status().is_server_error(),
                Err(e) => !e.is_builder(),
            };
            if retry && attempt < self.retries {
                std::thread::sleep(delay);
                delay *= 2;
                continue;
            }
            let r = res.map_err(|e| PypiError::Network {
                url: url.to_string(),
                message: error_chain(&e),
            })?;
            if !r.status().is_success() {
                return Err(PypiError::Status {
                    url: url.to_string(),
                    status: r.status().as_u16(),
                });
            }
            return Ok(r);
        }
    }

    /// A JSON or text answer: at most [`MAX_JSON`] bytes, within the JSON
    /// time limit (a server that accepts and never answers is an error).
    pub fn get_text(&self, url: &str) -> Result<String, PypiError> {
        let resp = self.get(url, Some(self.json_timeout))?;
        let mut buf = Vec::new();
        resp.take(MAX_JSON + 1)
            .read_to_end(&mut buf)
            .map_err(|e| PypiError::Network {
                url: url.to_string(),
                message: error_chain(&e),
            })?;
        if buf.len() as u64 > MAX_JSON {
            return Err(PypiError::Network {
                url: url.to_string(),
                message: format!("answer larger than {MAX_JSON} bytes; not read"),
            });
        }
        String::from_utf8(buf).map_err(|_| PypiError::Network {
            url: url.to_string(),
            message: "answer is not UTF-8".into(),
        })
    }

    pub fn project(&self, name: &str) -> Result<Project, PypiError> {
        let url = self.project_url(name);
        let text = self.get_text(&url)?;
        serde_json::from_str(&text).map_err(|e| PypiError::Json {
            url,
            message: e.to_string(),
        })
    }

    /// Download `url` into `dest`, checking size and sha256; progress on
    /// stderr ([`crate::progress`]: a bar on a terminal, else a line per
    /// 10%).
    pub fn download(
        &self,
        url: &str,
        dest: &mut std::fs::File,
        expected_size: u64,
        expected_sha256: &str,
    ) -> Result<(), PypiError> {
        use sha2::{Digest, Sha256};
        let io = |source| PypiError::Io {
            url: url.to_string(),
            source,
        };
        let chunks = body_chunks(self.get(url, None)?);
        let mut hasher = Sha256::new();
        let mut got = 0u64;
        let name = url.rsplit('/').next().unwrap_or(url);
        let mut progress = crate::progress::Progress::new(format!("  {name}"), expected_size);
        progress.update(0);
        loop {
            let buf = match chunks.recv_timeout(self.stall_timeout) {
                Ok(Some(b)) => b,
                // The end, or a body cut short (a read error): the size
                // check below reports truncation.
                Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    progress.finish(got);
                    return Err(PypiError::Stalled {
                        url: url.to_string(),
                        secs: self.stall_timeout.as_secs(),
                        got,
                    });
                }
            };
            let n = buf.len();
            hasher.update(&buf);
            dest.write_all(&buf).map_err(io)?;
            got += n as u64;
            if got > expected_size {
                // More than the declared size is never the file: stop.
                break;
            }
            progress.update(got);
        }
        progress.finish(got);
        if got != expected_size {
            return Err(PypiError::Truncated {
                url: url.to_string(),
                got,
                expected: expected_size,
            });
        }
        let sha = crate::fsutil::hex(&hasher.finalize());
        if sha != expected_sha256 {
            return Err(PypiError::Hash {
                url: url.to_string(),
                got: sha,
                expected: expected_sha256.to_string(),
            });
        }
        dest.flush().map_err(io)?;
        Ok(())
    }
}

/// The response body read on a thread of its own, in chunks of up to 1 MiB
/// (None at the end or on a read error), so the reader can stop waiting
/// for a stalled connection; the thread ends with the connection.
fn body_chunks(mut resp: reqwest::blocking::Response) -> mpsc::Receiver<Option<Vec<u8>>> {
    let (tx, rx) = mpsc::sync_channel(4);
    std::thread::spawn(move || {
        // One buffer, reused: a read returns what arrived (often KiB).
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match resp.read(&mut buf) {
                Ok(n) if n > 0 => {
                    if tx.send(Some(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                _ => {
                    let _ = tx.send(None);
                    return;
                }
            }
        }
    });
    rx
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Whether `path` looks like a URL rather than a file.
pub fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}
