//! What the dynamic loader will ask for: `DT_NEEDED`, `DT_RPATH`/`DT_RUNPATH`,
//! `DT_SONAME`, the `GLIBC_*` versions of `DT_VERNEED`, and where the
//! `.nv_fatbin` section lies (when section headers survive stripping).
//!
//! Read as the loader reads a file: the ELF header, the program headers,
//! the `PT_DYNAMIC` segment, and dynamic addresses mapped to file offsets
//! through the `PT_LOAD` segments. Section headers are consulted only for
//! the fatbin's range; a table that lies outside the file is ignored, as
//! the loader ignores it. Only the 64-bit little-endian layout is read (the
//! one x86_64 libraries use). Every read is bounds-checked and every count
//! is capped, so hostile input yields an error or partial facts, never a
//! panic or an unbounded loop.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ElfFacts {
    pub soname: Option<String>,
    pub needed: Vec<String>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    /// File range of `.nv_fatbin`, if the section headers name it.
    pub fatbin_section: Option<Range<usize>>,
    /// Whether the file had (usable) section headers.
    pub has_section_headers: bool,
    /// The section header table was present but unreadable and was ignored.
    pub bad_section_headers: bool,
    /// The `GLIBC_*` version names the file needs (`.gnu.version_r`, found
    /// through `DT_VERNEED`), as written (`2.2.5`, `2.17`), sorted, once each.
    pub glibc_versions: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    #[error("not an ELF file (no \\x7fELF magic, or shorter than an ELF header)")]
    NotElf,
    #[error("not a 64-bit little-endian ELF file (EI_CLASS {class}, EI_DATA {data}); x86_64 libraries are ELF64 LSB")]
    NotElf64Lsb { class: u8, data: u8 },
    #[error("ELF file is not x86_64 (e_machine {0})")]
    NotX86_64(u16),
    #[error("ELF {0} lies outside the file")]
    OutOfBounds(&'static str),
}

const EM_X86_64: u16 = 62;
const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const DT_SONAME: u64 = 14;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;
const DT_VERNEED: u64 = 0x6fff_fffe;
const DT_VERNEEDNUM: u64 = 0x6fff_ffff;
const SHT_NOBITS: u32 = 8;
const SHN_XINDEX: usize = 0xffff;
/// Sizes of the ELF64 header and its table entries.
const EHDR: usize = 64;
const PHDR: usize = 56;
const SHDR: usize = 64;
const DYN: usize = 16;
/// At most this many version-need entries (files, and versions per file)
/// are read: real libraries have a few dozen.
const MAX_VERNEED: usize = 4096;

/// Little-endian fields at file offsets; `None` past the end.
#[derive(Clone, Copy)]
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn field<const N: usize>(self, at: usize) -> Option<[u8; N]> {
        self.0.get(at..at.checked_add(N)?)?.try_into().ok()
    }
    fn u16(self, at: usize) -> Option<usize> {
        self.field(at).map(|b| usize::from(u16::from_le_bytes(b)))
    }
    fn u32(self, at: usize) -> Option<u32> {
        self.field(at).map(u32::from_le_bytes)
    }
    fn u64(self, at: usize) -> Option<u64> {
        self.field(at).map(u64::from_le_bytes)
    }
    /// `len` bytes from `offset`, if they lie in the file.
    fn slice(self, offset: u64, len: u64) -> Option<&'a [u8]> {
        file_range(offset, len, self.0.len()).map(|r| &self.0[r])
    }
    /// `count` entries of `size` bytes from `offset`, if all lie in the file.
    fn table(self, offset: u64, count: usize, size: usize) -> Option<&'a [u8]> {
        self.slice(offset, u64::try_from(count.checked_mul(size)?).ok()?)
    }
}

/// A file range as `start..start + len`, if it lies in a file of `len_file`.
fn file_range(offset: u64, size: u64, len_file: usize) -> Option<Range<usize>> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(size).ok()?)?;
    (end <= len_file).then_some(start..end)
}

/// The ELF header fields this reader uses.
struct Header {
    phoff: u64,
    phnum: usize,
    shoff: u64,
    shnum: usize,
    shstrndx: usize,
}

