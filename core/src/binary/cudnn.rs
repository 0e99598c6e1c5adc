//! The version of a cuDNN statically linked into a library, from the
//! strings NVIDIA's static cuDNN leaves in it. Makefile-era MXNet wheels
//! (before 1.6) link `libcudnn_static.a` and have no `libcudnn.so` in
//! `DT_NEEDED`; their `libmxnet.so` holds a marker such as
//! `cudnn_version_7_6_0_64_c26293457_m0_e0` (full version), and the source
//! paths of cuDNN's kernels, `.../MachineLearning/cudnn_v7.6/src/...`
//! (major.minor only).

const MARKER: &[u8] = b"cudnn_version_";
const PATH: &[u8] = b"MachineLearning/cudnn_v";

/// How the version was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// `cudnn_version_X_Y_Z_...`: the full version.
    Marker,
    /// `MachineLearning/cudnn_vX.Y/`: the release branch, major.minor.
    SourcePath,
}

impl Evidence {
    pub fn describe(self) -> &'static str {
        match self {
            Evidence::Marker => "the marker string cudnn_version_X_Y_Z_* of static cuDNN",
            Evidence::SourcePath => {
                "cuDNN's kernel source paths .../MachineLearning/cudnn_vX.Y/ (major.minor only)"
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticCudnn {
    /// `"7.6.0"` from the marker, or `"7.6"` from source paths.
    pub version: String,
    pub evidence: Evidence,
    /// Other versions also seen (a library with two static cuDNNs), sorted.
    pub others: Vec<String>,
}

/// Positions right after each occurrence of `needle` in `hay`.
fn after_each<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let first = needle[0];
    let mut at = 0usize;
    std::iter::from_fn(move || {
        while at < hay.len() {
            let i = at + hay[at..].iter().position(|&b| b == first)?;
            at = i + 1;
            if hay[i..].starts_with(needle) {
                return Some(i + needle.len());
            }
        }
        None
    })
}

/// Up to `parts` decimal numbers (at most 3 digits each) separated by
/// `sep`, starting at `at`.
fn numbers(hay: &[u8], at: usize, sep: u8, parts: usize) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    let mut pos = at;
    for i in 0..parts {
        let digits = hay
            .get(pos..)?
            .iter()
            .take(4)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 || digits > 3 {
            return None;
        }
        let text = std::str::from_utf8(&hay[pos..pos + digits]).ok()?;
        out.push(text.parse().ok()?);
        pos += digits;
        if i + 1 < parts {
            if hay.get(pos) != Some(&sep) {
                return None;
            }
            pos += 1;
        }
    }
    Some(out)
}

fn join(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

/// The statically linked cuDNN's version, if `lib` carries one.
pub fn static_cudnn(lib: &[u8]) -> Option<StaticCudnn> {
    let mut found: Vec<Vec<u32>> = after_each(lib, MARKER)
        .filter_map(|at| numbers(lib, at, b'_', 3))
        .collect();
    let mut evidence = Evidence::Marker;
    if found.is_empty() {
        found = after_each(lib, PATH)
            .filter_map(|at| {
                let v = numbers(lib, at, b'.', 2)?;
                let end = at + join(&v).len();
                (lib.get(end) == Some(&b'/')).then_some(v)
            })
            .collect();
        evidence = Evidence::SourcePath;
    }
    found.sort();
    found.dedup();
    let best = found.pop()?;
    Some(StaticCudnn {
        version: join(&best),
        evidence,
        others: found.iter().map(|v| join(v)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_beats_paths_and_junk_is_ignored() {
        let lib = b"..cudnn_version_7_6_0_64_c26293457_m0_e0\0/p4sw/sw/gpgpu/MachineLearning/cudnn_v7.6/src/a.cu\0cudnn_version_\0cudnn_version_1234_1_1";
        let s = static_cudnn(lib).unwrap();
        assert_eq!(
            (s.version.as_str(), s.evidence),
            ("7.6.0", Evidence::Marker)
        );
        assert!(s.others.is_empty());
        let paths = b"x/MachineLearning/cudnn_v7.1/src/y\0MachineLearning/cudnn_v7.1/z";
        let s = static_cudnn(paths).unwrap();
        assert_eq!(
            (s.version.as_str(), s.evidence),
            ("7.1", Evidence::SourcePath)
        );
        assert_eq!(static_cudnn(b"MachineLearning/cudnn_v7.1"), None);
        assert_eq!(static_cudnn(b""), None);
        assert_eq!(static_cudnn(b"cudnn_version_7_5"), None);
    }

    #[test]
    fn two_versions_report_the_newest_and_the_rest() {
        let lib = b"cudnn_version_7_0_5_x cudnn_version_7_6_0_y";
        let s = static_cudnn(lib).unwrap();
        assert_eq!(s.version, "7.6.0");
        assert_eq!(s.others, vec!["7.0.5".to_string()]);
    }
}
