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
