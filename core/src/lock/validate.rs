//! A lock's values against the grammar of the files rendered from it: a
//! lock is data, and nothing in it reaches a generated file unchecked.

use super::{Lock, LockError, LockedTarget, LOCK_ENV};
// The grammar `db check` holds compat-db to (one definition each).
use crate::validate::{is_line, is_token, is_wheel_filename};

impl LockedTarget {
    fn invalid(&self, what: String, value: &str, rule: &'static str) -> LockError {
        LockError::Invalid {
            target: escape(&self.name),
            what,
            value: escape(value),
            rule,
        }
    }

    /// The one validation layer of generated files: every value that reaches
    /// the lock, requirements-gpu.txt, pylock.toml, the cell or the notebook
    /// against the grammar `db check` enforces on compat-db
    /// ([`crate::validate`]). Called by every renderer and when a lock is
    /// read; the first invalid value is the error.
    pub fn validate(&self) -> Result<(), LockError> {
        self.validate_installables()?;
        self.validate_records()
    }

    /// The values the installers write as code or commands (the setup
    /// cell, `install`'s hook, requirements, pylock): names, packages, MXNet,
    /// numpy, cuDNN, providers, shims. [`LockedTarget::validate`] adds the
    /// free-text records, which the cell embeds escaped.
    pub fn validate_installables(&self) -> Result<(), LockError> {
        // In this order: the first invalid value is the error.
        self.validate_identity()?;
        self.validate_packages()?;
        self.validate_stack()?;
        self.validate_providers()?;
        self.validate_shims()
    }

    /// Name and spec (written into comments and messages) and kind.
    fn validate_identity(&self) -> Result<(), LockError> {
        let bad = |what: &str, value: &str, rule| self.invalid(what.into(), value, rule);
        let plain = "printable ASCII without quotes or backslashes";
        if !crate::validate::is_plain_text(&self.name) || self.name.len() > 200 {
            return Err(bad("target name", &self.name, plain));
        }
        if !crate::validate::is_plain_text(&self.spec) || self.spec.len() > 200 {
            return Err(bad("target spec", &self.spec, plain));
        }
        if !is_token(&self.kind) {
            return Err(bad("kind", &self.kind, "letters, digits, `.+-_`"));
        }
        Ok(())
    }

    /// Each pinned file: what pip gets as a requirement line or pylock entry.
    fn validate_packages(&self) -> Result<(), LockError> {
        use crate::validate::{is_https_url, is_sha256, is_version};
        for p in &self.package {
            let bad = |what: &str, value: &str, rule| {
                self.invalid(format!("{what} of {}", p.name), value, rule)
            };
            if !is_name(&p.name) {
                return Err(self.invalid("package name".into(), &p.name, "PEP 508 name"));
            }
            if !is_version(&p.version) {
                return Err(bad("version", &p.version, "PEP 440 version"));
            }
            if !is_wheel_filename(&p.filename) {
                return Err(bad(
                    "filename",
                    &p.filename,
                    "a wheel filename (letters, digits, `.+-_!`, ending .whl)",
                ));
            }
            if !is_https_url(&p.url) {
                return Err(bad(
                    "url",
                    &p.url,
                    "https URL without quotes, spaces or `#`",
                ));
            }
            if !is_sha256(&p.sha256) {
                return Err(bad("sha256", &p.sha256, "64 lowercase hex digits"));
            }
            if !matches!(p.install.as_str(), "site" | "redist") {
                return Err(bad("install", &p.install, "`site` or `redist`"));
            }
            if !is_token(&p.role) {
                return Err(bad("role", &p.role, "letters, digits, `.+-_`"));
            }
        }
        Ok(())
    }

    /// MXNet, numpy and cuDNN: what the cell compares with the runtime.
    fn validate_stack(&self) -> Result<(), LockError> {
        use crate::validate::{is_sha256, is_soname, is_version};
        let bad = |what: &str, value: &str, rule| self.invalid(what.into(), value, rule);
        let m = &self.mxnet;
        if !is_name(&m.package) {
            return Err(bad("mxnet package", &m.package, "PEP 508 name"));
        }
        if !is_version(&m.version) {
            return Err(bad("mxnet version", &m.version, "PEP 440 version"));
        }
        if !is_wheel_filename(&m.filename) {
            return Err(bad("mxnet filename", &m.filename, "a wheel filename"));
        }
        if !is_sha256(&m.sha256) {
            return Err(bad("mxnet sha256", &m.sha256, "64 lowercase hex digits"));
        }
        if !is_version(&self.numpy.version) {
            return Err(bad("numpy version", &self.numpy.version, "PEP 440 version"));
        }
        if let Some(c) = &self.cudnn {
            if !crate::validate::is_cudnn_version(&c.version) {
                return Err(bad(
                    "cudnn version",
                    &c.version,
                    "dotted numbers such as 8.9.6",
                ));
            }
            if !is_soname(&c.soname) {
                return Err(bad("cudnn soname", &c.soname, "libNAME.so.N"));
            }
        }
        Ok(())
    }

