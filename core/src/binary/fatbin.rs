//! CUDA fatbin containers: which SASS (cubin) and PTX architectures a binary
//! carries. Layout (as read by cuobjdump; verified against nvcc 13 output in
//! the tests): a container header `{u32 magic 0xBA55ED50, u16 version 1,
//! u16 header_size 16, u64 payload_size}` followed by entries
//! `{u16 kind (1 = PTX, 2 = ELF/SASS), u16, u32 header_size, u64 payload_size,
//! ..., u32 arch at offset 28}`, each entry `header_size + payload_size` long.
//!
//! One container is one module: nvcc writes one per compilation unit (and
//! statically linked NVIDIA libraries bring theirs), each registered with
//! the CUDA runtime on its own (`__cudaRegisterFatBinary`). A module's
//! kernels run on a device only when that module has code for it, so the
//! readers also group modules by their exact SASS/PTX lists.

pub const MAGIC: u32 = 0xBA55_ED50;
const CONTAINER_HEADER: usize = 16;
const ENTRY_MIN_HEADER: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FatbinCode {
    /// SASS architectures (sm numbers such as 86), sorted, unique.
    pub sass: Vec<u32>,
    /// PTX virtual architectures (compute_XY as XY), sorted, unique.
    pub ptx: Vec<u32>,
    /// Number of fatbin containers (modules) found.
    pub containers: usize,
    /// Modules grouped by their exact code: most modules first.
    pub classes: Vec<ModuleClass>,
}

/// Modules that carry exactly the same SASS and PTX architectures.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ModuleClass {
    /// How many modules (containers) carry exactly this code.
    pub modules: usize,
    /// SASS architectures, sorted, unique.
    pub sass: Vec<u32>,
    /// PTX virtual architectures, sorted, unique.
    pub ptx: Vec<u32>,
}

