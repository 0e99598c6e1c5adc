//! `cargo xtask matrix`: write the compatibility page (`gpu_env::matrix`),
//! one self-contained HTML file generated from compat-db, the setup cell of
//! each Colab and Kaggle runtime and GPU it links to, and its screenshot
//! (Debian's headless `chromium`), all as one unit.

use crate::db::Db;
use crate::matrix::{self, browser, fresh};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The directory to write into: matrix.html, matrix.png and cells/.
    #[arg(long, value_name = "DIR", default_value = matrix::DEFAULT_DIR)]
    pub dir: PathBuf,
    /// Leave matrix.png as it is (the screenshot needs Debian's headless
    /// chromium); `cargo xtask check` then reports it stale.
    #[arg(long)]
    pub no_screenshot: bool,
}

const NO_CHROMIUM: &str = "chromium not found on PATH: docs/matrix.png is a screenshot by Debian's headless chromium. Install it (`apt-get install -y chromium`) and run `cargo xtask matrix` again, or run `cargo xtask matrix --no-screenshot` to write the page and cells alone (`cargo xtask check` then reports the screenshot stale); nothing written";

pub fn run(args: &Args, db_dir: Option<&Path>) -> super::CliResult {
    let (db, hash) = Db::open_with_hash(db_dir)?;
    // Refused before the seconds of resolving: the repo's own files, a
    // page gpu-env did not write.
    let page = args.dir.join(fresh::PAGE);
    crate::job::check_writable(&page, crate::generated::Kind::Matrix)?;
    let docs = matrix::generate(&db, &hash);
    let mut outputs: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    if !args.no_screenshot {
        let chromium = browser::chromium().ok_or(NO_CHROMIUM)?;
        let png = matrix::screenshot(&chromium, &docs.page, &hash)
            .map_err(|e| format!("{e}; nothing written"))?;
        outputs.push((args.dir.join(fresh::SCREENSHOT), png));
    }
    let cells: Vec<String> = docs.cells.iter().map(|(f, _)| f.clone()).collect();
    outputs.insert(0, (page, docs.page.into_bytes()));
    outputs.extend(
        docs.cells
            .into_iter()
            .map(|(f, text)| (args.dir.join(f), text.into_bytes())),
    );
    // The guarded writer of every output: it replaces only files gpu-env
    // wrote, never the repo's own, all or none.
    crate::job::write_output_bytes(&outputs)?;
    for (path, bytes) in &outputs[..outputs.len() - cells.len()] {
        outln!("wrote {} ({} bytes)", path.display(), bytes.len());
    }
    outln!(
        "wrote {} setup cells in {}",
        cells.len(),
        args.dir.join(matrix::chooser::CELLS_DIR).display()
    );
    for old in fresh::unlinked_cells(&args.dir, &cells) {
        match std::fs::remove_file(&old) {
            Ok(()) => outln!("removed {} (no longer linked)", old.display()),
            Err(e) => errln!("warning: cannot remove {}: {e}", old.display()),
        }
    }
    Ok(ExitCode::SUCCESS)
}
