//! Libraries must support the device (rule `gpu_code`, naming the library,
//! its release and the source). Two kinds of fact, both from compat-db:
//!
//! - a toolkit's libraries as a whole, where a source states they do not
//!   support devices from some compute capability on (`[cuda.library_arch]`:
//!   CUDA 9.x and Turing). Never derived from nvcc's sm list: within an
//!   architecture major, binary compatibility holds (Volta to Turing, sm_80
//!   to sm_86/89);
//! - cuDNN's support-matrix row for the CUDA build in use (`[[cudnn.arch]]`):
//!   below its lowest compute capability, or past the major of its highest,
//!   the device is unsupported; a release without a row for that build falls
//!   back to its `min_compute_capability`.

use super::Loaded;
use crate::db::model::{CudnnRelease, WheelFile};
use crate::solve::Ctx;
use crate::versions::{ComputeCapability, CudaVersion};

/// Every statement that a library the wheel loads, or links statically,
/// does not support a device.
pub(crate) fn libraries(
    cx: &Ctx,
    w: &WheelFile,
    wheel_cuda: CudaVersion,
    l: &Loaded,
) -> Vec<String> {
    let runtime = super::driver::runtime_cuda(&l.providers, wheel_cuda);
    let mut out = cuda_libraries(cx, wheel_cuda);
    if runtime != wheel_cuda {
        out.extend(cuda_libraries(cx, runtime));
    }
    if let Some(c) = &l.cudnn {
        let builds = [runtime, wheel_cuda];
        out.extend(cudnn(cx, &c.version, &c.provider.to_string(), &builds));
    }
    // A cuDNN linked into libmxnet.so (measured from its strings) runs the
    // convolutions whatever cuDNN the system has: its support matrix row
    // for the wheel's CUDA build applies.
    if let Some(v) = &w.static_cudnn {
        out.extend(cudnn(
            cx,
            v,
            "linked statically into libmxnet.so",
            &[wheel_cuda],
        ));
    }
    out
}

/// `[cuda.library_arch]` of CUDA `v`, against every device.
fn cuda_libraries(cx: &Ctx, v: CudaVersion) -> Vec<String> {
    let Some(la) = cx.db.cuda(v).and_then(|r| r.library_arch.as_ref()) else {
        return vec![];
    };
    let libs = if la.libraries.is_empty() {
        "libraries".to_string()
    } else {
        format!("libraries {}", la.libraries.join(", "))
    };
    cx.gpus()
        .iter()
        .filter(|g| g.compute_capability >= la.unsupported_from)
        .map(|g| {
            format!(
                "the CUDA {v} {libs} do not support {} ({}): compute capability {} and later are unsupported; {} (compat-db/cuda.toml CUDA {v}: {})",
                g.name,
                g.compute_capability,
                la.unsupported_from,
                la.note,
                la.source.join(", ")
            )
        })
        .collect()
}

/// The cudnn.toml record of a cuDNN version ([`describing`]).
fn record<'a>(cx: &Ctx<'a>, version: &str) -> Option<&'a CudnnRelease> {
    let best = describing(cx.db.cudnn.iter().map(|r| r.version.as_str()), version)?;
    cx.db.cudnn.iter().find(|r| r.version == best)
}

/// Of cudnn.toml releases, the one that describes cuDNN `version`: the
/// longest whose components begin `version`'s (8.0.5 for 8.0.5.39), else
/// one of its major.minor series. Compared by component, not by text
/// (9.1.0.70 is not of the 9.10 or 9.19 series), and an exact release wins
/// over another of its series wherever either stands in the file.
fn describing<'r>(releases: impl IntoIterator<Item = &'r str>, version: &str) -> Option<&'r str> {
    let v: Vec<&str> = version.split('.').collect();
    releases
        .into_iter()
        .filter_map(|r| {
            let c: Vec<&str> = r.split('.').collect();
            let exact = v.starts_with(&c);
            let series = c.len() >= 2 && v.len() >= 2 && c[..2] == v[..2];
            (exact || series).then_some(((exact, c.len()), r))
        })
        .max_by_key(|(rank, _)| *rank)
        .map(|(_, r)| r)
}

/// Devices cuDNN `version` (from `provider`) does not support, for the
/// first of `builds` (CUDA versions) its record has a support-matrix row for.
fn cudnn(cx: &Ctx, version: &str, provider: &str, builds: &[CudaVersion]) -> Vec<String> {
    let Some(rec) = record(cx, version) else {
        return vec![];
    };
    let row = builds
        .iter()
        .find_map(|v| rec.arch.iter().find(|a| a.cuda.contains(v)).map(|a| (v, a)));
    let (range, source, build): (Box<dyn Fn(ComputeCapability) -> bool>, String, String) = match row
    {
        Some((v, a)) => {
            let (min, max) = (a.min_cc, a.max_cc);
            let ok =
                move |cc: ComputeCapability| cc >= min && max.is_none_or(|m| cc.major <= m.major);
            let span = max.map_or(format!("{min} and later"), |m| format!("{min} to {m}"));
            (
                Box::new(ok),
                a.source.clone(),
                format!(" for CUDA {v} supports compute capability {span}"),
            )
        }
        None => match rec.min_compute_capability {
            Some(min) => (
                Box::new(move |cc| cc >= min),
                rec.source.join(", "),
                format!(" supports compute capability >= {min}"),
            ),
            None => return vec![],
        },
    };
    cx.gpus()
        .iter()
        .filter(|g| !range(g.compute_capability))
        .map(|g| {
            format!(
                "cuDNN {version} ({provider}){build}; {} is {} (compat-db/cudnn.toml {}: {source})",
                g.name, g.compute_capability, rec.version
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::describing;

    #[test]
    fn the_release_describing_a_cudnn_version_is_found_by_component() {
        // The exact release, before or after another of its series.
        assert_eq!(describing(["7.6.5", "7.6.0"], "7.6.5"), Some("7.6.5"));
        assert_eq!(describing(["7.6.0", "7.6.5"], "7.6.5"), Some("7.6.5"));
        assert_eq!(describing(["8.0.5", "8.1.1"], "8.0.5.39"), Some("8.0.5"));
        assert_eq!(describing(["9.19.0"], "9.19.0.56"), Some("9.19.0"));
        // Else one of its series.
        assert_eq!(describing(["8.2.4"], "8.2.1"), Some("8.2.4"));
        // Text prefixes of another series are not that series.
        assert_eq!(describing(["9.10.2", "9.19.0"], "9.1.0.70"), None);
        assert_eq!(describing(["8.9.7"], "9.8.0"), None);
    }
}
