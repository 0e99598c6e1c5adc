//! Exit statuses of every gpu-env command, defined once: 0 success; 1 the
//! answer is "no" (check found drift, resolve is unsatisfiable, a verify
//! layer failed, doctor found problems, init refused a file); 2 a usage or
//! input error (bad file, network, bad arguments); 3 verify without an
//! NVIDIA driver or GPU (device layers skipped).

/// Success.
pub const OK: u8 = 0;
/// The answer is "no": drift, unsatisfiable, a failed layer, problems found.
pub const NO: u8 = 1;
/// Usage or input error: a file that cannot be read, network, bad arguments.
pub const ERROR: u8 = 2;
/// `verify`: no NVIDIA driver or GPU, device layers skipped.
pub const NO_DEVICE: u8 = 3;

#[cfg(test)]
mod tests {
    /// doctor and verify name their statuses in their own words; they are
    /// these numbers.
    #[test]
    fn doctor_and_verify_use_these_statuses() {
        use super::*;
        assert_eq!(crate::doctor::EXIT_OK, OK);
        assert_eq!(crate::doctor::EXIT_PROBLEMS, NO);
        assert_eq!(crate::doctor::EXIT_ERROR, ERROR);
        assert_eq!(crate::verify::EXIT_PASS, OK);
        assert_eq!(crate::verify::EXIT_FAIL, NO);
        assert_eq!(crate::verify::EXIT_ERROR, ERROR);
        assert_eq!(crate::verify::EXIT_NO_DEVICE, NO_DEVICE);
    }
}
