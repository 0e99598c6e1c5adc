//! A value parsed once from compat-db text that keeps the text as written
//! ([`Textual`]): no rule re-parses it, a bad value is a load error, and
//! records, hashes and output built from it stay byte-identical (parsers
//! respell: `>=1.24,<2.0` displays as `>=1.24, <2.0`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// How a [`Textual`] value is parsed, and what a load error says.
pub trait FromText: Sized {
    type Err;
    fn from_text(text: &str) -> Result<Self, Self::Err>;
    /// The error for `text` on one line (a `db check` diagnostic), with
    /// what to write instead.
    fn load_error(text: &str, e: &Self::Err) -> String;
}

/// `T` parsed from `text`; equal when written the same (the text is what
/// records and hashes hold), serialized as the text.
#[derive(Debug, Clone)]
pub struct Textual<T> {
    text: String,
    parsed: T,
}

impl<T: FromText> Textual<T> {
    pub fn parse(text: &str) -> Result<Self, T::Err> {
        Ok(Self {
            parsed: T::from_text(text)?,
            text: text.to_string(),
        })
    }
}

impl<T> Textual<T> {
    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn parsed(&self) -> &T {
        &self.parsed
    }
}

impl<T: FromText> FromStr for Textual<T> {
    type Err = T::Err;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<T> PartialEq for Textual<T> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl<T> Eq for Textual<T> {}

impl<T> fmt::Display for Textual<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<T> Serialize for Textual<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de, T: FromText> Deserialize<'de> for Textual<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The text deserialized is the text kept (no second copy).
        let text = String::deserialize(d)?;
        match T::from_text(&text) {
            Ok(parsed) => Ok(Self { text, parsed }),
            Err(e) => Err(serde::de::Error::custom(T::load_error(&text, &e))),
        }
    }
}
