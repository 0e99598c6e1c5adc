//! Measure an MXNet wheel: everything `db ingest` records that can be read
//! from the wheel file itself (no network).

use crate::binary::{cudnn, elf, fatbin, upx, zip};
use crate::db::model::{ModuleCode, WheelFile, WheelProvenance};
use crate::pep440::Specifiers;
use crate::pep508::Dependency;
use crate::versions::CudaVersion;
use crate::wheelname::WheelName;
use std::path::Path;

pub const LIBRARY: &str = "mxnet/libmxnet.so";

#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error(transparent)]
    Name(#[from] crate::wheelname::WheelNameError),
    #[error(transparent)]
    Zip(#[from] zip::ZipError),
    #[error("{path}: {LIBRARY}: {source}")]
    Elf { path: String, source: elf::ElfError },
    #[error("{path}: has an `mxnet` package but no {LIBRARY}; not an MXNet binary wheel")]
    NoLibrary { path: String },
    #[error("{path}: no *.dist-info/METADATA; not a wheel")]
    NoMetadata { path: String },
    /// Requires-Python is parsed here, once: compat-db holds it typed.
    #[error("{path}: METADATA Requires-Python: {source}")]
    RequiresPython {
        path: String,
        source: crate::pep440::Pep440Error,
    },
    /// So is each Requires-Dist entry (`pep508::Dependency`); boxed, it
    /// is large.
    #[error("{path}: METADATA Requires-Dist: {source}")]
    RequiresDist {
        path: String,
        source: Box<crate::pep508::RequirementError>,
    },
}

/// Facts about one wheel, before PyPI provenance is attached.
#[derive(Debug, Clone)]
pub struct Measured {
    pub filename: String,
    pub name: WheelName,
    pub requires_python: Option<Specifiers>,
    pub requires_dist: Vec<Dependency>,
    pub placeholder: bool,
    pub needed: Vec<String>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    pub bundled: Vec<String>,
    pub code: fatbin::FatbinCode,
    /// The statically linked cuDNN's version, if any.
    pub static_cudnn: Option<cudnn::StaticCudnn>,
    /// `"upx"` when the library is UPX-packed.
    pub packed: Option<String>,
    /// Why the GPU code of a packed library is unmeasured.
    pub unmeasured: Option<String>,
    pub library_sha256: Option<String>,
    /// The highest glibc its `GLIBC_*` symbol versions need (`2.17`).
    pub glibc: Option<String>,
    pub measured: String,
}

/// Requires-Python and Requires-Dist from a METADATA file (RFC 822 style headers).
pub fn parse_metadata(text: &str) -> (Option<String>, Vec<String>) {
    let mut rp = None;
    let mut rd = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            break; // headers end; the long description follows
        }
        if let Some(v) = line.strip_prefix("Requires-Python:") {
            rp = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Requires-Dist:") {
            rd.push(v.trim().to_string());
        }
    }
    (rp, rd)
}

/// Where a wheel member is installed, relative to site-packages: the
/// `<dist>.data/purelib/` and `<dist>.data/platlib/` trees install there
/// (PEP 427), and the pre-1.0 MXNet wheels keep `mxnet/` in
/// `<dist>.data/purelib/`.
pub fn installed_path(member: &str) -> &str {
    let Some((top, rest)) = member.split_once('/') else {
        return member;
    };
    if !top.ends_with(".data") {
        return member;
    }
    rest.strip_prefix("purelib/")
        .or_else(|| rest.strip_prefix("platlib/"))
        .unwrap_or(member)
}

