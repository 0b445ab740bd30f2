//! Building tool results: text for the model to read, structured content for clients that
//! use it, and failures as `isError` results that say what to do.

use rmcp::model::{CallToolResult, ContentBlock as Content, ServerResult};
use serde::Serialize;

/// A successful result: `text` for reading, `value` as structured content (left out if it
/// does not serialize).
pub(super) fn ok<T: Serialize>(text: impl Into<String>, value: &T) -> CallToolResult {
    match serde_json::to_value(value) {
        Ok(value) => ok_json(text, value),
        Err(_) => CallToolResult::success(vec![Content::text(text)]),
    }
}

/// A successful result whose structured content is already JSON (no second conversion).
pub(super) fn ok_json(text: impl Into<String>, value: serde_json::Value) -> CallToolResult {
    let mut r = CallToolResult::success(vec![Content::text(text)]);
    r.structured_content = Some(value);
    r
}

/// A failed tool call. Backend failures that are not the caller's fault are logged here, once;
/// the client sees the message either way (backend messages carry no secrets).
pub(super) fn fail(err: &sessiongate_backend::Error) -> CallToolResult {
    if !err.is_client_error() {
        tracing::warn!(error = %err, "backend failure");
    }
    CallToolResult::error(vec![Content::text(err.to_string())])
}

/// A failed tool call with a message of the gateway's own.
pub(super) fn fail_msg(msg: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![Content::text(msg)])
}

/// `result` in the shape the fast lane sends it: as it is for stateless calls of the
/// 2026-07-28 revision (which keep `resultType`), and the way rmcp gives it to peers of the
/// older revisions, which have a session, without the newer fields.
pub(crate) fn for_peer(result: CallToolResult, has_session: bool) -> ServerResult {
    let mut result = ServerResult::CallToolResult(result);
    if has_session {
        result.strip_result_type_for_legacy_peer();
        result.strip_non_object_output_for_legacy_peer();
    }
    result
}