    fn validate_providers(&self) -> Result<(), LockError> {
        let bad = |what: &str, value: &str, rule| self.invalid(what.into(), value, rule);
        for p in &self.provider {
            // A pip provider's soname is preloaded by the cell: the soname
            // grammar; a system one (ld-linux-x86-64.so.2) is only shown.
            let soname_ok = if p.package.is_some() {
                crate::validate::is_soname(&p.soname)
            } else {
                is_token(&p.soname)
            };
            if !soname_ok {
                return Err(bad("provider soname", &p.soname, "libNAME.so.N"));
            }
            if let Some(pkg) = &p.package {
                if !is_name(pkg) {
                    return Err(bad("provider package", pkg, "PEP 508 name"));
                }
                // The cell and install preload it from the lock's files.
                let pinned = self.package.iter().any(|q| {
                    crate::pep440::normalize_name(&q.name) == crate::pep440::normalize_name(pkg)
                });
                if !pinned {
                    return Err(bad(
                        "provider package",
                        pkg,
                        "a package the lock pins ([[target.package]])",
                    ));
                }
            }
            if !is_line(&p.provider) {
                return Err(bad(
                    "provider",
                    &p.provider,
                    "one line without control characters",
                ));
            }
        }
        Ok(())
    }

    /// Shim statements are applied as data; each must parse as one.
    fn validate_shims(&self) -> Result<(), LockError> {
        for s in &self.shim {
            if !is_token(&s.id) {
                return Err(self.invalid("shim id".into(), &s.id, "letters, digits, `.+-_`"));
            }
            for stmt in &s.statements {
                if crate::validate::parse_shim(stmt).is_none() {
                    return Err(self.invalid(
                        format!("shim {}", s.id),
                        stmt,
                        "`module.attr = name[.attr]`",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Facts, overrides, constraints, needs and the driver check: one line
    /// each, without control characters.
    fn validate_records(&self) -> Result<(), LockError> {
        use crate::validate::is_version;
        let bad = |what, value: &str, rule| self.invalid(what, value, rule);
        let m = &self.mxnet;
        for f in &self.fact {
            if !is_token(&f.name) {
                return Err(bad("fact name".into(), &f.name, "letters, digits, `.+-_`"));
            }
            if !is_line(&f.value) || !is_line(&f.source) {
                return Err(bad(
                    format!("fact {}", f.name),
                    &format!("{} [{}]", f.value, f.source),
                    "one line without control characters",
                ));
            }
            if f.name == "python" && !is_version(&f.value) {
                return Err(bad("python fact".into(), &f.value, "PEP 440 version"));
            }
        }
        if let Some(g) = self.gpu.iter().find(|g| !is_line(&g.name)) {
            return Err(bad(
                "gpu name".into(),
                &g.name,
                "one line without control characters",
            ));
        }
        for o in &self.r#override {
            if !is_token(&o.name) || !is_line(&o.value) || !is_line(&o.source) {
                return Err(bad(
                    "override".into(),
                    &format!("{} = {} [{}]", o.name, o.value, o.source),
                    "one line without control characters",
                ));
            }
        }
        for (k, v) in &self.constraints {
            if !is_line(k) || !is_line(v) {
                return Err(bad(
                    "constraint".into(),
                    &format!("{k} = {v}"),
                    "one line without control characters",
                ));
            }
        }
        for c in &self.companion {
            let texts = [&c.spec, &c.package, &c.version, &c.module, &c.measured];
            let bad_text = texts
                .into_iter()
                .chain(&c.preinstalled)
                .any(|v| !is_line(v))
                || c.r#override.iter().any(|o| {
                    !is_line(&o.requirement) || !is_line(&o.locked) || !is_line(&o.reason)
                });
            if bad_text {
                return Err(bad(
                    "companion".into(),
                    &c.spec,
                    "one line without control characters",
                ));
            }
        }
        for e in &self.env {
            let value_ok = !e.value.is_empty() && e.value.bytes().all(|b| b.is_ascii_digit());
            if !LOCK_ENV.contains(&e.name.as_str()) || !value_ok || !is_line(&e.why) {
                return Err(bad(
                    "env".into(),
                    &format!("{}={}", e.name, e.value),
                    "MXNET_USE_FUSION=<digits> with a one-line reason",
                ));
            }
        }
        for n in &self.need {
            if !is_line(&n.package) || !is_line(&n.reason) {
                return Err(bad(
                    "need".into(),
                    &n.package,
                    "one line without control characters",
                ));
            }
        }
        let d = &self.driver;
        if [&d.min, &d.found]
            .into_iter()
            .flatten()
            .any(|v| !is_token(v))
            || !is_line(&d.why)
        {
            return Err(bad("driver".into(), &d.why, "dotted numbers, one line"));
        }
        let devices = m.gpu_code.iter().map(|d| &d.device);
        if let Some(v) = devices.chain(m.cuda.iter()).find(|v| !is_line(v)) {
            return Err(bad(
                "mxnet gpu_code".into(),
                v,
                "one line without control characters",
            ));
        }
        Ok(())
    }
}

pub(super) fn escape(s: &str) -> String {
    let cut: String = s.chars().take(200).collect();
    cut.escape_debug().to_string()
}

/// A PEP 508 distribution name of at most 200 bytes.
fn is_name(n: &str) -> bool {
    crate::pep440::is_valid_name(n) && n.len() <= 200
}

impl Lock {
    /// Every target's values against the grammar of the generated files
    /// ([`LockedTarget::validate`]), and the compat-db hash.
    pub fn validate(&self) -> Result<(), LockError> {
        if !crate::validate::is_sha256(&self.db) {
            return Err(LockError::Invalid {
                target: "(lock)".into(),
                what: "db hash".into(),
                value: escape(&self.db),
                rule: "64 lowercase hex digits",
            });
        }
        if let Some(v) = &self.gpu_env {
            if !is_token(v) {
                return Err(LockError::Invalid {
                    target: "(lock)".into(),
                    what: "gpu_env version".into(),
                    value: escape(v),
                    rule: "letters, digits, `.+-_`",
                });
            }
        }
        self.target.iter().try_for_each(LockedTarget::validate)
    }
}
