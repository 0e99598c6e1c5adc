//! UPX-packed ELF64 shared libraries: detection and unpacking of the part
//! that holds the GPU code. The four `mxnet-cu{90,92,100,101}` 1.5.1 wheels
//! ship a `libmxnet.so` packed by UPX (pack header version 13, format 22 =
//! linux/amd64 ELF, method 8 = NRV2E_LE32, level 9, no filter).
//!
//! Layout of a packed shared library, as UPX 3.95's
//! `PackLinuxElf64::unpack` reads it (src/p_lx_elf.cpp, src/p_unix.cpp):
//!
//! - the file's last 4 bytes are `overlay_offset`; before them sits the
//!   32-byte pack header (`"UPX!"`, version, format, method, level, ...);
//! - `l_info` (12 bytes) ends at `overlay_offset`; its position is `xct_off`,
//!   the original file offset where compression starts. Everything below it
//!   (ELF header, dynamic symbols and strings, relocations) stays as it was,
//!   for the dynamic loader, and so does `PT_DYNAMIC` (only `DT_INIT` changes):
//!   `DT_NEEDED` is read from the packed file as the loader reads it;
//! - `p_info` (12 bytes: progid, original file size, block size) at
//!   `overlay_offset`, then blocks `b_info {u32 sz_unc, u32 sz_cpr, u8 method,
//!   u8 filter id, u8 filter cto, u8 unused}` each followed by `sz_cpr` bytes
//!   (stored when `sz_cpr == sz_unc`): first the original ELF header and
//!   program headers, then the rest of the first `PT_LOAD`
//!   (`[xct_off, p_filesz)`), which holds `.rodata` and `.nv_fatbin`.
//!
//! Only NRV2E_LE32 without filters is decoded (what these wheels use); any
//! other method or filter is a typed error, never a guess.

pub const PACK_MAGIC: &[u8; 4] = b"UPX!";
/// The string UPX leaves in every packed file.
pub const INFO: &[u8] = b"$Info: This file is packed with the UPX executable packer";
/// UPX format number of linux/amd64 ELF (`UPX_F_LINUX_ELF64_AMD`).
pub const FORMAT_LINUX_ELF64_AMD: u8 = 22;
/// Compression method NRV2E with a 32-bit little-endian bit buffer.
pub const M_NRV2E_LE32: u8 = 8;
/// The most original bytes gpu-env reconstructs (the zip member limit).
pub const MAX_UNPACKED: u64 = 2 << 30;
const PREALLOC: usize = 16 << 20;
const L_INFO: usize = 12;
const P_INFO: usize = 12;
const B_INFO: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpxError {
    #[error("UPX pack header not found at the end of the file")]
    NoPackHeader,
    #[error("UPX format {0} is not linux/amd64 ELF (22)")]
    Format(u8),
    #[error("UPX compression method {0} is not supported (only NRV2E_LE32, 8)")]
    Method(u8),
    #[error("UPX filter {0:#x} is not supported (only unfiltered blocks)")]
    Filter(u8),
    #[error("UPX structure corrupt: {0}")]
    Corrupt(&'static str),
    #[error("UPX block at offset {at}: NRV2E data corrupt ({what})")]
    Decode { at: usize, what: &'static str },
}

/// The pack header at the end of a UPX-packed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackHeader {
    pub version: u8,
    pub format: u8,
    pub method: u8,
    pub level: u8,
}

/// The original first `PT_LOAD`, rebuilt: original ELF and program headers,
/// the uncompressed low part copied from the packed file, and the
/// decompressed rest.
#[derive(Debug, Clone)]
pub struct Unpacked {
    pub header: PackHeader,
    /// Original file offset where compression started.
    pub xct_off: usize,
    /// Original size of the library (`p_info.p_filesize`).
    pub original_size: u64,
    /// Number of compressed blocks decoded.
    pub blocks: usize,
    /// Original bytes `[0, p_filesz of the first PT_LOAD)`.
    pub image: Vec<u8>,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// The pack header, when the file ends like a UPX-packed file: `"UPX!"`
/// 36 bytes from the end (32-byte header, then `overlay_offset`).
pub fn pack_header(bytes: &[u8]) -> Option<PackHeader> {
    let at = bytes.len().checked_sub(36)?;
    if bytes.get(at..at + 4)? != PACK_MAGIC {
        return None;
    }
    Some(PackHeader {
        version: bytes[at + 4],
        format: bytes[at + 5],
        method: bytes[at + 6],
        level: bytes[at + 7],
    })
}

/// Whether the file is UPX-packed: a pack header at its end, or UPX's
/// `$Info` string anywhere (a damaged header is still a packed file).
pub fn is_packed(bytes: &[u8]) -> bool {
    pack_header(bytes).is_some() || bytes.windows(INFO.len()).any(|w| w == INFO)
}

struct Block<'a> {
    at: usize,
    sz_unc: usize,
    method: u8,
    filter: u8,
    data: &'a [u8],
}

/// The `b_info` at `*pos` and its data; advances `*pos` past both.
fn next_block<'a>(b: &'a [u8], pos: &mut usize) -> Result<Block<'a>, UpxError> {
    let at = *pos;
    let short = UpxError::Corrupt("b_info runs past the end of the file");
    let sz_unc = u32_at(b, at).ok_or(short.clone())? as usize;
    let sz_cpr = u32_at(b, at + 4).ok_or(short.clone())? as usize;
    let (method, filter) = (b[at + 8], *b.get(at + 9).ok_or(short.clone())?);
    if sz_unc == 0 || sz_cpr == 0 || sz_cpr > sz_unc {
        return Err(UpxError::Corrupt("b_info sizes"));
    }
    let start = at + B_INFO;
    let data = b.get(start..start + sz_cpr).ok_or(short)?;
    *pos = start + sz_cpr;
    Ok(Block {
        at,
        sz_unc,
        method,
        filter,
        data,
    })
}

