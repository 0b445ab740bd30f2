//! The [`SessionBackend`] trait: the whole contract between the gateway and a backend.

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::error::Result;
use crate::keys::Key;
use crate::name::SessionName;
use crate::policy::CreateSpec;
use crate::prompt::claude_state::{self, ClaudeState, TranscriptRead};
use crate::types::{ReadRequest, Screen, SessionInfo};

/// Something that happened to a session, published by a backend so that the gateway can
/// wake waiters and notify subscribers without polling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// A session was created.
    Created(SessionName),
    /// The session's terminal showed new output.
    Output(SessionName),
    /// The session's program exited (the session still exists).
    Exited(SessionName),
    /// The session was terminated and no longer exists.
    Terminated(SessionName),
}

/// A place where terminal sessions live: a tmux server, or PTYs owned by the gateway.
///
/// The gateway holds one backend, chosen at startup, as `Arc<dyn SessionBackend>`. Every
/// method takes already-validated input ([`SessionName`], [`CreateSpec`], [`Key`]): checking
/// untrusted input is the caller's job and is done by the types' constructors.
///
/// Errors are [`crate::Error`]s whose messages are fit to show to the client.
#[async_trait]
pub trait SessionBackend: Send + Sync + std::fmt::Debug + 'static {
    /// A short name for logs and session info: `tmux` or `pty`.
    fn kind(&self) -> &'static str;

    /// Every session this backend manages, sorted by name.
    async fn list(&self) -> Result<Vec<SessionInfo>>;

    /// Starts the profile's program in a new session.
    ///
    /// Fails with [`crate::Error::AlreadyExists`] when the name is taken.
    async fn create(&self, spec: CreateSpec) -> Result<SessionInfo>;

    /// What the backend knows about one session.
    async fn info(&self, name: &SessionName) -> Result<SessionInfo>;

    /// Types `text` into the session exactly as given (no key names are interpreted, a
    /// leading `-` is text, several lines arrive as one paste), then presses Enter if
    /// `submit` is set.
    async fn send_text(&self, name: &SessionName, text: &str, submit: bool) -> Result<()>;

    /// Presses the given keys, in order.
    async fn send_keys(&self, name: &SessionName, keys: &[Key]) -> Result<()>;

    /// Reads a window of the session's output as text.
    async fn read(&self, name: &SessionName, req: ReadRequest) -> Result<Screen>;

    /// Changes the terminal size.
    async fn resize(&self, name: &SessionName, cols: u16, rows: u16) -> Result<()>;

    /// Ends the session's program and removes the session.
    async fn terminate(&self, name: &SessionName) -> Result<()>;

    /// Subscribes to session events. Backends publish what they can observe: every backend
    /// publishes `Created` and `Terminated`; `Output` and `Exited` come from backends that
    /// watch the terminal's output stream.
    fn events(&self) -> broadcast::Receiver<SessionEvent>;

    /// `Some(epoch)` while [`Self::events`] reports every change of every session's screen
    /// (an `Output` event after each output), so that callers may wait on events alone and
    /// keep a screen until its next event. The number changes whenever events may have been
    /// missed (the backend's output watch restarted), which invalidates anything kept.
    /// `None` while output is not watched: callers must re-read to see changes.
    fn output_events_epoch(&self) -> Option<u64> {
        None
    }

    /// Claude Code's state for the session `info` describes, read from its state file on
    /// the session's machine and checked against the process's start time there; `None`
    /// when the session runs no Claude Code (or it cannot be read). The default reads the
    /// files of this machine under `info.pid`; a backend on another host reads them there.
    async fn claude_state(&self, info: &SessionInfo) -> Option<ClaudeState> {
        local_claude_state(info)
    }

    /// Whether [`Self::claude_state`] asks another machine (one command run there per
    /// call). A [`crate::cache::ScreenCache`] in front then keeps its answer until the
    /// session's next output (or [`crate::cache::INFO_MAX_AGE`]); this machine's files are
    /// cheap to read and are read on every call.
    fn claude_state_is_remote(&self) -> bool {
        false
    }

    /// The last `limit` items of the transcript of the Claude Code that the session runs,
    /// with its state, read on the session's machine; `None` when it runs no Claude Code.
    async fn claude_transcript(
        &self,
        info: &SessionInfo,
        limit: usize,
    ) -> Option<(ClaudeState, TranscriptRead)> {
        local_claude_transcript(info, limit).await
    }
}

/// Claude Code's state for a session of this machine: its state file under `info.pid`.
pub fn local_claude_state(info: &SessionInfo) -> Option<ClaudeState> {
    info.pid.and_then(claude_state::find_state)
}

/// The transcript tail of the Claude Code a session of this machine runs (under `info.pid`).
pub async fn local_claude_transcript(
    info: &SessionInfo,
    limit: usize,
) -> Option<(ClaudeState, TranscriptRead)> {
    let pid = info.pid?;
    tokio::task::spawn_blocking(move || claude_state::local_transcript(pid, limit))
        .await
        .ok()
        .flatten()
}
