//! `search` and `fetch` in exactly the shapes ChatGPT connectors require.
//!
//! - `search(query)` returns one text item whose text is the JSON
//!   `{"results":[{"id","title","url"}]}`.
//! - `fetch(id)` returns one text item whose text is the JSON
//!   `{"id","title","text","url","metadata"}`.
//!
//! Ids are session names; `text` is the session's recent screen and status. URLs use the
//! `sessions://` scheme of the sessions' MCP resources.

use rmcp::model::{CallToolResult, ContentBlock as Content};
use serde_json::json;

use sessiongate_backend::{ReadRequest, SessionInfo, SessionName};

use super::{describe, reply};
use crate::state::AppState;

/// How many screen lines `fetch` returns, and `search` looks through.
const SCREEN_LINES: usize = 80;

fn url(name: &SessionName) -> String {
    format!("sessions://{name}")
}

fn title(s: &SessionInfo) -> String {
    format!(
        "{} ({} in {})",
        s.name,
        s.current_command.as_deref().unwrap_or("?"),
        s.working_dir
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "?".into())
    )
}

async fn recent_screen(state: &AppState, name: &SessionName) -> String {
    let req = ReadRequest {
        lines: SCREEN_LINES,
        ..ReadRequest::default()
    };
    state
        .backend
        .read(name, req)
        .await
        .map(|s| s.text)
        .unwrap_or_default()
}

/// Runs `search`: every session whose name, profile, command, directory or recent screen
/// contains all the query's words (case-insensitive). An empty query matches every session.
pub(super) async fn search(state: &AppState, query: &str) -> CallToolResult {
    let sessions = match state.backend.list().await {
        Ok(s) => s,
        Err(e) => return reply::fail(&e),
    };
    let words: Vec<String> = query
        .split_whitespace()
        .take(32)
        .map(|w| w.to_lowercase())
        .collect();
    let mut results = Vec::new();
    for s in &sessions {
        let mut haystack = format!(
            "{} {} {} {}",
            s.name,
            s.profile.as_deref().unwrap_or(""),
            s.current_command.as_deref().unwrap_or(""),
            s.working_dir
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )
        .to_lowercase();
        let mut matched = words.iter().all(|w| haystack.contains(w.as_str()));
        if !matched {
            haystack.push(' ');
            haystack.push_str(&recent_screen(state, &s.name).await.to_lowercase());
            matched = words.iter().all(|w| haystack.contains(w.as_str()));
        }
        if matched {
            results.push(json!({ "id": s.name, "title": title(s), "url": url(&s.name) }));
        }
    }
    let body = json!({ "results": results });
    CallToolResult::success(vec![Content::text(body.to_string())])
}

/// Runs `fetch` for one session name.
pub(super) async fn fetch(state: &AppState, id: &str) -> CallToolResult {
    let info = match async {
        let name = SessionName::new(id)?;
        state.backend.info(&name).await
    }
    .await
    {
        Ok(i) => i,
        Err(e) => return reply::fail(&e),
    };
    let screen = recent_screen(state, &info.name).await;
    let text = format!("{}\n\n{screen}", describe(&info));
    let body = json!({
        "id": info.name,
        "title": title(&info),
        "text": text,
        "url": url(&info.name),
        "metadata": {
            "backend": info.backend,
            "profile": info.profile,
            "status": info.status,
            "current_command": info.current_command,
            "pid": info.pid,
            "working_dir": info.working_dir,
            "created_at": info.created_at.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
            "last_activity": info.last_activity.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
        },
    });
    CallToolResult::success(vec![Content::text(body.to_string())])
}
