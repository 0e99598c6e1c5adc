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
        .filter(|l| !l.starts_with("wrote ") && !l.starts_with("lock sha256 "))
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
