//! The watcher: one task that turns the backend's session events into notifications.
//!
//! It wakes on output, exit and termination events and looks at a session again a settle
//! period and a quiet period after its last output, exactly as `wait_for` does, with the
//! same detection (`mcp::prompts::detect_session`). A state counts only once the visible
//! screen has stayed the same for the settle period, so a prompt that was answered before
//! that is never sent. Only while the backend cannot report output (the tmux backend with its
//! control client down) are the sessions re-read on a short interval instead.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use sessiongate_backend::prompt::{Activity, Detection};
use sessiongate_backend::{ProcessStatus, ReadRequest, SessionEvent, SessionInfo, SessionName};

use super::config::NotifyConfig;
use super::deliver::Dispatcher;
use super::event::{EventKind, Notification, event_id, fingerprint};
use super::store::Store;
use crate::mcp::prompts::{QUIET_RECHECK, detect_session};
use crate::mcp::wait::{FALLBACK_INTERVAL, SETTLE, SETTLE_POLLED};
use crate::state::AppState;

/// When infos kept by the screen cache have all expired.
const CACHE_EXPIRY: Duration =
    sessiongate_backend::cache::INFO_MAX_AGE.saturating_add(Duration::from_millis(100));
/// Lines of the screen sent as the summary when there is no better one.
const SUMMARY_LINES: usize = 8;

/// What the watcher knows about one session.
#[derive(Debug)]
struct Tracked {
    /// A hash of the visible screen at the last look, and since when it has not changed.
    digest: u64,
    stable_since: Instant,
    /// The waiting prompt last seen settled, by fingerprint.
    waiting: Option<String>,
    /// Whether the database has been brought in line with this session's screen.
    synced: bool,
    /// Since when the agent has been seen working (wall clock for the event id).
    working_since: Option<(Instant, time::OffsetDateTime)>,
    /// Whether its exit has been handled.
    exited: bool,
}

/// The watcher's state.
struct Watcher {
    state: AppState,
    config: NotifyConfig,
    store: Arc<Store>,
    dispatcher: Dispatcher,
    tracked: HashMap<SessionName, Tracked>,
    /// When to look at each session again.
    due: HashMap<SessionName, Vec<Instant>>,
    /// When each session last printed, by the backend's output events.
    last_output: HashMap<SessionName, Instant>,
}

/// Runs the watcher until `ct` is cancelled.
pub(super) async fn run(
    state: AppState,
    config: NotifyConfig,
    store: Arc<Store>,
    dispatcher: Dispatcher,
    ct: CancellationToken,
) {
    let mut events = state.backend.events();
    let mut w = Watcher {
        state,
        config,
        store,
        dispatcher,
        tracked: HashMap::new(),
        due: HashMap::new(),
        last_output: HashMap::new(),
    };
    // What is on screen at startup counts too (a prompt already sent is in the database).
    w.schedule_all(Instant::now()).await;
    let mut next_poll = Instant::now();
    let mut epoch = w.state.backend.output_events_epoch();
    loop {
        let now_epoch = w.state.backend.output_events_epoch();
        if now_epoch != epoch {
            // Events may have been missed (the output watch started or restarted): look at
            // every session now, and again once screens and infos kept from before the
            // change have expired.
            epoch = now_epoch;
            // Output times from before the change may be stale.
            w.last_output.clear();
            let now = Instant::now();
            w.schedule_all(now).await;
            w.schedule_all(now + CACHE_EXPIRY).await;
        }
        let polled = now_epoch.is_none();
        let mut wake = w
            .due
            .values()
            .flatten()
            .min()
            .copied()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        if polled {
            wake = wake.min(next_poll);
        }
        tokio::select! {
            _ = ct.cancelled() => return,
            _ = tokio::time::sleep_until(wake) => {
                let now = Instant::now();
                if polled && now >= next_poll {
                    next_poll = now + FALLBACK_INTERVAL;
                    w.schedule_all(now).await;
                }
                let ready: Vec<SessionName> = w
                    .due
                    .iter()
                    .filter(|(_, at)| at.iter().any(|t| *t <= now))
                    .map(|(n, _)| n.clone())
                    .collect();
                for name in ready {
                    if let Some(at) = w.due.get_mut(&name) {
                        at.retain(|t| *t > now);
                        if at.is_empty() {
                            w.due.remove(&name);
                        }
                    }
                    w.check(&name).await;
                }
            }
            ev = events.recv() => match ev {
                Ok(SessionEvent::Output(name) | SessionEvent::Created(name)) => {
                    // A burst of output is one look a settle period and a quiet period after
                    // its last event.
                    let now = Instant::now();
                    w.last_output.insert(name.clone(), now);
                    w.due.insert(name, vec![now + SETTLE, now + QUIET_RECHECK]);
                }
                Ok(SessionEvent::Exited(name)) => {
                    w.due.insert(name, vec![Instant::now()]);
                }
                Ok(SessionEvent::Terminated(name)) => w.forget(&name).await,
                Err(RecvError::Lagged(_)) => {
                    // Missed events: the output times known may be stale.
                    w.last_output.clear();
                    w.schedule_all(Instant::now()).await;
                }
                Err(RecvError::Closed) => {
                    ct.cancelled().await;
                    return;
                }
            },
        }
    }
}

