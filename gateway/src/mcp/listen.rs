//! `subscriptions/listen` (2026-07-28): the new revision's way to be told that a session's
//! state changed. It replaces `resources/subscribe` and the GET event stream: the client
//! names the `sessions://<name>` resources it wants in one POST, rmcp acknowledges the
//! accepted subset (`notifications/subscriptions/acknowledged`) and keeps the reply open as an
//! event stream, and every change comes as `notifications/resources/updated` tagged with the
//! listen request's id. Each resource is reported updated once right after the
//! acknowledgment (see [`listen`]), so that a client that reads it then misses no change.
//!
//! Each accepted resource gets the watcher `resources/subscribe` uses
//! ([`super::resources::watch`]: backend session events plus a quiet-period timer, no
//! polling while output events are complete); the watchers live inside the listen request's
//! future, so they end when the client cancels the request or goes away (rmcp cancels the
//! request when its reply stream is dropped). The reply has no deadline and ends cleanly when
//! the gateway shuts down (`crate::checks::deadline`).
//!
//! Only session resources can be listened to, at most [`MAX_RESOURCES`] per request; the list
//! notifications (tools, prompts, resources list changed) are not offered, since sessiongate
//! never sends them.

use rmcp::ErrorData as McpError;
use rmcp::model::SubscriptionFilter;
use rmcp::service::SubscriptionContext;
use tokio::task::JoinSet;

use super::resources::{self, Notifier};
use crate::state::AppState;

/// The most resources one `subscriptions/listen` request may watch (each one is a watcher
/// task); the rest of a longer list is left out of the acknowledgment.
pub(crate) const MAX_RESOURCES: usize = 64;

/// The part of `requested` the gateway serves: the first [`MAX_RESOURCES`] distinct session
/// resources it names.
pub(crate) fn accepted(requested: &SubscriptionFilter) -> SubscriptionFilter {
    let mut uris: Vec<String> = Vec::new();
    for uri in requested.resource_subscriptions.iter().flatten() {
        if uris.len() == MAX_RESOURCES {
            break;
        }
        if resources::is_session_uri(uri) && !uris.contains(uri) {
            uris.push(uri.clone());
        }
    }
    SubscriptionFilter::builder()
        .resource_subscriptions(uris)
        .build()
}

/// Runs one acknowledged `subscriptions/listen` request until the client cancels it or goes
/// away: a watcher per accepted resource.
///
/// rmcp acknowledges the request before it calls this, so a state change can fall between
/// the acknowledgment and the watcher's first reading of the state. Each resource is therefore
/// reported updated once as soon as its watcher has taken its first reading (events are heard
/// from before it): a client that reads the resource on that first update and on every later
/// one misses no change. A resource whose session cannot be read gets that one update and no
/// watcher (reading it tells the client why).
pub(crate) async fn listen(state: &AppState, ctx: SubscriptionContext) -> Result<(), McpError> {
    let mut watchers = JoinSet::new();
    for uri in ctx.accepted().resource_subscriptions.iter().flatten() {
        let events = state.backend.events();
        let first = resources::initial_state(state, uri).await;
        if ctx
            .sink()
            .notify_resource_updated(uri.clone())
            .await
            .is_err()
        {
            // The client is gone already.
            return Ok(());
        }
        if let Some((name, line)) = first {
            let to = Notifier::Listen(ctx.sink().clone());
            watchers.spawn(resources::watch(
                state.clone(),
                events,
                name,
                uri.clone(),
                line,
                to,
            ));
        }
    }
    // The watchers end with this future: when the request is cancelled (the client cancelled
    // it or dropped the stream) or the set is dropped. A watcher whose session was terminated
    // has ended on its own.
    ctx.cancelled().await;
    watchers.abort_all();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_distinct_session_resources_are_accepted_and_at_most_the_cap() {
        let mut asked = vec![
            "sessions://a".to_owned(),
            "sessions://a".to_owned(),
            "ui://sessiongate/board.html".to_owned(),
            "sessions://../etc".to_owned(),
            "file:///etc/passwd".to_owned(),
            "sessions://b".to_owned(),
        ];
        asked.extend((0..100).map(|i| format!("sessions://s{i}")));
        let got = accepted(
            &SubscriptionFilter::builder()
                .tools_list_changed()
                .resources_list_changed()
                .resource_subscriptions(asked)
                .build(),
        );
        let uris = got.resource_subscriptions.unwrap();
        assert_eq!(uris.len(), MAX_RESOURCES);
        assert_eq!(uris[..3], ["sessions://a", "sessions://b", "sessions://s0"]);
        assert_eq!(got.tools_list_changed, None);
        assert_eq!(got.resources_list_changed, None);
    }
}
