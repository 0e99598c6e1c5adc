//! ELF and fatbin readers on fixtures built here (gcc + objcopy), on a
//! library with its section headers stripped, and on real artifacts: a
//! shared library compiled by the real nvcc 13 from PyPI and libnvrtc.so.12.

use gpu_env::binary::{elf, fatbin};
use gpu_env_tests::*;
use std::process::Command;

#[test]
fn gcc_library_needed_rpath_and_fatbin_section() {
    let dir = tempfile::tempdir().unwrap();
    let blob = fatbin::build_container(&[(2, 50, b"sass"), (2, 86, b"sass"), (1, 86, b"ptx text")]);
    let so = build_so(
        dir.path(),
        &["libcudart.so.11.0", "libcudnn.so.8"],
        "$ORIGIN:/opt/x",
        Some(&blob),
    );
    let bytes = std::fs::read(&so).unwrap();
    let facts = elf::read_elf(&bytes).unwrap();
    assert!(
        facts
            .needed
            .starts_with(&["libcudart.so.11.0".to_string(), "libcudnn.so.8".to_string()]),
        "{:?}",
        facts.needed
    );
    assert!(facts.needed.contains(&"libc.so.6".to_string()));
    assert_eq!(facts.rpath, vec!["$ORIGIN", "/opt/x"]);
    let section = facts
        .fatbin_section
        .clone()
        .expect(".nv_fatbin section found");
    let code = fatbin::read_fatbins(&bytes[section]);
    assert_eq!(code.sass, vec![50, 86]);
    assert_eq!(code.ptx, vec![86]);
}

#[test]
fn stripped_section_headers_fall_back_to_scanning() {
    let dir = tempfile::tempdir().unwrap();
    let blob = fatbin::build_container(&[(2, 37, b"k80"), (1, 70, b"ptx")]);
    let so = build_so(dir.path(), &["libcublas.so.10"], "$ORIGIN", Some(&blob));
    let mut bytes = std::fs::read(&so).unwrap();
    strip_section_headers(&mut bytes);
    let facts = elf::read_elf(&bytes).unwrap();
    assert!(!facts.has_section_headers);
    assert_eq!(facts.fatbin_section, None);
    assert!(
        facts.needed.contains(&"libcublas.so.10".to_string()),
        "DT_NEEDED via program headers: {:?}",
        facts.needed
    );
    let code = fatbin::read_fatbins(&bytes);
    assert_eq!((code.sass, code.ptx), (vec![37], vec![70]));
}

#[test]
fn corrupt_section_header_table_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let blob = fatbin::build_container(&[(2, 61, b"sass"), (1, 61, b"ptx")]);
    let so = build_so(dir.path(), &["libcudart.so.9.2"], "$ORIGIN", Some(&blob));
    let mut bytes = std::fs::read(&so).unwrap();
    corrupt_section_headers(&mut bytes);
    let facts = elf::read_elf(&bytes).unwrap();
    assert!(facts.bad_section_headers);
    assert!(facts.needed.contains(&"libcudart.so.9.2".to_string()));
    let code = fatbin::read_fatbins(&bytes);
    assert_eq!((code.sass, code.ptx), (vec![61], vec![61]));
}

#[test]
fn not_elf_is_an_error_not_a_panic() {
    assert!(elf::read_elf(b"PK\x03\x04 not an elf").is_err());
    assert!(elf::read_elf(&[]).is_err());
    let mut truncated = std::fs::read("/bin/true").unwrap();
    truncated.truncate(200);
    let _ = elf::read_elf(&truncated); // must not panic
}

#[test]
fn real_nvcc_library_has_sass_75_and_ptx_90() {
    let venv = tools_venv();
    let nvcc = nvcc(&venv);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("k.cu");
    std::fs::write(&src, "extern \"C\" __global__ void axpy(float a, float *x, float *y, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) y[i] = a * x[i] + y[i]; }\n").unwrap();
    let so = dir.path().join("libk.so");
    let out = Command::new(&nvcc)
        .args(["-shared", "-Xcompiler", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .args([
            "-gencode",
            "arch=compute_75,code=sm_75",
            "-gencode",
            "arch=compute_90,code=compute_90",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nvcc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&so).unwrap();
    let facts = elf::read_elf(&bytes).unwrap();
    let code = fatbin::read_fatbins(
        &bytes[facts
            .fatbin_section
            .clone()
            .expect("nvcc writes .nv_fatbin")],
    );
    assert_eq!(code.sass, vec![75]);
    assert_eq!(code.ptx, vec![90]);

    // Also the raw -fatbin output, the container format on its own.
    let fb = dir.path().join("k.fatbin");
    let st = Command::new(&nvcc)
        .arg("-fatbin")
        .args([
            "-gencode",
            "arch=compute_75,code=sm_75",
            "-gencode",
            "arch=compute_90,code=compute_90",
            "-o",
        ])
        .arg(&fb)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());
    let code = fatbin::read_fatbins(&std::fs::read(&fb).unwrap());
    assert_eq!(
        (code.sass, code.ptx, code.containers),
        (vec![75], vec![90], 1)
    );
}

#[test]
fn real_libnvrtc_soname() {
    let venv = tools_venv();
    let lib = nvidia_dir(&venv).join("cuda_nvrtc/lib/libnvrtc.so.12");
    let bytes = std::fs::read(&lib).unwrap_or_else(|e| panic!("{}: {e}", lib.display()));
    let facts = elf::read_elf(&bytes).unwrap();
    assert_eq!(facts.soname.as_deref(), Some("libnvrtc.so.12"));
}
