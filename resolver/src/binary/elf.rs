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

/// The newest glibc symbol version the file asks the loader for (`GLIBC_2.N`
/// in its `.gnu.version_r`), as (2, N): the oldest glibc it runs on. None
/// when it needs no versioned glibc symbol (a static binary).
pub fn glibc_needed(bytes: &[u8]) -> Result<Option<(u32, u32)>, ElfError> {
    let elf = Elf::parse(bytes).map_err(|e| ElfError::Parse(e.to_string()))?;
    let Some(verneed) = &elf.verneed else {
        return Ok(None);
    };
    let newest = verneed
        .iter()
        .flat_map(|need| need.iter().collect::<Vec<_>>())
        .filter_map(|aux| elf.dynstrtab.get_at(aux.vna_name))
        .filter_map(|name| name.strip_prefix("GLIBC_"))
        .filter_map(crate::tags::parse_glibc)
        .max();
    Ok(newest)
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This test binary, linked against the host's glibc, needs some
    /// `GLIBC_2.N` version no newer than the glibc it runs on.
    #[test]
    fn glibc_needed_reads_a_real_executable() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let (major, minor) = glibc_needed(&exe).unwrap().expect("a glibc-linked binary");
        assert_eq!(major, 2);
        assert!(
            (2..=crate::tags::MAX_GLIBC_MINOR).contains(&minor),
            "{minor}"
        );
        assert!(glibc_needed(b"#!/bin/sh\n").is_err());
    }
}