/// A program header: a segment of the file the loader maps.
struct Segment {
    kind: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
}

/// A section header, as far as the fatbin's range needs it.
struct Section {
    name: u32,
    kind: u32,
    offset: u64,
    size: u64,
    link: u32,
}

/// A string table: NUL-terminated names at offsets.
#[derive(Clone, Copy, Default)]
struct Strings<'a>(&'a [u8]);

impl<'a> Strings<'a> {
    /// The name at `at`; `None` past the table, unterminated, or not UTF-8.
    fn get(self, at: u64) -> Option<&'a str> {
        let rest = self.0.get(usize::try_from(at).ok()?..)?;
        let end = rest.iter().position(|&c| c == 0)?;
        std::str::from_utf8(&rest[..end]).ok()
    }
}

fn header(b: Bytes) -> Result<Header, ElfError> {
    if b.0.len() < EHDR || !b.0.starts_with(b"\x7fELF") {
        return Err(ElfError::NotElf);
    }
    let (class, data) = (b.0[4], b.0[5]);
    if (class, data) != (2, 1) {
        return Err(ElfError::NotElf64Lsb { class, data });
    }
    // Every offset below lies inside the EHDR bytes checked above.
    let half = |at| b.u16(at).unwrap_or(0);
    let machine = b.field(18).map_or(0, u16::from_le_bytes);
    if machine != EM_X86_64 {
        return Err(ElfError::NotX86_64(machine));
    }
    Ok(Header {
        phoff: b.u64(32).unwrap_or(0),
        phnum: half(56),
        shoff: b.u64(40).unwrap_or(0),
        shnum: half(60),
        shstrndx: half(62),
    })
}

fn segments(b: Bytes, h: &Header) -> Result<Vec<Segment>, ElfError> {
    let table = b
        .table(h.phoff, h.phnum, PHDR)
        .ok_or(ElfError::OutOfBounds(
            "program header table (e_phoff, e_phnum)",
        ))?;
    let segment = |p: Bytes| {
        Some(Segment {
            kind: p.u32(0)?,
            offset: p.u64(8)?,
            vaddr: p.u64(16)?,
            filesz: p.u64(32)?,
            memsz: p.u64(40)?,
        })
    };
    Ok(table
        .chunks_exact(PHDR)
        .filter_map(|p| segment(Bytes(p)))
        .collect())
}

/// The file offset of a virtual address, through the first `PT_LOAD`
/// segment whose memory holds it (as the loader maps the file).
fn file_offset(segments: &[Segment], addr: u64) -> Option<u64> {
    let load = segments
        .iter()
        .find(|s| s.kind == PT_LOAD && addr >= s.vaddr && addr - s.vaddr < s.memsz)?;
    load.offset.checked_add(addr - load.vaddr)
}

/// The `(d_tag, d_val)` entries of `PT_DYNAMIC` up to `DT_NULL`; none for a
/// file without one (a static binary).
fn dynamic_entries(b: Bytes, segments: &[Segment]) -> Result<Vec<(u64, u64)>, ElfError> {
    let Some(seg) = segments.iter().find(|s| s.kind == PT_DYNAMIC) else {
        return Ok(vec![]);
    };
    let count = usize::try_from(seg.filesz / DYN as u64).unwrap_or(usize::MAX);
    let table = b
        .table(seg.offset, count, DYN)
        .ok_or(ElfError::OutOfBounds("PT_DYNAMIC segment"))?;
    let entry = |d: Bytes| Some((d.u64(0)?, d.u64(8)?));
    Ok(table
        .chunks_exact(DYN)
        .filter_map(|d| entry(Bytes(d)))
        .take_while(|&(tag, _)| tag != DT_NULL)
        .collect())
}

/// The value of the last entry with `tag` (the loader keeps the last).
fn dynamic_value(entries: &[(u64, u64)], tag: u64) -> Option<u64> {
    entries.iter().rev().find(|e| e.0 == tag).map(|e| e.1)
}

