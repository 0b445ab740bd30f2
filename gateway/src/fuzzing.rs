//! Entry points for the fuzz targets in `fuzz/` (not an API: hidden from the docs and free to
//! change): the JSON-RPC guard's decoding, the scope check's reading of a message, and the
//! decoding of every tool's arguments, without making those modules public.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::mcp::args::{
    CreateSessionArgs, FetchArgs, GetLogsArgs, NotificationsArgs, RespondArgs, SearchArgs,
    SendKeysArgs, SendMessageArgs, SessionArgs, TranscriptArgs, WaitForArgs,
};
use crate::mcp::changes::ChangesArgs;

/// What the gateway makes of a request body before the MCP server sees it.
#[derive(Debug)]
pub struct Decoded {
    /// The message(s), when the body is JSON-RPC; else the error code and message.
    pub message: Result<Value, (i64, String)>,
    /// The scopes its tool calls need (empty when refused or when no tool is called).
    pub scopes: Vec<sessiongate_auth::Scope>,
}

/// Decodes a body as the JSON-RPC guard does, and reads the scopes it needs as the scope
/// check does.
pub fn decode_body(bytes: &[u8]) -> Decoded {
    let message = crate::jsonrpc_guard::decode(bytes);
    let scopes = match &message {
        Ok(v) => crate::auth_layer::needed_scopes(v),
        Err(_) => Vec::new(),
    };
    Decoded { message, scopes }
}

fn ok<T: DeserializeOwned>(args: &Value) -> bool {
    serde_json::from_value::<T>(args.clone()).is_ok()
}

/// Decodes `args` as the arguments of `tool`; whether they were accepted, or `None` for an
/// unknown tool.
pub fn decode_tool_args(tool: &str, args: &Value) -> Option<bool> {
    Some(match tool {
        "create_session" => ok::<CreateSessionArgs>(args),
        "get_session_status" | "terminate_session" => ok::<SessionArgs>(args),
        "send_message" => ok::<SendMessageArgs>(args),
        "send_keys" => ok::<SendKeysArgs>(args),
        "get_logs" => ok::<GetLogsArgs>(args),
        "respond_to_prompt" => ok::<RespondArgs>(args),
        "search" => ok::<SearchArgs>(args),
        "fetch" => ok::<FetchArgs>(args),
        "wait_for" => ok::<WaitForArgs>(args),
        "get_transcript" => ok::<TranscriptArgs>(args),
        "set_notifications" => ok::<NotificationsArgs>(args),
        "get_changes" => ok::<ChangesArgs>(args),
        _ => return None,
    })
}

/// The tools whose arguments [`decode_tool_args`] knows.
pub const TOOLS: &[&str] = &[
    "create_session",
    "get_session_status",
    "terminate_session",
    "send_message",
    "send_keys",
    "get_logs",
    "respond_to_prompt",
    "search",
    "fetch",
    "wait_for",
    "get_transcript",
    "set_notifications",
    "get_changes",
];
