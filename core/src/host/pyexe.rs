//! `--python X`: the interpreter every command that takes one (resolve,
//! probe, doctor, verify) is given, checked once up front the way a shell
//! looks a command up: a value with a `/` is a path (relative to the current
//! directory), a bare name is searched on `PATH`. A value that is no
//! executable is a usage error naming it; one that looks like a version
//! (`3.8`, `3.12.1`, `py3.11`, `python3.11`) gets advice: `--python-version`
//! where the command takes it, else the interpreter's path. Nothing is run
//! here (so nothing can hang): the commands run the interpreter themselves,
//! with their timeouts.

use std::path::{Path, PathBuf};

/// What to suggest when `--python` was given a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Advice {
    /// The command also takes `--python-version` (resolve, probe): a version
    /// is a fact override there.
    #[default]
    PythonVersion,
    /// The command needs the interpreter itself (doctor, verify).
    Interpreter,
}

const EXAMPLE: &str = "e.g. --python /usr/bin/python3 or --python .venv/bin/python";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PyExeError {
    /// No such file (a path), or nothing by that name on PATH (a bare name).
    #[error(
        "--python {given}: {}; --python takes a Python interpreter ({EXAMPLE})",
        if *.on_path { format!("no executable named `{given}` on PATH") } else { "no such file".to_string() }
    )]
    NotFound { given: String, on_path: bool },
    /// It exists but cannot be run: a directory, no execute permission.
    #[error(
        "--python {given}: {} is not an executable file ({why}){}",
        .path.display(),
        match .hint { Some(h) => format!("; did you mean --python {}?", h.display()), None => format!("; --python takes a Python interpreter ({EXAMPLE})") }
    )]
    NotExecutable {
        given: String,
        path: PathBuf,
        why: String,
        /// The interpreter inside, when `path` is a virtual environment.
        hint: Option<PathBuf>,
    },
    /// Not a file nor on PATH, and it reads as a Python version.
    #[error("{}", version_message(.given, .version, *.advice, .found.as_deref()))]
    LooksLikeVersion {
        given: String,
        /// The version it reads as (`3.11` for `py3.11`).
        version: String,
        advice: Advice,
        /// `python<major>.<minor>` on PATH, when there is one.
        found: Option<PathBuf>,
    },
}

fn version_message(given: &str, version: &str, advice: Advice, found: Option<&Path>) -> String {
    let mm = major_minor(version);
    let head = format!(
        "--python {given}: no such interpreter (not a file, nothing named `{given}` on PATH); \
         --python takes the path of a Python executable, and `{given}` looks like a Python version"
    );
    match (advice, found) {
        (Advice::PythonVersion, Some(p)) => format!(
            "{head}: to use Python {version} without that interpreter, pass --python-version {version} \
             (or --python {} to probe the Python {mm} on PATH)",
            p.display()
        ),
        (Advice::PythonVersion, None) => format!(
            "{head}: to use Python {version} without that interpreter, pass --python-version {version}"
        ),
        (Advice::Interpreter, Some(p)) => format!(
            "{head}: give the interpreter itself, e.g. --python {} (the Python {mm} on PATH)",
            p.display()
        ),
        (Advice::Interpreter, None) => format!(
            "{head}: give the interpreter itself, e.g. --python /path/to/python{mm} \
             or --python .venv/bin/python (no python{mm} on PATH)"
        ),
    }
}

fn major_minor(version: &str) -> &str {
    match version.match_indices('.').nth(1) {
        Some((i, _)) => &version[..i],
        None => version,
    }
}

/// The Python version a `--python` value reads as: `3.8`, `3.12.1`, `v3.8`,
/// `py3.11`, `python3.11`, `cp3.11` (major 2 or 3, with a minor).
pub fn version_like(given: &str) -> Option<String> {
    let s = given.trim();
    let lower = s.to_ascii_lowercase();
    let rest = ["python", "py", "cp", "v"]
        .iter()
        .find_map(|p| lower.strip_prefix(p))
        .unwrap_or(&lower)
        .trim_start_matches(['-', '_', ' ']);
    let parts: Vec<&str> = rest.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit());
    if !(2..=3).contains(&parts.len()) || !parts.iter().all(numeric) {
        return None;
    }
    if !matches!(parts[0], "2" | "3") {
        return None;
    }
    Some(rest.to_string())
}

/// Check `--python` against this process's PATH and current directory.
pub fn find(given: &Path, advice: Advice) -> Result<PathBuf, PyExeError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let path = std::env::var("PATH").ok();
    find_in(given, path.as_deref(), &cwd, advice)
}

