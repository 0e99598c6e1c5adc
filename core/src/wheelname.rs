//! Wheel file names (PEP 427): `{dist}-{version}(-{build})?-{py}-{abi}-{plat}.whl`.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelName {
    /// Normalized project name (PEP 503).
    pub package: String,
    pub version: String,
    pub python_tag: String,
    pub abi_tag: String,
    pub platform_tag: String,
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a wheel file name (expected NAME-VERSION-PYTHON-ABI-PLATFORM.whl)")]
pub struct WheelNameError(pub String);

impl WheelName {
    pub fn parse(filename: &str) -> Result<Self, WheelNameError> {
        let err = || WheelNameError(filename.to_string());
        let stem = filename.strip_suffix(".whl").ok_or_else(err)?;
        let parts: Vec<&str> = stem.split('-').collect();
        if !(parts.len() == 5 || parts.len() == 6) || parts.iter().any(|p| p.is_empty()) {
            return Err(err());
        }
        let n = parts.len();
        Ok(Self {
            package: crate::pep440::normalize_name(parts[0]),
            version: parts[1].to_string(),
            python_tag: parts[n - 3].to_string(),
            abi_tag: parts[n - 2].to_string(),
            platform_tag: parts[n - 1].to_string(),
        })
    }

    /// Its tags (`crate::tags`, where every tag question is answered).
    pub fn tags(&self) -> crate::tags::WheelTags {
        crate::tags::WheelTags::new(&self.python_tag, &self.abi_tag, &self.platform_tag)
    }

    /// Linux x86_64 (manylinux/linux) or pure-Python `any`.
    pub fn is_linux_x86_64_or_any(&self) -> bool {
        self.tags().is_linux_x86_64_or_any()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses() {
        let w = WheelName::parse("mxnet_cu112-1.9.1-py3-none-manylinux2014_x86_64.whl").unwrap();
        assert_eq!(w.package, "mxnet-cu112");
        assert_eq!(w.version, "1.9.1");
        assert_eq!(w.python_tag, "py3");
        assert!(w.is_linux_x86_64_or_any());
        let w = WheelName::parse("mxnet_cu80-1.4.0-py2.py3-none-win_amd64.whl").unwrap();
        assert!(!w.is_linux_x86_64_or_any());
        assert!(WheelName::parse("mxnet-1.9.1.tar.gz").is_err());
        assert!(WheelName::parse("a-b.whl").is_err());
    }
}
