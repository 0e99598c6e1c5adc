//! `cargo xtask init DIR` on temporary repos: a fresh repo gets every file;
//! a repo with its own config files gets merges that keep every byte it
//! had, or a refusal with the lines to add (exit 1) and an untouched file;
//! a second run changes nothing. The xtask it writes is
//! examples/consumer's.

use gpu_env_tests::{run, workspace_root, xtask};
use std::collections::BTreeMap;
use std::path::Path;

const FILES: &[&str] = &[
    "Cargo.toml",
    ".cargo/config.toml",
    "xtask/Cargo.toml",
    "xtask/src/main.rs",
    ".pre-commit-config.yaml",
];

fn init(dir: &Path) -> (i32, String, String) {
    let mut c = xtask!();
    c.arg("init")
        .arg(dir)
        .args(["--git", "https://example.org/gpu-env", "--tag", "v0.1.0"]);
    run(c)
}

fn snapshot(dir: &Path) -> BTreeMap<&'static str, Option<String>> {
    FILES
        .iter()
        .map(|f| (*f, std::fs::read_to_string(dir.join(f)).ok()))
        .collect()
}

/// The dev profiles of gpu-env's crates that init appends to the root
/// manifest, with their comment: examples/consumer's last tables.
fn profile() -> String {
    let consumer =
        std::fs::read_to_string(workspace_root().join("examples/consumer/Cargo.toml")).unwrap();
    let table = consumer.find("[profile.dev.package.gpu-env]").unwrap();
    let why = consumer[..table].trim_end().rfind("\n\n").unwrap();
    consumer[why + 1..].to_string()
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn init_fresh_repo_creates_every_file_and_a_second_run_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, err) = init(tmp.path());
    assert_eq!(code, 0, "{out}\n{err}");
    for f in FILES {
        assert!(out.contains(&format!("  created   {f}\n")), "{f}:\n{out}");
    }
    let consumer = workspace_root().join("examples/consumer");
    let main = std::fs::read_to_string(tmp.path().join("xtask/src/main.rs")).unwrap();
    assert_eq!(
        main,
        std::fs::read_to_string(consumer.join("xtask/src/main.rs")).unwrap(),
        "init writes examples/consumer's main.rs"
    );
    assert!(main.lines().count() <= 30);
    let manifest = std::fs::read_to_string(tmp.path().join("xtask/Cargo.toml")).unwrap();
    assert!(
        manifest.contains("gpu-env = { git = \"https://example.org/gpu-env\", tag = \"v0.1.0\", default-features = false, features = [\"cli\"] }"),
        "{manifest}"
    );
    for f in [
        "Cargo.toml",
        ".cargo/config.toml",
        ".pre-commit-config.yaml",
    ] {
        assert_eq!(
            std::fs::read_to_string(tmp.path().join(f)).unwrap(),
            std::fs::read_to_string(consumer.join(f))
                .unwrap()
                .lines()
                .skip_while(|l| l.starts_with('#'))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
                .trim_start(),
            "{f} is examples/consumer's without its opening comment"
        );
    }
    let before = snapshot(tmp.path());
    let (code, out, err) = init(tmp.path());
    assert_eq!(code, 0, "{out}\n{err}");
    for f in FILES {
        assert!(out.contains(&format!("  unchanged {f}: ")), "{f}:\n{out}");
    }
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn init_merges_into_existing_config_files_keeping_their_text() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cargo = "# the model's workspace\n[workspace]\nresolver = \"2\"\nmembers = [\"model\"]\n\n[workspace.dependencies]\nserde = \"1\"\n";
    let alias = "[alias]\nb = \"build --release\"\n";
    let hooks =
        "repos:\n- repo: https://github.com/psf/black\n  rev: 24.1.0\n  hooks:\n  - id: black\n";
    write(d, "Cargo.toml", cargo);
    write(d, ".cargo/config.toml", alias);
    write(d, ".pre-commit-config.yaml", hooks);
    let (code, out, err) = init(d);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("  changed   Cargo.toml: added \"xtask\" to [workspace] members; added [workspace.metadata.gpu-env] targets = [\"colab\"]; added [profile.dev.package.gpu-env], [profile.dev.package.gpu-env-commands], [profile.dev.package.gpu-env-core] debug = false, incremental = false (gpu-env's build only)\n"), "{out}");
    assert!(
        out.contains("  changed   .cargo/config.toml: added xtask to [alias]\n"),
        "{out}"
    );
    assert!(out.contains("  changed   .pre-commit-config.yaml: appended a local hook `cargo xtask check` to repos\n"), "{out}");
    assert!(out.contains("  created   xtask/Cargo.toml\n"), "{out}");
    let now = snapshot(d);
    let cargo_now = now["Cargo.toml"].clone().unwrap();
    assert_eq!(
        cargo_now,
        cargo.replace("[\"model\"]", "[\"model\", \"xtask\"]")
            + "\n[workspace.metadata.gpu-env]\ntargets = [\"colab\"]\n"
            + &profile()
    );
    assert!(now[".cargo/config.toml"]
        .as_ref()
        .unwrap()
        .starts_with(alias));
    let hooks_now = now[".pre-commit-config.yaml"].clone().unwrap();
    assert!(hooks_now.starts_with(hooks), "{hooks_now}");
    assert!(hooks_now.contains("\n- repo: local\n  hooks:\n    - id: gpu-env-check\n      name: gpu-env check (lock and generated Colab files are current)\n      entry: cargo xtask check\n"), "{hooks_now}");
    // The merged manifest is still a config gpu-env reads.
    let c = gpu_env::config::parse_manifest(&d.join("Cargo.toml"), &cargo_now)
        .unwrap()
        .unwrap();
    assert_eq!(c.targets, ["colab"]);
    let (code, out, _) = init(d);
    assert_eq!(code, 0, "{out}");
    assert!(
        !out.contains("  changed ") && !out.contains("  created "),
        "{out}"
    );
    assert_eq!(snapshot(d), now);
}

