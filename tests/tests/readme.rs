//! Words that stay true: README's quoted output of the main job is what
//! `cargo xtask resolve --target colab` prints today, and the lock hash it
//! quotes is the committed lock's.

use gpu_env_tests::{run, workspace_root, xtask};

/// The ```text block under README's "The main job" heading.
fn quoted_main_job(readme: &str) -> Vec<String> {
    let section = readme
        .split("## The main job")
        .nth(1)
        .expect("README has a `## The main job` section");
    let block = section
        .split("```text\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the main-job section quotes a ```text block");
    block.lines().map(str::to_string).collect()
}

#[test]
fn readme_quotes_what_the_main_job_prints() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let quoted = quoted_main_job(&readme);
    // --dry-run prints the same report without writing the repo's files.
    let mut c = xtask!();
    c.current_dir(&root)
        .args(["resolve", "--target", "colab", "--offline", "--dry-run"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{out}\n{err}");
    let report: Vec<&str> = quoted
        .iter()
        .map(String::as_str)
        .filter(|l| {
            !l.starts_with("wrote ") && !l.starts_with("lock sha256 ") && !l.starts_with("next (")
        })
        .collect();
    let printed: Vec<&str> = out.lines().collect();
    assert_eq!(
        report.join("\n").trim_end(),
        printed.join("\n").trim_end(),
        "README's quoted main-job output differs from what `cargo xtask resolve --target colab` prints; update README"
    );
    let lock = std::fs::read(root.join("gpu-env.lock")).unwrap();
    let want = format!("lock sha256 {}", gpu_env::fsutil::sha256_hex(&lock));
    assert!(
        quoted.contains(&want),
        "README quotes another lock hash than the committed gpu-env.lock's ({want})"
    );
}

/// README and docs/solver.md quote the K80 fixes of an unsatisfiable
/// target (`$ cargo xtask resolve --target colab-2023.11 --gpu 3.7 ...`);
/// each quoted line is one the command prints today.
#[test]
fn quoted_k80_fixes_are_what_resolve_prints() {
    const CMD: &str =
        "$ cargo xtask resolve --target colab-2023.11 --gpu 3.7 --offline --dry-run\n";
    let root = workspace_root();
    let mut c = xtask!();
    c.current_dir(&root).args([
        "resolve",
        "--target",
        "colab-2023.11",
        "--gpu",
        "3.7",
        "--offline",
        "--dry-run",
    ]);
    let (code, out, err) = run(c);
    assert_eq!(code, 1, "unsatisfiable exits 1: {out}\n{err}");
    let printed: Vec<&str> = out.lines().chain(err.lines()).collect();
    for doc in ["README.md", "docs/solver.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        let block = text
            .split(CMD)
            .nth(1)
            .and_then(|b| b.split("```").next())
            .unwrap_or_else(|| panic!("{doc} no longer quotes {CMD}"));
        for line in block.lines() {
            assert!(
                printed.contains(&line),
                "{doc} quotes `{line}`, which the command no longer prints:\n{out}{err}"
            );
        }
    }
}
