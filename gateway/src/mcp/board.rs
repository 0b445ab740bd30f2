//! The session board: an MCP App (SEP-1865, the MCP Apps extension) that hosts such as
//! ChatGPT and Claude render in a sandboxed frame next to a tool's result.
//!
//! The view is one self-contained HTML file built from `ui/` and embedded here, served as the
//! resource [`URI`] with the MIME type [`MIME`]. The tools that show sessions (`list_sessions`,
//! `check_prompts`, `get_session_status`, `get_logs`) name it in their descriptors
//! ([`tool_meta`]), and their structured results carry what the board draws: a `board` object
//! ([`snapshot`]) with one entry per session. Their text content stays what it was, so hosts
//! without MCP Apps lose nothing.
//!
//! **Invariant:** the view gets nothing but the tool results the host hands it; no token or
//! secret is in the file or in a `board` object, and the resource declares no external origin
//! (everything it needs is inline).

use rmcp::model::{MetaObject, ReadResourceResult, Resource, ResourceContents};
use serde_json::{Value, json};

use sessiongate_backend::prompt::{Activity, Detection};
use sessiongate_backend::{ProcessStatus, SessionInfo};

use super::prompts::detect_session;
use crate::state::AppState;

/// The board's resource URI.
pub(crate) const URI: &str = "ui://sessiongate/board.html";
/// The MIME type of an MCP App's HTML.
pub(crate) const MIME: &str = "text/html;profile=mcp-app";
/// The view, built by `ui/build.mjs` (CI checks that it equals a fresh build).
const HTML: &str = include_str!("../../assets/board.html");

/// The `_meta` of a tool whose results the board renders: the MCP Apps link
/// (`ui.resourceUri`, and the flat `ui/resourceUri` of earlier drafts) and ChatGPT's
/// `openai/outputTemplate`.
pub(crate) fn tool_meta() -> MetaObject {
    let Value::Object(map) = json!({
        "ui": { "resourceUri": URI },
        "ui/resourceUri": URI,
        "openai/outputTemplate": URI,
    }) else {
        unreachable!("a JSON object literal")
    };
    MetaObject(map)
}

/// The `_meta` of the resource: no external origins at all (no `connectDomains`, no
/// `resourceDomains`), in the MCP Apps form and in ChatGPT's.
fn resource_meta() -> MetaObject {
    let Value::Object(map) = json!({
        "ui": {
            "csp": { "connectDomains": [], "resourceDomains": [] },
            "prefersBorder": true,
        },
        "openai/widgetCSP": { "connect_domains": [], "resource_domains": [] },
        "openai/widgetPrefersBorder": true,
        "openai/widgetDescription": "A board of the owner's terminal sessions: their state, \
            the questions they wait on with one button per answer, and a session's screen.",
    }) else {
        unreachable!("a JSON object literal")
    };
    MetaObject(map)
}

/// The board's entry in `resources/list`.
pub(crate) fn resource() -> Resource {
    Resource::new(URI, "board")
        .with_title("Session board")
        .with_description("The session board (MCP App): every session, its state and questions")
        .with_mime_type(MIME)
        .with_meta(resource_meta())
}

/// `resources/read` of [`URI`].
pub(crate) fn read() -> ReadResourceResult {
    ReadResourceResult::new(vec![
        ResourceContents::text(HTML, URI)
            .with_mime_type(MIME)
            .with_meta(resource_meta()),
    ])
}

/// The `board` object of a structured result: every session in `sessions` with its state, as
/// detected now. `complete` says whether `sessions` is every session (a list) or a part (one
/// session's status).
pub(crate) async fn snapshot(state: &AppState, sessions: &[SessionInfo], complete: bool) -> Value {
    // Hosts at once (a remote host's reads are round trips over SSH).
    let detections = crate::hosts::per_host(sessions, |info| detect_session(state, info)).await;
    snapshot_of(state, sessions, &detections, complete)
}

/// [`snapshot`] from detections already made (`detections[i]` is `sessions[i]`'s).
pub(crate) fn snapshot_of(
    state: &AppState,
    sessions: &[SessionInfo],
    detections: &[Option<Detection>],
    complete: bool,
) -> Value {
    let host = crate::notify::event::host_name();
    let entries: Vec<Value> = sessions
        .iter()
        .zip(detections)
        .map(|(info, d)| entry(info, d.as_ref(), &host))
        .collect();
    let profiles: Vec<&String> = state.policy.profiles().keys().collect();
    json!({
        "host": host,
        "complete": complete,
        "sessions": entries,
        "profiles": profiles,
        "allowed_roots": state.policy.roots(),
    })
}

/// One session as the board draws it.
fn entry(info: &SessionInfo, detection: Option<&Detection>, host: &str) -> Value {
    let (state, exit_code, signal) = match info.status {
        ProcessStatus::Exited {
            code: Some(0),
            signal,
        } => ("finished", Some(0), signal),
        ProcessStatus::Exited { code, signal } => ("exited", code, signal),
        ProcessStatus::Running => (
            match detection.map(|d| d.activity) {
                Some(Activity::Working) => "working",
                Some(Activity::Idle) => "idle",
                Some(Activity::WaitingForInput) => "waiting",
                Some(Activity::Unknown) | None => "unknown",
            },
            None,
            None,
        ),
    };
    let prompt = detection
        .filter(|d| d.activity == Activity::WaitingForInput)
        .and_then(|d| d.prompt.as_ref())
        .map(|p| {
            json!({
                "kind": p.kind,
                "question": p.question,
                "context": p.context,
                "options": p.options.iter().map(|o| json!({
                    "number": o.number,
                    "label": o.label,
                    "description": o.description,
                })).collect::<Vec<_>>(),
                "cursor": p.cursor,
                "accepts_text": p.accepts_text,
            })
        });
    json!({
        "name": info.name,
        "host": info.name.host().unwrap_or(host),
        "backend": info.backend,
        "profile": info.profile,
        "state": state,
        "exit_code": exit_code,
        "signal": signal,
        "directory": info.working_dir,
        "command": info.current_command,
        "created_at": info.created_at.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
        "last_activity": info.last_activity.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
        "prompt": prompt,
    })
}

#[cfg(test)]
#[path = "board_tests.rs"]
mod tests;
