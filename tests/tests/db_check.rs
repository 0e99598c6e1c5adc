//! `db check` on broken fixtures, one per error class, asserting the
//! message and its file:line:column. Each case is a small valid database
//! with one mutation.

use gpu_env::db::{load_files, SourceFile};

const CUDA: &str = r#"[[cuda]]
version = "11.2"
driver_min = "460.27.03"
minor_compat_driver_min = "450.80.02"
sm = ["50", "86"]
source = ["https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/"]

[cuda.sonames]
cudart = "libcudart.so.11.0"
"#;

const GPUS: &str = r#"[[gpu]]
name = "Tesla T4"
aliases = ["T4"]
compute_capability = "7.5"
source = ["https://developer.nvidia.com/cuda-gpus"]
"#;

const CUDNN: &str = r#"[[cudnn]]
version = "8.1.1"
cuda = ["11.2"]
soname = "libcudnn.so.8"
source = ["https://docs.nvidia.com/deeplearning/cudnn/"]
"#;

const WHEEL: &str = r#"package = "mxnet-cu112"
version = "1.9.1"

[[wheel]]
filename = "mxnet_cu112-1.9.1-py3-none-manylinux2014_x86_64.whl"
url = "https://files.pythonhosted.org/x.whl"
sha256 = "70137a60eef49241b1137231bbd6bdeedbb0eca83e136f864ead36998814bfe5"
size = 1
cuda = "11.2"
python_tag = "py3"
abi_tag = "none"
platform_tag = "manylinux2014_x86_64"
needed = ["libcudart.so.11.0"]
sass = [50]
ptx = []
glibc = "2.17"

[wheel.provenance]
source = "https://pypi.org/pypi/mxnet-cu112/json"
measured = "test"
"#;

const RUNTIME: &str = r#"name = "colab-test"
kind = "colab"
date = "2026-01-01"
python = "3.12.1"
cuda_toolkit = "11.2"
gpus = ["T4"]
default_gpu = "T4"
source = ["https://github.com/googlecolab/backend-info"]
"#;

fn base() -> Vec<SourceFile> {
    [
        ("cuda.toml", CUDA),
        ("gpus.toml", GPUS),
        ("cudnn.toml", CUDNN),
        ("wheels/mxnet/mxnet-cu112-1.9.1.toml", WHEEL),
        ("runtimes/colab-test.toml", RUNTIME),
    ]
    .iter()
    .map(|(p, t)| SourceFile {
        path: p.to_string(),
        text: t.to_string(),
    })
    .collect()
}

fn with(path: &str, from: &str, to: &str) -> Vec<SourceFile> {
    let mut files = base();
    let f = files.iter_mut().find(|f| f.path == path).unwrap();
    assert!(f.text.contains(from), "fixture lacks {from:?}");
    f.text = f.text.replacen(from, to, 1);
    files
}

/// Errors rendered as `file:line:col: message`.
fn errors(files: Vec<SourceFile>) -> Vec<String> {
    match load_files(&files) {
        Ok(_) => vec![],
        Err(d) => d.iter().map(|d| d.to_string()).collect(),
    }
}

fn assert_one(files: Vec<SourceFile>, expect_prefix: &str, expect_msg: &str) {
    let errs = errors(files);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].starts_with(expect_prefix),
        "{} does not start with {expect_prefix}",
        errs[0]
    );
    assert!(
        errs[0].contains(expect_msg),
        "{} lacks {expect_msg}",
        errs[0]
    );
}

#[test]
fn base_fixture_is_valid() {
    assert_eq!(errors(base()), Vec::<String>::new());
}

#[test]
fn syntax_error() {
    assert_one(
        with("gpus.toml", "aliases = [\"T4\"]", "aliases = [\"T4\""),
        "gpus.toml:4:1:",
        "missing comma between array elements",
    );
}

#[test]
fn every_unknown_key_is_reported_with_position() {
    let files = with("cuda.toml", "sm = [", "smm = 1\ndriver = 2\nsm = [");
    let errs = errors(files);
    assert!(
        errs.contains(
            &"cuda.toml:5:1: unknown key `cuda[0].smm` (see compat-db/README.md for the schema)"
                .to_string()
        ),
        "{errs:#?}"
    );
    assert!(
        errs.contains(
            &"cuda.toml:6:1: unknown key `cuda[0].driver` (see compat-db/README.md for the schema)"
                .to_string()
        ),
        "{errs:#?}"
    );
}

