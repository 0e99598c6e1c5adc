//! A minimal, strict zip reader for wheels: central directory, stored and
//! deflated members, CRC-checked. Zip64 archives are refused with a clear
//! error (no MXNet wheel needs them, and a half-understood zip64 record is how
//! a truncated file gets read as a good one).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const LOCAL_SIG: u32 = 0x0403_4b50;

#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a zip archive (no end-of-central-directory record); is it a wheel, and was the download complete?")]
    NotZip { path: PathBuf },
    #[error("{path}: zip64 archive; gpu-env reads only classic zip wheels")]
    Zip64 { path: PathBuf },
    #[error("{path}: truncated or corrupt zip ({what})")]
    Corrupt { path: PathBuf, what: String },
    #[error("{path}: member {name} declares {size} bytes, more than {limit} ({why}); not read")]
    TooLarge {
        path: PathBuf,
        name: String,
        size: u64,
        limit: u64,
        why: &'static str,
    },
    #[error("{path}: member {name} uses compression method {method}; only stored (0) and deflate (8) are supported")]
    Method {
        path: PathBuf,
        name: String,
        method: u16,
    },
}

/// The largest member gpu-env inflates (libmxnet.so of a CUDA wheel is
/// under 1.5 GB); a larger declared size is refused before reading.
pub const MAX_MEMBER: u64 = 2 << 30;

/// Memory reserved up front for a member: the rest grows as bytes really
/// arrive, so a 286-byte file declaring 4 GiB allocates nothing big.
const PREALLOC: u64 = 16 << 20;

/// Deflate expands at most about 1032:1; a declared size beyond this ratio
/// (plus slack) cannot be the member's and is refused before inflating.
const MAX_RATIO: u64 = 1100;

#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub method: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub size: u64,
    local_header_offset: u64,
}