pub fn measure_wheel(path: &Path, filename: &str) -> Result<Measured, MeasureError> {
    let name = WheelName::parse(filename)?;
    // Name the wheel, not a temporary download path, in errors.
    let shown = filename.to_string();
    let mut archive = zip::ZipArchive::open(path)?;
    let metadata = archive
        .entries()
        .iter()
        .find(|e| e.name.ends_with(".dist-info/METADATA") && e.name.matches('/').count() == 1)
        .cloned()
        .ok_or_else(|| MeasureError::NoMetadata {
            path: shown.clone(),
        })?;
    let (requires_python, requires_dist) =
        parse_metadata(&String::from_utf8_lossy(&archive.read(&metadata)?));
    let requires_python = requires_python
        .map(|rp| Specifiers::parse(&rp))
        .transpose()
        .map_err(|source| MeasureError::RequiresPython {
            path: shown.clone(),
            source,
        })?;
    let requires_dist = requires_dist
        .iter()
        .map(|r| Dependency::parse(r))
        .filter(|r| !r.as_ref().is_err_and(|e| e.is_extra_only()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| MeasureError::RequiresDist {
            path: shown.clone(),
            source: Box::new(source),
        })?;
    let placeholder = !archive
        .entries()
        .iter()
        .any(|e| installed_path(&e.name).starts_with("mxnet/"));
    let mut bundled: Vec<String> = archive
        .entries()
        .iter()
        .filter(|e| {
            let at = installed_path(&e.name);
            at != LIBRARY && (at.starts_with("mxnet/") || at.contains(".libs/"))
        })
        .filter_map(|e| e.name.rsplit('/').next())
        .filter(|f| f.starts_with("lib") && f.contains(".so"))
        .map(str::to_string)
        .collect();
    bundled.sort();
    bundled.dedup();
    let mut m = Measured {
        filename: filename.to_string(),
        name,
        requires_python,
        requires_dist,
        placeholder,
        needed: vec![],
        rpath: vec![],
        runpath: vec![],
        bundled,
        code: fatbin::FatbinCode::default(),
        static_cudnn: None,
        packed: None,
        unmeasured: None,
        library_sha256: None,
        glibc: None,
        measured: "placeholder: wheel lists no mxnet/ package (zip central directory)".into(),
    };
    if placeholder {
        return Ok(m);
    }
    let entry = archive
        .entries()
        .iter()
        .find(|e| installed_path(&e.name) == LIBRARY)
        .cloned()
        .ok_or_else(|| MeasureError::NoLibrary {
            path: shown.clone(),
        })?;
    let lib = archive.read(&entry)?;
    measure_library(&lib, shown, &mut m)?;
    if entry.name != LIBRARY {
        m.measured = m.measured.replacen(LIBRARY, &entry.name, 1);
    }
    Ok(m)
}

/// The GPU code of one shared library a wheel ships (a cuDNN
/// redistributable's `libcudnn*.so*`), read as [`measure_wheel`] reads
/// libmxnet.so: the fatbin containers of `.nv_fatbin`, else of a scan.
#[derive(Debug, Clone)]
pub struct LibraryCode {
    /// The zip member.
    pub member: String,
    /// sha256 of the inflated library.
    pub sha256: String,
    pub code: fatbin::FatbinCode,
    /// Where the containers were found.
    pub how: &'static str,
}

/// Every ELF shared library (`*.so`, `*.so.N`) in a wheel, with its GPU
/// code; members that are not x86_64 ELF files are skipped.
pub fn libraries_code(path: &Path) -> Result<Vec<LibraryCode>, MeasureError> {
    let mut archive = zip::ZipArchive::open(path)?;
    let members: Vec<zip::Entry> = archive
        .entries()
        .iter()
        .filter(|e| {
            let file = e.name.rsplit('/').next().unwrap_or("");
            file.ends_with(".so") || file.contains(".so.")
        })
        .cloned()
        .collect();
    let mut out = Vec::new();
    for e in members {
        let lib = archive.read(&e)?;
        let Ok(facts) = elf::read_elf(&lib) else {
            continue;
        };
        let scanned = facts.fatbin_section.clone().map_or(&lib[..], |r| &lib[r]);
        out.push(LibraryCode {
            member: e.name.clone(),
            sha256: crate::fsutil::sha256_hex(&lib),
            code: fatbin::read_fatbins(scanned),
            how: code_how(&facts),
        });
    }
    Ok(out)
}

/// Where the GPU code and static cuDNN were read, as the record says it.
fn code_how(facts: &elf::ElfFacts) -> &'static str {
    if facts.fatbin_section.is_some() {
        "fatbin containers in section .nv_fatbin"
    } else {
        "fatbin containers found by scanning the whole library for magic 0xBA55ED50 (no .nv_fatbin section header)"
    }
}

