//! `get_transcript`: Claude Code's conversation, read from its own transcript file.

use rmcp::model::CallToolResult;
use serde_json::json;

use sessiongate_backend::SessionName;

use super::reply;
use crate::state::AppState;

/// The default and largest number of items returned.
const DEFAULT_LIMIT: u32 = 30;
const MAX_LIMIT: u32 = 200;

/// Runs `get_transcript`.
pub(super) async fn get_transcript(
    state: &AppState,
    session: &str,
    limit: Option<u32>,
) -> CallToolResult {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return reply::fail_msg(format!("limit must be between 1 and {MAX_LIMIT}"));
    }
    let info = match async {
        let name = SessionName::new(session)?;
        state.backend.info(&name).await
    }
    .await
    {
        Ok(i) => i,
        Err(e) => return reply::fail(&e),
    };
    let name = info.name.clone();
    let found = state.backend.claude_transcript(&info, limit as usize).await;
    match found {
        None => reply::fail_msg(format!(
            "session {name} does not run Claude Code (no Claude Code state file under its process); \
             use get_logs to read its screen"
        )),
        Some((_, Err(e))) => {
            reply::fail_msg(format!("the transcript of {name} could not be read: {e}"))
        }
        Some((claude, Ok(items))) => {
            let text = items
                .iter()
                .map(|i| match &i.tool {
                    Some(tool) => format!("[{} {tool}] {}", i.kind, i.text),
                    None => format!("[{}] {}", i.kind, i.text),
                })
                .collect::<Vec<_>>()
                .join("\n");
            reply::ok_json(
                if text.is_empty() {
                    "The conversation is empty.".to_owned()
                } else {
                    text
                },
                json!({ "session": name, "claude_session_id": claude.session_id, "status": claude.status, "items": items }),
            )
        }
    }
}
