//! The fast lane for plain tool calls: a `tools/call` request on an open MCP session, or a
//! stateless one of the 2026-07-28 revision (no session; its protocol version and client
//! capabilities in `_meta`, its method and tool in the `Mcp-Method`/`Mcp-Name` headers), is
//! answered here, as one `application/json` JSON-RPC response, instead of being handed to
//! rmcp's session task (or a one-shot service of its own) and its machinery.
//!
//! Streamable HTTP lets a server answer a request either way, and clients must accept both.
//! Through rmcp, each call travels through its session's task over channels, is run in a
//! task of its own and comes back as an event stream; for a call that reads a cached screen
//! that machinery is nearly all of the gateway's cost. This layer sits innermost on `/mcp`,
//! behind every check (bearer token, scopes, rate limits, audit, metrics, deadline), and
//! calls the same tool functions rmcp's router calls.
//!
//! rmcp still answers everything else: `initialize`, lists, resources and subscriptions,
//! batches, notifications, `GET` event streams, `DELETE`; a tool call that carries a
//! progress token or any other `_meta` or parameter this lane does not know; `wait_for`
//! (it listens for cancellation); arguments that do not decode (rmcp's error then); a
//! session rmcp does not know (its 404); a request whose `Accept` or
//! `MCP-Protocol-Version` header rmcp would refuse. A stateless call is answered only when
//! every per-request signal agrees exactly (one version header equal to the `_meta` version,
//! client capabilities given, one `Mcp-Method: tools/call`, one `Mcp-Name` equal to the tool,
//! no `Mcp-Param-*` headers, no other `io.modelcontextprotocol/` key); anything else is
//! rmcp's to accept or refuse. And every few minutes one call of each session goes through
//! rmcp anyway, which keeps rmcp from closing a busy session as idle.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::{HeaderMap, Method, StatusCode, header};
use rmcp::model::ProtocolVersion;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::{SessionId, SessionManager};
use serde::Serialize;
use serde_json::Value;

use crate::checks::rpc::{RpcItem, RpcMessage};
use crate::checks::session_caps::SESSION_HEADER;
use crate::mcp::SessionTools;
use crate::mcp::catalog::{Entry, Lane};

const VERSION_HEADER: &str = "mcp-protocol-version";

/// How often a session's calls go through rmcp at least, so that rmcp's idle timer (which
/// only sees rmcp's own traffic) never closes a session that is in use.
const THROUGH_RMCP_EVERY: Duration = Duration::from_secs(5 * 60);

/// Above this many remembered sessions, the ones not seen for an idle period are forgotten.
const PRUNE_ABOVE: usize = 4096;

/// The layer's state: the tools, rmcp's sessions, and when each session last went through
/// rmcp.
#[derive(Debug)]
pub struct DirectCalls {
    tools: SessionTools,
    /// Where the calls this lane answers are counted.
    metrics: Option<Arc<crate::http::metrics::Metrics>>,
    manager: Arc<LocalSessionManager>,
    through_rmcp: Mutex<HashMap<String, Instant>>,
    idle: Duration,
}

impl DirectCalls {
    /// A fast lane running `tools` for the sessions of `manager`, which closes sessions idle
    /// for `idle`, counting its calls in `metrics`.
    pub fn new(
        tools: SessionTools,
        manager: Arc<LocalSessionManager>,
        idle: Duration,
        metrics: Option<Arc<crate::http::metrics::Metrics>>,
    ) -> Self {
        DirectCalls {
            tools,
            metrics,
            manager,
            through_rmcp: Mutex::new(HashMap::new()),
            idle,
        }
    }

    /// Whether `session` may skip rmcp now; if not, records that this call goes through it.
    fn may_skip_rmcp(&self, session: &str) -> bool {
        let now = Instant::now();
        let mut seen = self.through_rmcp.lock().unwrap_or_else(|p| p.into_inner());
        if seen
            .get(session)
            .is_some_and(|t| now.duration_since(*t) < THROUGH_RMCP_EVERY)
        {
            return true;
        }
        if seen.len() >= PRUNE_ABOVE {
            let idle = self.idle;
            seen.retain(|_, t| now.duration_since(*t) < idle);
        }
        seen.insert(session.to_owned(), now);
        false
    }
}

/// A tool call this lane can answer: its id, tool name, arguments and session.
#[derive(Debug)]
struct Call<'a> {
    id: &'a Value,
    tool: &'static Entry,
    arguments: Option<&'a Value>,
    /// The MCP session, or `None` for a stateless call of a revision without sessions.
    session: Option<&'a str>,
}

/// The `_meta` keys of the revisions without sessions (2026-07-28 on).
const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const METHOD_HEADER: &str = "mcp-method";
const NAME_HEADER: &str = "mcp-name";

