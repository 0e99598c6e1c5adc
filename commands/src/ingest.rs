//! `db ingest`: download (or open) an MXNet wheel, check it against PyPI,
//! measure it, and write its compat-db record atomically. Nothing is written
//! unless every step succeeded; downloads are temporary files.

use crate::db::model::{WheelFile, WheelRelease};
use crate::measure::{measure_wheel, MeasureError};
use crate::pypi::{self, PypiError};
use crate::wheelname::WheelName;
use std::path::{Path, PathBuf};

/// The MXNet distributions `--all` walks: every Linux build on PyPI, GPU
/// (with and without MKL-DNN, `mkl`) and CPU (`mxnet`, `mxnet-mkl`,
/// `mxnet-native`). Every release of each is ingested: the pre-1.0 ones
/// (0.9.3a0 .. 0.12.1, some with one wheel per CPython), the `.postN`
/// rebuilds, the 2.0 pre-releases, and the empty name-reserving 1.0.0
/// placeholders of cu113 and later.
pub const PACKAGES: &[&str] = &[
    "mxnet",
    "mxnet-mkl",
    "mxnet-native",
    "mxnet-cu75",
    "mxnet-cu75mkl",
    "mxnet-cu80",
    "mxnet-cu80mkl",
    "mxnet-cu90",
    "mxnet-cu90mkl",
    "mxnet-cu91",
    "mxnet-cu91mkl",
    "mxnet-cu92",
    "mxnet-cu92mkl",
    "mxnet-cu100",
    "mxnet-cu100mkl",
    "mxnet-cu101",
    "mxnet-cu101mkl",
    "mxnet-cu102",
    "mxnet-cu102mkl",
    "mxnet-cu110",
    "mxnet-cu111",
    "mxnet-cu112",
    "mxnet-cu113",
    "mxnet-cu114",
    "mxnet-cu115",
    "mxnet-cu116",
    "mxnet-cu117",
];

