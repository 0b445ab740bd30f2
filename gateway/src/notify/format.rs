//! The message bodies of the channels that do not take the webhook payload as it is: a
//! Slack incoming-webhook message and an ntfy JSON publish request.

use serde_json::{Value, json};

use super::config::{ChannelConfig, ChannelKind};
use super::event::{EventKind, Notification};

/// A Slack incoming-webhook message (Mattermost and Rocket.Chat accept the same): the title
/// in bold, then the question, context and options, or the summary.
pub fn slack(n: &Notification) -> Value {
    let mut body = n
        .text()
        .lines()
        .map(|l| format!("> {}", escape_slack(l)))
        .collect::<Vec<_>>()
        .join("\n");
    // Answer links: `<url|label>`; the URL is ours (hex token), the label escaped.
    let links: Vec<String> = n
        .options
        .iter()
        .filter_map(|o| {
            o.answer_url
                .as_ref()
                .map(|u| format!("<{u}|{}>", escape_slack(&o.label).replace('|', "\u{2223}")))
        })
        .collect();
    if !links.is_empty() {
        body.push_str(&format!("\nAnswer: {}", links.join(" · ")));
    }
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
    let actions = ntfy_actions(n);
    if !actions.is_empty() {
        msg["actions"] = Value::Array(actions);
    }
    msg
}

/// The most action buttons ntfy shows.
const NTFY_MAX_ACTIONS: usize = 3;

/// Up to three action buttons for the first options with answer URLs, in screen order. In
/// `link` mode a button POSTs to the URL itself (a JSON body, so that the answer is JSON);
/// in `login` mode it opens the answer page, where the owner signs in.
fn ntfy_actions(n: &Notification) -> Vec<Value> {
    n.options
        .iter()
        .filter_map(|o| o.answer_url.as_ref().map(|url| (o, url)))
        .take(NTFY_MAX_ACTIONS)
        .map(|(o, url)| match n.answer_mode {
            Some("link") => json!({
                "action": "http",
                "label": o.label,
                "url": url,
                "method": "POST",
                "headers": { "Content-Type": "application/json" },
                "body": "{\"via\":\"ntfy\"}",
                "clear": true,
            }),
            _ => json!({ "action": "view", "label": o.label, "url": url }),
        })
        .collect()
}
