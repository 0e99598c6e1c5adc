//! `cargo xtask matrix`: write the compatibility page (`gpu_env::matrix`),
//! one self-contained HTML file generated from compat-db; with
//! `--screenshot`, also a PNG of it from Debian's headless `chromium`.

use crate::db::Db;
use crate::matrix::{self, browser};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Where to write the page.
    #[arg(long, value_name = "PATH", default_value = matrix::DEFAULT_OUT)]
    pub out: PathBuf,
    /// Also write a screenshot of the page (PNG, 1600x1200) with headless chromium.
    #[arg(long, value_name = "PATH")]
    pub screenshot: Option<PathBuf>,
}

pub fn run(args: &Args, db_dir: Option<&Path>) -> super::CliResult {
    let db = Db::open(db_dir)?;
    let page = matrix::render(&db);
    let len = page.len();
    // The guarded writer of every output: it replaces only a page gpu-env
    // wrote, never the repo's own files, atomically (a link is replaced,
    // its target untouched).
    crate::job::write_outputs(&[(args.out.clone(), page)])?;
    outln!("wrote {} ({len} bytes)", args.out.display());
    if let Some(png) = &args.screenshot {
        let chromium =
            browser::chromium().ok_or("chromium not found on PATH (apt-get install chromium)")?;
        browser::screenshot(&chromium, &args.out, png)?;
        outln!("wrote {}", png.display());
    }
    Ok(ExitCode::SUCCESS)
}
