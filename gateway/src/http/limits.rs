//! Request-level limits: how large a body may be on each route, how long a client may take to
//! send it (a slow body is cut off with 408), and how long a request may run before the
//! gateway gives up on it (the long `wait_for` gets its own, longer cap; the server-to-client
//! event stream of `/mcp` has none).
//!
//! Bodies are read here once, in full, under both caps; the handlers behind get them from
//! memory. Header sizes and the time to send headers are limited per connection (see
//! [`crate::http::listen`]).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::json;

use crate::checks::rpc::RpcMessage;

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

/// The body cap for a path.
pub fn body_cap(path: &str) -> usize {
    if path.trim_end_matches('/').ends_with("/mcp") {
        MAX_MCP_BODY_BYTES
    } else {
        MAX_AUTH_BODY_BYTES
    }
}

/// Reads the request body under the route's size cap and [`BODY_READ_TIMEOUT`].
pub async fn read_body(req: Request, next: impl AsyncFnOnce(Request) -> Response) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next(req).await;
    }
    let cap = body_cap(req.uri().path());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        let path = req.uri().path().to_owned();
        linger(req.into_body(), 2 * cap).await;
        return too_large(&path, cap);
    }
    let (parts, body) = req.into_parts();
    let limited = http_body_util::Limited::new(body, cap);
    let bytes: Bytes = match tokio::time::timeout(BODY_READ_TIMEOUT, limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(err)) => {
            if err.is::<http_body_util::LengthLimitError>() {
                return too_large(parts.uri.path(), cap);
            }
            return plain(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            );
        }
        Err(_) => {
            tracing::info!(path = %parts.uri.path(), "request body too slow; cut off");
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

fn too_large(path: &str, cap: usize) -> Response {
    if path.trim_end_matches('/').ends_with("/mcp") {
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

/// On `/mcp`, behind the JSON-RPC guard: a POST gets [`TOOL_CALL_TIMEOUT`] (or a `wait_for`
/// call's own timeout plus that margin) to finish its whole streamed reply. The GET event
/// stream has no deadline but ends when the gateway shuts down (`shutdown`), so that a
/// listening client does not hold up the shutdown.
pub async fn mcp_deadline(
    shutdown: &tokio_util::sync::CancellationToken,
    req: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    if req.method() == Method::GET {
        let resp = next(req).await;
        let (parts, body) = resp.into_parts();
        return Response::from_parts(
            parts,
            Body::new(Deadline {
                inner: body,
                ends: Ends::Shutdown(shutdown.clone()),
                sleep: None,
                what: "the gateway is shutting down",
            }),
        );
    }
    if req.method() != Method::POST {
        return next(req).await;
    }
    let deadline = req
        .extensions()
        .get::<RpcMessage>()
        .map(|m| deadline_for(&m.0))
        .unwrap_or(TOOL_CALL_TIMEOUT);
    // One deadline for the call and its whole reply.
    let until = tokio::time::Instant::now() + deadline;
    let resp = match tokio::time::timeout_at(until, next(req)).await {
        Ok(resp) => resp,
        Err(_) => return plain(StatusCode::SERVICE_UNAVAILABLE, "the request timed out"),
    };
    let (parts, body) = resp.into_parts();
    Response::from_parts(
        parts,
        Body::new(Deadline {
            inner: body,
            ends: Ends::At(until),
            sleep: None,
            what: "the tool call timed out",
        }),
    )
}

/// The deadline of a message: `wait_for` calls get their timeout plus the margin.
fn deadline_for(msg: &serde_json::Value) -> Duration {
    let wait = |m: &serde_json::Value| -> Option<u64> {
        let params = m.get("params")?;
        (params.get("name")?.as_str()? == "wait_for").then(|| {
            params
                .get("arguments")
                .and_then(|a| a.get("timeout_s"))
                .and_then(|t| t.as_u64())
                .unwrap_or(crate::mcp::MAX_WAIT_S)
                .min(crate::mcp::MAX_WAIT_S)
        })
    };
    let longest = match msg {
        serde_json::Value::Array(items) => items.iter().filter_map(wait).max(),
        m => wait(m),
    };
    TOOL_CALL_TIMEOUT + Duration::from_secs(longest.unwrap_or(0))
}

/// When a [`Deadline`] body is cut off.
enum Ends {
    /// At this instant.
    At(tokio::time::Instant),
    /// When the gateway shuts down.
    Shutdown(tokio_util::sync::CancellationToken),
}

/// A response body that is cut off once its end ([`Ends`]) comes: with an error at a
/// deadline, cleanly at shutdown. The timer is set only when the body first has to wait: a
/// reply already in memory never starts one.
struct Deadline {
    inner: Body,
    ends: Ends,
    sleep: Option<Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
    what: &'static str,
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        let this = &mut *self;
        let ends = &this.ends;
        let sleep = this.sleep.get_or_insert_with(|| match ends {
            Ends::At(until) => Box::pin(tokio::time::sleep_until(*until)),
            Ends::Shutdown(shutdown) => Box::pin(shutdown.clone().cancelled_owned()),
        });
        if sleep.as_mut().poll(cx).is_ready() {
            tracing::info!(reason = self.what, "a reply stream was closed");
            // A stream ended by the shutdown ends cleanly (HTTP/1.1: the last chunk; HTTP/2:
            // END_STREAM), so that the client sees a finished stream, not a broken one. A
            // reply past its deadline is cut off as broken: it is incomplete.
            return match self.ends {
                Ends::Shutdown(_) => Poll::Ready(None),
                Ends::At(_) => Poll::Ready(Some(Err(axum::Error::new(self.what)))),
            };
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_for_gets_its_own_deadline_and_it_is_capped() {
        let call = |name: &str, t: Option<u64>| {
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
                   "params":{"name":name,"arguments":{"timeout_s":t}}})
        };
        assert_eq!(
            deadline_for(&call("get_logs", Some(999))),
            TOOL_CALL_TIMEOUT
        );
        assert_eq!(
            deadline_for(&call("wait_for", Some(30))),
            TOOL_CALL_TIMEOUT + Duration::from_secs(30)
        );
        assert_eq!(
            deadline_for(&call("wait_for", Some(99_999))),
            TOOL_CALL_TIMEOUT + Duration::from_secs(crate::mcp::MAX_WAIT_S)
        );
    }

    #[test]
    fn caps_by_route() {
        assert_eq!(body_cap("/mcp"), MAX_MCP_BODY_BYTES);
        assert_eq!(body_cap("/gw/mcp"), MAX_MCP_BODY_BYTES);
        assert_eq!(body_cap("/token"), MAX_AUTH_BODY_BYTES);
        assert_eq!(body_cap("/register"), MAX_AUTH_BODY_BYTES);
    }
}
