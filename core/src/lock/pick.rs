//! Which locked target a command acts on.

use super::{Lock, LockedTarget};

/// `--target NAME` of a command that acts on one locked target (install,
/// verify, doctor) that the lock does not have.
#[derive(Debug, thiserror::Error)]
pub enum PickError {
    #[error("the lock has no targets; run `cargo xtask resolve`")]
    NoTargets,
    #[error("the lock has no target `{}`; it has: {}; pass one of them to --target", crate::validate::escape_control(.want), .have.join(", "))]
    NoSuchTarget { want: String, have: Vec<String> },
}

impl Lock {
    /// The index of the target a command acts on: `want` matched against
    /// each target's spec (`local`, `colab`), then its name
    /// (`colab-2026.08:T4`); by default the first `local` target that
    /// `fits` (install: the interpreter's Python), else the first `local`
    /// one, else the first.
    pub fn pick(
        &self,
        want: Option<&str>,
        fits: impl Fn(&LockedTarget) -> bool,
    ) -> Result<usize, PickError> {
        if self.target.is_empty() {
            return Err(PickError::NoTargets);
        }
        let Some(w) = want else {
            let local = |t: &LockedTarget| t.spec == "local" || t.kind == "local";
            let all = || self.target.iter();
            return Ok(all()
                .position(|t| local(t) && fits(t))
                .or_else(|| all().position(local))
                .unwrap_or(0));
        };
        let at = |f: &dyn Fn(&LockedTarget) -> bool| self.target.iter().position(f);
        at(&|t| t.spec == w)
            .or_else(|| at(&|t| t.name == w))
            .ok_or_else(|| PickError::NoSuchTarget {
                want: w.to_string(),
                have: self
                    .target
                    .iter()
                    .map(|t| format!("{} ({})", t.spec, t.name))
                    .collect(),
            })
    }
}