#[test]
fn unknown_nested_key() {
    assert_one(
        with(
            "wheels/mxnet/mxnet-cu112-1.9.1.toml",
            "measured = \"test\"",
            "measured = \"test\"\nhow = 1",
        ),
        "wheels/mxnet/mxnet-cu112-1.9.1.toml:21:1:",
        "unknown key `wheel[0].provenance.how`",
    );
}

#[test]
fn bad_value_type() {
    assert_one(
        with(
            "gpus.toml",
            "compute_capability = \"7.5\"",
            "compute_capability = \"seven\"",
        ),
        "gpus.toml:4:22:",
        "invalid compute capability `seven`",
    );
}

/// A value of the wrong type is reported at that value (an array's
/// element, not the array), and a missing field at its table.
#[test]
fn wrong_type_and_missing_field_are_placed_at_the_value_and_table() {
    let wheel = "wheels/mxnet/mxnet-cu112-1.9.1.toml";
    assert_one(
        with(wheel, "sass = [50]", "sass = [50, \"x\"]"),
        "wheels/mxnet/mxnet-cu112-1.9.1.toml:14:13:",
        "invalid type: string \"x\"",
    );
    assert_one(
        with(wheel, "size = 1\n", ""),
        "wheels/mxnet/mxnet-cu112-1.9.1.toml:4:1:",
        "missing field `size`",
    );
}

#[test]
fn bad_driver_version() {
    assert_one(
        with("cuda.toml", "460.27.03", "460.x"),
        "cuda.toml:3:14:",
        "invalid driver version `460.x`",
    );
}

#[test]
fn duplicate_cuda_release() {
    let mut files = base();
    files[0].text.push('\n');
    files[0]
        .text
        .push_str(&CUDA.replace("[cuda.sonames]\ncudart = \"libcudart.so.11.0\"\n", ""));
    assert_one(files, "cuda.toml:12:", "CUDA 11.2 listed twice");
}

#[test]
fn missing_provenance() {
    assert_one(
        with(
            "gpus.toml",
            "source = [\"https://developer.nvidia.com/cuda-gpus\"]",
            "source = []",
        ),
        "gpus.toml:",
        "record has no `source`",
    );
    assert_one(
        with(
            "gpus.toml",
            "https://developer.nvidia.com/cuda-gpus",
            "my memory",
        ),
        "gpus.toml:5:",
        "source `my memory` is not a URL",
    );
}

/// Every real wheel's glibc floor is measured: the platform rule cannot
/// reject a wheel for a glibc it was never told about.
#[test]
fn wheel_without_measured_glibc() {
    assert_one(
        with(
            "wheels/mxnet/mxnet-cu112-1.9.1.toml",
            "glibc = \"2.17\"\n",
            "",
        ),
        "wheels/mxnet/mxnet-cu112-1.9.1.toml:",
        "glibc floor is unmeasured; re-run `cargo xtask db ingest`",
    );
}

#[test]
fn wheel_references_unknown_cuda() {
    assert_one(
        with(
            "wheels/mxnet/mxnet-cu112-1.9.1.toml",
            "cuda = \"11.2\"",
            "cuda = \"11.9\"",
        ),
        "wheels/mxnet/mxnet-cu112-1.9.1.toml:9:1:",
        "CUDA 11.9 is not in cuda.toml",
    );
}

#[test]
fn cudnn_references_unknown_cuda_and_wrong_soname() {
    let errs = errors(with(
        "cudnn.toml",
        "cuda = [\"11.2\"]\nsoname = \"libcudnn.so.8\"",
        "cuda = [\"11.2\", \"10.0\"]\nsoname = \"libcudnn.so.7\"",
    ));
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(
        errs.iter()
            .any(|e| e.contains("cudnn.toml:3:") && e.contains("CUDA 10.0 is not in cuda.toml")),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("should have soname libcudnn.so.8")),
        "{errs:#?}"
    );
}