/// Measure `mxnet/libmxnet.so` (already inflated and CRC-checked) into `m`.
fn measure_library(lib: &[u8], shown: String, m: &mut Measured) -> Result<(), MeasureError> {
    let facts = elf::read_elf(lib).map_err(|source| MeasureError::Elf {
        path: shown,
        source,
    })?;
    let how = if !upx::is_packed(lib) {
        let scanned = match &facts.fatbin_section {
            Some(r) => &lib[r.clone()],
            None => lib,
        };
        m.code = fatbin::read_fatbins(scanned);
        m.static_cudnn = cudnn::static_cudnn(lib);
        format!("sass/ptx/modules from {}", code_how(&facts))
    } else {
        m.packed = Some("upx".into());
        match upx::unpack(lib) {
            Ok(u) => {
                m.code = fatbin::read_fatbins(&u.image);
                m.static_cudnn = cudnn::static_cudnn(&u.image);
                format!("the library is UPX-packed (pack header version {}, format {}, method {} = NRV2E_LE32, level {}): its first PT_LOAD ({} bytes of the original {}) was unpacked by gpu-env's NRV2E decoder ({} blocks, each decoded to exactly its declared size, the original ELF header matched against the packed one); needed/rpath/runpath from the packed file's PT_DYNAMIC, which UPX keeps unchanged for the loader; sass/ptx/modules from fatbin containers found by scanning the unpacked image for magic 0xBA55ED50", u.header.version, u.header.format, u.header.method, u.header.level, u.image.len(), u.original_size, u.blocks)
            }
            Err(e) => {
                m.unmeasured = Some(format!("libmxnet.so is UPX-packed and gpu-env could not unpack it ({e}): its GPU code and static cuDNN are unmeasured"));
                "GPU code unmeasured (packed)".to_string()
            }
        }
    };
    m.glibc = facts
        .newest_glibc()
        .map(|(major, minor)| format!("{major}.{minor}"));
    m.needed = facts.needed;
    m.rpath = facts.rpath;
    m.runpath = facts.runpath;
    m.library_sha256 = Some(crate::fsutil::sha256_hex(lib));
    let cudnn_how = match &m.static_cudnn {
        Some(c) => format!("; static_cudnn from {}", c.evidence.describe()),
        None => String::new(),
    };
    let glibc_how = match &m.glibc {
        Some(_) => "; glibc: the highest GLIBC_ version its version-need table (.gnu.version_r, via DT_VERNEED) names",
        None => "",
    };
    m.measured = format!("{LIBRARY} inflated from the wheel (CRC-32 checked); needed/rpath/runpath from its ELF dynamic section; {how}{cudnn_how}{glibc_how}; requires from *.dist-info/METADATA; bundled from the zip listing");
    Ok(())
}

impl Measured {
    /// The compat-db record, given PyPI's URL and digest for the file.
    pub fn into_record(self, url: String, sha256: String, size: u64, source: String) -> WheelFile {
        let cuda = self
            .name
            .package
            .strip_prefix("mxnet-")
            // mxnet-cu101mkl is the CUDA 10.1 build with MKL-DNN.
            .map(|s| s.strip_suffix("mkl").unwrap_or(s))
            .and_then(CudaVersion::from_mxnet_suffix);
        WheelFile {
            filename: self.filename,
            url,
            sha256,
            size,
            cuda,
            python_tag: self.name.python_tag,
            abi_tag: self.name.abi_tag,
            platform_tag: self.name.platform_tag,
            requires_python: self.requires_python,
            requires_dist: self.requires_dist,
            placeholder: self.placeholder,
            no_gpu_code: self.code.is_empty() && self.unmeasured.is_none(),
            needed: self.needed,
            rpath: self.rpath,
            runpath: self.runpath,
            bundled: self.bundled,
            modules: (!self.placeholder && self.unmeasured.is_none())
                .then(|| u32::try_from(self.code.containers).unwrap_or(u32::MAX)),
            static_cudnn: self.static_cudnn.map(|c| c.version),
            packed: self.packed,
            unmeasured: self.unmeasured,
            module_code: self
                .code
                .classes
                .into_iter()
                .map(|c| ModuleCode {
                    modules: u32::try_from(c.modules).unwrap_or(u32::MAX),
                    sass: c.sass,
                    ptx: c.ptx,
                })
                .collect(),
            sass: self.code.sass,
            ptx: self.code.ptx,
            glibc: self.glibc,
            provenance: WheelProvenance {
                source,
                library_sha256: self.library_sha256,
                measured: self.measured,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{installed_path, LIBRARY};

    #[test]
    fn data_trees_install_into_site_packages() {
        let lib = "mxnet_cu80-0.9.3a3.data/purelib/mxnet/libmxnet.so";
        assert_eq!(installed_path(lib), LIBRARY);
        assert_eq!(installed_path("x-1.data/platlib/mxnet/a.so"), "mxnet/a.so");
        assert_eq!(
            installed_path("x-1.data/scripts/mxnet/a"),
            "x-1.data/scripts/mxnet/a"
        );
        assert_eq!(installed_path(LIBRARY), LIBRARY);
    }

    #[test]
    fn metadata_headers_stop_at_body() {
        let (rp, rd) = super::parse_metadata("Name: x\nRequires-Python: >=3.6\nRequires-Dist: numpy (<2.0.0,>1.16.0)\nRequires-Dist: requests\n\nRequires-Dist: not-a-header\n");
        assert_eq!(rp.as_deref(), Some(">=3.6"));
        assert_eq!(rd, vec!["numpy (<2.0.0,>1.16.0)", "requests"]);
    }
}
