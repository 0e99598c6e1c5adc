//! compat-db: the facts, loaded and validated (see compat-db/README.md).

pub mod check;
pub(crate) mod diag;
mod known;
pub(crate) mod load;
pub mod model;
pub mod names;

pub use diag::{Diagnostic, SourceFile};
pub use load::{load_files, parse_file, read_dir_files};
use model::*;
use std::path::Path;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_db.rs"));
}

#[derive(Debug, Default, Clone)]
pub struct Db {
    pub cuda: Vec<CudaRelease>,
    pub gpus: Vec<Gpu>,
    pub cudnn: Vec<CudnnRelease>,
    pub breakers: Vec<Breaker>,
    /// python.toml: declared Python support.
    pub python: Vec<PythonSupport>,
    /// `defects.toml`: releases broken as published.
    pub defects: Vec<Defect>,
    /// `defects.toml` `[[source_build]]`: releases that do not compile with
    /// newer CUDA toolkits.
    pub source_builds: Vec<SourceBuild>,
    /// (file, record) pairs, sorted by file.
    pub redist: Vec<(String, RedistPackage)>,
    pub wheels: Vec<(String, WheelRelease)>,
    pub runtimes: Vec<(String, Runtime)>,
    pub pypi: Vec<(String, PypiPackage)>,
    /// `companions/<name>.toml` (d2l, ...).
    pub companions: Vec<(String, Companion)>,
    /// `companions/pypi/<name>.toml`: the releases measured companion sets
    /// install, same schema as `pypi/`.
    pub companion_pypi: Vec<(String, PypiPackage)>,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Dir(#[from] load::DbDirError),
    #[error("compat-db has {} error(s):\n{}", .0.len(), .0.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
}

/// sha256 over every compat-db file (path and text), in path order: the
/// hash a lock records.
pub fn db_hash(files: &[SourceFile]) -> String {
    let mut all = Vec::new();
    for f in files {
        all.extend_from_slice(f.path.as_bytes());
        all.push(0);
        all.extend_from_slice(f.text.as_bytes());
        all.push(0);
    }
    crate::fsutil::sha256_hex(&all)
}

/// sha256 over the embedded files (paths and text), computed at build time;
/// equals `db_hash(&embedded_files())`.
pub fn embedded_hash() -> &'static str {
    embedded::HASH
}

/// The files compiled into this binary.
pub fn embedded_files() -> Vec<SourceFile> {
    embedded::FILES
        .iter()
        .map(|(p, t, _)| SourceFile {
            path: (*p).to_string(),
            text: (*t).to_string(),
        })
        .collect()
}

/// The files of `--db DIR` if given, else the embedded copy.
pub fn source_files(dir: Option<&Path>) -> Result<Vec<SourceFile>, load::DbDirError> {
    match dir {
        Some(d) => read_dir_files(d),
        None => Ok(embedded_files()),
    }
}

impl Db {
    /// The embedded copy, from its build-time JSON form. It is the same
    /// text `db check` validates in CI; should it not deserialize, the TOML
    /// path runs instead and reports every problem with its position.
    pub fn embedded() -> Result<Db, DbError> {
        match load::load_embedded_json(embedded::FILES) {
            Some(result) => result,
            None => load_files(&embedded_files()),
        }
        .map_err(DbError::Invalid)
    }

    pub fn from_dir(dir: &Path) -> Result<Db, DbError> {
        load_files(&read_dir_files(dir)?).map_err(DbError::Invalid)
    }

    /// `--db DIR` (fully validated) or the embedded copy, with the content
    /// hash a lock records.
    pub fn open_with_hash(dir: Option<&Path>) -> Result<(Db, String), DbError> {
        match dir {
            Some(d) => {
                let files = read_dir_files(d)?;
                let db = load_files(&files).map_err(DbError::Invalid)?;
                Ok((db, db_hash(&files)))
            }
            None => Ok((Self::embedded()?, embedded_hash().to_string())),
        }
    }

    /// The hash of `--db DIR`'s files if given, else of the embedded copy,
    /// without loading them (what a lock records as `db`).
    pub fn source_hash(dir: Option<&Path>) -> Result<String, DbError> {
        match dir {
            Some(d) => Ok(db_hash(&read_dir_files(d)?)),
            None => Ok(embedded_hash().to_string()),
        }
    }

