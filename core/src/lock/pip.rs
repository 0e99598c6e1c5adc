//! `requirements-gpu.txt` (pip --require-hashes) and PEP 751 `pylock.toml`
//! rendered from a locked target.

use super::validate::escape;
use super::*;

/// The packages `pip install -r` may install for `t`, and the header lines
/// that say so. For a notebook target whose lock has CUDA redistributables
/// (`cell` is the setup cell's path), only the site set: pip would put the
/// redistributables into site-packages over the runtime's own CUDA 12 files
/// at the same paths (`nvidia/curand/lib/libcurand.so.10`), so the cell,
/// which installs them into their own directory, is the installer.
fn pip_set<'a>(
    t: &'a LockedTarget,
    cell: Option<&str>,
) -> Result<(Vec<&'a Pin>, String), LockError> {
    // Every renderer validates first: a value outside the grammar never
    // becomes a requirements line (`--index-url ...` from a newline).
    t.validate()?;
    if let Some(c) = cell {
        if !crate::validate::is_plain_text(c) {
            return Err(LockError::Invalid {
                target: escape(&t.name),
                what: "setup cell path".into(),
                value: escape(c),
                rule: "printable ASCII without quotes or backslashes",
            });
        }
    }
    let redist = t.package.iter().filter(|p| p.install == "redist").count();
    Ok(match cell {
        Some(cell) if redist > 0 => (
            t.package.iter().filter(|p| p.install != "redist").collect(),
            format!(
                "# On {name} the installer is {cell}: run it as the notebook's first cell. It installs\n\
                 # the packages below plus {redist} CUDA redistributable(s) into a directory of their own and\n\
                 # preloads them. Do not `pip install -r` this file there: it lists the site packages only,\n\
                 # and installing the redistributables with pip would overwrite the runtime's CUDA 12 files.\n",
                name = t.name
            ),
        ),
        _ => (t.package.iter().collect(), String::new()),
    })
}

/// How a local target's files become a working environment: `install`
/// adds the hook that applies the lock's preloads and shims at `import
/// mxnet`, which pip alone does not.
const INSTALL_HOW: &str =
    "# Install: cargo xtask install   (these files, hash-checked, plus the hook that applies the\n\
# lock's CUDA preloads and numpy shims at `import mxnet`; docs/install.md). pip install\n\
# --no-deps --require-hashes -r of this file installs the same files without that hook.\n";

/// `requirements-gpu.txt` for one target: every file pip may install,
/// hash-pinned, for `pip install --no-deps --require-hashes -r`.
/// Invalid values ([`LockedTarget::validate`]) are an error; nothing of them
/// is rendered.
pub fn try_requirements(
    lock_hash: &str,
    t: &LockedTarget,
    cell: Option<&str>,
) -> Result<String, LockError> {
    let (set, mut how) = pip_set(t, cell)?;
    if how.is_empty() {
        how = INSTALL_HOW.into();
    }
    let mut s = format!(
        "{}gpu-env.lock (sha256 {lock_hash}) for {}; do not edit by hand.\n{how}",
        crate::generated::text_marker(crate::generated::Kind::Requirements),
        t.name
    );
    for p in set {
        s.push_str(&format!(
            "{}=={} \\\n    --hash=sha256:{}\n",
            p.name, p.version, p.sha256
        ));
    }
    Ok(s)
}

/// PEP 751 `pylock.toml` for one target.
/// Invalid values ([`LockedTarget::validate`]) are an error; nothing of them
/// is rendered.
pub fn try_pylock(
    lock_hash: &str,
    t: &LockedTarget,
    cell: Option<&str>,
) -> Result<String, LockError> {
    let (set, mut how) = pip_set(t, cell)?;
    if how.is_empty() {
        how = INSTALL_HOW.replace(
            "pip install\n# --no-deps --require-hashes -r of this file",
            "Installing\n# this file with another tool",
        );
    }
    use toml::Value;
    let mut doc = toml::map::Map::new();
    doc.insert("lock-version".into(), Value::String("1.0".into()));
    doc.insert("created-by".into(), Value::String("gpu-env".into()));
    if let Some(py) = t.fact.iter().find(|f| f.name == "python") {
        let mm: Vec<&str> = py.value.split('.').take(2).collect();
        doc.insert(
            "requires-python".into(),
            Value::String(format!("=={}.*", mm.join("."))),
        );
    }
    let packages: Vec<Value> = set
        .into_iter()
        .map(|p| {
            let mut hashes = toml::map::Map::new();
            hashes.insert("sha256".into(), Value::String(p.sha256.clone()));
            let mut wheel = toml::map::Map::new();
            wheel.insert("name".into(), Value::String(p.filename.clone()));
            wheel.insert("url".into(), Value::String(p.url.clone()));
            wheel.insert("size".into(), Value::Integer(p.size as i64));
            wheel.insert("hashes".into(), Value::Table(hashes));
            let mut pkg = toml::map::Map::new();
            pkg.insert("name".into(), Value::String(p.name.clone()));
            pkg.insert("version".into(), Value::String(p.version.clone()));
            pkg.insert("wheels".into(), Value::Array(vec![Value::Table(wheel)]));
            Value::Table(pkg)
        })
        .collect();
    doc.insert("packages".into(), Value::Array(packages));
    Ok(format!(
        "{}gpu-env.lock (sha256 {lock_hash}) for {}; do not edit by hand.\n{how}{}",
        crate::generated::text_marker(crate::generated::Kind::Pylock),
        t.name,
        toml::to_string(&Value::Table(doc)).expect("pylock serializes")
    ))
}

/// [`try_requirements`] as text: for a lock with an invalid value, a file
/// that installs nothing and says why (never a line made of that value).
pub fn requirements(lock_hash: &str, t: &LockedTarget, cell: Option<&str>) -> String {
    try_requirements(lock_hash, t, cell).unwrap_or_else(|e| invalid_file(&e))
}

/// [`try_pylock`] as text, as [`requirements`].
pub fn pylock(lock_hash: &str, t: &LockedTarget, cell: Option<&str>) -> String {
    try_pylock(lock_hash, t, cell).unwrap_or_else(|e| invalid_file(&e))
}

fn invalid_file(e: &LockError) -> String {
    format!(
        "# gpu-env: not rendered: {}\n",
        crate::validate::escape_control(&e.to_string())
    )
}
