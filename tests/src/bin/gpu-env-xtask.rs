//! `cargo xtask` built as a binary of the tests package, so integration
//! tests run the binary cargo built for them (`CARGO_BIN_EXE_gpu-env-xtask`).

fn main() -> std::process::ExitCode {
    xtask::main()
}
