//! Cross-file rules of compat-db: provenance present, references resolve,
//! values well-formed. Every broken rule is reported; nothing stops early.

use super::diag::{key, Diagnostic, Locator, Seg, SourceFile};
use super::model::{RedistPackage, RedistRelease, Runtime, WheelFile, WheelRelease};
use super::Db;
use crate::pep440;
use crate::pep508::Dependency;
use crate::validate::{
    is_cudnn_version, is_https_url, is_plain_text, is_sha256, is_soname, is_token, is_version,
    is_wheel_filename, parse_shim,
};
use crate::versions::CudaVersion;
use std::collections::{BTreeSet, HashMap};

struct Reporter<'a> {
    files: HashMap<&'a str, &'a str>,
    diags: Vec<Diagnostic>,
}

impl<'a> Reporter<'a> {
    fn error(&mut self, file: &str, path: Vec<Seg>, message: impl Into<String>) {
        let text = self.files.get(file).copied().unwrap_or("");
        self.diags
            .push(Locator::new(text).diag(file, &path, message.into()));
    }
}

/// `libcudart.so.11.0` -> `libcudart`.
fn soname_stem(s: &str) -> &str {
    s.split(".so").next().unwrap_or(s)
}

fn check_sources(r: &mut Reporter, file: &str, path: Vec<Seg>, sources: &[String]) {
    if sources.is_empty() {
        let mut p = path.clone();
        p.push(key("source"));
        r.error(
            file,
            p,
            "record has no `source`: every fact needs a URL or the artifact it was measured from",
        );
    }
    for (i, s) in sources.iter().enumerate() {
        if !(s.starts_with("https://") || s.starts_with("http://")) {
            let mut p = path.clone();
            p.extend([key("source"), Seg::Index(i)]);
            r.error(file, p, format!("source `{s}` is not a URL"));
        }
    }
}

/// A version that reaches the lock: PEP 440 (the parser's message when it
/// is not) spelled as [`is_version`] requires (no spaces), as the lock
/// reader and the emitters hold it.
fn check_version(r: &mut Reporter, file: &str, path: Vec<Seg>, v: &str) {
    match pep440::version(v) {
        Err(e) => r.error(file, path, e.to_string()),
        Ok(_) if !is_version(v) => r.error(
            file,
            path,
            format!(
                "`{}` is not a PEP 440 version spelled with version characters only",
                v.escape_debug()
            ),
        ),
        Ok(_) => {}
    }
}

/// The values of one file of a package (wheel, redist, pypi) that reach
/// the lock, requirements-gpu.txt, pylock.toml and the cell: the grammar
/// [`crate::lock::LockedTarget::validate`] holds them to.
fn check_file_values(
    r: &mut Reporter,
    file: &str,
    at: &dyn Fn(&str) -> Vec<Seg>,
    filename: &str,
    url: &str,
) {
    if !is_wheel_filename(filename) {
        r.error(
            file,
            at("filename"),
            format!(
                "`{}` is not a wheel filename (letters, digits, `.+-_!`, ending .whl)",
                filename.escape_debug()
            ),
        );
    }
    if !is_https_url(url) {
        r.error(
            file,
            at("url"),
            format!(
                "`{}` is not an https URL without quotes, spaces or `#`",
                url.escape_debug()
            ),
        );
    }
}

/// What the other files of the database provide to references: the CUDA
/// versions of cuda.toml, and which of the referenced files parsed (a
/// reference into a file that did not parse is not reported again).
struct Refs<'a> {
    db: &'a Db,
    cuda_ok: bool,
    gpus_ok: bool,
    cudnn_ok: bool,
    cuda_versions: BTreeSet<CudaVersion>,
}

impl Refs<'_> {
    /// A CUDA version that cuda.toml (parsed) does not list.
    fn unknown_cuda(&self, v: &CudaVersion) -> bool {
        self.cuda_ok && !self.cuda_versions.contains(v)
    }
}

