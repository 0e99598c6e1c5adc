//! Readers for the binaries inside a wheel: zip container, ELF dynamic
//! section, CUDA fatbin headers. Pure functions over bytes or files; no I/O
//! beyond what the caller hands in.

pub mod elf;
pub mod fatbin;
pub mod zip;
