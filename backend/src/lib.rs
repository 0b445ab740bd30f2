//! The backend interface of sessiongate: what a terminal-session backend must do, and the
//! types every backend and the gateway share.
//!
//! sessiongate drives long-running terminal programs (Claude Code, Codex CLI, a shell, ...)
//! on behalf of a remote MCP client. A *backend* owns those programs: the tmux backend keeps
//! them in a private tmux server (they outlive the gateway), the PTY backend spawns them in
//! pseudo-terminals of its own. This crate defines the [`SessionBackend`] trait they both
//! implement, and the validation that every request passes before a backend sees it.
//!
//! This crate knows nothing of HTTP, MCP or OAuth.
//!
//! # Layout
//! - [`backend`]: the [`SessionBackend`] trait and the events it publishes.
//! - [`cache`]: [`cache::ScreenCache`], a backend wrapper that reads a screen once per change.
//! - [`hosts`]: [`hosts::Hosts`], a backend that routes `HOST:NAME` sessions to one backend
//!   per host (this machine's, and remote ones) and merges their lists and events.
//! - [`name`]: [`SessionName`], a validated session name (the public identity of a session).
//! - [`policy`]: [`SessionPolicy`]: allowed working-directory roots and launch profiles; it
//!   turns untrusted create requests into a [`CreateSpec`].
//! - [`types`]: session info, status, read requests and screens.
//! - [`keys`]: named keys (`Enter`, `C-c`, `Up`, ...) that clients may send.
//! - [`screen`]: text helpers shared by backends (trimming, paging).
//! - [`prompt`]: detection of sessions that wait for their owner's input, and answers.
//! - [`error`]: the [`Error`] type.

pub mod backend;
pub mod cache;
pub mod error;
pub mod hosts;
pub mod keys;
pub mod name;
pub mod policy;
pub mod prompt;

pub mod screen;
pub mod types;

pub use backend::{SessionBackend, SessionEvent};
pub use error::{Error, Result};
pub use keys::Key;
pub use name::SessionName;
pub use policy::{CreateSpec, LaunchProfile, SessionPolicy};
pub use types::{ProcessStatus, ReadRequest, Screen, SessionInfo};