/// `failed`: files that did not parse; references into them are skipped.
pub fn check(db: &Db, files: &[SourceFile], failed: &BTreeSet<String>) -> Vec<Diagnostic> {
    let refs = Refs {
        db,
        cuda_ok: !failed.contains("cuda.toml"),
        gpus_ok: !failed.contains("gpus.toml"),
        cudnn_ok: !failed.contains("cudnn.toml"),
        cuda_versions: db.cuda.iter().map(|c| c.version).collect(),
    };
    let mut r = Reporter {
        files: files
            .iter()
            .map(|f| (f.path.as_str(), f.text.as_str()))
            .collect(),
        diags: Vec::new(),
    };
    check_cuda(&mut r, db);
    check_gpus(&mut r, db);
    check_cudnn(&mut r, &refs);
    check_arch_support(&mut r, db);
    check_breakers(&mut r, db);
    check_python(&mut r, db);
    check_defects(&mut r, db);
    check_source_builds(&mut r, &refs);
    for (file, p) in &db.redist {
        check_redist(&mut r, &refs, file, p);
    }
    check_wheels(&mut r, &refs);
    let mut runtime_names = HashMap::new();
    for (file, rt) in &db.runtimes {
        check_runtime(&mut r, &refs, file, rt, &mut runtime_names);
    }
    check_pypi(&mut r, db);
    check_one_record_per_file(&mut r, db);
    r.diags
}

