//! Sessions as MCP resources: `sessions://<name>` reads as the session's state and recent
//! screen, and a subscription sends `notifications/resources/updated` whenever the session's
//! state (working, idle, waiting for input, exited) changes, so a client can wait for "Claude
//! needs you" without polling.
//!
//! A subscription is a task per (MCP session, URI) that wakes on the backend's session events
//! and once more a quiet period after the last output (a question counts once the screen is
//! quiet); a backend that cannot observe output right now (tmux while its control-mode client
//! is down) is re-checked every second instead. The task ends on unsubscribe, when the session is terminated, or when the client is
//! gone. Clients of the 2026-07-28 revision get the same watcher through `subscriptions/listen`
//! (`super::listen`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::ErrorData as McpError;
use rmcp::RoleServer;
use rmcp::model::{
    ListResourcesResult, ReadResourceResult, Resource, ResourceContents,
    ResourceUpdatedNotificationParam,
};
use rmcp::service::{Peer, SubscriptionSink};
use tokio::sync::broadcast::error::RecvError;

use sessiongate_backend::{ReadRequest, SessionEvent, SessionName};

use super::describe;
use super::prompts::{QUIET_RECHECK, detect_session, state_line};
use crate::state::AppState;

/// The URI scheme of session resources.
pub(crate) const SCHEME: &str = "sessions://";
/// How often a backend without output events is re-checked for a subscription.
const FALLBACK_INTERVAL: Duration = Duration::from_secs(1);

/// The subscriptions of one MCP session, by URI.
#[derive(Debug, Default, Clone)]
pub(crate) struct Subscriptions(Arc<Mutex<HashMap<String, tokio::task::AbortHandle>>>);

impl Drop for Subscriptions {
    fn drop(&mut self) {
        // The last clone going away means the MCP session is gone: stop its watchers.
        if Arc::strong_count(&self.0) == 1 {
            for (_, h) in self.0.lock().unwrap_or_else(|p| p.into_inner()).drain() {
                h.abort();
            }
        }
    }
}

fn name_of(uri: &str) -> Result<SessionName, McpError> {
    let raw = uri.strip_prefix(SCHEME).ok_or_else(|| {
        not_found(
            format!("unknown resource {uri:?}; session resources are sessions://<name>"),
            uri,
        )
    })?;
    SessionName::new(raw).map_err(|e| not_found(e.to_string(), uri))
}

/// "Resource not found", with the URI in the error's data (SEP-2164).
fn not_found(message: String, uri: &str) -> McpError {
    McpError::resource_not_found(message, Some(serde_json::json!({ "uri": uri })))
}

/// `resources/list`.
pub(crate) async fn list(state: &AppState) -> Result<ListResourcesResult, McpError> {
    let sessions = state
        .backend
        .list()
        .await
        .map_err(|e| McpError::internal_error(e.to_string(), None))?;
    let resources = sessions
        .iter()
        .map(|s| {
            Resource::new(format!("{SCHEME}{}", s.name), s.name.to_string())
                .with_description(describe(s))
                .with_mime_type("text/plain")
        })
        .collect();
    Ok(ListResourcesResult::with_all_items(resources))
}

/// The text of a session resource: its status, state and recent screen.
async fn render(state: &AppState, name: &SessionName) -> Result<(String, String), McpError> {
    let info = state
        .backend
        .info(name)
        .await
        .map_err(|e| not_found(e.to_string(), &format!("{SCHEME}{name}")))?;
    let detection = detect_session(state, &info).await;
    let state_text = detection
        .as_ref()
        .map(state_line)
        .unwrap_or_else(|| "exited".into());
    let screen = state
        .backend
        .read(name, ReadRequest::default())
        .await
        .map(|s| s.text)
        .unwrap_or_default();
    Ok((
        state_text.clone(),
        format!("{}\nState: {state_text}\n\n{screen}", describe(&info)),
    ))
}