#[test]
fn bad_sha256() {
    assert_one(
        with(
            "wheels/mxnet/mxnet-cu112-1.9.1.toml",
            "70137a60",
            "ZZ137a60",
        ),
        "wheels/mxnet/mxnet-cu112-1.9.1.toml:7:1:",
        "sha256 must be 64 lowercase hex digits",
    );
}

#[test]
fn wheel_record_in_wrong_file() {
    let mut files = base();
    files[3].path = "wheels/mxnet/mxnet-cu112-1.9.0.toml".into();
    assert_one(
        files,
        "wheels/mxnet/mxnet-cu112-1.9.0.toml:1:1:",
        "must live in wheels/mxnet/mxnet-cu112-1.9.1.toml",
    );
}

#[test]
fn runtime_references_unknown_gpu() {
    assert_one(
        with(
            "runtimes/colab-test.toml",
            "gpus = [\"T4\"]",
            "gpus = [\"T4\", \"Z9\"]",
        ),
        "runtimes/colab-test.toml:6:",
        "GPU `Z9` is not in gpus.toml",
    );
}

#[test]
fn redist_soname_unknown_to_cuda_table() {
    let mut files = base();
    files.push(SourceFile {
        path: "redist/nvidia-cuda-runtime-cu11.toml".into(),
        text: REDIST_CUDART.replace("libcudart.so.11.0", "libcudart.so.11.1"),
    });
    assert_one(
        files,
        "redist/nvidia-cuda-runtime-cu11.toml:12:",
        "soname libcudart.so.11.1 is not one cuda.toml/cudnn.toml knows",
    );
}

const REDIST_CUDART: &str = r#"package = "nvidia-cuda-runtime-cu11"
component = "cudart"
cuda_major = 11
source = ["https://pypi.org/pypi/nvidia-cuda-runtime-cu11/json"]

[[release]]
version = "11.8.89"
filename = "f.whl"
url = "https://x/f.whl"
sha256 = "70137a60eef49241b1137231bbd6bdeedbb0eca83e136f864ead36998814bfe5"
size = 1
libraries = [{ path = "nvidia/cuda_runtime/lib/libcudart.so.11.0", soname = "libcudart.so.11.0" }]
measured = "test"
"#;

fn with_redist(extra: &str) -> Vec<SourceFile> {
    let mut files = base();
    files.push(SourceFile {
        path: "redist/nvidia-cuda-runtime-cu11.toml".into(),
        text: format!("{REDIST_CUDART}{extra}"),
    });
    files
}

#[test]
fn redist_yanked_flag() {
    // A yanked file (PyPI's JSON `yanked`) is a valid record, with or without a reason.
    let errs = errors(with_redist(
        "yanked = true\nyanked_reason = \"broken build\"\n",
    ));
    assert!(errs.is_empty(), "{errs:#?}");
    assert!(errors(with_redist("yanked = true\n")).is_empty());
    // A reason without the flag is refused, at the reason.
    assert_one(
        with_redist("yanked_reason = \"broken build\"\n"),
        "redist/nvidia-cuda-runtime-cu11.toml:14:",
        "yanked_reason without `yanked = true`",
    );
    // The flag is a boolean.
    assert_one(
        with_redist("yanked = \"yes\"\n"),
        "redist/nvidia-cuda-runtime-cu11.toml:14:",
        "invalid type",
    );
}

const CUDNN_ARCH: &str = r#"
[[cudnn.arch]]
cuda = ["11.2"]
min_cc = "3.5"
max_cc = "8.6"
source = "https://docs.nvidia.com/deeplearning/cudnn/archives/"
"#;