/// One record per downloadable file across compat-db (MXNet wheels, CUDA
/// redistributables, other PyPI packages): a second record of a file, with
/// another sha256 or the same, would be pinned instead of the real one or
/// drift from it.
fn check_one_record_per_file(r: &mut Reporter, db: &Db) {
    // A record's place: `wheel[i]`, `release[i]` or `release[i].file[j]`,
    // spelled out only for a duplicate.
    type Place = (&'static str, usize, Option<usize>);
    let mut records: Vec<(&str, &str, Place)> = Vec::new();
    for (file, w) in &db.wheels {
        for (i, f) in w.wheel.iter().enumerate() {
            records.push((&f.filename, file, ("wheel", i, None)));
        }
    }
    for (file, p) in &db.redist {
        for (i, rel) in p.release.iter().enumerate() {
            records.push((&rel.filename, file, ("release", i, None)));
        }
    }
    for (file, p) in &db.pypi {
        for (i, rel) in p.release.iter().enumerate() {
            for (j, f) in rel.file.iter().enumerate() {
                records.push((&f.filename, file, ("release", i, Some(j))));
            }
        }
    }
    let segs = |(k, i, j): Place| {
        let mut at = vec![key(k), Seg::Index(i)];
        at.extend(j.into_iter().flat_map(|j| [key("file"), Seg::Index(j)]));
        at
    };
    let mut first: HashMap<&str, (&str, Place)> = HashMap::with_capacity(records.len());
    for (filename, file, place) in records {
        if let Some((pf, pat)) = first.get(filename) {
            let shown = seg_path(&segs(*pat));
            let mut at = segs(place);
            at.push(key("filename"));
            r.error(
                file,
                at,
                format!("{filename} is also recorded at {pf} {shown}; keep one record per file"),
            );
        } else {
            first.insert(filename, (file, place));
        }
    }
}

/// A record's place as `release[2].file[0]`.
fn seg_path(at: &[Seg]) -> String {
    let mut s = String::new();
    for seg in at {
        match seg {
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
        }
    }
    s
}

/// cuda.toml: one record per version, the minor-version driver floor at
/// most the toolkit's, sonames, sources.
fn check_cuda(r: &mut Reporter, db: &Db) {
    let mut seen = BTreeSet::new();
    for (i, c) in db.cuda.iter().enumerate() {
        let at = || vec![key("cuda"), Seg::Index(i)];
        if !seen.insert(c.version) {
            r.error(
                "cuda.toml",
                [at(), vec![key("version")]].concat(),
                format!("CUDA {} listed twice", c.version),
            );
        }
        if let Some(m) = &c.minor_compat_driver_min {
            if m > &c.driver_min {
                r.error(
                    "cuda.toml",
                    [at(), vec![key("minor_compat_driver_min")]].concat(),
                    format!(
                        "minor-version floor {m} is above the toolkit driver {}",
                        c.driver_min
                    ),
                );
            }
        }
        for (lib, soname) in &c.sonames {
            if !is_soname(soname) {
                r.error(
                    "cuda.toml",
                    [at(), vec![key("sonames"), key(lib)]].concat(),
                    format!("`{soname}` is not a soname (libNAME.so.N)"),
                );
            }
        }
        check_sources(r, "cuda.toml", at(), &c.source);
    }
}

/// gpus.toml: every name, alias and nvidia-smi name names one GPU
/// (case-insensitive); sources.
fn check_gpus(r: &mut Reporter, db: &Db) {
    let mut names: HashMap<String, usize> = HashMap::new();
    for (i, g) in db.gpus.iter().enumerate() {
        let smi = g.smi.iter().map(|s| &s.name);
        for (j, n) in std::iter::once(&g.name)
            .chain(&g.aliases)
            .chain(smi)
            .enumerate()
        {
            if let Some(prev) = names.insert(n.to_ascii_lowercase(), i) {
                if prev != i {
                    let at = vec![key("gpu"), Seg::Index(i)];
                    let p = match j {
                        0 => vec![key("name")],
                        j if j <= g.aliases.len() => vec![key("aliases"), Seg::Index(j - 1)],
                        j => vec![key("smi"), Seg::Index(j - 1 - g.aliases.len()), key("name")],
                    };
                    let p = [at, p].concat();
                    r.error(
                        "gpus.toml",
                        p,
                        format!("GPU name `{n}` is also used by gpu[{prev}]"),
                    );
                }
            }
        }
        check_sources(r, "gpus.toml", vec![key("gpu"), Seg::Index(i)], &g.source);
        for (k, s) in g.smi.iter().enumerate() {
            if !s.source.starts_with("https://") {
                let at = vec![
                    key("gpu"),
                    Seg::Index(i),
                    key("smi"),
                    Seg::Index(k),
                    key("source"),
                ];
                r.error(
                    "gpus.toml",
                    at,
                    format!("source `{}` is not a URL", s.source),
                );
            }
        }
    }
}

/// cudnn.toml: versions, `libcudnn.so.<major>`, CUDA builds in cuda.toml,
/// sources (the `arch` rows: [`check_arch_support`]).
fn check_cudnn(r: &mut Reporter, refs: &Refs) {
    for (i, c) in refs.db.cudnn.iter().enumerate() {
        let at = || vec![key("cudnn"), Seg::Index(i)];
        if !is_cudnn_version(&c.version) {
            r.error(
                "cudnn.toml",
                [at(), vec![key("version")]].concat(),
                format!(
                    "`{}` is not a cuDNN version (dotted numbers such as 8.9.6)",
                    c.version.escape_debug()
                ),
            );
        }
        let major = c.version.split('.').next().unwrap_or("");
        if c.soname != format!("libcudnn.so.{major}") {
            r.error(
                "cudnn.toml",
                [at(), vec![key("soname")]].concat(),
                format!(
                    "cuDNN {} should have soname libcudnn.so.{major}, not {}",
                    c.version, c.soname
                ),
            );
        }
        for (j, v) in c.cuda.iter().enumerate() {
            if refs.unknown_cuda(v) {
                r.error(
                    "cudnn.toml",
                    [at(), vec![key("cuda"), Seg::Index(j)]].concat(),
                    format!("CUDA {v} is not in cuda.toml"),
                );
            }
        }
        check_sources(r, "cudnn.toml", at(), &c.source);
    }
}

/// breakers.toml: ids, shims in the one shim grammar,
/// sources.
fn check_breakers(r: &mut Reporter, db: &Db) {
    for (i, b) in db.breakers.iter().enumerate() {
        let at = |k: &str| vec![key("breaker"), Seg::Index(i), key(k)];
        // The id is the lock's shim id (`[[target.shim]] id`).
        if !is_token(&b.id) {
            r.error(
                "breakers.toml",
                at("id"),
                format!(
                    "id `{}` must be letters, digits, `.+-_`",
                    b.id.escape_debug()
                ),
            );
        }
        // The PEP 440 specifiers were parsed at load (pep440::Specifiers):
        // a bad one is a parse error with its position there.
        // The one shim grammar (validate::parse_shim) that the cell, verify
        // and the install hook evaluate: a shim outside it would be refused
        // at emit time, so it is refused here first.
        for (j, stmt) in b.shim.iter().enumerate() {
            if parse_shim(stmt).is_none() {
                r.error(
                    "breakers.toml",
                    vec![key("breaker"), Seg::Index(i), key("shim"), Seg::Index(j)],
                    format!("shim `{stmt}` is outside the grammar `module.attr = None | float | builtin type | [-]package.attr`"),
                );
            }
        }
        check_sources(
            r,
            "breakers.toml",
            vec![key("breaker"), Seg::Index(i)],
            &b.source,
        );
    }
}

/// python.toml: a project gpu-env knows, and sources.
fn check_python(r: &mut Reporter, db: &Db) {
    for (i, d) in db.python.iter().enumerate() {
        let at = |k: &str| vec![key("support"), Seg::Index(i), key(k)];
        if d.project != "mxnet" {
            r.error(
                "python.toml",
                at("project"),
                format!(
                    "project `{}` is not one gpu-env resolves (`mxnet`)",
                    d.project.escape_debug()
                ),
            );
        }
        check_sources(
            r,
            "python.toml",
            vec![key("support"), Seg::Index(i)],
            &d.source,
        );
    }
}

/// defects.toml: each statement agrees with the measured records: every
/// package's release links the soname without shipping it, and its
/// `fixed_by` release ships it.
fn check_defects(r: &mut Reporter, db: &Db) {
    let release = |p: &str, v: &str| {
        db.wheels
            .iter()
            .map(|(_, w)| w)
            .find(|w| w.package == p && w.version == v)
    };
    for (i, d) in db.defects.iter().enumerate() {
        let at = |k: &str| vec![key("defect"), Seg::Index(i), key(k)];
        for p in &d.packages {
            let broken = release(p, &d.version).is_some_and(|w| {
                w.wheel
                    .iter()
                    .any(|f| f.needed.contains(&d.unshipped) && !f.bundled.contains(&d.unshipped))
            });
            if !broken {
                r.error("defects.toml", at("packages"), format!("{p} {}: no recorded wheel links {} without shipping it (wheels/mxnet/{p}-{}.toml)", d.version, d.unshipped, d.version));
            }
            let fixed = release(p, &d.fixed_by)
                .is_some_and(|w| w.wheel.iter().all(|f| f.bundled.contains(&d.unshipped)));
            if !fixed {
                r.error(
                    "defects.toml",
                    at("fixed_by"),
                    format!(
                        "{p} {}: not recorded, or a wheel of it does not ship {}",
                        d.fixed_by, d.unshipped
                    ),
                );
            }
        }
        check_sources(
            r,
            "defects.toml",
            vec![key("defect"), Seg::Index(i)],
            &d.source,
        );
    }
}

/// defects.toml `[[source_build]]`: a recorded release, a CUDA in
/// cuda.toml, an error and sources.
fn check_source_builds(r: &mut Reporter, refs: &Refs) {
    for (i, b) in refs.db.source_builds.iter().enumerate() {
        let at = |k: &str| vec![key("source_build"), Seg::Index(i), key(k)];
        if !refs.db.wheels.iter().any(|(_, w)| w.version == b.release) {
            r.error(
                "defects.toml",
                at("release"),
                format!("MXNet {} has no record in wheels/mxnet/", b.release),
            );
        }
        if refs.unknown_cuda(&b.cuda_from) {
            r.error(
                "defects.toml",
                at("cuda_from"),
                format!("CUDA {} is not in cuda.toml", b.cuda_from),
            );
        }
        if b.error.trim().is_empty() || !is_plain_text(&b.error) {
            r.error(
                "defects.toml",
                at("error"),
                "say what the build prints, as plain text",
            );
        }
        check_sources(
            r,
            "defects.toml",
            vec![key("source_build"), Seg::Index(i)],
            &b.source,
        );
    }
}

/// The sonames cuda.toml/cudnn.toml give a redist component for its CUDA
/// major: cuDNN's, NCCL's one, or the toolkit library keys it prefixes.
fn redist_known_sonames<'a>(db: &'a Db, p: &RedistPackage) -> BTreeSet<&'a str> {
    match p.component.as_str() {
        "cudnn" => db.cudnn.iter().map(|c| c.soname.as_str()).collect(),
        "nccl" => ["libnccl.so.2"].into(),
        comp => db
            .cuda
            .iter()
            .filter(|c| c.version.major == p.cuda_major)
            .flat_map(|c| {
                c.sonames
                    .iter()
                    .filter(|(k, _)| k.as_str() == comp || k.starts_with(comp))
                    .map(|(_, v)| v.as_str())
            })
            .collect(),
    }
}

