//! Tool calls that [`crate::direct_calls`] answers without rmcp's session machinery: the
//! dispatch from a tool's name and JSON arguments to the same tool functions rmcp's router
//! calls, for the tools that need nothing from the MCP session (no request context, no
//! progress, no cancellation).
//!
//! `wait_for` is left out (it listens for cancellation and may report progress), and so is
//! every tool whose arguments do not decode: rmcp then answers with its own error.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::SessionTools;

/// The tools rmcp must answer itself; every other tool is answered directly.
const ONLY_THROUGH_RMCP: &[&str] = &["wait_for"];

/// `arguments` decoded as a tool's argument type, as rmcp does it (absent means `{}`), or
/// `None` when they do not decode.
fn args<T: DeserializeOwned>(arguments: Option<&Value>) -> Option<Parameters<T>> {
    match arguments {
        None => serde_json::from_value(Value::Object(Default::default())).ok(),
        Some(v @ Value::Object(_)) => T::deserialize(v).ok(),
        Some(_) => None,
    }
    .map(Parameters)
}

impl SessionTools {
    /// Runs tool `name` with `arguments`, or `None` when rmcp must answer the call itself
    /// (a tool in [`ONLY_THROUGH_RMCP`], an unknown tool, arguments that do not decode).
    ///
    /// Tool failures are results with `isError`, exactly as through rmcp; these tools never
    /// return a protocol error.
    pub async fn call_direct(
        &self,
        name: &str,
        arguments: Option<&Value>,
    ) -> Option<CallToolResult> {
        if ONLY_THROUGH_RMCP.contains(&name) {
            return None;
        }
        let result = match name {
            "list_sessions" => self.list_sessions().await,
            "check_prompts" => self.check_prompts().await,
            "create_session" => self.create_session(args(arguments)?).await,
            "send_message" => self.send_message(args(arguments)?).await,
            "send_keys" => self.send_keys(args(arguments)?).await,
            "get_logs" => self.get_logs(args(arguments)?).await,
            "get_session_status" => self.get_session_status(args(arguments)?).await,
            "terminate_session" => self.terminate_session(args(arguments)?).await,
            "respond_to_prompt" => self.respond_to_prompt(args(arguments)?).await,
            "get_transcript" => self.get_transcript(args(arguments)?).await,
            "get_changes" => self.get_changes(args(arguments)?).await,
            "search" => self.search(args(arguments)?).await,
            "fetch" => self.fetch(args(arguments)?).await,
            "set_notifications" => self.set_notifications(args(arguments)?).await,
            _ => return None,
        };
        // The tools report failures as results; a protocol error goes back through rmcp so
        // that its shape is rmcp's.
        result.ok()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::state::AppState;

    fn tools(root: &std::path::Path) -> SessionTools {
        let backend = sessiongate_backend_pty::PtyBackend::new(Default::default());
        let policy =
            sessiongate_backend::SessionPolicy::new(&[root.to_owned()], Default::default())
                .expect("policy");
        SessionTools::new(AppState::new(Arc::new(backend), Arc::new(policy)))
    }

    /// Whether the match in `call_direct` names `tool` (read from this file's source, so
    /// that the check needs no valid arguments for each tool).
    fn dispatches(tool: &str) -> bool {
        include_str!("direct.rs").contains(&format!("\"{tool}\" => self.{tool}("))
    }

    /// Every tool is either answered directly or listed as rmcp's: a new tool cannot be
    /// left out of the dispatch without a decision.
    #[test]
    fn every_tool_has_a_lane() {
        for name in SessionTools::tool_names() {
            let through_rmcp = ONLY_THROUGH_RMCP.contains(&name.as_str());
            assert!(
                through_rmcp != dispatches(&name),
                "{name} must be either answered directly or listed in ONLY_THROUGH_RMCP"
            );
        }
    }

    #[tokio::test]
    async fn answers_directly_what_decodes() {
        let root = tempfile::tempdir().expect("tempdir");
        let tools = tools(root.path());
        let r = tools
            .call_direct("list_sessions", None)
            .await
            .expect("direct");
        assert_ne!(r.is_error, Some(true));
        let r = tools
            .call_direct("get_logs", Some(&json!({ "session": "nope" })))
            .await
            .expect("direct");
        assert_eq!(
            r.is_error,
            Some(true),
            "an unknown session is a tool failure"
        );
    }

    #[tokio::test]
    async fn leaves_to_rmcp_what_it_must_answer() {
        let root = tempfile::tempdir().expect("tempdir");
        let tools = tools(root.path());
        assert!(
            tools
                .call_direct("get_logs", Some(&json!({ "session": 7 })))
                .await
                .is_none()
        );
        assert!(
            tools
                .call_direct("get_logs", Some(&json!([])))
                .await
                .is_none()
        );
        assert!(tools.call_direct("get_logs", None).await.is_none());
        let wait = json!({ "session": "a" });
        assert!(tools.call_direct("wait_for", Some(&wait)).await.is_none());
        assert!(tools.call_direct("no_such_tool", None).await.is_none());
    }
}
