//! Rule `cudnn`: the wheel's `libcudnn.so.N` has a provider of the right
//! build. A cuDNN soname nobody provides fails in the loader (reported in
//! `DT_NEEDED` order); one the loader finds but that was built for another
//! CUDA major fails after the loader ([`build`]).

use super::{for_major, Breaks, Loaded};
use crate::db::model::WheelFile;
use crate::solve::providers::Provider;
use crate::solve::{Ctx, CudnnChoice, Rule};

/// The provider of `soname` (`libcudnn.so.<major>`): the target's own
/// cuDNN when it is that major and the wheel's CUDA major is the target
/// toolkit's; else a pip redistributable of the wheel's CUDA major; else
/// the target's copy when the loader finds one (a wrong build: noted in
/// `l.cudnn_mismatch`); else broken.
pub(crate) fn provider<'a>(
    cx: &Ctx<'a>,
    w: &WheelFile,
    soname: &str,
    major: &str,
    prefer_pip: bool,
    l: &mut Loaded<'a>,
    b: &mut Breaks,
) -> Option<Provider> {
    let cuda_major = w.cuda.map(|c| c.major);
    let target_cudnn = cx.target.cudnn.as_ref();
    let same_major = target_cudnn.filter(|c| c.value.split('.').next() == Some(major));
    let on_system = cx.target.system_sonames.value.contains(soname);
    if let (Some(c), true, false) = (same_major, on_system, prefer_pip) {
        let p = Provider::System {
            source: c.source.clone(),
        };
        l.cudnn = Some(choice(&c.value, soname, p.clone()));
        return Some(p);
    }
    if let Some((pkg, r)) = cx.pip_provider(soname, w) {
        let p = Provider::Pip {
            package: pkg.package.clone(),
            version: r.version.clone(),
        };
        l.cudnn = Some(choice(&r.version, soname, p.clone()));
        l.pip.insert(pkg.package.clone(), r);
        return Some(p);
    }
    let have = target_cudnn
        .map(|c| format!("the target has cuDNN {}", c.value))
        .unwrap_or_else(|| "the target has no cuDNN".into());
    let no_pip = format!(
        "no pip redistributable{} in compat-db ships {soname}",
        for_major(cuda_major)
    );
    if !on_system {
        b.push(
            Rule::Cudnn,
            format!("needs cuDNN {major} ({soname}); {have}, and {no_pip}"),
        );
        return None;
    }
    // The loader finds the target's copy; what it is built for decides.
    l.cudnn_mismatch = Some(match (same_major, cx.target.toolkit.as_ref(), w.cuda) {
        (Some(c), Some(t), Some(wc)) if prefer_pip => format!(
            "the target's cuDNN {} ({soname}) is the build for its CUDA {} toolkit; this CUDA {wc} wheel needs a cuDNN {major} built for CUDA {}, and {no_pip}",
            c.value, t.value, wc.major
        ),
        _ => format!("needs cuDNN {major} ({soname}); {have}, and {no_pip}"),
    });
    Some(Provider::System {
        source: cx.target.system_sonames.source.clone(),
    })
}

fn choice(version: &str, soname: &str, provider: Provider) -> CudnnChoice {
    CudnnChoice {
        version: version.to_string(),
        soname: soname.to_string(),
        provider,
    }
}

/// Rule `cudnn` after the loader: the cuDNN it found is the wrong build.
pub(crate) fn build(l: &Loaded, b: &mut Breaks) {
    if let Some(why) = &l.cudnn_mismatch {
        b.push(Rule::Cudnn, why.clone());
    }
}