    /// `--db DIR` if given, else the embedded copy.
    pub fn open(dir: Option<&Path>) -> Result<Db, DbError> {
        match dir {
            Some(d) => Self::from_dir(d),
            None => Self::embedded(),
        }
    }

    /// A GPU by name, alias or `nvidia-smi` name, compared by
    /// [`names::key`]: case, spaces, hyphens and the `NVIDIA`/`GeForce`/
    /// `Tesla` prefixes do not matter (`rtx4090`, `Tesla T4`).
    pub fn gpu(&self, name: &str) -> Option<&Gpu> {
        let k = names::key(name);
        if k.is_empty() {
            return None;
        }
        self.gpus
            .iter()
            .find(|g| Self::gpu_spellings(g).any(|s| names::has_key(s, &k)))
    }

    /// Every spelling compat-db knows for a GPU: name, aliases, smi names.
    fn gpu_spellings(g: &Gpu) -> impl Iterator<Item = &str> {
        std::iter::once(g.name.as_str())
            .chain(g.aliases.iter().map(String::as_str))
            .chain(g.smi.iter().map(|s| s.name.as_str()))
    }

    /// The known GPUs nearest to a name that matched none, nearest first
    /// (at most three), for "did you mean" in errors.
    pub fn nearest_gpus(&self, name: &str) -> Vec<&str> {
        let known: Vec<(&str, Vec<String>)> = self
            .gpus
            .iter()
            .map(|g| {
                let spellings = Self::gpu_spellings(g).map(str::to_string).collect();
                (g.aliases.first().unwrap_or(&g.name).as_str(), spellings)
            })
            .collect();
        names::nearest(name, &known, 3)
    }

    pub fn cuda(&self, v: crate::versions::CudaVersion) -> Option<&CudaRelease> {
        self.cuda.iter().find(|c| c.version == v)
    }

    pub fn runtime(&self, name: &str) -> Option<&Runtime> {
        self.runtimes
            .iter()
            .map(|(_, r)| r)
            .find(|r| r.name == name)
    }

    /// The known defect of `package` `version` that concerns `soname`.
    pub fn defect(&self, package: &str, version: &str, soname: &str) -> Option<&Defect> {
        self.defects.iter().find(|d| {
            d.version == version && d.unshipped == soname && d.packages.iter().any(|p| p == package)
        })
    }

    /// Every MXNet wheel file with its release.
    pub fn wheel_files(&self) -> impl Iterator<Item = (&WheelRelease, &WheelFile)> {
        self.wheels
            .iter()
            .flat_map(|(_, r)| r.wheel.iter().map(move |w| (r, w)))
    }
}

impl Db {
    /// One JSON document for tools and review (`db export --json`). Wheel
    /// records are flattened: each carries its `package` and `version`.
    pub fn export_json(&self) -> serde_json::Value {
        use serde_json::{json, Value};
        let wheels: Vec<Value> = self
            .wheel_files()
            .map(|(rel, w)| {
                let mut v = serde_json::to_value(w).expect("serializable");
                let obj = v.as_object_mut().expect("object");
                obj.insert("package".into(), json!(rel.package));
                obj.insert("version".into(), json!(rel.version));
                v
            })
            .collect();
        json!({
            "format": 1,
            "cuda": self.cuda,
            "gpus": self.gpus,
            "cudnn": self.cudnn,
            "breakers": self.breakers,
            "python": self.python,
            "defects": self.defects,
            "source_builds": self.source_builds,
            "redist": self.redist.iter().map(|(_, r)| r).collect::<Vec<_>>(),
            "wheels": wheels,
            "runtimes": self.runtimes.iter().map(|(_, r)| r).collect::<Vec<_>>(),
            "pypi": self.pypi.iter().map(|(_, r)| r).collect::<Vec<_>>(),
            "companions": self.companions.iter().map(|(_, r)| r).collect::<Vec<_>>(),
            "companion_pypi": self.companion_pypi.iter().map(|(_, r)| r).collect::<Vec<_>>(),
        })
    }
}
