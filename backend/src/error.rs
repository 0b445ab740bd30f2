//! The error type shared by every backend.
//!
//! Each message says what went wrong and, where the caller can act on it, what to do next:
//! these texts reach the MCP client (and through it a person) verbatim.

use std::path::PathBuf;

/// A convenient alias for results with the backend [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a backend operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The session name is not acceptable.
    #[error("invalid session name {name:?}: {reason}")]
    InvalidName {
        /// The offending name, shortened to a printable prefix.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A qualified session name (`HOST:NAME`) names a host that is not configured.
    #[error(
        "invalid session name {name:?}: no host named {host:?} is configured (hosts: {available})"
    )]
    UnknownHost {
        /// The name, shortened to a printable prefix.
        name: String,
        /// The host part.
        host: String,
        /// The configured hosts, comma-separated.
        available: String,
    },
    /// No session with that name exists.
    #[error("no session named {0:?}; call list_sessions to see the sessions that exist")]
    NotFound(String),
    /// A session with that name exists already.
    #[error("a session named {0:?} already exists; pick another name or use the existing one")]
    AlreadyExists(String),
    /// The working directory does not exist or is not a directory.
    #[error("working directory {0:?} does not exist or is not a directory")]
    WorkdirMissing(String),
    /// The working directory lies outside every allowed root.
    #[error("working directory {path:?} is outside the allowed roots {roots:?}")]
    WorkdirNotAllowed {
        /// The directory asked for, after symlinks were resolved.
        path: PathBuf,
        /// The configured roots.
        roots: Vec<PathBuf>,
    },
    /// No launch profile with that name is configured.
    #[error("unknown profile {name:?}; configured profiles: {available}")]
    UnknownProfile {
        /// The profile asked for.
        name: String,
        /// The configured profile names, comma-separated.
        available: String,
    },
    /// The program a profile names cannot be found.
    #[error("the program {0:?} of this profile is not installed or not on PATH")]
    ProgramNotFound(String),
    /// The text to send is larger than the configured limit.
    #[error("message is {len} bytes, more than the limit of {max} bytes; send it in smaller parts")]
    MessageTooLarge {
        /// The size of the message.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The text to send holds a control character that a terminal acts on even inside a
    /// paste (Ctrl-C interrupts the program, Ctrl-Z suspends it, Ctrl-\\ kills it).
    #[error(
        "message contains the control character {character} at byte {offset}; a terminal acts on it even inside a paste, so messages may hold no control characters besides tab, newline, carriage return and escape; send keys such as C-c with send_keys"
    )]
    ControlCharacter {
        /// The character, escaped (`\u{3}`).
        character: String,
        /// Its byte offset in the message.
        offset: usize,
    },
    /// A key name is not one the backend knows.
    #[error(
        "unknown key {0:?}; use names like Enter, Escape, Tab, Up, Down, Left, Right, PageUp, PageDown, Backspace, F1..F12, C-c"
    )]
    InvalidKey(String),
    /// Too many keys in one call.
    #[error("{len} keys in one call is more than the limit of {max}")]
    TooManyKeys {
        /// How many keys were asked for.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The session's program has exited, so it cannot take input.
    #[error(
        "the program in session {0:?} has exited; read its last screen with get_logs or terminate it"
    )]
    Exited(String),
    /// A numeric argument is out of range.
    #[error("{0}")]
    InvalidArgument(String),
    /// The backend's machinery (the tmux server, a PTY) failed or is unavailable.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// An I/O error from the operating system.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Whether this error is the caller's fault (bad input) rather than the server's.
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Error::Unavailable(_) | Error::Io(_))
    }
}
