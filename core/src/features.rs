//! gpu-env's optional parts (Cargo features) and what a command that needs
//! one says: the commands themselves are `cli`; `net` and `cuda` are
//! opt-in, so a repo's first `cargo xtask` builds only what `check` and an
//! offline `resolve` need; `init` (toml_edit's manifest edits) is on in
//! gpu-env's own xtask and wheel, not in a repo that uses gpu-env.

/// The optional features a repo can add to its gpu-env dependency
/// (`cargo xtask init --feature`).
pub const OPTIONAL: [&str; 2] = ["net", "cuda"];

/// What to do when this build lacks `feature`, which `what` needs: the
/// dependency line to change, as `cargo xtask init` writes it.
pub fn missing(feature: &str, what: &str) -> String {
    format!(
        "{what} needs gpu-env's `{feature}` feature, which this build lacks: add \"{feature}\" to the features of the gpu-env dependency in xtask/Cargo.toml (`gpu-env = {{ ..., features = [\"cli\", \"{feature}\"] }}`), then run the command again"
    )
}
