//! The owner's policy for new sessions: where they may run and what they may start.
//!
//! A client never sends a command line. It names a *launch profile* that the owner configured
//! (an argv list such as `["claude"]` or `["bash", "-l"]`) and a working directory that must
//! lie under one of the owner's allowed roots. [`SessionPolicy::prepare`] checks both and
//! returns a [`CreateSpec`], the only way to ask a backend for a new session: a backend never
//! sees an unchecked name, directory or program.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::name::{SessionName, printable_prefix};

/// One launch profile: the program to start and its arguments, plus extra environment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum LaunchProfile {
    /// The short form: just an argv list, e.g. `shell = ["bash", "-l"]`.
    Argv(Vec<String>),
    /// The long form with environment variables.
    Full {
        /// The program and its arguments.
        command: Vec<String>,
        /// Extra environment variables for the program.
        #[serde(default)]
        env: BTreeMap<String, String>,
    },
}

impl LaunchProfile {
    /// The program and its arguments.
    pub fn argv(&self) -> &[String] {
        match self {
            LaunchProfile::Argv(a) => a,
            LaunchProfile::Full { command, .. } => command,
        }
    }

    /// Extra environment variables.
    pub fn env(&self) -> BTreeMap<String, String> {
        match self {
            LaunchProfile::Argv(_) => BTreeMap::new(),
            LaunchProfile::Full { env, .. } => env.clone(),
        }
    }
}

/// The profiles every installation has unless the owner overrides them.
pub fn default_profiles() -> BTreeMap<String, LaunchProfile> {
    let p = |v: &[&str]| LaunchProfile::Argv(v.iter().map(|s| s.to_string()).collect());
    BTreeMap::from([
        ("claude".to_owned(), p(&["claude"])),
        ("codex".to_owned(), p(&["codex"])),
        ("gemini".to_owned(), p(&["gemini"])),
        ("aider".to_owned(), p(&["aider"])),
        ("shell".to_owned(), p(&["bash", "-l"])),
    ])
}

/// A checked request for a new session. Built only by [`SessionPolicy::prepare`].
#[derive(Debug, Clone)]
pub struct CreateSpec {
    /// The session's name.
    pub name: SessionName,
    /// The working directory, canonical (symlinks resolved) and inside an allowed root.
    pub working_dir: PathBuf,
    /// The profile's name.
    pub profile: String,
    /// The program and its arguments; never empty.
    pub argv: Vec<String>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Terminal width.
    pub cols: u16,
    /// Terminal height.
    pub rows: u16,
}

/// The owner's rules for sessions.
#[derive(Debug, Clone)]
pub struct SessionPolicy {
    roots: Vec<PathBuf>,
    profiles: BTreeMap<String, LaunchProfile>,
    /// The largest text a client may send in one message, in bytes.
    pub max_message_bytes: usize,
    /// Terminal width of new sessions.
    pub cols: u16,
    /// Terminal height of new sessions.
    pub rows: u16,
}

/// The default cap on one message.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 256 * 1024;

impl SessionPolicy {
    /// A policy with the given allowed roots and profiles. Roots that do not exist are
    /// refused, because a root that appears later could be a symlink planted by someone else.
    pub fn new(roots: &[PathBuf], profiles: BTreeMap<String, LaunchProfile>) -> Result<Self> {
        let mut canonical = Vec::new();
        for r in roots {
            let c = std::fs::canonicalize(r)
                .map_err(|_| Error::WorkdirMissing(r.display().to_string()))?;
            canonical.push(c);
        }
        if canonical.is_empty() {
            return Err(Error::InvalidArgument(
                "at least one allowed root is needed".into(),
            ));
        }
        for (name, p) in &profiles {
            if p.argv().is_empty() || p.argv()[0].is_empty() {
                return Err(Error::InvalidArgument(format!(
                    "profile {name:?} has an empty command"
                )));
            }
        }
        Ok(SessionPolicy {
            roots: canonical,
            profiles,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            cols: 120,
            rows: 40,
        })
    }

    /// A policy for another machine: `roots` are canonical paths *there* (resolved on that
    /// host), taken as given; nothing is checked against this machine's file system.
    pub fn for_host(
        roots: Vec<PathBuf>,
        profiles: BTreeMap<String, LaunchProfile>,
        like: &SessionPolicy,
    ) -> Result<Self> {
        if roots.is_empty() || roots.iter().any(|r| !r.is_absolute()) {
            return Err(Error::InvalidArgument(
                "a host needs at least one allowed root, as an absolute path".into(),
            ));
        }
        let mut p = SessionPolicy::new(&[std::path::PathBuf::from("/")], profiles)?;
        p.roots = roots;
        p.max_message_bytes = like.max_message_bytes;
        p.cols = like.cols;
        p.rows = like.rows;
        Ok(p)
    }

