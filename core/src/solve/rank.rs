//! Ranking the candidates that work. Deterministic: final releases over
//! pre-releases (as pip treats them); newest MXNet release; every device on
//! SASS over PTX JIT; fewest bytes to download; newest CUDA build; file name.

use super::gpu_code::GpuCode;
use super::{Broken, Choice, Rejection, Rule};
use crate::pep440;

/// Final over pre-release, then newest: smaller is better.
pub fn release(c: &Choice) -> (bool, std::cmp::Reverse<Option<pep440::Version>>) {
    let version = pep440::version(&c.version).ok();
    let pre = version.as_ref().is_none_or(|v| v.any_prerelease());
    (pre, std::cmp::Reverse(version))
}

/// Sort key for survivors: smaller is better.
pub fn preference(c: &Choice) -> impl Ord {
    let (pre, version) = release(c);
    let all_sass = c
        .gpu_code
        .iter()
        .all(|d| matches!(d.code, GpuCode::Sass { .. }));
    let bytes: u64 = c.packages.iter().map(|p| p.size).sum();
    (
        pre,
        version,
        !all_sass,
        bytes,
        std::cmp::Reverse(c.wheel.cuda),
        c.wheel.filename.clone(),
    )
}

/// A survivor that is not the choice: rule `ranked_lower`, naming the choice.
pub fn ranked_lower(s: &Choice, chosen: &Choice) -> Rejection {
    let reason = format!(
        "works, but ranks below {} {} (final over pre-release, newest release, SASS over PTX, fewest bytes, newest CUDA)",
        chosen.package, chosen.version
    );
    Rejection {
        package: s.package.clone(),
        version: s.version.clone(),
        filename: s.wheel.filename.clone(),
        rule: Rule::RankedLower,
        reason: reason.clone(),
        rules: vec![Broken {
            rule: Rule::RankedLower,
            reason,
        }],
    }
}

/// Rejections by package, newest version first, then file name.
pub fn sort_rejections(rejected: &mut [Rejection]) {
    rejected.sort_by_cached_key(|x| {
        (
            x.package.clone(),
            std::cmp::Reverse(pep440::version(&x.version).ok()),
            x.filename.clone(),
        )
    });
}
