//! Session names: the public identity of a session, validated once at the edge.

use std::fmt;

use crate::error::{Error, Result};

/// The longest session name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// A validated session name: 1 to 64 characters from `[A-Za-z0-9_.-]`.
///
/// Names reach tmux targets and file names, so the alphabet is deliberately small: no `:`,
/// `=`, `/`, whitespace or shell metacharacters can ever appear in one. Names that are all
/// dots (`.`, `..`) and names starting with `-` are refused as well, so that a name can
/// never be mistaken for a path component or an option.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct SessionName(String);

impl SessionName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self> {
        let refuse = |reason| {
            Err(Error::InvalidName {
                name: printable_prefix(name),
                reason,
            })
        };
        if name.is_empty() {
            return refuse("it is empty");
        }
        if name.len() > MAX_NAME_LEN {
            return refuse("it is longer than 64 characters");
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return refuse("only letters, digits, '_', '.' and '-' are allowed");
        }
        if name.starts_with('-') {
            return refuse("it must not start with '-'");
        }
        if name.bytes().all(|b| b == b'.') {
            return refuse("it must not consist of dots only");
        }
        Ok(SessionName(name.to_owned()))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SessionName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The first few characters of untrusted input, with control characters escaped, for use in
/// error messages (a 1 MB name must not come back as a 1 MB error).
pub fn printable_prefix(s: &str) -> String {
    let mut out: String = s.chars().take(40).flat_map(char::escape_default).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for n in ["a", "my-proj", "v1.2_beta", "A0", &"x".repeat(64)] {
            assert!(SessionName::new(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn refuses_hostile_names() {
        let long = "a".repeat(1 << 20);
        for n in [
            "", "a;rm -rf", "../x", "=x", "a:b", "a b", "-t", ".", "..", "a/b", "é", "a\nb",
            "$(x)", &long,
        ] {
            let err = SessionName::new(n).unwrap_err();
            assert!(matches!(err, Error::InvalidName { .. }), "{n:?}");
            assert!(err.to_string().len() < 200);
        }
    }
}
