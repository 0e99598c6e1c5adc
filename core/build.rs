//! Embed compat-db into the binary: generate a table of (relative path,
//! include_str!) for every `*.toml` under compat-db/ (a link to ../compat-db in the repository), sorted by path.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            println!("cargo:rerun-if-changed={}", path.display());
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, path));
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    // `core/compat-db` links to the repository's compat-db/; `cargo
    // package` copies the files behind the link, so a published crate
    // carries the database it embeds.
    let root = manifest
        .join("compat-db")
        .canonicalize()
        .expect("compat-db directory inside the package (core/compat-db)");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    // The TOML text (for `db check`, the lock's db hash) and, for fast
    // loading, each file pre-converted to JSON: parsing 800 KB of TOML costs
    // about 10 ms per run, JSON a fraction of that. A file that is not valid
    // TOML is embedded as `null`; the typed loader then falls back to the
    // TOML path, which reports it with its position.
    let mut src = String::from("pub(super) static FILES: &[(&str, &str, &str)] = &[\n");
    let mut hasher = Sha256::new();
    for (i, (rel, path)) in files.iter().enumerate() {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        hasher.update(rel.as_bytes());
        hasher.update([0]);
        hasher.update(text.as_bytes());
        hasher.update([0]);
        let json = match toml::from_str::<toml::Value>(&text) {
            Ok(v) => serde_json::to_string(&v).expect("TOML converts to JSON"),
            Err(_) => "null".to_string(),
        };
        let json_path = out_dir.join(format!("db-{i}.json"));
        std::fs::write(&json_path, json).expect("write embedded JSON");
        src.push_str(&format!(
            "    ({rel:?}, include_str!({:?}), include_str!({:?})),\n",
            path.display().to_string(),
            json_path.display().to_string()
        ));
    }
    src.push_str("];\n");
    let hash: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    src.push_str(&format!("pub(super) static HASH: &str = {hash:?};\n"));
    std::fs::write(out_dir.join("embedded_db.rs"), src).expect("write embedded_db.rs");
}