/// Append one block's original bytes to `out`.
fn decode_block(block: &Block, out: &mut Vec<u8>) -> Result<(), UpxError> {
    if block.data.len() == block.sz_unc {
        out.extend_from_slice(block.data);
        return Ok(());
    }
    if block.method != M_NRV2E_LE32 {
        return Err(UpxError::Method(block.method));
    }
    if block.filter != 0 {
        return Err(UpxError::Filter(block.filter));
    }
    nrv2e_le32(block.data, out, block.sz_unc)
        .map_err(|what| UpxError::Decode { at: block.at, what })
}

/// Unpack the first `PT_LOAD` of a UPX-packed linux/amd64 ELF shared library.
pub fn unpack(bytes: &[u8]) -> Result<Unpacked, UpxError> {
    let header = pack_header(bytes).ok_or(UpxError::NoPackHeader)?;
    if header.format != FORMAT_LINUX_ELF64_AMD {
        return Err(UpxError::Format(header.format));
    }
    let overlay = u32_at(bytes, bytes.len() - 4).ok_or(UpxError::NoPackHeader)? as usize;
    let xct_off = overlay
        .checked_sub(L_INFO)
        .ok_or(UpxError::Corrupt("overlay offset"))?;
    let original_size = u64::from(u32_at(bytes, overlay + 4).ok_or(UpxError::Corrupt("p_info"))?);
    if original_size > MAX_UNPACKED {
        return Err(UpxError::Corrupt("original size above 2 GiB"));
    }
    let mut pos = overlay + P_INFO;
    let first = next_block(bytes, &mut pos)?;
    let mut image = Vec::with_capacity(PREALLOC.min(original_size as usize));
    decode_block(&first, &mut image)?;
    let load_filesz = first_load_filesz(&image, bytes)?;
    if xct_off < image.len() || xct_off as u64 > load_filesz || load_filesz > original_size {
        return Err(UpxError::Corrupt(
            "compressed extent outside the first PT_LOAD",
        ));
    }
    image.extend_from_slice(&bytes[image.len()..xct_off]);
    let mut blocks = 1;
    while (image.len() as u64) < load_filesz {
        let block = next_block(bytes, &mut pos)?;
        if image.len() as u64 + block.sz_unc as u64 > load_filesz {
            return Err(UpxError::Corrupt("blocks exceed the first PT_LOAD"));
        }
        decode_block(&block, &mut image)?;
        blocks += 1;
    }
    Ok(Unpacked {
        header,
        xct_off,
        original_size,
        blocks,
        image,
    })
}

/// Check the decompressed ELF header against the packed one and return the
/// original first `PT_LOAD`'s file size.
fn first_load_filesz(ehdr: &[u8], packed: &[u8]) -> Result<u64, UpxError> {
    let bad = UpxError::Corrupt("decompressed ELF header does not match the packed file");
    if ehdr.len() < 64 || ehdr[..7] != packed.get(..7).ok_or(bad.clone())?[..] {
        return Err(bad);
    }
    // e_type, e_machine, e_version as in the packed header (UPX checks these).
    if ehdr.get(16..24) != packed.get(16..24) || u64_at(ehdr, 32) != Some(64) {
        return Err(bad);
    }
    let phnum = usize::from(u16_at(ehdr, 56).ok_or(bad.clone())?);
    for i in 0..phnum {
        let ph = 64 + i * 56;
        let p_type = u32_at(ehdr, ph).ok_or(UpxError::Corrupt("program headers"))?;
        if p_type == 1 {
            return u64_at(ehdr, ph + 32).ok_or(UpxError::Corrupt("program headers"));
        }
    }
    Err(UpxError::Corrupt(
        "no PT_LOAD in the original program headers",
    ))
}