/// The call in `message` with `headers`, when it is one this lane answers the way rmcp
/// would; `None` sends it to rmcp.
fn eligible<'a>(item: &'a RpcItem, headers: &'a HeaderMap) -> Option<Call<'a>> {
    // An unknown tool is rmcp's to refuse, and so is a tool whose row keeps it from this lane.
    let tool = item.tool.as_ref()?.entry.filter(|e| e.lane == Lane::Fast)?;
    let obj = item.value.as_object()?;
    if obj.get("method")?.as_str()? != "tools/call" {
        return None;
    }
    let id = obj
        .get("id")
        .filter(|id| id.is_string() || id.is_i64() || id.is_u64())?;
    let params = obj.get("params")?.as_object()?;
    // Anything beyond a name and arguments (task augmentation, multi-round-trip state) is
    // rmcp's; so is `_meta` with a progress token or per-request protocol fields.
    if params
        .keys()
        .any(|k| !matches!(k.as_str(), "name" | "arguments" | "_meta"))
    {
        return None;
    }
    let meta = match params.get("_meta") {
        Some(meta) => Some(meta.as_object()?),
        None => None,
    };
    if meta.is_some_and(|m| m.contains_key("progressToken")) || !accepts_json_and_sse(headers) {
        return None;
    }
    let session = match headers.get(SESSION_HEADER) {
        Some(session) => {
            let session = session.to_str().ok()?;
            let per_request =
                meta.is_some_and(|m| m.keys().any(|k| k.starts_with("io.modelcontextprotocol/")));
            if per_request || !version_uses_sessions(headers) {
                return None;
            }
            Some(session)
        }
        None => {
            if !stateless_signals_agree(meta?, headers, tool.name) {
                return None;
            }
            None
        }
    };
    Some(Call {
        id,
        tool,
        arguments: params.get("arguments"),
        session,
    })
}

/// Whether a call without a session carries the per-request signals of a revision without
/// sessions, all present once and all agreeing: the version header equal to the `_meta`
/// version (a known one without `initialize`), client capabilities, `Mcp-Method: tools/call`
/// and `Mcp-Name` equal to the tool. `Mcp-Param-*` headers (checked against the tool's schema
/// by rmcp) and unknown `io.modelcontextprotocol/` keys leave the call to rmcp.
fn stateless_signals_agree(
    meta: &serde_json::Map<String, Value>,
    headers: &HeaderMap,
    tool: &str,
) -> bool {
    let one = |name: &str| {
        let mut values = headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (Some(v), None) => v.to_str().ok(),
            _ => None,
        }
    };
    let Some(version) = one(VERSION_HEADER) else {
        return false;
    };
    let known_without_sessions = ProtocolVersion::KNOWN_VERSIONS
        .iter()
        .any(|known| known.as_str() == version && !known.has_initialize());
    known_without_sessions
        && meta.get(META_VERSION).and_then(Value::as_str) == Some(version)
        && meta.get(META_CAPABILITIES).is_some_and(Value::is_object)
        && meta
            .keys()
            .filter(|k| k.starts_with("io.modelcontextprotocol/"))
            .all(|k| k == META_VERSION || k == META_CAPABILITIES)
        && one(METHOD_HEADER) == Some("tools/call")
        && one(NAME_HEADER) == Some(tool)
        && !headers.keys().any(|k| k.as_str().starts_with("mcp-param-"))
}

/// rmcp requires a POST to accept both JSON and event streams; the lane answers with JSON.
fn accepts_json_and_sse(headers: &HeaderMap) -> bool {
    let mut json = false;
    let mut sse = false;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else {
            return false;
        };
        for entry in value.split(',') {
            let mut parts = entry.split(';');
            let essence = parts.next().unwrap_or("").trim();
            // A weight of zero refuses the type; anything unusual goes to rmcp.
            if parts.any(|p| p.contains('"') || p.trim().starts_with("q=0")) {
                return false;
            }
            json |= essence.eq_ignore_ascii_case("application/json");
            sse |= essence.eq_ignore_ascii_case("text/event-stream");
        }
    }
    json && sse
}

/// No version header (rmcp then assumes the session's), or a known version that still has
/// sessions.
fn version_uses_sessions(headers: &HeaderMap) -> bool {
    let Some(v) = headers.get(VERSION_HEADER) else {
        return true;
    };
    let Ok(v) = v.to_str() else {
        return false;
    };
    ProtocolVersion::KNOWN_VERSIONS
        .iter()
        .any(|known| known.as_str() == v && known.has_initialize())
}

/// A JSON-RPC success response.
#[derive(Serialize)]
struct Reply<'a, R> {
    jsonrpc: &'static str,
    id: &'a Value,
    result: R,
}