#[test]
fn cudnn_arch_rows() {
    let ok = format!("{CUDNN}{CUDNN_ARCH}");
    let files = with("cudnn.toml", CUDNN, &ok);
    assert!(errors(files).is_empty());
    // A CUDA build the release does not list.
    let bad = ok.replacen("cuda = [\"11.2\"]\nmin_cc", "cuda = [\"11.3\"]\nmin_cc", 1);
    assert_one(
        with("cudnn.toml", CUDNN, &bad),
        "cudnn.toml:8:",
        "CUDA 11.3 is not in this release's `cuda` list",
    );
    // max below min.
    let bad = ok.replacen("max_cc = \"8.6\"", "max_cc = \"3.0\"", 1);
    assert_one(
        with("cudnn.toml", CUDNN, &bad),
        "cudnn.toml:10:",
        "max_cc is below min_cc 3.5",
    );
    // The same CUDA build in two rows.
    let bad = format!("{ok}{CUDNN_ARCH}");
    assert_one(
        with("cudnn.toml", CUDNN, &bad),
        "cudnn.toml:14:",
        "CUDA 11.2 is in two `arch` rows of cuDNN 8.1.1",
    );
    // The source is a URL; unknown keys are reported.
    let bad = ok.replacen("source = \"https://docs", "source = \"docs", 1);
    assert_one(
        with("cudnn.toml", CUDNN, &bad),
        "cudnn.toml:11:",
        "is not a URL",
    );
    let bad = ok.replacen("min_cc", "bogus = 1\nmin_cc", 1);
    assert_one(
        with("cudnn.toml", CUDNN, &bad),
        "cudnn.toml:9:",
        "unknown key `cudnn[0].arch[0].bogus`",
    );
}

#[test]
fn cuda_library_arch() {
    let ok = format!(
        "{CUDA}\n[cuda.library_arch]\nunsupported_from = \"7.5\"\nlibraries = [\"cudart\", \"cudnn\"]\nsource = [\"https://github.com/apache/mxnet/issues/13337\"]\nnote = \"Turing needs CUDA 10\"\n"
    );
    assert!(errors(with("cuda.toml", CUDA, &ok)).is_empty());
    let bad = ok.replacen("\"cudart\", ", "\"cublas\", ", 1);
    assert_one(
        with("cuda.toml", CUDA, &bad),
        "cuda.toml:13:",
        "`cublas` is neither `cudnn` nor a key of this release's sonames",
    );
    let bad = ok.replacen("Turing needs CUDA 10", "Turing \\\"needs\\\" CUDA 10", 1);
    assert_one(
        with("cuda.toml", CUDA, &bad),
        "cuda.toml:15:",
        "note must be one line of plain text",
    );
}

const BREAKER: &str = r#"[[breaker]]
id = "numpy-bool-alias"
package = "mxnet"
versions = ">=1.6"
dependency = "numpy"
breaks_with = ">=1.24"
python = ">=3.8"
error = "AttributeError: module 'numpy' has no attribute 'bool'"
shim = ["numpy.bool = bool"]
source = ["https://github.com/apache/mxnet/issues/21184"]
"#;

fn with_breaker(from: &str, to: &str) -> Vec<SourceFile> {
    let mut files = base();
    assert!(BREAKER.contains(from), "fixture lacks {from:?}");
    files.push(SourceFile {
        path: "breakers.toml".into(),
        text: BREAKER.replacen(from, to, 1),
    });
    files
}

/// Specifiers are parsed at load (a bad one would make its rule silently
/// not apply): the error names the text, its position and what to write.
#[test]
fn bad_specifier() {
    assert_eq!(errors(with_breaker("", "")), Vec::<String>::new());
    assert_eq!(
        errors(with_breaker("\">=1.24\"", "\"absent\"")),
        Vec::<String>::new()
    );
    for (from, to, at, text) in [
        ("\">=1.6\"", "\">=1.x\"", "breakers.toml:4:12:", "`>=1.x`"),
        ("\">=1.24\"", "\"gone\"", "breakers.toml:6:15:", "`gone`"),
        ("\">=3.8\"", "\"3.8+\"", "breakers.toml:7:10:", "`3.8+`"),
    ] {
        let errs = errors(with_breaker(from, to));
        assert_one(with_breaker(from, to), at, "invalid PEP 440 specifier");
        assert!(errs[0].contains(text), "{}", errs[0]);
        assert!(errs[0].contains("write a PEP 440 specifier"), "{}", errs[0]);
        assert!(!errs[0].contains('\n'), "one line: {}", errs[0]);
    }
    assert!(errors(with_breaker("\">=1.24\"", "\"gone\""))[0].contains("or `absent`"));
    assert_one(
        with(
            "wheels/mxnet/mxnet-cu112-1.9.1.toml",
            "platform_tag = \"manylinux2014_x86_64\"\n",
            "platform_tag = \"manylinux2014_x86_64\"\nrequires_python = \">=3.x\"\n",
        ),
        "wheels/mxnet/mxnet-cu112-1.9.1.toml:13:19:",
        "invalid PEP 440 specifier `>=3.x`",
    );
}