/// redist/*.toml: the component is known to cuda.toml/cudnn.toml, the
/// package and each release's values, and the libraries it ships.
fn check_redist(r: &mut Reporter, refs: &Refs, file: &str, p: &RedistPackage) {
    let known = redist_known_sonames(refs.db, p);
    let refs_ok = refs.cuda_ok && refs.cudnn_ok;
    if refs_ok && known.is_empty() {
        r.error(
            file,
            vec![key("component")],
            format!(
                "component `{}` has no sonames for CUDA {} in cuda.toml/cudnn.toml",
                p.component, p.cuda_major
            ),
        );
    }
    check_sources(r, file, vec![], &p.source);
    check_package_name(r, file, &p.package);
    let mut versions = BTreeSet::new();
    for (i, rel) in p.release.iter().enumerate() {
        let at = |k: &str| vec![key("release"), Seg::Index(i), key(k)];
        if !is_version(&rel.version) {
            r.error(
                file,
                at("version"),
                format!("`{}` is not a PEP 440 version", rel.version.escape_debug()),
            );
        }
        check_file_values(r, file, &at, &rel.filename, &rel.url);
        if !versions.insert(&rel.version) {
            r.error(
                file,
                at("version"),
                format!("release {} listed twice", rel.version),
            );
        }
        if !is_sha256(&rel.sha256) {
            r.error(file, at("sha256"), "sha256 must be 64 lowercase hex digits");
        }
        if rel.measured.trim().is_empty() {
            r.error(file, at("measured"), "say how the libraries were measured");
        }
        check_redist_code(r, file, i, rel);
        for (j, lib) in rel.libraries.iter().enumerate() {
            // Only the library the table names (libcufft, not libcufftw;
            // libnvrtc, not libnvrtc-builtins) must match it.
            let primary = known
                .iter()
                .any(|k| soname_stem(k) == soname_stem(&lib.soname));
            if refs_ok && primary && !known.is_empty() && !known.contains(lib.soname.as_str()) {
                r.error(
                    file,
                    vec![
                        key("release"),
                        Seg::Index(i),
                        key("libraries"),
                        Seg::Index(j),
                    ],
                    format!(
                        "soname {} is not one cuda.toml/cudnn.toml knows for {} (CUDA {})",
                        lib.soname, p.component, p.cuda_major
                    ),
                );
            }
        }
    }
}