/// The middleware, innermost on `/mcp`.
pub async fn answer(
    lane: &DirectCalls,
    req: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    if req.method() != Method::POST {
        return next(req).await;
    }
    let Some(message) = req.extensions().get::<RpcMessage>() else {
        return next(req).await;
    };
    let Some(call) = message.single().and_then(|m| eligible(m, req.headers())) else {
        return next(req).await;
    };
    if let Some(session) = call.session {
        let id: SessionId = session.into();
        if !lane.manager.has_session(&id).await.unwrap_or(false) || !lane.may_skip_rmcp(session) {
            return next(req).await;
        }
    }
    let has_session = call.session.is_some();
    // A kept answer (list, status) is sent as the bytes it was serialized to.
    if let Some(raw) = lane
        .tools
        .kept_answer(call.tool.tool, call.arguments, has_session)
    {
        if let Some(m) = &lane.metrics {
            m.fast_lane_call(!has_session);
        }
        if let Some(response) = json_response(call.id, &*raw, raw.get().len()) {
            return response;
        }
    }
    let Some(result) = call
        .tool
        .tool
        .call_direct(&lane.tools, call.arguments)
        .await
    else {
        return next(req).await;
    };
    if let Some(m) = &lane.metrics {
        m.fast_lane_call(!has_session);
    }
    // Sessions exist only before protocol version 2026-07-28: their results take the shape
    // rmcp gives such peers; stateless calls of the newer revisions keep `resultType`.
    let result = crate::mcp::reply::for_peer(result, has_session);
    // Most replies fit; growing from empty would copy a status reply about seven times.
    match json_response(call.id, result, 1024) {
        Some(response) => response,
        // A result that does not serialize: let rmcp run the call and report it.
        None => next(req).await,
    }
}