pub struct ZipArchive {
    path: PathBuf,
    file: File,
    entries: Vec<Entry>,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Whether an extra-field block holds a zip64 record (header id 0x0001).
fn has_zip64_extra(mut extra: &[u8]) -> bool {
    while extra.len() >= 4 {
        let (id, len) = (le16(extra, 0), usize::from(le16(extra, 2)));
        if id == 0x0001 {
            return true;
        }
        extra = extra.get(4 + len..).unwrap_or(&[]);
    }
    false
}

impl ZipArchive {
    pub fn open(path: &Path) -> Result<Self, ZipError> {
        let io = |source| ZipError::Io {
            path: path.to_path_buf(),
            source,
        };
        let corrupt = |what: &str| ZipError::Corrupt {
            path: path.to_path_buf(),
            what: what.to_string(),
        };
        let mut file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        // The EOCD is 22 bytes plus a comment of at most 65535.
        let tail_len = len.min(22 + 65535 + 20);
        let mut tail = vec![0u8; tail_len as usize];
        file.seek(SeekFrom::Start(len - tail_len)).map_err(io)?;
        file.read_exact(&mut tail).map_err(io)?;
        let eocd = (0..tail.len().saturating_sub(21))
            .rev()
            .find(|&i| {
                le32(&tail, i) == EOCD_SIG
                    && i + 22 + usize::from(le16(&tail, i + 20)) == tail.len()
            })
            .ok_or_else(|| ZipError::NotZip {
                path: path.to_path_buf(),
            })?;
        if eocd >= 20 && le32(&tail, eocd - 20) == ZIP64_LOCATOR_SIG {
            return Err(ZipError::Zip64 {
                path: path.to_path_buf(),
            });
        }
        let count = le16(&tail, eocd + 10);
        let cd_size = le32(&tail, eocd + 12);
        let cd_offset = le32(&tail, eocd + 16);
        if count == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF {
            return Err(ZipError::Zip64 {
                path: path.to_path_buf(),
            });
        }
        let eocd_pos = len - tail_len + eocd as u64;
        if u64::from(cd_offset) + u64::from(cd_size) > eocd_pos {
            return Err(corrupt("central directory lies past its end record"));
        }
        let mut cd = vec![0u8; cd_size as usize];
        file.seek(SeekFrom::Start(u64::from(cd_offset)))
            .map_err(io)?;
        file.read_exact(&mut cd).map_err(io)?;
        let mut entries = Vec::with_capacity(usize::from(count));
        let mut p = 0usize;
        for _ in 0..count {
            if p + 46 > cd.len() || le32(&cd, p) != CENTRAL_SIG {
                return Err(corrupt("bad central directory entry"));
            }
            let name_len = usize::from(le16(&cd, p + 28));
            let extra_len = usize::from(le16(&cd, p + 30));
            let comment_len = usize::from(le16(&cd, p + 32));
            let end = p + 46 + name_len + extra_len + comment_len;
            if end > cd.len() {
                return Err(corrupt("central directory entry runs past the directory"));
            }
            let entry = Entry {
                name: String::from_utf8_lossy(&cd[p + 46..p + 46 + name_len]).into_owned(),
                method: le16(&cd, p + 10),
                crc32: le32(&cd, p + 16),
                compressed_size: u64::from(le32(&cd, p + 20)),
                size: u64::from(le32(&cd, p + 24)),
                local_header_offset: u64::from(le32(&cd, p + 42)),
            };
            let extra = &cd[p + 46 + name_len..p + 46 + name_len + extra_len];
            if entry.compressed_size == 0xFFFF_FFFF
                || has_zip64_extra(extra)
                || entry.size == 0xFFFF_FFFF
                || entry.local_header_offset == 0xFFFF_FFFF
            {
                return Err(ZipError::Zip64 {
                    path: path.to_path_buf(),
                });
            }
            entries.push(entry);
            p = end;
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            entries,
        })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn find(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Read and decompress one member, checking its size and CRC-32.
    pub fn read(&mut self, entry: &Entry) -> Result<Vec<u8>, ZipError> {
        let path = self.path.clone();
        let io = |source| ZipError::Io {
            path: path.clone(),
            source,
        };
        let corrupt = |what: String| ZipError::Corrupt {
            path: path.clone(),
            what,
        };
        let mut lh = [0u8; 30];
        self.file
            .seek(SeekFrom::Start(entry.local_header_offset))
            .map_err(io)?;
        self.file.read_exact(&mut lh).map_err(io)?;
        if le32(&lh, 0) != LOCAL_SIG {
            return Err(corrupt(format!("bad local header for {}", entry.name)));
        }
        let name_len = u64::from(le16(&lh, 26));
        let mut extra = vec![0u8; usize::from(le16(&lh, 28))];
        self.file
            .seek(SeekFrom::Current(name_len as i64))
            .map_err(io)?;
        self.file.read_exact(&mut extra).map_err(io)?;
        if has_zip64_extra(&extra) {
            return Err(ZipError::Zip64 { path });
        }
        let too_large = |limit: u64, why: &'static str| ZipError::TooLarge {
            path: path.clone(),
            name: entry.name.clone(),
            size: entry.size,
            limit,
            why,
        };
        if entry.size > MAX_MEMBER {
            return Err(too_large(MAX_MEMBER, "gpu-env's member limit"));
        }
        let ratio_cap = entry
            .compressed_size
            .saturating_mul(MAX_RATIO)
            .saturating_add(1024);
        if entry.method == 8 && entry.size > ratio_cap {
            return Err(too_large(
                ratio_cap,
                "deflate cannot expand its compressed size that much",
            ));
        }
        if entry.method == 0 && entry.size != entry.compressed_size {
            return Err(corrupt(format!(
                "stored member {} is {} bytes, directory says {}",
                entry.name, entry.compressed_size, entry.size
            )));
        }
        let raw = (&mut self.file).take(entry.compressed_size);
        let mut out = Vec::with_capacity(entry.size.min(PREALLOC) as usize);
        // Never more than the declared size plus one byte: a member that
        // inflates past its size is corrupt, found without inflating it all.
        let limit = entry.size + 1;
        match entry.method {
            0 => {
                raw.take(limit).read_to_end(&mut out).map_err(io)?;
            }
            8 => {
                flate2::read::DeflateDecoder::new(raw)
                    .take(limit)
                    .read_to_end(&mut out)
                    .map_err(|e| corrupt(format!("inflating {}: {e}", entry.name)))?;
            }
            method => {
                return Err(ZipError::Method {
                    path,
                    name: entry.name.clone(),
                    method,
                })
            }
        }
        if out.len() as u64 != entry.size {
            let got = if out.len() as u64 > entry.size {
                format!("more than {} bytes", entry.size)
            } else {
                format!("{} bytes", out.len())
            };
            return Err(corrupt(format!(
                "{} inflated to {got}, directory says {}",
                entry.name, entry.size
            )));
        }
        let mut crc = flate2::Crc::new();
        crc.update(&out);
        if crc.sum() != entry.crc32 {
            return Err(corrupt(format!("CRC-32 mismatch in {}", entry.name)));
        }
        Ok(out)
    }
}