#[test]
fn init_refuses_files_it_cannot_merge_and_prints_the_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Cargo.toml has all init adds (its own gpu-env profiles included).
    let cargo = "[workspace]\nmembers = [\"model\", \"xtask\"]\n\n[workspace.metadata.gpu-env]\ntargets = [\"kaggle\"]\n\n[profile.dev.package.gpu-env]\ndebug = 1\n\n[profile.dev.package.gpu-env-commands]\ndebug = 1\n\n[profile.dev.package.gpu-env-core]\ndebug = 1\n";
    let alias = "[alias]\nxtask = \"run -p tools --\"\n";
    let manifest = "[package]\nname = \"xtask\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";
    let main = "fn main() {\n    println!(\"my own tasks\");\n}\n";
    let hooks = "repos:\n  - repo: local\n    hooks: []\nci:\n  autofix_prs: false\n";
    write(d, "Cargo.toml", cargo);
    write(d, ".cargo/config.toml", alias);
    write(d, "xtask/Cargo.toml", manifest);
    write(d, "xtask/src/main.rs", main);
    write(d, ".pre-commit-config.yaml", hooks);
    let before = snapshot(d);
    let (code, out, err) = init(d);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("  unchanged Cargo.toml: "), "{out}");
    assert!(out.contains("  refused   .cargo/config.toml: [alias] xtask is already `\"run -p tools --\"`:\nxtask = \"run --package xtask --\"\n"), "{out}");
    assert!(out.contains("  refused   xtask/Cargo.toml: it exists and does not depend on gpu-env; add under [dependencies]:\nclap = { version = \"4\", features = [\"derive\"] }\ngpu-env = { git = \"https://example.org/gpu-env\", tag = \"v0.1.0\", default-features = false, features = [\"cli\"] }\n"), "{out}");
    assert!(out.contains("  refused   xtask/src/main.rs: "), "{out}");
    assert!(
        out.contains("gpu_env::cli::run(command, cli.global.db.as_deref())"),
        "{out}"
    );
    assert!(out.contains("  refused   .pre-commit-config.yaml: `repos:` is not the last top-level key:\n# under repos:\n  - repo: local\n"), "{out}");
    assert!(out.contains("init: 4 file(s) left as they were"), "{out}");
    assert_eq!(snapshot(d), before, "nothing was written");
    let (code, _, _) = init(d);
    assert_eq!(code, 1);
    assert_eq!(snapshot(d), before);
}

#[test]
fn init_single_crate_repo_gets_a_workspace_and_keeps_its_package_config() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cargo = "[package]\nname = \"model\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[package.metadata.gpu-env]\ntargets = [\"kaggle\"]\n";
    write(d, "Cargo.toml", cargo);
    let (code, out, err) = init(d);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("  changed   Cargo.toml: added [workspace] members = [\"xtask\"] (the package stays the root member); added [profile.dev.package.gpu-env], "), "{out}");
    let now = std::fs::read_to_string(d.join("Cargo.toml")).unwrap();
    assert_eq!(
        now,
        format!("{cargo}\n[workspace]\nmembers = [\"xtask\"]\n{}", profile())
    );
    let c = gpu_env::config::parse_manifest(&d.join("Cargo.toml"), &now)
        .unwrap()
        .unwrap();
    assert_eq!(
        c.targets,
        ["kaggle"],
        "the package config is still the config"
    );
}

#[test]
fn init_of_a_missing_directory_is_an_input_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, err) = init(&tmp.path().join("nope"));
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.starts_with("error: ") && err.contains("no such directory"),
        "{err}"
    );
}

/// The light build is the default; `--feature` adds an optional part, and
/// a name that is not one is refused with the ones there are.
#[test]
fn init_writes_the_light_build_unless_a_feature_is_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = xtask!();
    c.arg("init")
        .arg(tmp.path())
        .args(["--git", "https://example.org/gpu-env", "--tag", "v0.1.0"])
        .args(["--feature", "net", "--feature", "cuda"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}\n{err}");
    let manifest = std::fs::read_to_string(tmp.path().join("xtask/Cargo.toml")).unwrap();
    assert!(
        manifest.contains("default-features = false, features = [\"cli\", \"net\", \"cuda\"] }"),
        "{manifest}"
    );
    let mut c = xtask!();
    c.arg("init").arg(tmp.path()).args(["--feature", "gpu"]);
    let (code, _, err) = run(c);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("[possible values: net, cuda]"), "{err}");
}

/// The crates `init` profiles are the gpu-env crate and every crate it
/// reaches through path dependencies (its layers): a new layer without a
/// profile would build with debug info in every consumer.
#[test]
fn init_profiles_every_crate_of_gpu_env() {
    let root = workspace_root();
    let mut found = Vec::new();
    let mut todo = vec![root.join("resolver")];
    while let Some(dir) = todo.pop() {
        let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let manifest: toml::Table = text.parse().unwrap();
        found.push(manifest["package"]["name"].as_str().unwrap().to_string());
        let deps = manifest.get("dependencies").and_then(|d| d.as_table());
        for dep in deps.into_iter().flat_map(|d| d.values()) {
            if let Some(path) = dep.get("path").and_then(|p| p.as_str()) {
                todo.push(dir.join(path));
            }
        }
    }
    found.sort();
    let mut crates = gpu_env::cli::init::CRATES.to_vec();
    crates.sort();
    assert_eq!(found, crates);
}
