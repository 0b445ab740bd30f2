//! The message bodies of the channels that do not take the webhook payload as it is: a
//! Slack incoming-webhook message and an ntfy JSON publish request.

use serde_json::{Value, json};

use super::config::{ChannelConfig, ChannelKind};
use super::event::{EventKind, Notification};

/// A Slack incoming-webhook message (Mattermost and Rocket.Chat accept the same): the title
/// in bold, then the question, context and options, or the summary.
pub fn slack(n: &Notification) -> Value {
    let body = n
        .text()
        .lines()
        .map(|l| format!("> {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    json!({ "text": format!("*{}* on {}\n{body}", escape_slack(&n.title()), escape_slack(&n.host)) })
}

/// Slack's three reserved characters, so that screen text cannot form links or mentions.
fn escape_slack(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An ntfy publish request (<https://docs.ntfy.sh/publish/#publish-as-json>): a waiting
/// prompt is priority 4 (high), everything else 3 (default).
pub fn ntfy(channel: &ChannelConfig, n: &Notification) -> Value {
    let (topic, click) = match &channel.kind {
        ChannelKind::Ntfy { topic, click, .. } => (topic.as_str(), click.as_deref()),
        _ => ("", None),
    };
    let priority = if n.event == EventKind::Waiting { 4 } else { 3 };
    let mut msg = json!({
        "topic": topic,
        "title": n.title(),
        "message": n.text(),
        "priority": priority,
        "tags": ["sessiongate", n.event.as_str()],
    });
    if let Some(click) = click {
        msg["click"] = Value::String(click.to_owned());
    }
    msg
}
