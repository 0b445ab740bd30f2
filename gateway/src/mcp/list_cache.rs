//! The answer of `list_sessions`, kept while nothing it shows can have changed.
//!
//! At 200 sessions the answer (every session's info, its board entry with the state detected
//! on its screen, mutes, hosts) took about 0.5 ms of CPU to build; a status call takes
//! 0.03 ms. It is now built once and handed out again while its [`Key`] holds:
//! - the screen cache's [`ScreenCache::change_stamp`] unchanged: no session event since
//!   (created, printed, exited, ended; a lost event counts), no create or terminate through
//!   the gateway (counted when it returns, before its event may arrive), and the backend's
//!   `output_events_epoch` the same (without an epoch nothing is kept: the backend could
//!   change a screen without saying so);
//! - the mutes unchanged ([`crate::notify::control::NotifyControl::generation`]), and every
//!   remote host's reachability;
//! - and for a short while only ([`Kept::until`]): at most [`INFO_MAX_AGE`], as the backend's
//!   own info cache (a program can change without printing, and Claude Code's state file is
//!   read per detection), and never past the moment a session that printed lately turns
//!   quiet, since detection rules that need a quiet screen then apply.
//!
//! **Invariant:** a key is taken before the answer is built, so an event that arrives while it
//! is built makes the next key differ and the answer is built again.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::CallToolResult;
use sessiongate_backend::cache::{INFO_MAX_AGE, ScreenCache};
use sessiongate_backend::{ProcessStatus, SessionInfo};

use crate::state::AppState;

/// What a kept answer depends on besides time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    changes: (u64, u64, u64),
    mutes: u64,
    hosts: Vec<(String, Option<String>)>,
}

/// A built answer, the key it was built at and how long it may be handed out.
#[derive(Debug)]
struct Kept {
    key: Key,
    until: Instant,
    result: CallToolResult,
}

/// The kept `list_sessions` answer, shared by every MCP session of the gateway.
#[derive(Debug)]
pub struct ListCache {
    screens: Arc<ScreenCache>,
    kept: Mutex<Option<Kept>>,
}

impl ListCache {
    /// A cache that learns of changes from `screens` (the gateway's screen cache, through
    /// which every create and terminate goes).
    pub fn new(screens: Arc<ScreenCache>) -> Self {
        ListCache {
            screens,
            kept: Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Kept>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key now, or `None` when the backend does not report every change (nothing is kept).
    pub(crate) fn key(&self, state: &AppState) -> Option<Key> {
        Some(Key {
            changes: self.screens.change_stamp()?,
            mutes: state.notify.generation(),
            hosts: state.hosts.status(),
        })
    }

    /// The answer kept at `key`, if it is still young enough.
    pub(crate) fn get(&self, key: &Key) -> Option<CallToolResult> {
        let kept = self.lock();
        let kept = kept.as_ref()?;
        (kept.key == *key && Instant::now() < kept.until).then(|| kept.result.clone())
    }

    /// Keeps `result`, built at `key` from `sessions`.
    pub(crate) fn put(&self, key: Key, sessions: &[SessionInfo], result: &CallToolResult) {
        let until = Instant::now() + max_age(sessions, time::OffsetDateTime::now_utc());
        *self.lock() = Some(Kept {
            key,
            until,
            result: result.clone(),
        });
    }
}

/// How long an answer built from `sessions` at `now` may be handed out: [`INFO_MAX_AGE`], or
/// less when a running session printed within the quiet period and turns quiet sooner.
fn max_age(sessions: &[SessionInfo], now: time::OffsetDateTime) -> Duration {
    let quiet = time::Duration::seconds(super::prompts::QUIET_SECS);
    sessions
        .iter()
        .filter(|s| s.status == ProcessStatus::Running)
        .filter_map(|s| s.last_activity)
        .filter_map(|t| Duration::try_from(t + quiet - now).ok())
        .fold(INFO_MAX_AGE, Duration::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(
        name: &str,
        status: ProcessStatus,
        ago_ms: i64,
        now: time::OffsetDateTime,
    ) -> SessionInfo {
        SessionInfo {
            name: sessiongate_backend::SessionName::new(name).unwrap(),
            backend: "pty",
            profile: None,
            status,
            current_command: None,
            pid: None,
            working_dir: None,
            created_at: None,
            last_activity: Some(now - time::Duration::milliseconds(ago_ms)),
            cols: 80,
            rows: 24,
        }
    }

    #[test]
    fn an_answer_expires_when_a_session_turns_quiet() {
        let now = time::OffsetDateTime::now_utc();
        let quiet = [info("a", ProcessStatus::Running, 5_000, now)];
        assert_eq!(max_age(&quiet, now), INFO_MAX_AGE);
        let busy = [
            info("a", ProcessStatus::Running, 5_000, now),
            info("b", ProcessStatus::Running, 700, now),
        ];
        assert_eq!(max_age(&busy, now), Duration::from_millis(300));
        let exited = [info(
            "c",
            ProcessStatus::Exited {
                code: Some(0),
                signal: None,
            },
            700,
            now,
        )];
        assert_eq!(max_age(&exited, now), INFO_MAX_AGE);
    }
}
