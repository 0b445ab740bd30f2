//! The JSON-RPC guard and the typed request it produces. The guard reads the body of a POST
//! once, refuses what is not a JSON-RPC message with a proper JSON-RPC error (parse error
//! -32700, invalid request -32600, 413 for a body over the limit), and decodes the rest once
//! into an [`RpcMessage`]: each message's method, id, and for `tools/call` the tool's
//! catalogue entry and raw arguments. The later checks (scope, rate limit, session caps,
//! audit, metrics, deadline, fast lane) read that value from the request's extensions instead
//! of re-reading JSON; the body itself goes on unchanged to rmcp.
//!
//! rmcp would refuse bad bodies too, but with a plain-text message; a client deserves an
//! answer in the protocol it speaks.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::http::limits::MAX_MCP_BODY_BYTES;
use crate::mcp::catalog::{self, Entry};

/// A request body, decoded: one message or a batch of them.
#[derive(Debug, Clone)]
pub struct RpcMessage {
    /// The messages, in order (one unless [`RpcMessage::batch`]).
    pub items: Vec<RpcItem>,
    /// Whether the body was a batch (a JSON array).
    pub batch: bool,
}

/// What a message's `method` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpcMethod {
    /// A request or notification for this method.
    Named(String),
    /// A `method` that is not a string: no method any table knows.
    NotAString,
    /// No method: an answer to one of the server's requests.
    Answer,
}

/// A `tools/call` request's tool.
#[derive(Debug, Clone)]
pub struct CalledTool {
    /// The name the call gives (`params.name`), when it is a string.
    pub name: Option<String>,
    /// The catalogue's row for that name, when the tool exists.
    pub entry: Option<&'static Entry>,
}

/// One decoded message.
#[derive(Debug, Clone)]
pub struct RpcItem {
    /// The message as sent.
    pub value: Value,
    /// Its method.
    pub method: RpcMethod,
    /// For `tools/call`, the tool it calls.
    pub tool: Option<CalledTool>,
}

impl RpcItem {
    fn new(value: Value) -> Self {
        let method = match value.get("method") {
            Some(Value::String(m)) => RpcMethod::Named(m.clone()),
            Some(_) => RpcMethod::NotAString,
            None => RpcMethod::Answer,
        };
        let tool = (method == RpcMethod::Named("tools/call".into())).then(|| {
            let name = value
                .get("params")
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str);
            CalledTool {
                name: name.map(str::to_owned),
                entry: name.and_then(catalog::lookup),
            }
        });
        RpcItem {
            value,
            method,
            tool,
        }
    }

    /// The method's name, for requests and notifications.
    pub fn method_name(&self) -> Option<&str> {
        match &self.method {
            RpcMethod::Named(m) => Some(m),
            _ => None,
        }
    }

    /// The message's id (requests and answers have one).
    pub fn id(&self) -> Option<&Value> {
        self.value.get("id")
    }

    /// A tool call's `arguments`, as sent.
    pub fn arguments(&self) -> Option<&Value> {
        self.value.get("params")?.get("arguments")
    }
}

impl RpcMessage {
    /// The decoded form of a JSON-RPC body already checked by [`decode`].
    pub fn new(value: Value) -> Self {
        match value {
            Value::Array(items) => RpcMessage {
                items: items.into_iter().map(RpcItem::new).collect(),
                batch: true,
            },
            one => RpcMessage {
                items: vec![RpcItem::new(one)],
                batch: false,
            },
        }
    }

    /// The message, when the body is not a batch.
    pub fn single(&self) -> Option<&RpcItem> {
        match self.items.as_slice() {
            [one] if !self.batch => Some(one),
            _ => None,
        }
    }

    /// The `tools/call` requests in the body.
    pub fn tool_calls(&self) -> impl Iterator<Item = (&RpcItem, &CalledTool)> {
        self.items
            .iter()
            .filter_map(|i| i.tool.as_ref().map(|t| (i, t)))
    }
}

fn rpc_error(status: StatusCode, code: i64, message: String) -> Response {
    let body =
        json!({ "jsonrpc": "2.0", "id": null, "error": { "code": code, "message": message } });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Whether `v` has the shape of one JSON-RPC 2.0 request, notification or response.
fn is_message(v: &Value) -> bool {
    let Some(obj) = v.as_object() else {
        return false;
    };
    obj.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
        && (obj.get("method").is_some_and(Value::is_string)
            || obj.contains_key("result")
            || obj.contains_key("error"))
}

/// Decodes a body as one JSON-RPC message or a non-empty batch of them; otherwise the
/// JSON-RPC error code (-32700 or -32600) and message to answer with.
pub(crate) fn decode(bytes: &[u8]) -> Result<Value, (i64, String)> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        (
            -32700,
            format!("Parse error: the body is not valid JSON ({e})"),
        )
    })?;
    let valid = match &value {
        Value::Array(items) => !items.is_empty() && items.iter().all(is_message),
        other => is_message(other),
    };
    if !valid {
        return Err((
            -32600,
            "Invalid Request: expected a JSON-RPC 2.0 message with \"jsonrpc\": \"2.0\" and a \"method\"".into(),
        ));
    }
    Ok(value)
}

/// The guard: decodes a POST's body into an [`RpcMessage`] in the request's extensions, or
/// answers with the JSON-RPC error.
pub async fn guard(req: Request, next: impl AsyncFnOnce(Request) -> Response) -> Response {
    if req.method() != Method::POST {
        return next(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_MCP_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return rpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                -32600,
                format!("request body is larger than {MAX_MCP_BODY_BYTES} bytes"),
            );
        }
    };
    let value = match decode(&bytes) {
        Ok(v) => v,
        Err((code, message)) => return rpc_error(StatusCode::BAD_REQUEST, code, message),
    };
    parts.extensions.insert(RpcMessage::new(value));
    next(Request::from_parts(parts, Body::from(bytes))).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::catalog::Tool;

    #[test]
    fn a_body_is_decoded_once_into_methods_ids_and_tools() {
        let one = RpcMessage::new(json!({"jsonrpc":"2.0","id":7,"method":"tools/call",
            "params":{"name":"get_logs","arguments":{"session":"a"}}}));
        let item = one.single().expect("one message");
        assert_eq!(item.method_name(), Some("tools/call"));
        assert_eq!(item.id(), Some(&json!(7)));
        assert_eq!(item.arguments(), Some(&json!({"session":"a"})));
        let tool = item.tool.as_ref().expect("a tool call");
        assert_eq!(tool.entry.map(|e| e.tool), Some(Tool::GetLogs));

        let batch = RpcMessage::new(json!([
            {"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope"}},
            {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":3}},
            {"jsonrpc":"2.0","id":3,"method":7,"result":{}},
            {"jsonrpc":"2.0","id":4,"result":{}},
        ]));
        assert!(
            batch.single().is_none(),
            "a batch is never a single message"
        );
        let calls: Vec<_> = batch.tool_calls().map(|(_, t)| t.clone()).collect();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].name.as_deref(), Some("nope"));
        assert!(calls[0].entry.is_none(), "an unknown tool has no row");
        assert!(calls[1].name.is_none(), "a name that is not a string");
        assert_eq!(batch.items[2].method, RpcMethod::NotAString);
        assert_eq!(batch.items[3].method, RpcMethod::Answer);

        let one_in_a_batch = RpcMessage::new(json!([{"jsonrpc":"2.0","method":"ping","id":1}]));
        assert!(one_in_a_batch.single().is_none());
    }
}