/// One wheel `--all` will ingest, with PyPI's size for progress output.
#[derive(Debug, Clone)]
pub struct Planned {
    pub url: String,
    pub filename: String,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Pypi(#[from] PypiError),
    #[error(transparent)]
    Measure(#[from] MeasureError),
    #[error(transparent)]
    Name(#[from] crate::wheelname::WheelNameError),
    #[error("{filename} is not listed on PyPI under {project}; only PyPI wheels can be ingested (their sha256 is checked)")]
    NotOnPypi { filename: String, project: String },
    #[error("{path}: sha256 {got} does not match PyPI's {expected} for {filename}")]
    LocalHash {
        path: PathBuf,
        filename: String,
        got: String,
        expected: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: existing record does not parse ({message}); fix or delete it, then ingest again"
    )]
    BadRecord { path: PathBuf, message: String },
    #[error(transparent)]
    Write(#[from] crate::fsutil::WriteError),
}

#[derive(Debug)]
pub enum Outcome {
    Written {
        record: PathBuf,
        wheel: Box<WheelFile>,
    },
    Unchanged {
        record: PathBuf,
    },
}

pub fn record_path(db_dir: &Path, package: &str, version: &str) -> PathBuf {
    db_dir
        .join("wheels/mxnet")
        .join(format!("{package}-{version}.toml"))
}

fn existing(record: &Path) -> Result<Option<WheelRelease>, IngestError> {
    match crate::fsutil::read_text(record) {
        Ok(text) => {
            let file = crate::db::SourceFile {
                path: record.display().to_string(),
                text,
            };
            let mut diags = Vec::new();
            let parsed = crate::db::parse_file::<WheelRelease>(&file, &mut diags);
            parsed.map(Some).ok_or_else(|| IngestError::BadRecord {
                path: record.to_path_buf(),
                // The error names the file already: each problem by its place.
                message: diags
                    .iter()
                    .map(|d| format!("line {}, column {}: {}", d.line, d.column, d.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(IngestError::Io {
            path: record.to_path_buf(),
            source,
        }),
    }
}

/// Whether a record already has every fact this ingest measures (records
/// written before modules were counted or glibc was read are measured again).
fn measured_now(w: &WheelFile) -> bool {
    w.placeholder || ((w.modules.is_some() || w.unmeasured.is_some()) && w.glibc.is_some())
}

/// Render a release record: deterministic, with a do-not-edit header.
pub fn render_record(rel: &WheelRelease) -> String {
    let body = toml::to_string(rel).expect("wheel records serialize");
    format!("# Written by `cargo xtask db ingest` from the wheel binaries; do not edit by hand.\n{body}")
}

/// Ingest one wheel given as a local path or URL.
pub fn ingest(
    client: &pypi::Client,
    source: &str,
    db_dir: &Path,
    force: bool,
) -> Result<Outcome, IngestError> {
    let filename = source.rsplit('/').next().unwrap_or(source).to_string();
    let name = WheelName::parse(&filename)?;
    let project_url = client.project_url(&name.package);
    let project = client.project(&name.package)?;
    let (_, file) = project
        .file(&filename)
        .ok_or_else(|| IngestError::NotOnPypi {
            filename: filename.clone(),
            project: project_url.clone(),
        })?;
    let record = record_path(db_dir, &name.package, &name.version);
    let mut release = existing(&record)?.unwrap_or_else(|| WheelRelease {
        package: name.package.clone(),
        version: name.version.clone(),
        wheel: vec![],
    });
    if !force
        && release
            .wheel
            .iter()
            .any(|w| w.filename == filename && w.sha256 == file.digests.sha256 && measured_now(w))
    {
        return Ok(Outcome::Unchanged { record });
    }

    // The temporary download is deleted when `tmp` drops, on every path.
    let tmp;
    let local: PathBuf = if pypi::is_url(source) {
        tmp = crate::fsutil::TempDir::new("gpu-env-wheel-").map_err(|source| IngestError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
        let path = tmp.path().join("download.whl");
        let mut f = std::fs::File::create(&path).map_err(|source| IngestError::Io {
            path: path.clone(),
            source,
        })?;
        client.download(source, &mut f, file.size, &file.digests.sha256)?;
        path
    } else {
        let p = PathBuf::from(source);
        let got = crate::fsutil::sha256_file(&p).map_err(|e| IngestError::Io {
            path: p.clone(),
            source: e,
        })?;
        if got != file.digests.sha256 {
            return Err(IngestError::LocalHash {
                path: p,
                filename,
                got,
                expected: file.digests.sha256.clone(),
            });
        }
        p
    };
    let measured = measure_wheel(&local, &filename)?;
    let wheel = measured.into_record(
        file.url.clone(),
        file.digests.sha256.clone(),
        file.size,
        project_url,
    );
    release.wheel.retain(|w| w.filename != wheel.filename);
    release.wheel.push(wheel.clone());
    release.wheel.sort_by(|a, b| a.filename.cmp(&b.filename));
    crate::fsutil::write_atomic(&record, render_record(&release).as_bytes())?;
    Ok(Outcome::Written {
        record,
        wheel: Box::new(wheel),
    })
}

/// Every wheel URL `--all` ingests, from the PyPI listings.
pub fn all_urls(client: &pypi::Client) -> Result<Vec<String>, IngestError> {
    Ok(all_wheels(client)?.into_iter().map(|p| p.url).collect())
}

/// Every wheel `--all` ingests (Linux x86_64 or pure), from the PyPI
/// listings, in package then release order.
pub fn all_wheels(client: &pypi::Client) -> Result<Vec<Planned>, IngestError> {
    let mut out = Vec::new();
    for p in PACKAGES {
        out.extend(linux_wheels(&client.project(p)?));
    }
    Ok(out)
}

/// The Linux x86_64 and pure wheels of every release of one project.
pub fn linux_wheels(project: &pypi::Project) -> Vec<Planned> {
    project
        .releases
        .values()
        .flatten()
        .filter(|f| WheelName::parse(&f.filename).is_ok_and(|n| n.is_linux_x86_64_or_any()))
        .map(|f| Planned {
            url: f.url.clone(),
            filename: f.filename.clone(),
            size: f.size,
        })
        .collect()
}
