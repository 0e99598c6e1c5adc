//! What the dynamic loader will ask for: `DT_NEEDED`, `DT_RPATH`/`DT_RUNPATH`,
//! `DT_SONAME`, and where the `.nv_fatbin` section lies (when section headers
//! survive stripping).

use goblin::elf::Elf;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ElfFacts {
    pub soname: Option<String>,
    pub needed: Vec<String>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    /// File range of `.nv_fatbin`, if the section headers name it.
    pub fatbin_section: Option<std::ops::Range<usize>>,
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
    #[error("not an ELF file: {0}")]
    Parse(String),
    #[error("ELF file is not x86_64 (e_machine {0})")]
    NotX86_64(u16),
}

/// Split `$ORIGIN:/a:/b` into its entries, as ld.so does.
fn split_paths(list: &[&str]) -> Vec<String> {
    list.iter()
        .flat_map(|s| s.split(':'))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parse the dynamic section. Some shipped libraries (several MXNet 1.5.x
/// wheels) carry a garbage section header table (`e_shoff`/`e_shnum` point
/// nowhere); the loader never reads it, so neither do we in that case: the
/// header fields are cleared on a copy and the fatbin is found by scanning.
pub fn read_elf(bytes: &[u8]) -> Result<ElfFacts, ElfError> {
    match Elf::parse(bytes) {
        Ok(elf) => facts(&elf, bytes),
        Err(first) => {
            if bytes.len() < 64 || bytes[4] != 2 {
                return Err(ElfError::Parse(first.to_string()));
            }
            let mut copy = bytes.to_vec();
            strip_section_headers(&mut copy);
            let elf = Elf::parse(&copy).map_err(|_| ElfError::Parse(first.to_string()))?;
            let mut f = facts(&elf, &copy)?;
            f.bad_section_headers = true;
            Ok(f)
        }
    }
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

/// Clear an ELF64 header's section table fields (e_shoff, e_shnum,
/// e_shstrndx), as `sstrip` does.
pub fn strip_section_headers(bytes: &mut [u8]) {
    bytes[0x28..0x30].fill(0);
    bytes[0x3C..0x40].fill(0);
}

fn facts(elf: &Elf, bytes: &[u8]) -> Result<ElfFacts, ElfError> {
    if elf.header.e_machine != goblin::elf::header::EM_X86_64 {
        return Err(ElfError::NotX86_64(elf.header.e_machine));
    }
    let fatbin_section = elf.section_headers.iter().find_map(|sh| {
        let name = elf.shdr_strtab.get_at(sh.sh_name)?;
        if name != ".nv_fatbin" || sh.sh_type == goblin::elf::section_header::SHT_NOBITS {
            return None;
        }
        let start = usize::try_from(sh.sh_offset).ok()?;
        let end = start.checked_add(usize::try_from(sh.sh_size).ok()?)?;
        (end <= bytes.len()).then_some(start..end)
    });
    Ok(ElfFacts {
        soname: elf.soname.map(str::to_string),
        needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
        rpath: split_paths(&elf.rpaths),
        runpath: split_paths(&elf.runpaths),
        fatbin_section,
        has_section_headers: !elf.section_headers.is_empty(),
        bad_section_headers: false,
        glibc_versions: glibc_versions(elf, bytes),
    })
}

/// At most this many version-need entries (files, and versions per file)
/// are read: real libraries have a few dozen.
const MAX_VERNEED: usize = 4096;

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(usize::from(u16::from_le_bytes([s[0], s[1]])))
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at.checked_add(4)?)?;
    usize::try_from(u32::from_le_bytes([s[0], s[1], s[2], s[3]])).ok()
}

/// The `GLIBC_x.y[.z]` names of the version-need table (`Elf64_Verneed`
/// entries, each with `Elf64_Vernaux` entries naming a version in
/// `.dynstr`). It is found through the dynamic section (`DT_VERNEED`,
/// `DT_VERNEEDNUM`), as the loader finds it, so it is read also where the
/// section headers are gone. A malformed table yields what was read before
/// the fault.
fn glibc_versions(elf: &Elf, bytes: &[u8]) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    let Some(info) = elf.dynamic.as_ref().map(|d| &d.info) else {
        return vec![];
    };
    let (Ok(mut at), Ok(count)) = (
        usize::try_from(info.verneed),
        usize::try_from(info.verneednum),
    ) else {
        return vec![];
    };
    if at == 0 {
        return vec![];
    }
    for _ in 0..count.min(MAX_VERNEED) {
        let (Some(cnt), Some(aux), Some(next)) = (
            u16_at(bytes, at + 2),
            u32_at(bytes, at + 8),
            u32_at(bytes, at + 12),
        ) else {
            break;
        };
        let mut a = at.saturating_add(aux);
        for _ in 0..cnt.min(MAX_VERNEED) {
            let (Some(name), Some(anext)) = (u32_at(bytes, a + 8), u32_at(bytes, a + 12)) else {
                break;
            };
            if let Some(v) = elf
                .dynstrtab
                .get_at(name)
                .and_then(|n| n.strip_prefix("GLIBC_"))
            {
                if v.starts_with(|c: char| c.is_ascii_digit()) {
                    out.insert(v.to_string());
                }
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