/// `.dynstr`, through `DT_STRTAB` and `DT_STRSZ`.
fn dynamic_strings<'a>(
    b: Bytes<'a>,
    segments: &[Segment],
    entries: &[(u64, u64)],
) -> Result<Strings<'a>, ElfError> {
    let Some(addr) = dynamic_value(entries, DT_STRTAB) else {
        return Ok(Strings::default());
    };
    let size = dynamic_value(entries, DT_STRSZ).unwrap_or(0);
    file_offset(segments, addr)
        .and_then(|at| b.slice(at, size))
        .map(Strings)
        .ok_or(ElfError::OutOfBounds(
            "dynamic string table (DT_STRTAB, DT_STRSZ)",
        ))
}

/// Parse the dynamic section. Some shipped libraries (several MXNet 1.5.x
/// wheels) carry a garbage section header table (`e_shoff`/`e_shnum` point
/// nowhere); the loader never reads it, so neither do we in that case: the
/// facts then say the table was bad and the fatbin is found by scanning.
pub fn read_elf(bytes: &[u8]) -> Result<ElfFacts, ElfError> {
    let b = Bytes(bytes);
    let h = header(b)?;
    let segments = segments(b, &h)?;
    let entries = dynamic_entries(b, &segments)?;
    let strings = dynamic_strings(b, &segments, &entries)?;
    let text = |val: u64| strings.get(val).map(str::to_string);
    let texts = |tag: u64| -> Vec<String> {
        let vals = entries.iter().filter(|e| e.0 == tag);
        vals.filter_map(|e| text(e.1)).collect()
    };
    let (has_section_headers, bad_section_headers, fatbin_section) = match sections(b, &h) {
        SectionTable::Absent => (false, false, None),
        SectionTable::Bad => (false, true, None),
        SectionTable::Read { fatbin } => (true, false, fatbin),
    };
    let verneed = dynamic_value(&entries, DT_VERNEED).and_then(|a| file_offset(&segments, a));
    let verneednum = dynamic_value(&entries, DT_VERNEEDNUM).unwrap_or(0);
    Ok(ElfFacts {
        soname: dynamic_value(&entries, DT_SONAME).and_then(text),
        needed: texts(DT_NEEDED),
        rpath: split_paths(&texts(DT_RPATH)),
        runpath: split_paths(&texts(DT_RUNPATH)),
        fatbin_section,
        has_section_headers,
        bad_section_headers,
        glibc_versions: glibc_versions(b, strings, verneed, verneednum),
    })
}

/// What the section header table gave.
enum SectionTable {
    /// `e_shoff` is 0: stripped (`sstrip`) or never written.
    Absent,
    /// The table, its name table or one of its sections lies outside the file.
    Bad,
    Read {
        fatbin: Option<Range<usize>>,
    },
}

fn sections(b: Bytes, h: &Header) -> SectionTable {
    if h.shoff == 0 {
        return SectionTable::Absent;
    }
    let section = |s: Bytes| {
        Some(Section {
            name: s.u32(0)?,
            kind: s.u32(4)?,
            offset: s.u64(24)?,
            size: s.u64(32)?,
            link: s.u32(40)?,
        })
    };
    let Some(first) = b.table(h.shoff, 1, SHDR).and_then(|s| section(Bytes(s))) else {
        return SectionTable::Bad;
    };
    // e_shnum 0 with a table: the count is in section 0's sh_size.
    let count = match h.shnum {
        0 => usize::try_from(first.size).unwrap_or(usize::MAX).max(1),
        n => n,
    };
    let Some(table) = b.table(h.shoff, count, SHDR) else {
        return SectionTable::Bad;
    };
    let all: Vec<Section> = table
        .chunks_exact(SHDR)
        .filter_map(|s| section(Bytes(s)))
        .collect();
    let in_file = |s: &Section| file_range(s.offset, s.size, b.0.len());
    let stored = |s: &Section| s.kind != SHT_NOBITS && s.size != 0;
    if all.iter().any(|s| stored(s) && in_file(s).is_none()) {
        return SectionTable::Bad;
    }
    let names_index = match h.shstrndx {
        SHN_XINDEX => usize::try_from(first.link).unwrap_or(usize::MAX),
        i => i,
    };
    let names = all
        .get(names_index)
        .and_then(|s| b.slice(s.offset, s.size))
        .map(Strings);
    let fatbin = all.iter().find_map(|s| {
        let named = names?.get(u64::from(s.name)) == Some(".nv_fatbin");
        (named && stored(s)).then(|| in_file(s)).flatten()
    });
    SectionTable::Read { fatbin }
}

