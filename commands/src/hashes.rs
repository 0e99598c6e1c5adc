//! Pinning hashes against PyPI. compat-db carries the sha256 of every file
//! the solver can choose, so a resolve needs no network; `--verify-pypi`
//! cross-checks every pin against PyPI's JSON API (concurrently, with
//! retries and backoff, through an on-disk cache), and any pin whose hash the
//! database lacks is filled from there. `--offline` uses only the cache.

use crate::pypi::{self, Client, PypiError};
use crate::solve::Pin;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error(transparent)]
    Pypi(#[from] PypiError),
    #[error("--offline: no cached PyPI answer for {package} in {cache} (needed for {filename}); run once with network")]
    NotCached {
        package: String,
        filename: String,
        cache: PathBuf,
    },
    #[error("PyPI does not list {filename} under {package}; compat-db may be stale (run `cargo xtask db ingest`)")]
    Missing { package: String, filename: String },
    #[error("{filename}: compat-db sha256 {db} differs from PyPI's {pypi}; refusing to lock")]
    Mismatch {
        filename: String,
        db: String,
        pypi: String,
    },
    #[error("{filename} is yanked on PyPI")]
    Yanked { filename: String },
}

pub use crate::fsutil::cache_dir;

fn cached_project(
    client: &Client,
    cache: &Path,
    package: &str,
    offline: bool,
) -> Result<pypi::Project, HashError> {
    let file = cache
        .join("pypi")
        .join(format!("{}.json", crate::pep440::normalize_name(package)));
    if offline {
        let text = crate::fsutil::read_text(&file).map_err(|_| HashError::NotCached {
            package: package.into(),
            filename: String::new(),
            cache: file.clone(),
        })?;
        return serde_json::from_str(&text).map_err(|e| {
            HashError::Pypi(PypiError::Json {
                url: file.display().to_string(),
                message: e.to_string(),
            })
        });
    }
    let url = client.project_url(package);
    let text = client.get_text(&url)?;
    let project: pypi::Project = serde_json::from_str(&text).map_err(|e| PypiError::Json {
        url,
        message: e.to_string(),
    })?;
    // A cache write failure only costs a later offline run; not an error.
    let _ = crate::fsutil::write_atomic(&file, text.as_bytes());
    Ok(project)
}

/// Check (and fill) every package's sha256 against PyPI, one request per
/// project, all concurrently.
pub fn verify(
    client: &Client,
    cache: &Path,
    packages: &mut [Pin],
    offline: bool,
) -> Result<(), HashError> {
    let mut names: Vec<String> = packages.iter().map(|p| p.name.clone()).collect();
    names.sort();
    names.dedup();
    let projects: Vec<(String, Result<pypi::Project, HashError>)> = std::thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    s.spawn(|| cached_project(client, cache, n, offline)),
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|(n, h)| (n, h.join().expect("hash worker does not panic")))
            .collect()
    });
    let mut first_error = None;
    let mut found = std::collections::BTreeMap::new();
    for (n, r) in projects {
        match r {
            Ok(p) => {
                found.insert(n, p);
            }
            Err(HashError::NotCached { cache, package, .. }) => {
                let filename = packages
                    .iter()
                    .find(|p| p.name == package)
                    .map(|p| p.filename.clone())
                    .unwrap_or_default();
                first_error.get_or_insert(HashError::NotCached {
                    package,
                    filename,
                    cache,
                });
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    for p in packages.iter_mut() {
        let project = &found[&p.name];
        let (_, f) = project
            .file(&p.filename)
            .ok_or_else(|| HashError::Missing {
                package: p.name.clone(),
                filename: p.filename.clone(),
            })?;
        if f.yanked {
            return Err(HashError::Yanked {
                filename: p.filename.clone(),
            });
        }
        if p.sha256.is_empty() {
            p.sha256 = f.digests.sha256.clone();
            p.size = f.size;
        } else if p.sha256 != f.digests.sha256 {
            return Err(HashError::Mismatch {
                filename: p.filename.clone(),
                db: p.sha256.clone(),
                pypi: f.digests.sha256.clone(),
            });
        }
    }
    Ok(())
}
