//! The deadline of a `/mcp` request: a POST gets [`TOOL_CALL_TIMEOUT`] (a tool whose
//! catalogue row says [`Deadline::OwnTimeout`], `wait_for`, its own timeout plus that margin)
//! to finish its whole streamed reply; the GET event stream and a `subscriptions/listen` POST
//! (the 2026-07-28 revision's event stream) have none but end when the gateway shuts down.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};

use crate::checks::rpc::RpcMessage;
use crate::http::limits::TOOL_CALL_TIMEOUT;
use crate::mcp::catalog::Deadline;

fn plain(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{msg}\n"),
    )
        .into_response()
}

/// On `/mcp`, behind the JSON-RPC guard: a POST gets [`TOOL_CALL_TIMEOUT`] (or a `wait_for`
/// call's own timeout plus that margin) to finish its whole streamed reply. The GET event
/// stream and a `subscriptions/listen` POST have no deadline but end when the gateway shuts
/// down (`shutdown`), so that a listening client does not hold up the shutdown.
pub async fn mcp_deadline(
    shutdown: &tokio_util::sync::CancellationToken,
    req: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    if req.method() == Method::GET || is_listen(&req) {
        let resp = next(req).await;
        let (parts, body) = resp.into_parts();
        return Response::from_parts(
            parts,
            Body::new(CutOff {
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
        .map(deadline_for)
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
        Body::new(CutOff {
            inner: body,
            ends: Ends::At(until),
            sleep: None,
            what: "the tool call timed out",
        }),
    )
}

/// Whether `req` is one `subscriptions/listen` request, whose reply is an event stream that
/// lasts as long as the client listens.
fn is_listen(req: &Request) -> bool {
    req.method() == Method::POST
        && req
            .extensions()
            .get::<RpcMessage>()
            .and_then(RpcMessage::single)
            .and_then(|m| m.method_name())
            == Some("subscriptions/listen")
}

/// The deadline of a message: `wait_for` calls get their timeout plus the margin.
fn deadline_for(msg: &RpcMessage) -> Duration {
    let longest = msg
        .tool_calls()
        .filter(|(_, t)| t.entry.is_some_and(|e| e.deadline == Deadline::OwnTimeout))
        .map(|(call, _)| {
            call.arguments()
                .and_then(|a| a.get("timeout_s"))
                .and_then(|t| t.as_u64())
                .unwrap_or(crate::mcp::MAX_WAIT_S)
                .min(crate::mcp::MAX_WAIT_S)
        })
        .max();
    TOOL_CALL_TIMEOUT + Duration::from_secs(longest.unwrap_or(0))
}

/// When a [`CutOff`] body is cut off.
enum Ends {
    /// At this instant.
    At(tokio::time::Instant),
    /// When the gateway shuts down.
    Shutdown(tokio_util::sync::CancellationToken),
}

/// A response body that is cut off once its end ([`Ends`]) comes: with an error at a
/// deadline, cleanly at shutdown. The timer is set only when the body first has to wait: a
/// reply already in memory never starts one.
struct CutOff {
    inner: Body,
    ends: Ends,
    sleep: Option<Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
    what: &'static str,
}

impl HttpBody for CutOff {
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
    use serde_json::json;

    use super::*;

    fn deadline_for(v: &serde_json::Value) -> Duration {
        super::deadline_for(&RpcMessage::new(v.clone()))
    }

    #[test]
    fn only_a_single_listen_post_is_an_open_ended_stream() {
        let req = |method: Method, body: serde_json::Value| {
            let mut r = Request::builder()
                .method(method)
                .uri("/mcp")
                .body(Body::empty())
                .unwrap();
            r.extensions_mut().insert(RpcMessage::new(body));
            r
        };
        let listen = json!({"jsonrpc":"2.0","id":1,"method":"subscriptions/listen",
                            "params":{"notifications":{}}});
        assert!(is_listen(&req(Method::POST, listen.clone())));
        assert!(!is_listen(&req(Method::GET, listen.clone())));
        assert!(!is_listen(&req(Method::POST, json!([listen]))));
        assert!(!is_listen(&req(
            Method::POST,
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"wait_for"}})
        )));
    }

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
}