impl ElfFacts {
    /// The newest of [`Self::glibc_versions`] as (2, N), compared as
    /// versions: the oldest glibc the file runs on. None when it needs no
    /// versioned glibc symbol (a static binary).
    pub fn newest_glibc(&self) -> Option<(u32, u32)> {
        let versions = self.glibc_versions.iter();
        versions
            .filter_map(|v| crate::validate::parse_glibc(v))
            .max()
    }
}

/// Split `$ORIGIN:/a:/b` into its entries, as ld.so does.
fn split_paths(list: &[String]) -> Vec<String> {
    list.iter()
        .flat_map(|s| s.split(':'))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Clear an ELF64 header's section table fields (e_shoff, e_shnum,
/// e_shstrndx), as `sstrip` does.
pub fn strip_section_headers(bytes: &mut [u8]) {
    bytes[0x28..0x30].fill(0);
    bytes[0x3C..0x40].fill(0);
}

/// The `GLIBC_x.y[.z]` names of the version-need table (`Elf64_Verneed`
/// entries, each with `Elf64_Vernaux` entries naming a version in
/// `.dynstr`). It is found through the dynamic section (`DT_VERNEED`,
/// `DT_VERNEEDNUM`), as the loader finds it, so it is read also where the
/// section headers are gone. A malformed table yields what was read before
/// the fault.
fn glibc_versions(b: Bytes, strings: Strings, verneed: Option<u64>, count: u64) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    let Some(mut at) = verneed
        .and_then(|a| usize::try_from(a).ok())
        .filter(|&a| a != 0)
    else {
        return vec![];
    };
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let u32_at = |at: usize| b.u32(at).and_then(|v| usize::try_from(v).ok());
    for _ in 0..count.min(MAX_VERNEED) {
        let (Some(cnt), Some(aux), Some(next)) = (
            b.u16(at.saturating_add(2)),
            u32_at(at.saturating_add(8)),
            u32_at(at.saturating_add(12)),
        ) else {
            break;
        };
        let mut a = at.saturating_add(aux);
        for _ in 0..cnt.min(MAX_VERNEED) {
            let (Some(name), Some(anext)) =
                (b.u32(a.saturating_add(8)), u32_at(a.saturating_add(12)))
            else {
                break;
            };
            let version = strings
                .get(u64::from(name))
                .and_then(|n| n.strip_prefix("GLIBC_"));
            if let Some(v) = version.filter(|v| v.starts_with(|c: char| c.is_ascii_digit())) {
                out.insert(v.to_string());
            }
            if anext == 0 {
                break;
            }
            a = a.saturating_add(anext);
        }
        if next == 0 {
            break;
        }
        at = at.saturating_add(next);
    }
    out.into_iter().collect()
}
#[cfg(test)]
mod tests {
    use super::*;