/// `resources/read`.
pub(crate) async fn read(state: &AppState, uri: &str) -> Result<ReadResourceResult, McpError> {
    let name = name_of(uri)?;
    let (_, text) = render(state, &name).await?;
    Ok(ReadResourceResult::new(vec![ResourceContents::text(
        text, uri,
    )]))
}

/// `resources/subscribe`: starts a watcher that notifies `peer` on state changes.
pub(crate) async fn subscribe(
    state: &AppState,
    subs: &Subscriptions,
    uri: String,
    peer: Peer<RoleServer>,
) -> Result<(), McpError> {
    let name = name_of(&uri)?;
    // Events are heard from before the state is first read, so that no change falls between.
    let events = state.backend.events();
    let (last, _) = render(state, &name).await?;
    let task = tokio::spawn(watch(
        state.clone(),
        events,
        name,
        uri.clone(),
        last,
        Notifier::Session(peer),
    ));
    if let Some(old) = subs
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(uri, task.abort_handle())
    {
        old.abort();
    }
    Ok(())
}

/// Where a watcher sends `notifications/resources/updated`.
pub(super) enum Notifier {
    /// The MCP session that sent `resources/subscribe` (revisions before 2026-07-28).
    Session(Peer<RoleServer>),
    /// The stream of one `subscriptions/listen` request (2026-07-28).
    Listen(SubscriptionSink),
}

impl Notifier {
    /// Sends the notification for `uri`; `false` once the client is gone.
    async fn updated(&self, uri: &str) -> bool {
        match self {
            Notifier::Session(peer) => peer
                .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                .await
                .is_ok(),
            Notifier::Listen(sink) => sink.notify_resource_updated(uri).await.is_ok(),
        }
    }
}

/// The state line a watcher starts from: `None` when the session cannot be read (it does not
/// exist).
pub(super) async fn initial_state(state: &AppState, uri: &str) -> Option<(SessionName, String)> {
    let name = name_of(uri).ok()?;
    let (line, _) = render(state, &name).await.ok()?;
    Some((name, line))
}

/// Whether `uri` names a session resource (`sessions://<valid name>`).
pub(super) fn is_session_uri(uri: &str) -> bool {
    name_of(uri).is_ok()
}

/// Watches session `name` (resource `uri`, whose state line was `last`) and notifies `to`
/// each time its state line changes, once more when the session is terminated or can no
/// longer be read (then it ends), until the client is gone. `events` must have been taken
/// from the backend before `last` was read.
pub(super) async fn watch(
    st: AppState,
    mut events: tokio::sync::broadcast::Receiver<SessionEvent>,
    name: SessionName,
    uri: String,
    mut last: String,
    to: Notifier,
) {
    // Re-renders due a quiet period after the last output (the state can change with
    // time alone: a question counts once the screen is quiet).
    let mut quiet_at: Option<tokio::time::Instant> = None;
    loop {
        // Only a backend that cannot report output right now is re-read on a timer.
        let polled = st.backend.output_events_epoch().is_none();
        let timer = if polled {
            Some(tokio::time::Instant::now() + FALLBACK_INTERVAL)
        } else {
            quiet_at
        };
        let wake = async {
            match timer {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(SessionEvent::Terminated(n)) if n == name => {
                    to.updated(&uri).await;
                    return;
                }
                Ok(SessionEvent::Output(n) | SessionEvent::Exited(n)) if n != name => continue,
                Ok(_) | Err(RecvError::Lagged(_)) => {
                    quiet_at = Some(tokio::time::Instant::now() + QUIET_RECHECK);
                }
                Err(RecvError::Closed) => return,
            },
            _ = wake => {
                quiet_at = None;
            }
        }
        let Ok((now, _)) = render(&st, &name).await else {
            to.updated(&uri).await;
            return;
        };
        if now != last {
            last = now;
            if !to.updated(&uri).await {
                return;
            }
        }
    }
}

/// `resources/unsubscribe`.
pub(crate) fn unsubscribe(subs: &Subscriptions, uri: &str) {
    if let Some(h) = subs.0.lock().unwrap_or_else(|p| p.into_inner()).remove(uri) {
        h.abort();
    }
}
