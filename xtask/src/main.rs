//! `cargo xtask`: see the library ([`xtask::main`]).

fn main() -> std::process::ExitCode {
    xtask::main()
}
