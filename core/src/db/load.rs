//! Loading compat-db from the embedded copy or a directory, collecting every
//! parse error and unknown key with its position.

use super::diag::{line_col, Diagnostic, Locator, Seg, SourceFile};
use super::model::*;
use super::Db;
use serde::de::DeserializeOwned;
use std::path::Path;

fn serde_path_to_segs(path: &serde_ignored::Path<'_>, out: &mut Vec<Seg>) {
    use serde_ignored::Path as P;
    match path {
        P::Root => {}
        P::Seq { parent, index } => {
            serde_path_to_segs(parent, out);
            out.push(Seg::Index(*index));
        }
        P::Map { parent, key } => {
            serde_path_to_segs(parent, out);
            out.push(Seg::Key(key.clone()));
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            serde_path_to_segs(parent, out)
        }
    }
}

/// Parse one file into `T`; unknown keys and syntax/type errors become
/// diagnostics. The TOML is read into a `toml::Value` (syntax errors keep
/// their TOML position) and typed through its JSON form, the form the
/// embedded copy is loaded from: each record type is compiled for one
/// deserializer, and a type error's JSON position is mapped back to the
/// TOML value by its key path.
pub fn parse_file<T: DeserializeOwned>(
    file: &SourceFile,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    let value: toml::Value = match toml::from_str(&file.text) {
        Ok(v) => v,
        Err(e) => {
            diags.push(toml_error(file, &e));
            return None;
        }
    };
    let json = serde_json::to_string(&value).expect("a TOML value converts to JSON");
    let mut unknown: Vec<Vec<Seg>> = Vec::new();
    let mut de = serde_json::Deserializer::from_str(&json);
    let result: Result<T, _> = serde_ignored::deserialize(&mut de, |p| {
        let mut segs = Vec::new();
        serde_path_to_segs(&p, &mut segs);
        unknown.push(segs);
    });
    // Positions are looked up only when there is something to report.
    if !unknown.is_empty() || result.is_err() {
        let loc = Locator::new(&file.text);
        for segs in &unknown {
            let name = super::diag::path_to_string(segs);
            let message = format!("unknown key `{name}` (see compat-db/README.md for the schema)");
            diags.push(loc.diag(&file.path, segs, message));
        }
        if let Err(e) = &result {
            diags.push(type_error(file, &loc, &json, e));
        }
    }
    result.ok().filter(|_| unknown.is_empty())
}

fn toml_error(file: &SourceFile, e: &toml::de::Error) -> Diagnostic {
    let (line, column) = e.span().map_or((1, 1), |s| line_col(&file.text, s.start));
    Diagnostic {
        file: file.path.clone(),
        line,
        column,
        message: e.message().trim().to_string(),
    }
}

/// A record that is valid TOML but not the schema: serde's message, at the
/// TOML value whose JSON form the error was reported in (compact JSON is one
/// line, so its column is the byte offset plus one).
fn type_error(file: &SourceFile, loc: &Locator, json: &str, e: &serde_json::Error) -> Diagnostic {
    let mut path = super::diag::json_path_at(json, e.column().saturating_sub(1));
    let text = e.to_string();
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(m, _)| m);
    // serde_json reports a missing field before the table's `}`, after its
    // last key: the table is what lacks it.
    if message.starts_with("missing field") && matches!(path.last(), Some(Seg::Key(_))) {
        path.pop();
    }
    let (line, column) = line_col(&file.text, loc.value_offset(&path));
    Diagnostic {
        file: file.path.clone(),
        line,
        column,
        message: message.trim().to_string(),
    }
}