impl FatbinCode {
    pub fn is_empty(&self) -> bool {
        self.sass.is_empty() && self.ptx.is_empty()
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Parse one container at `at`; returns its total length and entries
/// `(kind, arch)`, or None if the bytes there are not a well-formed container.
fn parse_container(b: &[u8], at: usize) -> Option<(usize, Vec<(u16, u32)>)> {
    if u32_at(b, at)? != MAGIC || u16_at(b, at + 4)? != 1 {
        return None;
    }
    let header = usize::from(u16_at(b, at + 6)?);
    if header < CONTAINER_HEADER {
        return None;
    }
    let payload = usize::try_from(u64_at(b, at + 8)?).ok()?;
    let start = at.checked_add(header)?;
    let end = start.checked_add(payload)?;
    if end > b.len() {
        return None;
    }
    let mut entries = Vec::new();
    let mut pos = start;
    while pos + ENTRY_MIN_HEADER <= end {
        let kind = u16_at(b, pos)?;
        let eh = usize::try_from(u32_at(b, pos + 4)?).ok()?;
        let size = usize::try_from(u64_at(b, pos + 8)?).ok()?;
        if eh < ENTRY_MIN_HEADER {
            return None;
        }
        let next = pos.checked_add(eh)?.checked_add(size)?;
        if next > end {
            return None;
        }
        entries.push((kind, u32_at(b, pos + 28)?));
        pos = next;
    }
    Some((end - at, entries))
}

/// Read every container in `bytes` (a `.nv_fatbin` section, or a whole file
/// whose section headers were stripped: then the magic is searched for).
pub fn read_fatbins(bytes: &[u8]) -> FatbinCode {
    let mut code = FatbinCode::default();
    let mut classes: std::collections::BTreeMap<(Vec<u32>, Vec<u32>), usize> = Default::default();
    let magic = MAGIC.to_le_bytes();
    let mut at = 0usize;
    // Containers are 8-byte aligned inside sections; scanning every 4 bytes is
    // still cheap and also covers odd placements in stripped files.
    while at + CONTAINER_HEADER <= bytes.len() {
        if bytes[at..at + 4] == magic {
            if let Some((len, entries)) = parse_container(bytes, at) {
                code.containers += 1;
                let (mut sass, mut ptx) = (Vec::new(), Vec::new());
                for (kind, arch) in entries {
                    match kind {
                        1 => ptx.push(arch),
                        2 => sass.push(arch),
                        _ => {}
                    }
                }
                code.sass.extend_from_slice(&sass);
                code.ptx.extend_from_slice(&ptx);
                for v in [&mut sass, &mut ptx] {
                    v.sort_unstable();
                    v.dedup();
                }
                *classes.entry((sass, ptx)).or_default() += 1;
                at += len.max(4);
                at = (at + 3) & !3;
                continue;
            }
        }
        at += 4;
    }
    code.sass.sort_unstable();
    code.sass.dedup();
    code.ptx.sort_unstable();
    code.ptx.dedup();
    code.classes = classes
        .into_iter()
        .map(|((sass, ptx), modules)| ModuleClass { modules, sass, ptx })
        .collect();
    // Most modules first; ties in a fixed order (records are deterministic).
    code.classes
        .sort_by(|a, b| b.modules.cmp(&a.modules).then_with(|| a.cmp(b)));
    code
}

/// Build a container with the given `(kind, arch, payload)` entries, laid
/// out as nvcc does. Used by tests and benchmarks to make fixtures.
pub fn build_container(entries: &[(u16, u32, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (kind, arch, payload) in entries {
        let mut h = vec![0u8; 64];
        h[0..2].copy_from_slice(&kind.to_le_bytes());
        h[2..4].copy_from_slice(&0x0101u16.to_le_bytes());
        h[4..8].copy_from_slice(&64u32.to_le_bytes());
        let padded = payload.len().div_ceil(8) * 8;
        h[8..16].copy_from_slice(&(padded as u64).to_le_bytes());
        h[28..32].copy_from_slice(&arch.to_le_bytes());
        body.extend_from_slice(&h);
        body.extend_from_slice(payload);
        body.resize(body.len() + (padded - payload.len()), 0);
    }
    let mut out = Vec::with_capacity(16 + body.len());
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_built_containers_with_junk_around() {
        let a = build_container(&[(2, 50, b"sass50"), (2, 86, b"sass86"), (1, 86, b"ptx")]);
        let b = build_container(&[(2, 70, b"x")]);
        let mut blob = vec![0xAAu8; 12];
        blob.extend_from_slice(&a);
        blob.extend_from_slice(&[0; 8]);
        blob.extend_from_slice(&b);
        blob.extend_from_slice(&[1, 2, 3]);
        let code = read_fatbins(&blob);
        assert_eq!(code.sass, vec![50, 70, 86]);
        assert_eq!(code.ptx, vec![86]);
        assert_eq!(code.containers, 2);
        let class = |modules, sass: &[u32], ptx: &[u32]| ModuleClass {
            modules,
            sass: sass.to_vec(),
            ptx: ptx.to_vec(),
        };
        assert_eq!(
            code.classes,
            vec![class(1, &[50, 86], &[86]), class(1, &[70], &[])]
        );
        let twice = [a.clone(), a].concat();
        assert_eq!(
            read_fatbins(&twice).classes,
            vec![class(2, &[50, 86], &[86])]
        );
    }

    #[test]
    fn truncated_or_lying_containers_are_ignored_not_panics() {
        let a = build_container(&[(2, 75, b"sass")]);
        for cut in 0..a.len() {
            let code = read_fatbins(&a[..cut]);
            assert!(code.is_empty(), "cut at {cut}");
        }
        let mut lying = a.clone();
        lying[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(read_fatbins(&lying).is_empty());
        let mut bad_entry = a;
        bad_entry[16 + 8..16 + 16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(read_fatbins(&bad_entry).is_empty());
    }

    #[test]
    fn no_magic_no_code() {
        assert!(read_fatbins(&[0u8; 1000]).is_empty());
        assert!(read_fatbins(&[]).is_empty());
    }
}
