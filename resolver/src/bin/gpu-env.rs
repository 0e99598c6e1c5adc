//! `gpu-env`: the product CLI ([`gpu_env::cli`]) with compat-db embedded,
//! as the PyPI wheel ships it (`pyproject.toml`). Its commands are
//! `cargo xtask`'s, under the name it is called by.

fn main() -> std::process::ExitCode {
    gpu_env::cli::main_as("gpu-env")
}
