//! ELF and fatbin readers on fixtures built here (gcc + objcopy), on a
//! library with its section headers stripped, and on real artifacts: a
//! shared library compiled by the real nvcc 13 from PyPI and libnvrtc.so.12.

use gpu_env::binary::{elf, fatbin, upx};
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

/// Real UPX data: the first compressed block of `mxnet/libmxnet.so` from
/// mxnet_cu101-1.5.1-py2.py3-none-manylinux1_x86_64.whl (library sha256
/// b72be035...c914, PyPI wheel sha256 27e3ea55...8e83): its `b_info`
/// (12 bytes) and 181 bytes of NRV2E_LE32 that hold the original ELF header
/// and program headers (tests/fixtures/upx/README.md).
fn real_upx_block() -> Vec<u8> {
    std::fs::read(fixtures().join("upx/cu101-1.5.1-ehdr-block.bin")).unwrap()
}

#[test]
fn upx_real_nrv2e_block_decodes_to_the_original_elf_header() {
    let blk = real_upx_block();
    let le32 = |at: usize| u32::from_le_bytes(blk[at..at + 4].try_into().unwrap()) as usize;
    let (sz_unc, sz_cpr) = (le32(0), le32(4));
    assert_eq!(
        (sz_unc, sz_cpr, blk[8], blk[9]),
        (512, 181, upx::M_NRV2E_LE32, 0)
    );
    let data = &blk[12..];
    let mut out = Vec::new();
    upx::nrv2e_le32(data, &mut out, sz_unc).unwrap();
    assert_eq!(out.len(), 512);
    assert_eq!(&out[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([out[16], out[17]]), 3, "ET_DYN");
    assert_eq!(u16::from_le_bytes([out[18], out[19]]), 62, "EM_X86_64");
    // The first PT_LOAD ends where the measured blocks say: xct_off
    // 1445576 plus the 833284911 bytes of the file's second block.
    let phdr = 64;
    assert_eq!(
        u32::from_le_bytes(out[phdr..phdr + 4].try_into().unwrap()),
        1
    );
    let filesz = u64::from_le_bytes(out[phdr + 32..phdr + 40].try_into().unwrap());
    assert_eq!(filesz, 1_445_576 + 833_284_911);
    // Cut or damaged input is an error or a bounded output, never a panic.
    for cut in 0..data.len() {
        out.clear();
        assert!(upx::nrv2e_le32(&data[..cut], &mut out, sz_unc).is_err());
        assert!(out.len() <= sz_unc);
    }
    for at in 0..data.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = data.to_vec();
            bad[at] ^= flip;
            out.clear();
            let _ = upx::nrv2e_le32(&bad, &mut out, sz_unc);
            assert!(out.len() <= sz_unc);
        }
    }
}

#[test]
fn upx_real_pack_header() {
    let tail = std::fs::read(fixtures().join("upx/cu101-1.5.1-tail.bin")).unwrap();
    let h = upx::pack_header(&tail).unwrap();
    assert_eq!((h.version, h.format, h.method, h.level), (13, 22, 8, 9));
    assert!(upx::is_packed(&tail));
    assert!(!upx::is_packed(b"\x7fELF plain library"));
    let mut info = b"junk ".to_vec();
    info.extend_from_slice(upx::INFO);
    assert!(
        upx::is_packed(&info),
        "the $Info string alone marks it packed"
    );
}

