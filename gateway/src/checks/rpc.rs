//! A guard in front of `/mcp` that reads the body of a POST once, refuses what is not a
//! JSON-RPC message with a proper JSON-RPC error (parse error -32700, invalid request -32600,
//! 413 for a body over the limit), and passes the rest on unchanged.
//!
//! rmcp would refuse such bodies too, but with a plain-text message; a client deserves an
//! answer in the protocol it speaks. Having the decoded message here also lets later layers
//! see which method and tool a request is for.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::http::limits::MAX_MCP_BODY_BYTES;

/// The parsed JSON-RPC message of a request, put into the request's extensions for the
/// layers behind this guard.
#[derive(Debug, Clone)]
pub struct RpcMessage(pub Value);

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

/// The middleware.
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
    parts.extensions.insert(RpcMessage(value));
    next(Request::from_parts(parts, Body::from(bytes))).await
}