impl Watcher {
    /// Looks at every session at `at`.
    async fn schedule_all(&mut self, at: Instant) {
        let Ok(list) = self.state.backend.list().await else {
            return;
        };
        for info in list {
            self.due.entry(info.name).or_default().push(at);
        }
    }

    async fn forget(&mut self, name: &SessionName) {
        self.tracked.remove(name);
        self.due.remove(name);
        self.last_output.remove(name);
        self.state.notify.forget(name.as_str());
        let store = self.store.clone();
        let s = name.to_string();
        db(move || store.forget_session(&s)).await;
    }

    /// Looks at one session and sends what has become true.
    async fn check(&mut self, name: &SessionName) {
        let info = match self.state.backend.info(name).await {
            Ok(i) => {
                tracing::trace!(session = %name, status = ?i.status, "notifier looks");
                i
            }
            Err(sessiongate_backend::Error::NotFound(_)) => return self.forget(name).await,
            Err(_) => return,
        };
        if info.status != ProcessStatus::Running {
            return self.exited(&info).await;
        }
        let detection = detect_session(&self.state, &info).await;
        let screen = self
            .state
            .backend
            .read(name, ReadRequest::visible())
            .await
            .map(|s| s.text)
            .unwrap_or_default();
        let digest = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            screen.hash(&mut h);
            h.finish()
        };
        let now = Instant::now();
        let watched = self.state.backend.output_events_epoch().is_some();
        let settle = if watched { SETTLE } else { SETTLE_POLLED };
        // While output events are complete, the screen has not changed since the session's
        // last output event: it has been stable since then, not since this look.
        let changed_at = match self.last_output.get(name) {
            Some(&at) if watched && at <= now => at,
            _ => now,
        };
        let t = self.tracked.entry(name.clone()).or_insert(Tracked {
            digest: digest.wrapping_add(1),
            stable_since: now,
            waiting: None,
            synced: false,
            working_since: None,
            exited: false,
        });
        t.exited = false;
        if t.digest != digest {
            t.digest = digest;
            t.stable_since = changed_at;
        }
        if now < t.stable_since + settle {
            // Not settled yet: look again when it would be.
            let at = t.stable_since + settle;
            self.due.entry(name.clone()).or_default().push(at);
            return;
        }
        let Some(d) = detection else { return };
        self.settled(&info, d, &screen).await;
    }

    /// Acts on a settled screen.
    async fn settled(&mut self, info: &SessionInfo, d: Detection, screen: &str) {
        let name = &info.name;
        let muted = self.state.notify.is_muted(name.as_str());
        let finished_after = self.config.finished_after;
        let Some(t) = self.tracked.get_mut(name) else {
            return;
        };
        let now = Instant::now();
        let prompt = d
            .prompt
            .as_ref()
            .filter(|_| d.activity == Activity::WaitingForInput);
        let current = prompt.map(|p| fingerprint(name.as_str(), p));
        if current != t.waiting || !t.synced {
            // The prompt on screen changed (or was answered): the old one is forgotten, so
            // that the same question asked again is news.
            t.waiting = current.clone();
            t.synced = true;
            let store = self.store.clone();
            let (s, keep) = (name.to_string(), current.clone());
            db(move || store.forget_waiting(&s, keep.as_deref())).await;
            if let (Some(p), Some(id)) = (prompt, current) {
                if muted || !self.config.wants(EventKind::Waiting) {
                    return;
                }
                let store = self.store.clone();
                let (s, claim) = (name.to_string(), id.clone());
                if db(move || store.claim(&claim, &s, "waiting")).await == Some(true) {
                    let n = Arc::new(Notification::waiting(name.as_str(), p));
                    self.send_waiting(n, p).await;
                }
                return;
            }
        }
        let Some(t) = self.tracked.get_mut(name) else {
            return;
        };
        match d.activity {
            Activity::Working => {
                t.working_since
                    .get_or_insert((now, time::OffsetDateTime::now_utc()));
            }
            Activity::Idle => {
                let worked = t.working_since.take();
                if let Some((since, wall)) = worked
                    && now.duration_since(since) >= finished_after
                    && !muted
                    && self.config.wants(EventKind::Finished)
                {
                    let id = event_id(
                        EventKind::Finished,
                        &[name.as_str(), &wall.unix_timestamp_nanos().to_string()],
                    );
                    let mut n = Notification::new(EventKind::Finished, id.clone(), name.as_str());
                    n.summary = Some(summary(self.state.backend.as_ref(), info, screen).await);
                    self.claim_and_send(n, "finished").await;
                }
            }
            _ => {}
        }
    }

    async fn exited(&mut self, info: &SessionInfo) {
        let name = &info.name;
        if self.tracked.get(name).is_some_and(|t| t.exited) {
            return;
        }
        self.tracked
            .entry(name.clone())
            .or_insert(Tracked {
                digest: 0,
                stable_since: Instant::now(),
                waiting: None,
                synced: true,
                working_since: None,
                exited: true,
            })
            .exited = true;
        if self.state.notify.is_muted(name.as_str()) || !self.config.wants(EventKind::Exited) {
            return;
        }
        let created = info
            .created_at
            .map(|t| t.unix_timestamp().to_string())
            .unwrap_or_default();
        let id = event_id(EventKind::Exited, &[name.as_str(), &created]);
        let mut n = Notification::new(EventKind::Exited, id, name.as_str());
        if let ProcessStatus::Exited { code, signal } = info.status {
            n.exit_code = code;
            n.signal = signal;
        }
        let screen = self
            .state
            .backend
            .read(name, ReadRequest::default())
            .await
            .map(|s| s.text)
            .unwrap_or_default();
        n.summary = Some(last_lines(&screen));
        self.claim_and_send(n, "exited").await;
    }

    /// Sends a waiting prompt: each channel gets answer URLs of its own, when they are on.
    async fn send_waiting(&self, n: Arc<Notification>, p: &sessiongate_backend::prompt::Prompt) {
        let Some(answers) = self.state.notify.answers() else {
            return self.dispatcher.send(n);
        };
        let channels = self.dispatcher.channels();
        let prompt = p.clone();
        let fallback = n.clone();
        match db(move || answers.mint_all(&channels, &n, &prompt)).await {
            Some(per_channel) => {
                for (i, n) in per_channel.into_iter().enumerate() {
                    self.dispatcher.send_to(i, n);
                }
            }
            // The tokens could not be stored: the notification still goes out, without them.
            None => self.dispatcher.send(fallback),
        }
    }

    async fn claim_and_send(&self, n: Notification, event: &'static str) {
        let store = self.store.clone();
        let (id, s) = (n.id.clone(), n.session.clone());
        if db(move || store.claim(&id, &s, event)).await == Some(true) {
            self.dispatcher.send(Arc::new(n));
        }
    }
}

/// Runs a database call off the async threads; a failure is logged and yields `None`.
async fn db<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, super::store::StoreError> + Send + 'static,
) -> Option<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "the notifier's database call failed");
            None
        }
        Err(_) => None,
    }
}

/// The last assistant message of a Claude Code session's transcript, or the screen's last
/// lines.
async fn summary(
    backend: &dyn sessiongate_backend::SessionBackend,
    info: &SessionInfo,
    screen: &str,
) -> String {
    let said = backend
        .claude_transcript(info, 50)
        .await
        .and_then(|(_, items)| items.ok())
        .and_then(|items| {
            items
                .into_iter()
                .rev()
                .find(|i| i.kind == "assistant")
                .map(|i| i.text)
        });
    said.unwrap_or_else(|| last_lines(screen))
}

/// The screen's last non-blank lines.
fn last_lines(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(SUMMARY_LINES)..].join("\n")
}
