//! Plain data types shared by the backends and the gateway.

use std::path::PathBuf;

use serde::Serialize;
use time::OffsetDateTime;

use crate::name::SessionName;

/// Whether a session's program still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ProcessStatus {
    /// The program runs.
    Running,
    /// The program has ended; the session is kept so that its last screen can be read.
    Exited {
        /// The exit code, when the program exited normally.
        code: Option<i32>,
        /// The signal that ended it, when it was killed.
        signal: Option<i32>,
    },
}

impl ProcessStatus {
    /// Whether the program has ended but its exit status is not known yet (tmux learns it a
    /// moment after it marks the pane dead, with no event to say so): worth asking again,
    /// never worth keeping.
    pub fn is_pending(&self) -> bool {
        *self
            == ProcessStatus::Exited {
                code: None,
                signal: None,
            }
    }
}

/// What a backend knows about one session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    /// The session's name.
    pub name: SessionName,
    /// The backend that owns it (`tmux` or `pty`).
    pub backend: &'static str,
    /// The launch profile it was started with, when known.
    pub profile: Option<String>,
    /// Whether the program runs.
    pub status: ProcessStatus,
    /// The command currently in the foreground of the terminal (e.g. `bash`, `claude`).
    pub current_command: Option<String>,
    /// The pid of the session's program.
    pub pid: Option<u32>,
    /// The working directory (the foreground process's, where the backend can tell).
    pub working_dir: Option<PathBuf>,
    /// When the session was created.
    #[serde(with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
    /// When the terminal last showed new output or took input.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_activity: Option<OffsetDateTime>,
    /// Terminal width in columns.
    pub cols: u16,
    /// Terminal height in rows.
    pub rows: u16,
}

/// The default number of lines a read returns.
pub const DEFAULT_READ_LINES: usize = 40;
/// The most lines one read returns.
pub const MAX_READ_LINES: usize = 2000;

/// What part of a session's output to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadRequest {
    /// How many lines to return at most.
    pub lines: usize,
    /// How many lines above the bottom to skip (0 = end at the last line), for paging back.
    pub offset: usize,
    /// Include the scrollback above the visible screen (otherwise only the visible screen).
    pub scrollback: bool,
    /// Keep terminal escape sequences (colours, attributes) in the text.
    pub escapes: bool,
}

impl Default for ReadRequest {
    fn default() -> Self {
        ReadRequest {
            lines: DEFAULT_READ_LINES,
            offset: 0,
            scrollback: true,
            escapes: false,
        }
    }
}

impl ReadRequest {
    /// The whole visible screen as plain text: what prompt detection reads.
    pub fn visible() -> Self {
        ReadRequest {
            lines: MAX_READ_LINES,
            offset: 0,
            scrollback: false,
            escapes: false,
        }
    }
}

/// A window of a session's output.
#[derive(Debug, Clone, Serialize)]
pub struct Screen {
    /// The lines, joined with `\n`, trailing blank lines removed.
    pub text: String,
    /// How many lines of output there are in all (scrollback included when asked for), after
    /// trimming trailing blank lines.
    pub total_lines: usize,
    /// The index (from the top, 0-based) of the first line returned.
    pub first_line: usize,
    /// How many lines were returned.
    pub returned_lines: usize,
    /// Whether older lines exist above the first one returned.
    pub more_above: bool,
    /// Cursor position (column, row) on the visible screen, when known.
    pub cursor: Option<(u16, u16)>,
}
