//! The scopes a token can carry.

use std::fmt;
use std::str::FromStr;

/// A permission level. Each level is separate: `sessions:manage` does not imply
/// `sessions:write`; a client asks for what it needs and the owner approves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read sessions: list, status, logs, prompts, search, fetch, wait.
    SessionsRead,
    /// Type into sessions: messages, keys, prompt answers.
    SessionsWrite,
    /// Create and terminate sessions.
    SessionsManage,
}

impl Scope {
    /// Every scope, in order.
    pub const ALL: [Scope; 3] = [
        Scope::SessionsRead,
        Scope::SessionsWrite,
        Scope::SessionsManage,
    ];

    /// The scope's string form.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SessionsRead => "sessions:read",
            Scope::SessionsWrite => "sessions:write",
            Scope::SessionsManage => "sessions:manage",
        }
    }

    /// What the consent page says the scope allows.
    pub fn describe(self) -> &'static str {
        match self {
            Scope::SessionsRead => "see your terminal sessions and read their screens",
            Scope::SessionsWrite => "type into your terminal sessions and answer their prompts",
            Scope::SessionsManage => "start and end terminal sessions",
        }
    }

    /// Parses a space-separated scope string. Unknown scopes are an error; an empty string
    /// gives an empty list. Only spaces separate (RFC 6749 §3.3): a tab, a line break or any
    /// other character stays part of a word, which then names no scope.
    pub fn parse_list(s: &str) -> Result<Vec<Scope>, String> {
        let mut out = Vec::new();
        for word in s.split(' ').filter(|w| !w.is_empty()) {
            let scope: Scope = word.parse()?;
            if !out.contains(&scope) {
                out.push(scope);
            }
        }
        out.sort();
        Ok(out)
    }

    /// The space-separated form of a list.
    pub fn join(list: &[Scope]) -> String {
        list.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sessions:read" => Ok(Scope::SessionsRead),
            "sessions:write" => Ok(Scope::SessionsWrite),
            "sessions:manage" => Ok(Scope::SessionsManage),
            other => Err(format!(
                "unknown scope {:?}; known scopes: sessions:read sessions:write sessions:manage",
                other.chars().take(40).collect::<String>()
            )),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
