//! GPUs added to gpus.toml (issue 12 item 8) resolve by the short names users
//! type, with the compute capability their source states.

use gpu_env_tests::*;

/// `resolve --target local --gpu <gpu> --dry-run` with every other fact
/// overridden, so the answer does not depend on this machine.
fn resolve(gpu: &str) -> std::process::Command {
    let mut c = xtask!();
    c.args(["resolve", "--target", "local", "--gpu", gpu]);
    c.args([
        "--driver",
        "535.104.05",
        "--cuda-toolkit",
        "12.2",
        "--cudnn",
        "8.9.7",
    ]);
    c.args(["--python-version", "3.10.12", "--offline", "--dry-run"]);
    c
}

fn resolve_json(gpu: &str) -> serde_json::Value {
    let mut c = resolve(gpu);
    c.arg("--json");
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{gpu}: {out}{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{gpu}: {e}: {out}"))
}

#[test]
fn rtx_a6000_resolves_by_alias_with_compute_capability_8_6() {
    // developer.nvidia.com/cuda-gpus, 8.6 row.
    let v = resolve_json("RTX A6000");
    let code = &v["mxnet"]["gpu_code"][0];
    assert_eq!(code["device"], "NVIDIA RTX A6000", "{v:#}");
    assert_eq!(code["compute_capability"], "8.6", "{v:#}");
    assert_eq!(code["code"]["kind"], "sass", "{v:#}");
    assert_eq!(code["code"]["sm"], 86, "{v:#}");
}

#[test]
fn the_text_report_names_the_gpu_and_its_compute_capability() {
    let (code, out, err) = run(resolve("a16"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("NVIDIA A16 (8.6)"), "{out}");
}

#[test]
fn spellings_of_a_name_resolve_to_the_same_gpu() {
    // Case, spaces, hyphens and the NVIDIA/GeForce/Tesla prefixes do not matter.
    for typed in [
        "RTX4090",
        "rtx-4090",
        "NVIDIA GeForce RTX 4090",
        "geforce rtx4090",
    ] {
        let v = resolve_json(typed);
        let code = &v["mxnet"]["gpu_code"][0];
        assert_eq!(code["device"], "GeForce RTX 4090", "{typed}: {v:#}");
        assert_eq!(code["compute_capability"], "8.9", "{typed}: {v:#}");
    }
    assert_eq!(
        resolve_json("tesla-t4")["mxnet"]["gpu_code"][0]["device"],
        "NVIDIA T4"
    );
}

#[test]
fn the_fact_table_stays_aligned_with_a_long_gpu_name() {
    // Resolvable or not, the facts are printed; their sources line up.
    let (_, out, err) = run(resolve("RTX PRO 4000 Blackwell SFF Edition"));
    let starts: Vec<usize> = out
        .lines()
        .take_while(|l| l.starts_with("  ") || l.starts_with("target "))
        .filter(|l| l.ends_with(']'))
        .filter_map(|l| l.rfind(" ["))
        .collect();
    assert!(starts.len() >= 4, "{out}{err}");
    assert!(starts.windows(2).all(|w| w[0] == w[1]), "{out}");
}
