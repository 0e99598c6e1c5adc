//! How a command fails. Every command returns [`CliResult`]; [`super::run`]
//! renders a [`CliError`] in one place (`error: ...` on stderr, then its
//! hints) and picks [`crate::exit::ERROR`]. Answers, "no" included (drift,
//! unsatisfiable, a failed layer), are `Ok` exit codes the command chose.

use std::process::ExitCode;

/// A command's answer: its exit code, or the error to render.
pub type CliResult = Result<ExitCode, CliError>;

/// An input that cannot be read or used: a bad file, the network, bad
/// arguments. Any library error converts into it with `?`; it is not an
/// `Error` itself, so that conversion stays open to every error type.
#[derive(Debug)]
pub struct CliError {
    error: Box<dyn std::error::Error + Send + Sync>,
    /// Lines printed after the error: what to do.
    hints: Vec<String>,
}

impl CliError {
    /// The error with a line of what to do after it.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Print it on stderr; the exit status for it.
    pub fn render(&self) -> ExitCode {
        errln!("error: {}", self.error);
        for h in &self.hints {
            errln!("{h}");
        }
        ExitCode::from(crate::exit::ERROR)
    }
}

impl<E: Into<Box<dyn std::error::Error + Send + Sync>>> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError {
            error: e.into(),
            hints: Vec::new(),
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}