/// [`find`] with an explicit PATH and current directory. A value with a `/`
/// is a path (made absolute against `cwd`, symlinks kept: a venv's
/// `bin/python` must stay itself); a bare name is looked up on `path_var`.
pub fn find_in(
    given: &Path,
    path_var: Option<&str>,
    cwd: &Path,
    advice: Advice,
) -> Result<PathBuf, PyExeError> {
    let shown = given.display().to_string();
    if shown.is_empty() {
        return Err(PyExeError::NotFound {
            given: "''".into(),
            on_path: false,
        });
    }
    let has_slash = given.as_os_str().as_encoded_bytes().contains(&b'/');
    if !has_slash {
        if let Some(p) = crate::host::exec::which_in(&shown, path_var) {
            if p.is_file() {
                return Ok(p);
            }
        }
        if let Some(version) = version_like(&shown) {
            let found =
                crate::host::exec::which_in(&format!("python{}", major_minor(&version)), path_var);
            return Err(PyExeError::LooksLikeVersion {
                given: shown,
                version,
                advice,
                found,
            });
        }
        return Err(PyExeError::NotFound {
            given: shown,
            on_path: true,
        });
    }
    let path = cwd.join(given);
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(PyExeError::NotFound {
                given: shown,
                on_path: false,
            })
        }
        Err(e) => {
            return Err(PyExeError::NotExecutable {
                given: shown,
                path,
                why: e.to_string(),
                hint: None,
            })
        }
    };
    let not_exec = |why: &str, hint: Option<PathBuf>| PyExeError::NotExecutable {
        given: shown.clone(),
        path: path.clone(),
        why: why.to_string(),
        hint,
    };
    if meta.is_dir() {
        let hint = ["bin/python", "bin/python3"]
            .iter()
            .map(|b| given.join(b))
            .find(|p| is_executable(&cwd.join(p)));
        return Err(not_exec("a directory", hint));
    }
    if !meta.is_file() {
        return Err(not_exec("not a regular file", None));
    }
    if !is_executable(&path) {
        return Err(not_exec("no execute permission", None));
    }
    Ok(path)
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn exe(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn versions() {
        for (s, v) in [
            ("3.8", "3.8"),
            ("3.12.1", "3.12.1"),
            ("py3.11", "3.11"),
            ("python3.11", "3.11"),
            ("Python3.10", "3.10"),
            ("v3.9", "3.9"),
            ("cp3.7", "3.7"),
            ("2.7", "2.7"),
        ] {
            assert_eq!(version_like(s).as_deref(), Some(v), "{s}");
        }
        for s in [
            "python3", "3", "python", "4.1", "3.8.x", "foo", "1.2.3.4", "3..8",
        ] {
            assert_eq!(version_like(s), None, "{s}");
        }
        assert_eq!(major_minor("3.12.1"), "3.12");
        assert_eq!(major_minor("3.8"), "3.8");
    }

    #[test]
    fn bare_names_search_path_like_a_shell() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        exe(&bin.join("python3"));
        let path = bin.display().to_string();
        let cwd = tmp.path().join("elsewhere");
        std::fs::create_dir_all(&cwd).unwrap();
        let got = find_in(Path::new("python3"), Some(&path), &cwd, Advice::default()).unwrap();
        assert_eq!(got, bin.join("python3"));
        // A file named like the value in the current directory is not looked at.
        exe(&cwd.join("mypy"));
        let e = find_in(Path::new("mypy"), Some(&path), &cwd, Advice::default()).unwrap_err();
        assert_eq!(
            e,
            PyExeError::NotFound {
                given: "mypy".into(),
                on_path: true
            }
        );
        assert!(
            e.to_string().contains("no executable named `mypy` on PATH"),
            "{e}"
        );
    }

    #[test]
    fn version_gets_advice_per_command() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        exe(&bin.join("python3.11"));
        let path = bin.display().to_string();
        let e = find_in(
            Path::new("3.8"),
            Some(&path),
            tmp.path(),
            Advice::PythonVersion,
        )
        .unwrap_err();
        assert!(
            matches!(&e, PyExeError::LooksLikeVersion { given, version, found: None, .. } if given == "3.8" && version == "3.8"),
            "{e:?}"
        );
        let m = e.to_string();
        assert!(m.starts_with("--python 3.8: "), "{m}");
        assert!(m.contains("pass --python-version 3.8"), "{m}");

        let e = find_in(
            Path::new("3.8"),
            Some(&path),
            tmp.path(),
            Advice::Interpreter,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("--python /path/to/python3.8"), "{e}");
        assert!(!e.contains("--python-version"), "{e}");

        // The interpreter of that version on PATH is named.
        let e = find_in(
            Path::new("py3.11"),
            Some(&path),
            tmp.path(),
            Advice::Interpreter,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(&format!("--python {}", bin.join("python3.11").display())),
            "{e}"
        );
        let e = find_in(
            Path::new("3.11.4"),
            Some(&path),
            tmp.path(),
            Advice::PythonVersion,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("--python-version 3.11.4"), "{e}");
        assert!(
            e.contains(&bin.join("python3.11").display().to_string()),
            "{e}"
        );
    }

    #[test]
    fn paths_are_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let cwd = tmp.path();
        // Relative with a slash: against cwd, symlinks kept.
        exe(&cwd.join("venv/bin/python3"));
        std::os::unix::fs::symlink("python3", cwd.join("venv/bin/python")).unwrap();
        let got = find_in(Path::new("venv/bin/python"), None, cwd, Advice::Interpreter).unwrap();
        assert_eq!(got, cwd.join("venv/bin/python"));
        // Missing.
        let e = find_in(Path::new("./nope"), None, cwd, Advice::Interpreter).unwrap_err();
        assert!(matches!(e, PyExeError::NotFound { on_path: false, .. }));
        assert!(
            e.to_string().starts_with("--python ./nope: no such file"),
            "{e}"
        );
        // A plain file.
        std::fs::write(cwd.join("notes.txt"), "hi").unwrap();
        let e = find_in(Path::new("./notes.txt"), None, cwd, Advice::Interpreter).unwrap_err();
        assert!(
            matches!(&e, PyExeError::NotExecutable { why, .. } if why == "no execute permission"),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .contains("notes.txt is not an executable file"),
            "{e}"
        );
        // A venv directory: its interpreter is suggested.
        let e = find_in(Path::new("./venv"), None, cwd, Advice::Interpreter).unwrap_err();
        assert!(
            e.to_string()
                .contains("a directory); did you mean --python ./venv/bin/python?"),
            "{e}"
        );
        // Empty.
        assert!(find_in(Path::new(""), None, cwd, Advice::Interpreter).is_err());
    }
}
