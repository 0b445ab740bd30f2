//! Entry points for the fuzz targets in `fuzz/` (not an API: hidden from the docs and free to
//! change): the JSON-RPC guard's decoding, the scope check's reading of a message, and the
//! decoding of every tool's arguments, without making those modules public.

use serde_json::Value;

use crate::checks::rpc::RpcMessage;
use crate::mcp::catalog::{CATALOG, lookup};

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
    let message = crate::checks::rpc::decode(bytes);
    let scopes = match &message {
        Ok(v) => crate::checks::auth::needed_scopes(&RpcMessage::new(v.clone())),
        Err(_) => Vec::new(),
    };
    Decoded { message, scopes }
}

/// Decodes `args` as the arguments of `tool`; whether they were accepted, or `None` for an
/// unknown tool.
pub fn decode_tool_args(tool: &str, args: &Value) -> Option<bool> {
    Some(lookup(tool)?.tool.accepts(Some(args)))
}

/// The tools whose arguments [`decode_tool_args`] knows: every tool in the catalogue.
pub fn tools() -> Vec<&'static str> {
    CATALOG.iter().map(|e| e.name).collect()
}
