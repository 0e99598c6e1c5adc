//! The host: what gpu-env asks of the machine it runs on, shared by probe,
//! verify, doctor and install. Commands with time and output limits
//! ([`exec`]), the Python interpreter and its one introspection script
//! ([`pyexe`], [`python`]), the CUDA driver API with one typed error
//! ([`cuda`]), dlopen of CUDA libraries ([`libs`]), the dynamic loader's
//! search ([`loader`]), NVRTC ([`nvrtc`]) and the notebook platform
//! ([`platform`]). It depends on data types
//! (versions, validation), never on the commands that use it.

pub mod cuda;
pub mod exec;
pub mod libs;
pub mod loader;
pub mod nvrtc;
pub mod platform;
pub mod pyexe;
pub mod python;

/// The text of a caught panic's payload.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

/// `given`, else `python3` on PATH.
pub fn python_or_path(given: Option<&std::path::Path>) -> Option<std::path::PathBuf> {
    given
        .map(std::path::Path::to_path_buf)
        .or_else(|| exec::which_in("python3", std::env::var("PATH").ok().as_deref()))
}
