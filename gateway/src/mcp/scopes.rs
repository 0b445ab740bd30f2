//! Which OAuth scope each MCP method and each tool needs: the one table the scope check
//! (`auth_layer::require_scope`) reads.
//!
//! - `sessions:read`: reading (list, status, logs, prompts, search, fetch, wait_for,
//!   get_changes) and every
//!   other way of seeing a session: its resources (list, read, templates, subscribe,
//!   unsubscribe, `subscriptions/listen`), completions, MCP prompts and the log level;
//! - `sessions:write`: input (send_message, send_keys, respond_to_prompt) and muting a
//!   session's notifications (set_notifications);
//! - `sessions:manage`: creating and terminating sessions.
//!
//! The protocol's own plumbing (`initialize`, `server/discover`, `ping`, `tools/list`, the
//! client's notifications and its answers to the server's requests) needs a valid token and no
//! scope: it shows nothing of any session, and every client needs it to use the scopes it has.
//!
//! Unknown tools and unknown methods need `sessions:manage`, the highest scope, so that a tool
//! or method added later without an entry here is denied by default rather than opened up.

use sessiongate_auth::Scope;

/// The scope a tool call needs, as its OAuth scope string.
pub fn scope_for_tool(tool: &str) -> &'static str {
    match tool {
        "list_sessions" | "get_logs" | "get_session_status" | "check_prompts" | "search"
        | "fetch" | "wait_for" | "get_transcript" | "get_changes" => "sessions:read",
        "send_message" | "send_keys" | "respond_to_prompt" | "set_notifications" => {
            "sessions:write"
        }
        _ => "sessions:manage",
    }
}

/// The scope a JSON-RPC request or notification with `method` needs (`tool` is the tool a
/// `tools/call` names, if any); `None` when a valid token is enough.
pub fn scope_for_method(method: &str, tool: Option<&str>) -> Option<Scope> {
    match method {
        "tools/call" => Some(
            scope_for_tool(tool.unwrap_or(""))
                .parse()
                .unwrap_or(Scope::SessionsManage),
        ),
        "initialize"
        | "server/discover"
        | "ping"
        | "tools/list"
        | "notifications/initialized"
        | "notifications/cancelled"
        | "notifications/progress"
        | "notifications/roots/list_changed" => None,
        "resources/list"
        | "resources/read"
        | "resources/templates/list"
        | "resources/subscribe"
        | "resources/unsubscribe"
        | "subscriptions/listen"
        | "prompts/list"
        | "prompts/get"
        | "completion/complete"
        | "logging/setLevel" => Some(Scope::SessionsRead),
        _ => Some(Scope::SessionsManage),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_map_to_scopes_and_unknown_tools_need_the_most() {
        assert_eq!(scope_for_tool("get_logs"), "sessions:read");
        assert_eq!(scope_for_tool("get_changes"), "sessions:read");
        assert_eq!(scope_for_tool("send_message"), "sessions:write");
        assert_eq!(scope_for_tool("create_session"), "sessions:manage");
        assert_eq!(scope_for_tool("terminate_session"), "sessions:manage");
        assert_eq!(scope_for_tool("brand_new_tool"), "sessions:manage");
    }

    #[test]
    fn every_method_has_a_decision_and_unknown_methods_need_the_most() {
        let read = Some(Scope::SessionsRead);
        for m in [
            "resources/list",
            "resources/read",
            "resources/templates/list",
            "resources/subscribe",
            "resources/unsubscribe",
            "subscriptions/listen",
            "prompts/list",
            "prompts/get",
            "completion/complete",
            "logging/setLevel",
        ] {
            assert_eq!(scope_for_method(m, None), read, "{m}");
        }
        for m in ["initialize", "server/discover", "ping", "tools/list"] {
            assert_eq!(scope_for_method(m, None), None, "{m}");
        }
        assert_eq!(scope_for_method("tools/call", Some("get_logs")), read);
        assert_eq!(
            scope_for_method("tools/call", Some("send_keys")),
            Some(Scope::SessionsWrite)
        );
        for (m, tool) in [
            ("tools/call", None),
            ("tools/call", Some("")),
            ("tasks/get", None),
            ("skills/list", None),
            ("resources/directory/read", None),
            ("Resources/Read", None),
            ("resources/read ", None),
            ("notifications/something_new", None),
            ("", None),
        ] {
            assert_eq!(
                scope_for_method(m, tool),
                Some(Scope::SessionsManage),
                "{m:?} {tool:?}"
            );
        }
    }
}