/// A release's measured GPU code: every library gives both `sass` and
/// `ptx` or neither, and `code_measured` says how they were read.
fn check_redist_code(r: &mut Reporter, file: &str, i: usize, rel: &RedistRelease) {
    let any = rel
        .libraries
        .iter()
        .any(|l| l.sass.is_some() || l.ptx.is_some());
    for (j, lib) in rel.libraries.iter().enumerate() {
        if any && (lib.sass.is_none() || lib.ptx.is_none()) {
            r.error(
                file,
                vec![key("release"), Seg::Index(i), key("libraries"), Seg::Index(j)],
                "give `sass` and `ptx` for every library of a release whose code is measured ([] for none)",
            );
        }
    }
    let said = rel
        .code_measured
        .as_deref()
        .is_some_and(|m| !m.trim().is_empty());
    if any != said {
        r.error(
            file,
            vec![key("release"), Seg::Index(i), key("code_measured")],
            if any {
                "say how the libraries' sass/ptx were measured"
            } else {
                "`code_measured` without any library's sass/ptx"
            },
        );
    }
}

/// `package` of a redist, wheel or pypi record.
fn check_package_name(r: &mut Reporter, file: &str, package: &str) {
    if !pep440::is_valid_name(package) {
        r.error(
            file,
            vec![key("package")],
            format!("`{}` is not a PEP 508 package name", package.escape_debug()),
        );
    }
}

/// wheels/mxnet/*.toml: one record per wheel file across the directory,
/// each release in the file its package and version name, its wheels.
fn check_wheels(r: &mut Reporter, refs: &Refs) {
    for (file, w) in &refs.db.wheels {
        check_package_name(r, file, &w.package);
        let expect = format!("wheels/mxnet/{}-{}.toml", w.package, w.version);
        if *file != expect {
            r.error(
                file,
                vec![key("package")],
                format!(
                    "record for {} {} must live in {expect}",
                    w.package, w.version
                ),
            );
        }
        check_version(r, file, vec![key("version")], &w.version);
        for (i, f) in w.wheel.iter().enumerate() {
            check_wheel_file(r, refs, file, w, i, f);
        }
    }
}

