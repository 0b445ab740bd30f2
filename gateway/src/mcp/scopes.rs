//! Which OAuth scope each tool needs.
//!
//! - `sessions:read`: reading (list, status, logs, prompts, search, fetch, wait_for);
//! - `sessions:write`: input (send_message, send_keys, respond_to_prompt) and muting a
//!   session's notifications (set_notifications);
//! - `sessions:manage`: creating and terminating sessions.
//!
//! Unknown tool names need `sessions:manage`, the highest scope, so that a tool added later
//! without an entry here is denied by default rather than opened up.

/// The scope a tool call needs, as its OAuth scope string.
pub fn scope_for_tool(tool: &str) -> &'static str {
    match tool {
        "list_sessions" | "get_logs" | "get_session_status" | "check_prompts" | "search"
        | "fetch" | "wait_for" | "get_transcript" => "sessions:read",
        "send_message" | "send_keys" | "respond_to_prompt" | "set_notifications" => {
            "sessions:write"
        }
        _ => "sessions:manage",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_map_to_scopes_and_unknown_tools_need_the_most() {
        assert_eq!(scope_for_tool("get_logs"), "sessions:read");
        assert_eq!(scope_for_tool("send_message"), "sessions:write");
        assert_eq!(scope_for_tool("create_session"), "sessions:manage");
        assert_eq!(scope_for_tool("terminate_session"), "sessions:manage");
        assert_eq!(scope_for_tool("brand_new_tool"), "sessions:manage");
    }
}