/// A file laid out as UPX lays out a packed shared library, with stored
/// blocks: unpack rebuilds the first PT_LOAD, and fatbins inside are found.
fn synthetic_packed(filesz: usize, xct_off: usize) -> (Vec<u8>, Vec<u8>) {
    let mut orig = vec![0u8; filesz];
    orig[..4].copy_from_slice(b"\x7fELF");
    orig[4..8].copy_from_slice(&[2, 1, 1, 0]);
    orig[16..20].copy_from_slice(&[3, 0, 62, 0]);
    orig[20..24].copy_from_slice(&1u32.to_le_bytes());
    orig[32..40].copy_from_slice(&64u64.to_le_bytes());
    orig[56..58].copy_from_slice(&1u16.to_le_bytes());
    orig[64..68].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    orig[96..104].copy_from_slice(&(filesz as u64).to_le_bytes());
    let fat = fatbin::build_container(&[(2, 75, b"sass"), (1, 70, b"ptx")]);
    let at = (xct_off + 64) & !7;
    orig[at..at + fat.len()].copy_from_slice(&fat);
    let mut packed = orig[..xct_off].to_vec();
    packed.extend_from_slice(&[0; 12]); // l_info
    let word = |v: usize| (v as u32).to_le_bytes();
    packed.extend_from_slice(&[0; 4]);
    packed.extend_from_slice(&word(filesz + 100));
    packed.extend_from_slice(&word(filesz));
    let mut stored = |from: usize, to: usize| {
        packed.extend_from_slice(&word(to - from));
        packed.extend_from_slice(&word(to - from));
        packed.extend_from_slice(&[upx::M_NRV2E_LE32, 0, 0, 0]);
        packed.extend_from_slice(&orig[from..to]);
    };
    stored(0, 120);
    let mid = xct_off + (filesz - xct_off) / 2;
    stored(xct_off, mid);
    stored(mid, filesz);
    packed.extend_from_slice(&[0, 0, 0, 0, b'U', b'P', b'X', b'!']);
    packed.extend_from_slice(upx::INFO);
    packed.extend_from_slice(b"UPX!");
    packed.extend_from_slice(&[13, upx::FORMAT_LINUX_ELF64_AMD, 8, 9]);
    packed.extend_from_slice(&[0; 24]);
    packed.extend_from_slice(&word(xct_off + 12));
    (orig, packed)
}

#[test]
fn upx_layout_unpacks_and_hostile_variants_are_errors() {
    let (orig, packed) = synthetic_packed(4096, 512);
    let u = upx::unpack(&packed).unwrap();
    assert_eq!((u.xct_off, u.blocks, u.original_size), (512, 3, 4196));
    assert_eq!(u.image, orig);
    let code = fatbin::read_fatbins(&u.image);
    assert_eq!(
        (code.sass, code.ptx, code.containers),
        (vec![75], vec![70], 1)
    );
    for cut in 0..packed.len() {
        let _ = upx::unpack(&packed[..cut]); // must not panic
    }
    for at in (0..packed.len()).step_by(3) {
        let mut bad = packed.clone();
        bad[at] ^= 0xff;
        if let Ok(u) = upx::unpack(&bad) {
            assert!(u.image.len() <= 4096 + 256);
        }
    }
    let mut other = packed.clone();
    let n = other.len();
    other[n - 36 + 5] = 12; // another UPX format
    assert_eq!(upx::unpack(&other).unwrap_err(), upx::UpxError::Format(12));
}

/// The GLIBC_ version names a library needs (`.gnu.version_r`), read as the
/// loader finds them (DT_VERNEED), equal binutils' `readelf -V` listing, with
/// and without section headers. The library calls `getentropy`, a GLIBC_2.25
/// symbol, so the highest is that and not the baseline 2.2.5.
#[test]
fn glibc_version_needs_match_readelf_with_and_without_section_headers() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("entropy.c");
    std::fs::write(
        &src,
        "#include <unistd.h>\nint gpu_env_entropy(void *b) { return getentropy(b, 8); }\n",
    )
    .unwrap();
    let so = dir.path().join("libentropy.so");
    let st = Command::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success(), "gcc failed");
    let out = Command::new("readelf").arg("-V").arg(&so).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut want: Vec<String> = text
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
        .collect();
    want.sort();
    want.dedup();
    assert!(want.contains(&"2.25".to_string()), "readelf -V: {text}");
    let mut bytes = std::fs::read(&so).unwrap();
    assert_eq!(elf::read_elf(&bytes).unwrap().glibc_versions, want);
    strip_section_headers(&mut bytes);
    let facts = elf::read_elf(&bytes).unwrap();
    assert!(!facts.has_section_headers);
    assert_eq!(facts.glibc_versions, want);
    assert_eq!(facts.newest_glibc(), Some((2, 25)));
}