/// One `[[wheel]]` of a wheels/mxnet record: the values that reach the
/// lock, its name, CUDA build and measured facts.
fn check_wheel_file(
    r: &mut Reporter,
    refs: &Refs,
    file: &str,
    w: &WheelRelease,
    i: usize,
    f: &WheelFile,
) {
    let at = |k: &str| vec![key("wheel"), Seg::Index(i), key(k)];
    if !is_sha256(&f.sha256) {
        r.error(file, at("sha256"), "sha256 must be 64 lowercase hex digits");
    }
    check_file_values(r, file, &at, &f.filename, &f.url);
    let prefix = format!("{}-{}-", w.package.replace('-', "_"), w.version);
    if !f.filename.starts_with(&prefix) {
        r.error(
            file,
            at("filename"),
            format!("filename does not start with {prefix}"),
        );
    }
    if let Some(c) = f.cuda.filter(|c| refs.unknown_cuda(c)) {
        r.error(file, at("cuda"), format!("CUDA {c} is not in cuda.toml"));
    }
    if !f.placeholder && f.needed.is_empty() {
        r.error(
            file,
            at("needed"),
            "a real wheel's libmxnet.so needs at least libc; re-run `cargo xtask db ingest`",
        );
    }
    if f.no_gpu_code != (f.sass.is_empty() && f.ptx.is_empty()) {
        r.error(
            file,
            at("no_gpu_code"),
            "no_gpu_code disagrees with sass/ptx",
        );
    }
    let glibc = f.glibc.as_deref();
    if !f.placeholder && glibc.is_none() {
        r.error(
            file,
            at("glibc"),
            "a real wheel's glibc floor is unmeasured; re-run `cargo xtask db ingest` on it",
        );
    }
    if glibc
        .is_some_and(|g| crate::validate::parse_glibc(g).is_none() || g.matches('.').count() != 1)
    {
        r.error(
            file,
            at("glibc"),
            "glibc must be MAJOR.MINOR of glibc 2 (`2.17`); re-run `cargo xtask db ingest`",
        );
    }
    if f.provenance.measured.trim().is_empty() {
        r.error(
            file,
            vec![
                key("wheel"),
                Seg::Index(i),
                key("provenance"),
                key("measured"),
            ],
            "say how the facts were measured",
        );
    }
}

/// runtimes/*.toml: a unique plain name, the kind, cuDNN, preinstalled
/// packages, GPUs in gpus.toml, reused libraries, CUDA in cuda.toml,
/// system sonames, Python, sources. `names`: runtime name -> file so far.
fn check_runtime<'a>(
    r: &mut Reporter,
    refs: &Refs,
    file: &'a str,
    rt: &'a Runtime,
    names: &mut HashMap<&'a str, &'a str>,
) {
    // The name becomes target names, lock values and comment lines of
    // every generated file; a second runtime of the same name would
    // make `colab-2026.08` mean two things.
    if !is_plain_text(&rt.name) || rt.name.contains(':') || rt.name.len() > 100 {
        r.error(
            file,
            vec![key("name")],
            format!(
                "runtime name `{}` must be printable ASCII without quotes, backslashes or `:`",
                rt.name.escape_debug()
            ),
        );
    } else if let Some(prev) = names.insert(rt.name.as_str(), file) {
        r.error(
            file,
            vec![key("name")],
            format!("runtime name `{}` is also used by {prev}", rt.name),
        );
    }
    if !is_token(&rt.kind) {
        r.error(
            file,
            vec![key("kind")],
            format!(
                "kind `{}` must be letters, digits, `.+-_`",
                rt.kind.escape_debug()
            ),
        );
    }
    if let Some(c) = rt.cudnn.as_deref().filter(|c| !is_cudnn_version(c)) {
        r.error(
            file,
            vec![key("cudnn")],
            format!(
                "`{}` is not a cuDNN version (dotted numbers such as 8.9.6)",
                c.escape_debug()
            ),
        );
    }
    for (name, version) in &rt.preinstalled {
        if !pep440::is_valid_name(name) || !is_version(version) {
            r.error(
                file,
                vec![key("preinstalled"), key(name)],
                format!(
                    "preinstalled `{}` = `{}` is not a package name and PEP 440 version",
                    name.escape_debug(),
                    version.escape_debug()
                ),
            );
        }
    }
    for (i, g) in rt.gpus.iter().enumerate() {
        if refs.gpus_ok && refs.db.gpu(g).is_none() {
            r.error(
                file,
                vec![key("gpus"), Seg::Index(i)],
                format!("GPU `{g}` is not in gpus.toml"),
            );
        }
    }
    check_runtime_reuse(r, refs.db, file, rt);
    if !rt.gpus.contains(&rt.default_gpu) {
        r.error(
            file,
            vec![key("default_gpu")],
            format!("default_gpu `{}` is not among gpus", rt.default_gpu),
        );
    }
    if let Some(c) = rt.cuda_toolkit.filter(|c| refs.unknown_cuda(c)) {
        r.error(
            file,
            vec![key("cuda_toolkit")],
            format!("CUDA {c} is not in cuda.toml"),
        );
    }
    for (i, s) in rt.system_sonames.iter().enumerate() {
        if !is_soname(s) {
            r.error(
                file,
                vec![key("system_sonames"), Seg::Index(i)],
                format!("`{s}` is not a soname"),
            );
        }
    }
    check_version(r, file, vec![key("python")], &rt.python);
    check_sources(r, file, vec![], &rt.source);
}

