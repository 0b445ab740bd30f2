//! Request-level limits: how large a body may be on each route, how long a client may take to
//! send it (a slow body is cut off with 408), and how long an ordinary request may run before
//! the gateway gives up on it (a tool call's deadline is [`crate::checks::deadline`]'s).
//!
//! Bodies are read here once, in full, under both caps; the handlers behind get them from
//! memory. Header sizes and the time to send headers are limited per connection (see
//! [`crate::http::listen`]).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::json;

use crate::http::routes::Route;

/// The largest JSON-RPC request body accepted on `/mcp`. A message is capped well below this
/// by the session policy; JSON escaping can double its size.
pub const MAX_MCP_BODY_BYTES: usize = 2 * 1024 * 1024;
/// The largest body on the authorization server's routes (forms, registrations).
pub const MAX_AUTH_BODY_BYTES: usize = 16 * 1024;
/// How long an oversized body is read and dropped before the refusal is sent.
pub const LINGER: Duration = Duration::from_secs(2);
/// How long a client may take to send a whole request body.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(20);
/// How long an ordinary request may run.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a tool call may run; `wait_for` gets its own timeout plus this margin.
pub const TOOL_CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Reads the request body under the route's size cap and [`BODY_READ_TIMEOUT`].
pub async fn read_body(req: Request, next: impl AsyncFnOnce(Request) -> Response) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next(req).await;
    }
    // Every route is tagged where it is mounted; an untagged one gets the smallest cap.
    let route = req.extensions().get::<Route>().copied();
    let cap = route.map_or(MAX_AUTH_BODY_BYTES, Route::body_cap);
    let json_rpc = route.is_some_and(Route::speaks_json_rpc);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        linger(req.into_body(), 2 * cap).await;
        return too_large(json_rpc, cap);
    }
    let (parts, body) = req.into_parts();
    let limited = http_body_util::Limited::new(body, cap);
    let bytes: Bytes = match tokio::time::timeout(BODY_READ_TIMEOUT, limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(err)) => {
            if err.is::<http_body_util::LengthLimitError>() {
                return too_large(json_rpc, cap);
            }
            return plain(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            );
        }
        Err(_) => {
            // The route's name, not its path: an answer link's path is a secret.
            let route = route.map_or("other", Route::label);
            tracing::info!(route, "request body too slow; cut off");
            let mut resp = plain(
                StatusCode::REQUEST_TIMEOUT,
                "the request body was not sent in time",
            );
            resp.headers_mut()
                .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
            return resp;
        }
    };
    next(Request::from_parts(parts, Body::from(bytes))).await
}

/// Reads and drops what the client is still sending, up to `max` bytes or [`LINGER`], so that
/// it is not writing into a closed connection when the refusal comes (it would see a broken
/// pipe instead of the answer). Nothing is kept.
async fn linger(body: Body, max: usize) {
    let mut body = body;
    let mut seen = 0usize;
    let drain = async {
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > max {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

fn too_large(json_rpc: bool, cap: usize) -> Response {
    if json_rpc {
        let body = json!({"jsonrpc":"2.0","id":null,"error":{"code":-32600,
            "message":format!("request body is larger than {cap} bytes")}});
        (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response()
    } else {
        plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the request body is larger than {cap} bytes"),
        )
    }
}

fn plain(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{msg}\n"),
    )
        .into_response()
}

/// Gives ordinary requests [`REQUEST_TIMEOUT`] to produce their response.
pub async fn request_timeout(req: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => plain(StatusCode::SERVICE_UNAVAILABLE, "the request timed out"),
    }
}
