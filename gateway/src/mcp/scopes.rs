//! Which OAuth scope each MCP method needs: the table the scope check
//! (`checks::auth::require_scope`) reads. A tool call needs its tool's scope, from the tool
//! catalogue ([`super::catalog`]); every other way of seeing a session needs
//! `sessions:read`: its resources (list, read, templates, subscribe, unsubscribe,
//! `subscriptions/listen`), completions, MCP prompts and the log level.
//!
//! The protocol's own plumbing (`initialize`, `server/discover`, `ping`, `tools/list`, the
//! client's notifications and its answers to the server's requests) needs a valid token and no
//! scope: it shows nothing of any session, and every client needs it to use the scopes it has.
//!
//! Unknown tools and unknown methods need `sessions:manage`, the highest scope, so that a tool
//! or method added later without an entry here is denied by default rather than opened up.

use sessiongate_auth::Scope;

use super::catalog::Entry;

/// The scope a JSON-RPC request or notification with `method` needs (`tool` is the
/// catalogue's row for the tool a `tools/call` names, if it exists); `None` when a valid
/// token is enough.
pub fn scope_for_method(method: &str, tool: Option<&Entry>) -> Option<Scope> {
    match method {
        "tools/call" => Some(tool.map_or(Scope::SessionsManage, |t| t.scope)),
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
    use crate::mcp::catalog::lookup;

    fn scope_for_method(method: &str, tool: Option<&str>) -> Option<Scope> {
        super::scope_for_method(method, tool.and_then(lookup))
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
