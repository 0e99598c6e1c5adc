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
    /// Whether the file had section headers at all.
    pub has_section_headers: bool,
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

pub fn read_elf(bytes: &[u8]) -> Result<ElfFacts, ElfError> {
    let elf = Elf::parse(bytes).map_err(|e| ElfError::Parse(e.to_string()))?;
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
    })
}