    /// The directory an untrusted request names, before symlinks are resolved (on whichever
    /// machine it lies): empty is the first root, `~` and `~/...` are under `home`, a relative
    /// path is under the first root. Refuses what cannot be a path.
    pub fn requested_dir(&self, raw: &str, home: &Path) -> Result<PathBuf> {
        let missing = || Error::WorkdirMissing(printable_prefix(raw));
        if raw.len() > 4096 || raw.contains('\0') {
            return Err(missing());
        }
        Ok(if raw.is_empty() {
            self.roots[0].clone()
        } else if raw == "~" || raw.starts_with("~/") {
            home.join(raw.trim_start_matches('~').trim_start_matches('/'))
        } else {
            self.roots[0].join(raw)
        })
    }

    /// Finishes a create request whose working directory was resolved on the session's host
    /// (`canonical`: symlinks resolved there, an existing directory): checks that it lies
    /// under an allowed root and that the profile exists. The program is looked for on that
    /// host when the session starts (a missing one ends the session at once, status 127).
    pub fn prepare_resolved(
        &self,
        name: &str,
        canonical: PathBuf,
        profile: &str,
    ) -> Result<CreateSpec> {
        let name = SessionName::new(name)?;
        if !self.roots.iter().any(|r| canonical.starts_with(r)) {
            return Err(Error::WorkdirNotAllowed {
                path: canonical,
                roots: self.roots.clone(),
            });
        }
        let p = self
            .profiles
            .get(profile)
            .ok_or_else(|| Error::UnknownProfile {
                name: printable_prefix(profile),
                available: self.profiles.keys().cloned().collect::<Vec<_>>().join(", "),
            })?;
        Ok(CreateSpec {
            name,
            working_dir: canonical,
            profile: profile.to_owned(),
            argv: p.argv().to_vec(),
            env: p.env(),
            cols: self.cols,
            rows: self.rows,
        })
    }

    /// The allowed roots, canonical.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// The configured profiles.
    pub fn profiles(&self) -> &BTreeMap<String, LaunchProfile> {
        &self.profiles
    }

    /// Checks an untrusted create request.
    ///
    /// `name` must be bare (this policy is one machine's). `working_dir` may be absolute,
    /// `~`-relative, relative to the first allowed root, or empty (the first allowed root).
    /// It must exist and, after symlinks are resolved, lie under an allowed root.
    pub fn prepare(
        &self,
        name: &str,
        working_dir: Option<&str>,
        profile: &str,
    ) -> Result<CreateSpec> {
        let name = SessionName::new(name)?;
        if name.host().is_some() {
            // This policy is one machine's: the host router removes the host part first.
            return Err(Error::InvalidName {
                name: printable_prefix(name.as_str()),
                reason: "a host part (HOST:) is not allowed here",
            });
        }
        let working_dir = self.check_dir(working_dir.unwrap_or(""))?;
        let p = self
            .profiles
            .get(profile)
            .ok_or_else(|| Error::UnknownProfile {
                name: printable_prefix(profile),
                available: self.profiles.keys().cloned().collect::<Vec<_>>().join(", "),
            })?;
        let argv = p.argv().to_vec();
        if find_program(&argv[0]).is_none() {
            return Err(Error::ProgramNotFound(argv[0].clone()));
        }
        Ok(CreateSpec {
            name,
            working_dir,
            profile: profile.to_owned(),
            argv,
            env: p.env(),
            cols: self.cols,
            rows: self.rows,
        })
    }

    /// Checks a message before it is sent: its size, and that it holds no control character
    /// besides tab, newline, carriage return and escape. The terminal's line discipline turns
    /// Ctrl-C, Ctrl-Z and Ctrl-\\ into signals before the program sees them, bracketed paste
    /// or not: a Ctrl-C inside a message would abort the paste and let the rest of the text
    /// arrive as keystrokes (its newlines submitting commands). Keys go through `send_keys`.
    pub fn check_message(&self, text: &str) -> Result<()> {
        if text.len() > self.max_message_bytes {
            return Err(Error::MessageTooLarge {
                len: text.len(),
                max: self.max_message_bytes,
            });
        }
        if let Some((offset, c)) = text.char_indices().find(|(_, c)| {
            c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r' | '\x1b' | '\x7f')
        }) {
            return Err(Error::ControlCharacter {
                character: c.escape_default().to_string(),
                offset,
            });
        }
        Ok(())
    }

    fn check_dir(&self, raw: &str) -> Result<PathBuf> {
        let missing = || Error::WorkdirMissing(printable_prefix(raw));
        if raw.len() > 4096 || raw.contains('\0') {
            return Err(missing());
        }
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let needs_home = raw == "~" || raw.starts_with("~/");
        let path = match (&home, needs_home) {
            (None, true) => return Err(missing()),
            (home, _) => self.requested_dir(raw, home.as_deref().unwrap_or(Path::new("/")))?,
        };
        let canonical = std::fs::canonicalize(&path).map_err(|_| missing())?;
        if !canonical.is_dir() {
            return Err(missing());
        }
        if !self.roots.iter().any(|r| canonical.starts_with(r)) {
            return Err(Error::WorkdirNotAllowed {
                path: canonical,
                roots: self.roots.clone(),
            });
        }
        Ok(canonical)
    }
}

/// Finds a program the way `execvp` would: a name with a `/` is taken as a path, anything
/// else is looked up on `PATH`.
pub fn find_program(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
}

#[cfg(test)]
mod tests;
