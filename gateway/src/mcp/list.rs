//! Building the answers of `list_sessions` (every session's line and entry, its board state,
//! the mutes, the remote hosts, and the profiles and roots `create_session` takes) and of
//! `get_session_status`. They are kept and handed out again by [`super::kept_answers`].

use rmcp::model::CallToolResult;
use serde_json::json;
use sessiongate_backend::SessionInfo;

use super::{SessionTools, board, describe, prompts, reply};

impl SessionTools {
    /// The answer, with the sessions it was built from (`None` when the list could not be
    /// read: nothing to keep).
    pub(super) async fn build_list(&self) -> (CallToolResult, Option<Vec<SessionInfo>>) {
        let sessions = match self.state.backend.list().await {
            Ok(s) => s,
            Err(e) => return (reply::fail(&e), None),
        };
        let mut text = if sessions.is_empty() {
            "No sessions. Start one with create_session.".to_owned()
        } else {
            sessions
                .iter()
                .map(|s| match self.notifications_of(s.name.as_str()) {
                    "muted" => format!("{} (notifications muted)", describe(s)),
                    _ => describe(s),
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let profiles: Vec<&String> = self.state.policy.profiles().keys().collect();
        let roots = self.state.policy.roots();
        text.push_str(&format!(
            "\nProfiles: {}. Allowed roots: {}.",
            profiles
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            roots
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let board = board::snapshot(&self.state, &sessions, true).await;
        let hosts = crate::hosts::describe_hosts(&self.state.hosts, &mut text);
        let sessions_json: Vec<serde_json::Value> = sessions
            .iter()
            .map(|s| {
                let mut v = json!(s);
                v["notifications"] = json!(self.notifications_of(s.name.as_str()));
                v["host"] = json!(s.name.host().unwrap_or(sessiongate_backend::hosts::LOCAL));
                v
            })
            .collect();
        let value = json!({ "sessions": sessions_json, "profiles": profiles, "allowed_roots": roots, "hosts": hosts, "board": board });
        let result = reply::ok_json(text, value);
        (result, Some(sessions))
    }

    /// The status answer of `session`, with its info (`None` when it could not be looked up:
    /// nothing to keep).
    pub(super) async fn build_status(
        &self,
        session: &str,
    ) -> (CallToolResult, Option<SessionInfo>) {
        let info = match self.lookup(session).await {
            Ok(i) => i,
            Err(e) => return (reply::fail(&e), None),
        };
        let detection = prompts::detect_session(&self.state, &info).await;
        let mut text = describe(&info);
        if let Some(d) = &detection {
            text.push_str(&format!("\nState: {}", prompts::state_line(d)));
        }
        let board = board::snapshot_of(
            &self.state,
            std::slice::from_ref(&info),
            std::slice::from_ref(&detection),
            false,
        );
        let value = json!({ "session": info, "detection": detection, "board": board });
        (reply::ok_json(text, value), Some(info))
    }
}
