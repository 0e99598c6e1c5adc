//! Readers for the binaries inside a wheel: zip container, ELF dynamic
//! section, CUDA fatbin headers, UPX-packed libraries, a static cuDNN's
//! version. Pure functions over bytes or files; no I/O beyond what the
//! caller hands in.

pub mod cudnn;
pub mod elf;
pub mod fatbin;
pub mod upx;
pub mod zip;
