//! Probe the local machine (issue 3). STUB: being implemented.

use crate::target::Target;

#[derive(Debug, Clone, Default)]
pub struct ProbeOptions {
    pub python: Option<std::path::PathBuf>,
    pub timeout: std::time::Duration,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ProbeReport {}

pub fn probe(_opts: &ProbeOptions) -> ProbeReport {
    ProbeReport {}
}

impl ProbeReport {
    /// The facts the resolver consumes.
    pub fn to_target(&self, _db: &crate::db::Db) -> Target {
        Target {
            name: "local".into(),
            kind: "local".into(),
            ..Target::default()
        }
    }
}