/// `[[reuse]]` of a runtime: a preinstalled package's library that serves
/// wheels in compat-db/wheels.
fn check_runtime_reuse(r: &mut Reporter, db: &Db, file: &str, rt: &Runtime) {
    for (i, u) in rt.reuse.iter().enumerate() {
        let at = |k: &str| vec![key("reuse"), Seg::Index(i), key(k)];
        if !is_soname(&u.soname) {
            r.error(
                file,
                at("soname"),
                format!("`{}` is not a soname", u.soname),
            );
        }
        if rt.preinstalled.get(&u.package) != Some(&u.version) {
            r.error(
                file,
                at("version"),
                format!(
                    "{} {} is not in this runtime's preinstalled",
                    u.package, u.version
                ),
            );
        }
        if u.measured.trim().is_empty() {
            r.error(
                file,
                at("measured"),
                "say how the symbol check was measured",
            );
        }
        for (j, w) in u.serves.iter().enumerate() {
            if !db.wheel_files().any(|(_, f)| f.filename == *w) {
                r.error(
                    file,
                    vec![key("reuse"), Seg::Index(i), key("serves"), Seg::Index(j)],
                    format!("`{w}` is not a wheel in compat-db/wheels"),
                );
            }
        }
    }
}

/// pypi/*.toml: package, sources, and per release its version,
/// requirements (each pinnable from compat-db/pypi) and files.
fn check_pypi(r: &mut Reporter, db: &Db) {
    let pypi_names: BTreeSet<String> = db
        .pypi
        .iter()
        .map(|(_, p)| pep440::normalize_name(&p.package))
        .collect();
    for (file, p) in &db.pypi {
        check_sources(r, file, vec![], &p.source);
        check_package_name(r, file, &p.package);
        for (i, rel) in p.release.iter().enumerate() {
            check_version(
                r,
                file,
                vec![key("release"), Seg::Index(i), key("version")],
                &rel.version,
            );
            check_requires_dist(r, file, i, &rel.requires_dist, &pypi_names);
            for (j, f) in rel.file.iter().enumerate() {
                let at = |k: &str| {
                    vec![
                        key("release"),
                        Seg::Index(i),
                        key("file"),
                        Seg::Index(j),
                        key(k),
                    ]
                };
                check_file_values(r, file, &at, &f.filename, &f.url);
                if !is_sha256(&f.sha256) {
                    r.error(file, at("sha256"), "sha256 must be 64 lowercase hex digits");
                }
            }
        }
    }
}