fn with_requires_dist(entries: &str) -> Vec<SourceFile> {
    with(
        "wheels/mxnet/mxnet-cu112-1.9.1.toml",
        "platform_tag = \"manylinux2014_x86_64\"\n",
        &format!("platform_tag = \"manylinux2014_x86_64\"\nrequires_dist = [{entries}]\n"),
    )
}

/// Requires-Dist entries are parsed at load (one that did not parse was
/// skipped by the solver): the error names the entry, its position and
/// what to write.
#[test]
fn bad_requirement() {
    assert_eq!(
        errors(with_requires_dist(
            r#""numpy (<2.0.0,>1.16.0)", "contextvars ; python_version < \"3.7\"""#
        )),
        Vec::<String>::new()
    );
    for (entry, msg) in [
        ("numpy (<2.0.0,>1.16.0", "unbalanced parenthesis"),
        ("numpy[extra]", "extras are not supported"),
        ("numpy (>=1.x)", "invalid PEP 440 specifier `>=1.x`"),
        (
            "requests; extra == 'socks'",
            "`extra` markers are not recorded",
        ),
        ("(>=1)", "no valid project name"),
    ] {
        let files = with_requires_dist(&format!(r#""graphviz", "{entry}""#));
        assert_one(
            files.clone(),
            // The position is the entry's own (the second of the array).
            "wheels/mxnet/mxnet-cu112-1.9.1.toml:13:30:",
            &format!("requirement `{entry}`: "),
        );
        let e = &errors(files)[0];
        assert!(e.contains(msg), "{e}");
        assert!(
            e.contains("write `name`, `name spec` or `name (spec)`"),
            "{e}"
        );
        assert!(!e.contains('\n'), "one line: {e}");
    }
    assert_one(
        with_redist("requires_dist = [\"nvidia-cublas-cu11 (>=11\"]\n"),
        "redist/nvidia-cuda-runtime-cu11.toml:14:18:",
        "requirement `nvidia-cublas-cu11 (>=11`: unbalanced parenthesis",
    );
}

#[test]
fn stray_file() {
    let mut files = base();
    files.push(SourceFile {
        path: "notes.toml".into(),
        text: String::new(),
    });
    assert_one(files, "notes.toml:1:1:", "not part of the compat-db layout");
}

#[test]
fn errors_across_files_are_all_collected() {
    let mut files = with("gpus.toml", "7.5", "x");
    let w = files
        .iter_mut()
        .find(|f| f.path.starts_with("wheels"))
        .unwrap();
    w.text = w
        .text
        .replace("cuda = \"11.2\"", "cuda = \"11.9\"")
        .replace("size = 1", "size = 1\nbogus = 3");
    let errs = errors(files);
    assert!(errs.len() >= 2, "{errs:#?}");
    assert!(errs.iter().any(|e| e.starts_with("gpus.toml")));
    assert!(errs
        .iter()
        .any(|e| e.contains("unknown key `wheel[0].bogus`")));
}

#[test]
fn the_real_database_is_valid() {
    let root = gpu_env_tests::workspace_root().join("compat-db");
    let files = gpu_env::db::read_dir_files(&root).unwrap();
    let errs = errors(files);
    assert!(errs.is_empty(), "compat-db errors:\n{}", errs.join("\n"));
}

#[test]
fn embedded_fast_path_matches_the_toml_path() {
    let files = gpu_env::db::embedded_files();
    assert_eq!(gpu_env::db::embedded_hash(), gpu_env::db::db_hash(&files));
    let slow = load_files(&files).expect("embedded compat-db valid");
    let fast = gpu_env::db::Db::embedded().expect("embedded compat-db valid");
    assert_eq!(
        serde_json::to_string(&fast.export_json()).unwrap(),
        serde_json::to_string(&slow.export_json()).unwrap()
    );
}