/// UCL's `ucl_nrv2e_decompress_le32` (src/n2e_d.c of UPX's vendored UCL),
/// with every read and write bounds-checked: appends exactly `want` bytes to
/// `out` and consumes exactly `src`, or fails.
pub fn nrv2e_le32(src: &[u8], out: &mut Vec<u8>, want: usize) -> Result<(), &'static str> {
    let base = out.len();
    let mut bits = Bits {
        src,
        ilen: 0,
        bb: 0,
        bc: 0,
    };
    let mut last_m_off = 1usize;
    loop {
        while bits.bit()? == 1 {
            let b = bits.byte()?;
            if out.len() - base >= want {
                return Err("output overrun");
            }
            out.push(b);
        }
        let mut m_off = 1usize;
        loop {
            m_off = m_off * 2 + bits.bit()? as usize;
            if m_off > 0xff_ffff + 3 {
                return Err("lookbehind overrun");
            }
            if bits.bit()? == 1 {
                break;
            }
            m_off = (m_off - 1) * 2 + bits.bit()? as usize;
        }
        let mut m_len: usize;
        if m_off == 2 {
            m_off = last_m_off;
            m_len = bits.bit()? as usize;
        } else {
            let v = ((m_off - 3) as u32) * 256 + u32::from(bits.byte()?);
            if v == u32::MAX {
                break;
            }
            m_len = ((v ^ u32::MAX) & 1) as usize;
            m_off = (v >> 1) as usize + 1;
            last_m_off = m_off;
        }
        if m_len != 0 {
            m_len = 1 + bits.bit()? as usize;
        } else if bits.bit()? == 1 {
            m_len = 3 + bits.bit()? as usize;
        } else {
            m_len += 1;
            loop {
                m_len = m_len * 2 + bits.bit()? as usize;
                if m_len >= want {
                    return Err("output overrun");
                }
                if bits.bit()? == 1 {
                    break;
                }
            }
            m_len += 3;
        }
        m_len += usize::from(m_off > 0x500);
        copy_match(out, base, want, m_off, m_len + 1)?;
    }
    if out.len() - base != want {
        return Err("output shorter than the block's size");
    }
    if bits.ilen != src.len() {
        return Err("input not consumed");
    }
    Ok(())
}

fn copy_match(
    out: &mut Vec<u8>,
    base: usize,
    want: usize,
    m_off: usize,
    len: usize,
) -> Result<(), &'static str> {
    let produced = out.len() - base;
    if m_off > produced {
        return Err("lookbehind overrun");
    }
    if produced + len > want {
        return Err("output overrun");
    }
    let from = out.len() - m_off;
    if m_off >= len {
        out.extend_from_within(from..from + len);
    } else {
        for i in 0..len {
            let b = out[from + i];
            out.push(b);
        }
    }
    Ok(())
}

struct Bits<'a> {
    src: &'a [u8],
    ilen: usize,
    bb: u32,
    bc: u32,
}

impl Bits<'_> {
    fn bit(&mut self) -> Result<u32, &'static str> {
        if self.bc > 0 {
            self.bc -= 1;
            return Ok((self.bb >> self.bc) & 1);
        }
        self.bb = u32_at(self.src, self.ilen).ok_or("input overrun")?;
        self.ilen += 4;
        self.bc = 31;
        Ok(self.bb >> 31)
    }
    fn byte(&mut self) -> Result<u8, &'static str> {
        let b = *self.src.get(self.ilen).ok_or("input overrun")?;
        self.ilen += 1;
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_or_garbage_inputs_are_errors_not_panics() {
        let mut out = Vec::new();
        for src in [&[][..], &[0xff; 3], &[0xff; 64], &[0; 64], &[0x55; 17]] {
            out.clear();
            assert!(nrv2e_le32(src, &mut out, 1000).is_err());
            assert!(out.len() <= 1000);
        }
        assert_eq!(unpack(b"not packed").unwrap_err(), UpxError::NoPackHeader);
        let mut fake = vec![0u8; 100];
        fake[64..68].copy_from_slice(PACK_MAGIC);
        fake[69] = FORMAT_LINUX_ELF64_AMD;
        fake[96..100].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(unpack(&fake).is_err());
        fake[96..100].copy_from_slice(&20u32.to_le_bytes());
        assert!(unpack(&fake).is_err());
    }
}