/// requires_dist of pypi release `i`: each name must have its own record
/// (unless its marker holds for no CPython 3.6 .. 3.14 on Linux), or the
/// solver cannot pin it. The entries were parsed at load
/// (pep508::Dependency): one that does not parse is an error there.
fn check_requires_dist(
    r: &mut Reporter,
    file: &str,
    i: usize,
    requires: &[Dependency],
    pypi_names: &BTreeSet<String>,
) {
    for (j, req) in requires.iter().enumerate() {
        if pypi_names.contains(req.name()) || !req.requirement().applies_on_some_linux() {
            continue;
        }
        let at = vec![
            key("release"),
            Seg::Index(i),
            key("requires_dist"),
            Seg::Index(j),
        ];
        r.error(
            file,
            at,
            format!(
                "requirement `{req}`: {} has no record in compat-db/pypi",
                req.name()
            ),
        );
    }
}

/// Architecture support facts: `[[cudnn.arch]]` rows (each CUDA build of
/// the release at most once, `min_cc <= max_cc`, a URL source),
/// `[cuda.library_arch]` (known libraries, plain-text note, sources) and
/// `yanked_reason` of redist releases (only with `yanked`, plain text).
fn check_arch_support(r: &mut Reporter, db: &Db) {
    for (i, c) in db.cudnn.iter().enumerate() {
        let mut seen = BTreeSet::new();
        for (j, a) in c.arch.iter().enumerate() {
            let at = |k: &str| {
                vec![
                    key("cudnn"),
                    Seg::Index(i),
                    key("arch"),
                    Seg::Index(j),
                    key(k),
                ]
            };
            if a.cuda.is_empty() {
                r.error(
                    "cudnn.toml",
                    at("cuda"),
                    "a support-matrix row names the CUDA builds it covers",
                );
            }
            for (k, v) in a.cuda.iter().enumerate() {
                let mut p = at("cuda");
                p.push(Seg::Index(k));
                if !c.cuda.contains(v) {
                    r.error(
                        "cudnn.toml",
                        p,
                        format!("CUDA {v} is not in this release's `cuda` list"),
                    );
                } else if !seen.insert(*v) {
                    r.error(
                        "cudnn.toml",
                        p,
                        format!("CUDA {v} is in two `arch` rows of cuDNN {}", c.version),
                    );
                }
            }
            if a.max_cc.is_some_and(|m| m < a.min_cc) {
                r.error(
                    "cudnn.toml",
                    at("max_cc"),
                    format!("max_cc is below min_cc {}", a.min_cc),
                );
            }
            match (&a.sha256, &a.measured) {
                (None, None) => {}
                (Some(h), Some(m)) if is_sha256(h) && !m.trim().is_empty() => {}
                _ => r.error(
                    "cudnn.toml",
                    at("sha256"),
                    "a measured row gives the wheel's sha256 (64 lowercase hex digits) and `measured` together",
                ),
            }
            check_sources(
                r,
                "cudnn.toml",
                vec![key("cudnn"), Seg::Index(i), key("arch"), Seg::Index(j)],
                std::slice::from_ref(&a.source),
            );
        }
    }
    for (i, c) in db.cuda.iter().enumerate() {
        let Some(l) = &c.library_arch else { continue };
        let at = |k: &str| vec![key("cuda"), Seg::Index(i), key("library_arch"), key(k)];
        for (k, lib) in l.libraries.iter().enumerate() {
            if lib != "cudnn" && !c.sonames.contains_key(lib) {
                let mut p = at("libraries");
                p.push(Seg::Index(k));
                r.error(
                    "cuda.toml",
                    p,
                    format!(
                        "`{}` is neither `cudnn` nor a key of this release's sonames",
                        lib.escape_debug()
                    ),
                );
            }
        }
        if !is_plain_text(&l.note) {
            r.error(
                "cuda.toml",
                at("note"),
                "note must be one line of plain text",
            );
        }
        check_sources(
            r,
            "cuda.toml",
            vec![key("cuda"), Seg::Index(i), key("library_arch")],
            &l.source,
        );
    }
    for (file, p) in &db.redist {
        for (i, rel) in p.release.iter().enumerate() {
            let Some(reason) = &rel.yanked_reason else {
                continue;
            };
            let at = vec![key("release"), Seg::Index(i), key("yanked_reason")];
            if !rel.yanked {
                r.error(file, at, "yanked_reason without `yanked = true`");
            } else if !is_plain_text(reason) {
                r.error(file, at, "yanked_reason must be one line of plain text");
            }
        }
    }
}
