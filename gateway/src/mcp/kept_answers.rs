//! The answers of `list_sessions` and `get_session_status`, kept while nothing they show can
//! have changed.
//!
//! At 200 sessions the list (every session's info, its board entry with the state detected
//! on its screen, mutes, hosts) took about 0.5 ms of CPU to build; a status call takes
//! 0.03 ms, of which building its answer (info, detection, board entry, as JSON) is a good
//! part. Each is now built once and handed out again while its [`Key`] holds:
//! - the screen cache's [`ScreenCache::change_stamp`] unchanged: no session event since
//!   (created, printed, exited, ended; a lost event counts), no create or terminate through
//!   the gateway (counted when it returns, before its event may arrive), and the backend's
//!   `output_events_epoch` the same (without an epoch nothing is kept: the backend could
//!   change a screen without saying so);
//! - the mutes unchanged ([`crate::notify::control::NotifyControl::generation`]), and every
//!   remote host's reachability;
//! - and for a short while only ([`Kept::until`]): at most [`INFO_MAX_AGE`], as the backend's
//!   own info cache (a program can change without printing, and Claude Code's state file is
//!   read per detection on this machine, kept at most as long for a remote host), and never
//!   past the moment a session that printed lately turns quiet, since detection rules that
//!   need a quiet screen then apply.
//!
//! **Invariant:** a key is taken before the answer is built, so an event that arrives while it
//! is built makes the next key differ and the answer is built again.
//!
//! Handing the list out again cost more than building a status answer too: at 200 sessions
//! it is about 120 KB of JSON, cloned as a tree and serialized on every call. The fast lane
//! therefore asks for a kept answer already serialized ([`KeptAnswers::serialized`]), once
//! per shape (with or without the 2026-07-28 revision's `resultType`), and copies the bytes.
//! And when the list has gone stale, one call builds it while the others wait for it
//! ([`KeptAnswers::list`]) instead of all of them building the same answer at once (a status
//! answer is cheap enough to be built by whoever needs it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use rmcp::model::CallToolResult;
use serde_json::value::RawValue;
use sessiongate_backend::cache::{INFO_MAX_AGE, ScreenCache};
use sessiongate_backend::{ProcessStatus, SessionInfo};

use crate::state::AppState;

/// What a kept answer depends on besides time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    changes: (u64, u64, u64),
    mutes: u64,
    hosts: Vec<(String, Option<String>)>,
}

/// Which answer: the list, or one session's status (by the name the call gave).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Subject {
    /// `list_sessions`.
    List,
    /// `get_session_status` of this session.
    Status(String),
}

impl Subject {
    fn tool(&self) -> &'static str {
        match self {
            Subject::List => "list_sessions",
            Subject::Status(_) => "get_session_status",
        }
    }
}

/// At most this many answers are kept (a status per session and the list); past it all are
/// dropped.
const MAX_KEPT: usize = 4096;

/// The `/metrics` label of the kept answers' counters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ToolLabel {
    tool: &'static str,
}

/// A built answer, the key it was built at and how long it may be handed out.
#[derive(Debug)]
struct Kept {
    key: Key,
    until: Instant,
    result: CallToolResult,
    /// The answer serialized for peers with a session (`[0]`) and for stateless ones (`[1]`),
    /// made when first asked for (`None`: it did not serialize).
    serialized: [OnceLock<Option<Arc<RawValue>>>; 2],
}

/// The kept answers, shared by every MCP session of the gateway.
#[derive(Debug)]
pub struct KeptAnswers {
    screens: Arc<ScreenCache>,
    kept: Mutex<HashMap<Subject, Arc<Kept>>>,
    /// Held by the one call that builds a new list; the last list built, with the number of
    /// its build.
    building: tokio::sync::Mutex<Option<(u64, CallToolResult)>>,
    /// How many list builds started (the next build's number).
    started: AtomicU64,
    /// How many answers were built and kept, and how many handed out again (kept, serialized
    /// or shared by a build another call waited for), by tool; `/metrics` shows both.
    built: Family<ToolLabel, Counter>,
    reused: Family<ToolLabel, Counter>,
}