    /// This test binary, linked against the host's glibc, needs some
    /// `GLIBC_2.N` version no newer than the glibc it runs on.
    #[test]
    fn glibc_needed_reads_a_real_executable() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let facts = read_elf(&exe).unwrap();
        let (major, minor) = facts.newest_glibc().expect("a glibc-linked binary");
        assert_eq!(major, 2);
        assert!(
            (2..=crate::validate::MAX_GLIBC_MINOR).contains(&minor),
            "{minor}"
        );
        assert!(read_elf(b"#!/bin/sh\n").is_err());
    }

    /// A minimal ELF64 x86_64 file: the header, a PT_LOAD that maps the
    /// whole file at `shift`, a PT_DYNAMIC with `entries` (plus DT_STRTAB,
    /// DT_STRSZ and DT_NULL), and the string table `strings`.
    fn synthetic(shift: u64, entries: &[(u64, u64)], strings: &[u8]) -> Vec<u8> {
        let strtab = (EHDR + 2 * PHDR) as u64;
        let dynamic = strtab + strings.len() as u64;
        let mut all = entries.to_vec();
        all.extend([
            (DT_STRTAB, strtab + shift),
            (DT_STRSZ, strings.len() as u64),
            (DT_NULL, 0),
        ]);
        let len = dynamic + (all.len() * DYN) as u64;
        let mut f = vec![0u8; EHDR];
        f[..6].copy_from_slice(b"\x7fELF\x02\x01");
        f[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        f[32..40].copy_from_slice(&(EHDR as u64).to_le_bytes());
        f[56..58].copy_from_slice(&2u16.to_le_bytes());
        for (kind, offset, size) in [(PT_LOAD, 0, len), (PT_DYNAMIC, dynamic, len - dynamic)] {
            let mut p = vec![0u8; PHDR];
            p[..4].copy_from_slice(&kind.to_le_bytes());
            for (at, v) in [(8, offset), (16, offset + shift), (32, size), (40, size)] {
                p[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
            f.extend(p);
        }
        f.extend(strings);
        for (tag, val) in all {
            f.extend(tag.to_le_bytes());
            f.extend(val.to_le_bytes());
        }
        f
    }

    #[test]
    fn dynamic_addresses_map_to_file_offsets_through_pt_load() {
        let strings = b"\0libcudart.so.11.0\0libmxnet.so\0$ORIGIN:/opt/x\0";
        let entries = [(DT_NEEDED, 1), (DT_SONAME, 19), (DT_RUNPATH, 31)];
        for shift in [0, 0x20_0000] {
            let facts = read_elf(&synthetic(shift, &entries, strings)).unwrap();
            assert_eq!(facts.needed, ["libcudart.so.11.0"], "shift {shift:#x}");
            assert_eq!(facts.soname.as_deref(), Some("libmxnet.so"));
            assert_eq!(facts.runpath, ["$ORIGIN", "/opt/x"]);
            assert!(!facts.has_section_headers && !facts.bad_section_headers);
        }
    }

    #[test]
    fn hostile_headers_are_errors_or_ignored_never_panics() {
        let good = synthetic(0x1000, &[(DT_NEEDED, 1)], b"\0libc.so.6\0");
        // A string table outside every PT_LOAD, or past the file's end.
        let mut f = good.clone();
        f[EHDR + 16..EHDR + 24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(read_elf(&f), Err(ElfError::OutOfBounds(_))));
        // PT_DYNAMIC longer than the file.
        let mut f = good.clone();
        f[EHDR + PHDR + 32..EHDR + PHDR + 40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(read_elf(&f), Err(ElfError::OutOfBounds(_))));
        // A section header table that points past the end is ignored.
        let mut f = good.clone();
        f[40..48].copy_from_slice(&(1u64 << 40).to_le_bytes());
        f[60..62].copy_from_slice(&3u16.to_le_bytes());
        let facts = read_elf(&f).unwrap();
        assert!(facts.bad_section_headers && !facts.has_section_headers);
        assert_eq!(facts.needed, ["libc.so.6"]);
        // 32-bit, big-endian and other machines are named as such.
        let mut f = good.clone();
        f[4] = 1;
        assert!(matches!(
            read_elf(&f),
            Err(ElfError::NotElf64Lsb { class: 1, data: 1 })
        ));
        let mut f = good.clone();
        f[18] = 183; // EM_AARCH64
        assert!(matches!(read_elf(&f), Err(ElfError::NotX86_64(183))));
        // Every truncation is an error or partial facts.
        for len in 0..good.len() {
            let _ = read_elf(&good[..len]);
        }
    }

    #[test]
    fn newest_glibc_compares_versions_not_strings() {
        let facts = |names: &[&str]| ElfFacts {
            glibc_versions: names.iter().map(|n| n.to_string()).collect(),
            ..Default::default()
        };
        assert_eq!(
            facts(&["2.2.5", "2.14", "2.3.4", "2.4"]).newest_glibc(),
            Some((2, 14))
        );
        assert_eq!(facts(&[]).newest_glibc(), None);
        assert_eq!(facts(&["PRIVATE"]).newest_glibc(), None);
    }
}