/// The JSON-RPC success response with `result`, or `None` if it does not serialize.
fn json_response(id: &Value, result: impl Serialize, capacity: usize) -> Option<Response> {
    let mut body = Vec::with_capacity(capacity + 64);
    serde_json::to_writer(
        &mut body,
        &Reply {
            jsonrpc: "2.0",
            id,
            result,
        },
    )
    .ok()?;
    Some(
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap_or_else(|_| Response::new(Body::empty())),
    )
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use serde_json::json;

    use super::*;

    fn item(v: &Value) -> RpcItem {
        RpcMessage::new(v.clone()).items.remove(0)
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn plain() -> HeaderMap {
        headers(&[
            ("accept", "application/json, text/event-stream"),
            ("mcp-session-id", "abc"),
            ("mcp-protocol-version", "2025-06-18"),
        ])
    }

    fn call(params: Value) -> Value {
        json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params })
    }

    #[test]
    fn a_plain_tool_call_is_eligible() {
        let m = call(json!({ "name": "get_logs", "arguments": { "session": "a" } }));
        let h = plain();
        let it = item(&m);
        let c = eligible(&it, &h).expect("eligible");
        assert_eq!(c.tool.name, "get_logs");
        assert_eq!(c.session, Some("abc"));
        assert_eq!(c.id, &json!(3));
        let m = call(json!({ "name": "list_sessions", "_meta": { "openai/userAgent": "x" } }));
        assert!(eligible(&item(&m), &h).is_some());
    }

    #[test]
    fn what_rmcp_must_answer_is_not() {
        let h = plain();
        for m in [
            call(json!({ "name": "get_logs", "_meta": { "progressToken": 1 } })),
            call(json!({ "name": "get_logs", "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28" } })),
            call(json!({ "name": "get_logs", "task": {} })),
            call(json!({ "name": 5 })),
            call(json!([])),
            json!({ "jsonrpc": "2.0", "method": "tools/call", "params": { "name": "x" } }),
            json!({ "jsonrpc": "2.0", "id": null, "method": "tools/call", "params": { "name": "x" } }),
            json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }),
            call(json!({ "name": "wait_for", "arguments": { "session": "a" } })),
            call(json!({ "name": "no_such_tool" })),
        ] {
            assert!(eligible(&item(&m), &h).is_none(), "{m}");
        }
        // A batch is rmcp's: the lane only looks at a single message.
        let batch = RpcMessage::new(json!([call(json!({ "name": "get_logs" }))]));
        assert!(batch.single().is_none());
    }

    fn stateless() -> HeaderMap {
        headers(&[
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "get_logs"),
        ])
    }

    fn stateless_call(extra_meta: Value) -> Value {
        let mut meta = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}
        });
        if let (Some(m), Some(extra)) = (meta.as_object_mut(), extra_meta.as_object()) {
            m.extend(extra.clone());
        }
        call(json!({ "name": "get_logs", "arguments": { "session": "a" }, "_meta": meta }))
    }

    #[test]
    fn a_stateless_call_whose_signals_agree_is_eligible() {
        let h = stateless();
        let m = stateless_call(json!({}));
        let it = item(&m);
        let c = eligible(&it, &h).expect("eligible");
        assert_eq!(c.session, None);
        assert_eq!(c.tool.name, "get_logs");
        let m = stateless_call(json!({ "openai/userAgent": "x" }));
        assert!(eligible(&item(&m), &h).is_some());
    }

    #[test]
    fn stateless_calls_with_any_disagreement_go_to_rmcp() {
        let m = stateless_call(json!({}));
        let without = |name: &str| {
            let mut h = stateless();
            h.remove(name);
            h
        };
        let with = |name: &'static str, value: &'static str| {
            let mut h = stateless();
            h.append(name, HeaderValue::from_static(value));
            h
        };
        let replaced = |name: &'static str, value: &'static str| {
            let mut h = stateless();
            h.insert(name, HeaderValue::from_static(value));
            h
        };
        for h in [
            without("mcp-protocol-version"),
            without("mcp-method"),
            without("mcp-name"),
            with("mcp-method", "tools/call"),
            with("mcp-name", "get_logs"),
            with("mcp-protocol-version", "2026-07-28"),
            replaced("mcp-name", "list_sessions"),
            replaced("mcp-method", "tools/list"),
            replaced("mcp-protocol-version", "2025-06-18"),
            replaced("mcp-protocol-version", "2099-01-01"),
            with("mcp-param-session", "a"),
            replaced("accept", "application/json"),
        ] {
            assert!(eligible(&item(&m), &h).is_none(), "{h:?}");
        }
        let h = stateless();
        for m in [
            call(json!({ "name": "get_logs", "arguments": { "session": "a" } })),
            call(json!({ "name": "get_logs", "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28" } })),
            call(json!({ "name": "get_logs", "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2025-11-25",
                "io.modelcontextprotocol/clientCapabilities": {} } })),
            call(json!({ "name": "get_logs", "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": 5 } })),
            stateless_call(json!({ "progressToken": 1 })),
            stateless_call(json!({ "io.modelcontextprotocol/somethingNew": {} })),
        ] {
            assert!(eligible(&item(&m), &h).is_none(), "{m}");
        }
        // Per-request fields on a session's call are rmcp's.
        let mut h = stateless();
        h.insert("mcp-session-id", HeaderValue::from_static("abc"));
        assert!(eligible(&item(&m), &h).is_none());
    }

    #[test]
    fn headers_rmcp_would_refuse_are_not() {
        let m = call(json!({ "name": "get_logs" }));
        for h in [
            headers(&[("accept", "application/json, text/event-stream")]),
            headers(&[("accept", "application/json"), ("mcp-session-id", "abc")]),
            headers(&[
                ("accept", "application/json, text/event-stream;q=0"),
                ("mcp-session-id", "abc"),
            ]),
            headers(&[
                ("accept", "application/json, text/event-stream"),
                ("mcp-session-id", "abc"),
                ("mcp-protocol-version", "2026-07-28"),
            ]),
            headers(&[
                ("accept", "application/json, text/event-stream"),
                ("mcp-session-id", "abc"),
                ("mcp-protocol-version", "1999-01-01"),
            ]),
        ] {
            assert!(eligible(&item(&m), &h).is_none(), "{h:?}");
        }
        let two = headers(&[
            ("accept", "application/json"),
            ("accept", "text/event-stream"),
            ("mcp-session-id", "abc"),
        ]);
        assert!(eligible(&item(&m), &two).is_some());
    }

    #[test]
    fn a_session_goes_through_rmcp_first_and_then_every_few_minutes() {
        let manager = Arc::new(LocalSessionManager::default());
        let root = tempfile::tempdir().expect("tempdir");
        let backend = sessiongate_backend_pty::PtyBackend::new(Default::default());
        let policy =
            sessiongate_backend::SessionPolicy::new(&[root.path().to_owned()], Default::default())
                .expect("policy");
        let tools = SessionTools::new(crate::state::AppState::new(
            Arc::new(backend),
            Arc::new(policy),
        ));
        let lane = DirectCalls::new(tools, manager, Duration::from_secs(3600), None);
        assert!(
            !lane.may_skip_rmcp("s1"),
            "the first call goes through rmcp"
        );
        assert!(lane.may_skip_rmcp("s1"));
        assert!(!lane.may_skip_rmcp("s2"));
        let Some(long_ago) = Instant::now().checked_sub(THROUGH_RMCP_EVERY) else {
            return; // the machine has been up for less than that
        };
        lane.through_rmcp
            .lock()
            .expect("lock")
            .insert("s1".into(), long_ago);
        assert!(
            !lane.may_skip_rmcp("s1"),
            "after a while, once more through rmcp"
        );
        assert!(lane.may_skip_rmcp("s1"));
    }
}