impl KeptAnswers {
    /// A cache that learns of changes from `screens` (the gateway's screen cache, through
    /// which every create and terminate goes).
    pub fn new(screens: Arc<ScreenCache>) -> Self {
        KeptAnswers {
            screens,
            kept: Mutex::new(HashMap::new()),
            building: tokio::sync::Mutex::new(None),
            started: AtomicU64::new(0),
            built: Family::default(),
            reused: Family::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Subject, Arc<Kept>>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key now, or `None` when the backend does not report every change (nothing is kept).
    fn key(&self, state: &AppState) -> Option<Key> {
        Some(Key {
            changes: self.screens.change_stamp()?,
            mutes: state.notify.generation(),
            hosts: state.hosts.status(),
        })
    }

    fn count(counters: &Family<ToolLabel, Counter>, subject: &Subject) {
        counters
            .get_or_create(&ToolLabel {
                tool: subject.tool(),
            })
            .inc();
    }

    /// The entry of `subject` kept at `key`, if it is still young enough.
    fn current(&self, subject: &Subject, key: &Key) -> Option<Arc<Kept>> {
        let kept = self.lock();
        let kept = kept.get(subject)?;
        (kept.key == *key && Instant::now() < kept.until).then(|| kept.clone())
    }

    /// The answer of `subject` kept at `key`, if it is still young enough.
    fn get(&self, subject: &Subject, key: &Key) -> Option<CallToolResult> {
        let kept = self.current(subject, key)?;
        Self::count(&self.reused, subject);
        Some(kept.result.clone())
    }

    /// The answer of `subject` kept now, serialized as the `result` of a JSON-RPC response to
    /// a peer with a session or a stateless one ([`super::reply::for_peer`]); the same bytes
    /// while the answer is kept. `None` when nothing current is kept.
    pub(crate) fn serialized(
        &self,
        state: &AppState,
        subject: &Subject,
        has_session: bool,
    ) -> Option<Arc<RawValue>> {
        let kept = self.current(subject, &self.key(state)?)?;
        let slot = &kept.serialized[usize::from(!has_session)];
        let raw = slot
            .get_or_init(|| {
                let shaped = super::reply::for_peer(kept.result.clone(), has_session);
                serde_json::value::to_raw_value(&shaped).ok().map(Arc::from)
            })
            .clone()?;
        Self::count(&self.reused, subject);
        Some(raw)
    }

    /// The status answer of `session`: the kept one while it is current, else one built by
    /// `build` (which returns it with the session's info, or without when it must not be
    /// kept: a failure).
    pub(crate) async fn status(
        &self,
        state: &AppState,
        session: &str,
        build: impl AsyncFnOnce() -> (CallToolResult, Option<SessionInfo>),
    ) -> CallToolResult {
        let subject = Subject::Status(session.to_owned());
        let Some(key) = self.key(state) else {
            return build().await.0;
        };
        if let Some(kept) = self.get(&subject, &key) {
            return kept;
        }
        let (result, info) = build().await;
        if let Some(info) = info {
            self.put(subject, key, std::slice::from_ref(&info), &result);
        }
        result
    }

    /// The answer: the kept one while it is current, else one built by `build` (which
    /// returns it with the sessions it shows, or without them when it must not be kept).
    ///
    /// One call builds at a time. A call that waited for another's build takes that answer
    /// when the build started after the call arrived (it is as fresh as one of its own), and
    /// otherwise looks for a kept answer again with a new key before building.
    pub(crate) async fn list(
        &self,
        state: &AppState,
        build: impl AsyncFnOnce() -> (CallToolResult, Option<Vec<SessionInfo>>),
    ) -> CallToolResult {
        let subject = Subject::List;
        let Some(key) = self.key(state) else {
            return build().await.0;
        };
        if let Some(kept) = self.get(&subject, &key) {
            return kept;
        }
        let arrived = self.started.load(Ordering::SeqCst);
        let mut last = self.building.lock().await;
        if let Some((started, result)) = last.as_ref()
            && *started >= arrived
        {
            Self::count(&self.reused, &subject);
            return result.clone();
        }
        let started = self.started.fetch_add(1, Ordering::SeqCst);
        let key = self.key(state);
        if let Some(kept) = key.as_ref().and_then(|k| self.get(&subject, k)) {
            return kept;
        }
        let (result, sessions) = build().await;
        if let (Some(key), Some(sessions)) = (key, &sessions) {
            self.put(subject, key, sessions, &result);
        }
        *last = Some((started, result.clone()));
        result
    }

    /// Keeps `result` of `subject`, built at `key` from `sessions`; not when a program exited
    /// before its exit status was known (it is asked about again). Answers kept at another
    /// key are stale and dropped.
    fn put(&self, subject: Subject, key: Key, sessions: &[SessionInfo], result: &CallToolResult) {
        if sessions.iter().any(|s| s.status.is_pending()) {
            return;
        }
        let until = Instant::now() + max_age(sessions, time::OffsetDateTime::now_utc());
        Self::count(&self.built, &subject);
        let now = Instant::now();
        let mut kept = self.lock();
        if kept.len() >= MAX_KEPT || kept.values().any(|k| k.key != key) {
            kept.retain(|_, k| k.key == key && now < k.until);
            if kept.len() >= MAX_KEPT {
                kept.clear();
            }
        }
        kept.insert(
            subject,
            Arc::new(Kept {
                key,
                until,
                result: result.clone(),
                serialized: Default::default(),
            }),
        );
    }

    /// The counters of answers built and kept, and of answers handed out again, by tool.
    pub fn counters(&self) -> (Family<ToolLabel, Counter>, Family<ToolLabel, Counter>) {
        (self.built.clone(), self.reused.clone())
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

    use rmcp::model::ContentBlock as Content;

    /// A state whose backend reports every change (PTY), with no sessions.
    fn state() -> AppState {
        let backend = Arc::new(sessiongate_backend_pty::PtyBackend::new(Default::default()));
        let root = std::env::temp_dir();
        let policy =
            sessiongate_backend::SessionPolicy::new(&[root], Default::default()).expect("policy");
        AppState::new(backend, Arc::new(policy))
    }

    fn answer(text: &str) -> CallToolResult {
        let mut r = CallToolResult::success(vec![Content::text(text)]);
        r.structured_content = Some(serde_json::json!({ "sessions": [] }));
        r
    }

    #[tokio::test]
    async fn a_kept_answer_is_serialized_once_per_shape_as_the_lane_would() {
        let state = state();
        let cache = &state.kept;
        let list = Subject::List;
        assert!(
            cache.serialized(&state, &list, true).is_none(),
            "nothing kept yet"
        );
        cache
            .list(&state, async || (answer("one"), Some(Vec::new())))
            .await;
        for has_session in [true, false] {
            let first = cache.serialized(&state, &list, has_session).expect("kept");
            let again = cache.serialized(&state, &list, has_session).expect("kept");
            assert!(Arc::ptr_eq(&first, &again), "serialized once");
            let expected =
                serde_json::to_string(&super::super::reply::for_peer(answer("one"), has_session))
                    .unwrap();
            assert_eq!(first.get(), expected);
        }
        let with_session = cache.serialized(&state, &list, true).unwrap();
        let stateless = cache.serialized(&state, &list, false).unwrap();
        assert!(!with_session.get().contains("resultType"));
        assert!(stateless.get().contains("resultType"));
    }

    #[tokio::test]
    async fn calls_that_arrive_while_an_answer_is_built_share_the_next_build() {
        let state = state();
        let builds = Arc::new(AtomicU64::new(0));
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (state, builds) = (state.clone(), builds.clone());
            calls.spawn(async move {
                let build = async || {
                    let n = builds.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    // Not kept (as when an exit status is still unknown).
                    (answer(&format!("build {n}")), None)
                };
                state.kept.list(&state, build).await
            });
        }
        let answers = calls.join_all().await;
        // The first call builds; the other seven arrived after that build began, so they
        // wait for one more build (which began after each of them arrived) and share it.
        assert_eq!(builds.load(Ordering::SeqCst), 2, "{answers:?}");
        assert_eq!(cache_counts(&state).1, 6);
    }

    fn cache_counts(state: &AppState) -> (u64, u64) {
        let (built, reused) = state.kept.counters();
        let list = ToolLabel {
            tool: "list_sessions",
        };
        (
            built.get_or_create(&list).get(),
            reused.get_or_create(&list).get(),
        )
    }

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