/// Build a `Db` from source files; every problem is collected.
pub fn load_files(files: &[SourceFile]) -> Result<Db, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut db = Db::default();
    // Files that failed to parse: cross-references into them are not checked
    // (they would only repeat the parse error).
    let mut failed = std::collections::BTreeSet::new();
    // An empty directory (or one missing the core tables) is no compat-db.
    for required in ["cuda.toml", "gpus.toml", "cudnn.toml"] {
        if !files.iter().any(|f| f.path == required) {
            diags.push(Diagnostic {
                file: required.to_string(),
                line: 1,
                column: 1,
                message: format!(
                    "missing: a compat-db has {required} (is this the compat-db directory? see compat-db/README.md)"
                ),
            });
            failed.insert(required.to_string());
        }
    }
    for f in files {
        let p = f.path.as_str();
        if !p.ends_with(".toml") {
            continue;
        }
        // A file that was not UTF-8 was read lossily (read_dir_files):
        // report the first bad byte's position; the rest is still checked.
        if let Some(at) = f.text.find('\u{FFFD}') {
            let (line, column) = line_col(&f.text, at);
            diags.push(Diagnostic {
                file: p.to_string(),
                line,
                column,
                message: "not UTF-8 (an invalid byte, or U+FFFD, here): compat-db files are UTF-8"
                    .into(),
            });
            failed.insert(p.to_string());
            continue;
        }
        let before = diags.len();
        match p {
            "cuda.toml" => {
                if let Some(x) = parse_file::<CudaFile>(f, &mut diags) {
                    db.cuda = x.cuda;
                }
            }
            "gpus.toml" => {
                if let Some(x) = parse_file::<GpuFile>(f, &mut diags) {
                    db.gpus = x.gpu;
                }
            }
            "cudnn.toml" => {
                if let Some(x) = parse_file::<CudnnFile>(f, &mut diags) {
                    db.cudnn = x.cudnn;
                }
            }
            "breakers.toml" => {
                if let Some(x) = parse_file::<BreakerFile>(f, &mut diags) {
                    db.breakers = x.breaker;
                }
            }
            "python.toml" => {
                if let Some(x) = parse_file::<PythonSupportFile>(f, &mut diags) {
                    db.python = x.support;
                }
            }
            "defects.toml" => (db.defects, db.source_builds) = defects(f, &mut diags),
            _ if p.starts_with("redist/") => {
                if let Some(x) = parse_file::<RedistPackage>(f, &mut diags) {
                    db.redist.push((p.to_string(), x));
                }
            }
            _ if p.starts_with("wheels/mxnet/") => {
                if let Some(x) = parse_file::<WheelRelease>(f, &mut diags) {
                    db.wheels.push((p.to_string(), x));
                }
            }
            _ if p.starts_with("runtimes/") => {
                if let Some(x) = parse_file::<Runtime>(f, &mut diags) {
                    db.runtimes.push((p.to_string(), x));
                }
            }
            _ if p.starts_with("pypi/") => {
                if let Some(x) = parse_file::<PypiPackage>(f, &mut diags) {
                    db.pypi.push((p.to_string(), x));
                }
            }
            _ if p.starts_with("companions/pypi/") => {
                if let Some(x) = parse_file::<PypiPackage>(f, &mut diags) {
                    db.companion_pypi.push((p.to_string(), x));
                }
            }
            _ if p.starts_with("companions/") => {
                if let Some(x) = parse_file::<Companion>(f, &mut diags) {
                    db.companions.push((p.to_string(), x));
                }
            }
            _ => diags.push(Diagnostic {
                file: p.to_string(),
                line: 1,
                column: 1,
                message: "file is not part of the compat-db layout (see compat-db/README.md)"
                    .into(),
            }),
        }
        if diags.len() > before {
            failed.insert(p.to_string());
        }
    }
    diags.extend(super::check::check(&db, files, &failed));
    if diags.is_empty() {
        Ok(db)
    } else {
        diags.sort();
        Err(diags)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read compat-db at {path}: {source}")]
pub struct DbDirError {
    pub path: std::path::PathBuf,
    pub source: std::io::Error,
}

/// Read every `*.toml` under `root`, sorted by path for deterministic output.
pub fn read_dir_files(root: &Path) -> Result<Vec<SourceFile>, DbDirError> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) -> Result<(), DbDirError> {
        let err = |source| DbDirError {
            path: dir.to_path_buf(),
            source,
        };
        for entry in std::fs::read_dir(dir).map_err(err)? {
            let entry = entry.map_err(err)?;
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else if path.extension().is_some_and(|e| e == "toml") {
                // Bytes, then lossy text: a non-UTF-8 file is a diagnostic
                // with its position (load_files), not the end of the check.
                let bytes = crate::fsutil::read_text_bytes(&path).map_err(|source| DbDirError {
                    path: path.clone(),
                    source,
                })?;
                let text = match String::from_utf8(bytes) {
                    Ok(t) => t,
                    Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
                };
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push(SourceFile { path: rel, text });
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// defects.toml: its `[[defect]]` and `[[source_build]]` records (none when
/// it does not parse; the diagnostic says why).
fn defects(f: &SourceFile, diags: &mut Vec<Diagnostic>) -> (Vec<Defect>, Vec<SourceBuild>) {
    parse_file::<DefectFile>(f, diags).map_or_else(Default::default, |x| (x.defect, x.source_build))
}

/// Fast path for the embedded copy: typed deserialization of the build-time
/// JSON, then the cross-file checks. None when any file does not
/// deserialize (the caller then takes the TOML path for positions).
pub(crate) fn load_embedded_json(
    files: &[(&str, &str, &str)],
) -> Option<Result<Db, Vec<Diagnostic>>> {
    fn parse<T: DeserializeOwned>(json: &str) -> Option<T> {
        serde_json::from_str(json).ok()
    }
    let mut db = Db::default();
    for (p, _, json) in files {
        match *p {
            "cuda.toml" => db.cuda = parse::<CudaFile>(json)?.cuda,
            "gpus.toml" => db.gpus = parse::<GpuFile>(json)?.gpu,
            "cudnn.toml" => db.cudnn = parse::<CudnnFile>(json)?.cudnn,
            "breakers.toml" => db.breakers = parse::<BreakerFile>(json)?.breaker,
            "python.toml" => db.python = parse::<PythonSupportFile>(json)?.support,
            "defects.toml" => {
                let x = parse::<DefectFile>(json)?;
                (db.defects, db.source_builds) = (x.defect, x.source_build);
            }
            _ if p.starts_with("redist/") => db.redist.push((p.to_string(), parse(json)?)),
            _ if p.starts_with("wheels/mxnet/") => db.wheels.push((p.to_string(), parse(json)?)),
            _ if p.starts_with("runtimes/") => db.runtimes.push((p.to_string(), parse(json)?)),
            _ if p.starts_with("pypi/") => db.pypi.push((p.to_string(), parse(json)?)),
            _ if p.starts_with("companions/pypi/") => {
                db.companion_pypi.push((p.to_string(), parse(json)?))
            }
            _ if p.starts_with("companions/") => db.companions.push((p.to_string(), parse(json)?)),
            _ => return None,
        }
    }
    let sources: Vec<SourceFile> = Vec::new();
    let diags = super::check::check(&db, &sources, &Default::default());
    Some(if diags.is_empty() { Ok(db) } else { Err(diags) })
}
