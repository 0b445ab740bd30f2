//! Session names: the public identity of a session, validated once at the edge.

use std::fmt;

use crate::error::{Error, Result};

/// The longest session name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// The longest host name in a qualified session name (`HOST:NAME`).
pub const MAX_HOST_LEN: usize = 32;

/// A validated session name: 1 to 64 characters from `[A-Za-z0-9_.-]`, optionally qualified
/// by the host it lives on as `HOST:NAME` (the host 1 to 32 characters of the same alphabet).
///
/// Names reach tmux targets and file names, so the alphabet is deliberately small: no `=`,
/// `/`, whitespace or shell metacharacters can ever appear in one, and `:` only as the one
/// separator of a qualified name, which the host router ([`crate::hosts`]) removes before
/// any backend sees the name. Names (and hosts) that are all dots (`.`, `..`) and names
/// starting with `-` are refused as well, so that a name can never be mistaken for a path
/// component or an option.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct SessionName(String);

impl SessionName {
    /// Validates `name` (bare, or `HOST:NAME`).
    pub fn new(name: &str) -> Result<Self> {
        let refuse = |reason| {
            Err(Error::InvalidName {
                name: printable_prefix(name),
                reason,
            })
        };
        let (host, local) = match name.split_once(':') {
            Some((host, local)) => (Some(host), local),
            None => (None, name),
        };
        if let Some(host) = host {
            if host.len() > MAX_HOST_LEN {
                return refuse("its host part is longer than 32 characters");
            }
            if let Err(reason) = check_part(host) {
                return refuse(reason);
            }
        }
        if local.len() > MAX_NAME_LEN {
            return refuse("it is longer than 64 characters");
        }
        if let Err(reason) = check_part(local) {
            return refuse(reason);
        }
        Ok(SessionName(name.to_owned()))
    }

    /// The same session qualified by `host` (`HOST:NAME`); `self` must be bare.
    pub fn on_host(&self, host: &str) -> Result<SessionName> {
        SessionName::new(&format!("{host}:{}", self.bare().0))
    }

    /// The host part of a qualified name (`build` of `build:cc`); `None` for a bare name.
    pub fn host(&self) -> Option<&str> {
        self.0.split_once(':').map(|(h, _)| h)
    }

    /// The name without its host part.
    pub fn bare(&self) -> SessionName {
        match self.0.split_once(':') {
            Some((_, local)) => SessionName(local.to_owned()),
            None => self.clone(),
        }
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

/// Checks one part of a name (the host or the name proper); the reason when it is refused.
fn check_part(part: &str) -> std::result::Result<(), &'static str> {
    if part.is_empty() {
        return Err("it is empty (or has an empty part around ':')");
    }
    if !part
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(
            "only letters, digits, '_', '.' and '-' are allowed (and one ':' after a host name)",
        );
    }
    if part.starts_with('-') {
        return Err("it must not start with '-'");
    }
    if part.bytes().all(|b| b == b'.') {
        return Err("it must not consist of dots only");
    }
    Ok(())
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
            "", "a;rm -rf", "../x", "=x", "a:b:c", ":b", "a:", ":", "a:-t", "-h:b", "..:b", "a b",
            "-t", ".", "..", "a/b", "é", "a\nb", "$(x)", &long,
        ] {
            let err = SessionName::new(n).unwrap_err();
            assert!(matches!(err, Error::InvalidName { .. }), "{n:?}");
            assert!(err.to_string().len() < 300);
        }
    }

    #[test]
    fn a_qualified_name_splits_into_host_and_bare_name() {
        let n = SessionName::new("build:cc").unwrap();
        assert_eq!(n.host(), Some("build"));
        assert_eq!(n.bare().as_str(), "cc");
        assert_eq!(n.bare().host(), None);
        assert_eq!(n.bare().on_host("gpu").unwrap().as_str(), "gpu:cc");
        assert!(SessionName::new(&format!("{}:a", "h".repeat(33))).is_err());
    }
}
