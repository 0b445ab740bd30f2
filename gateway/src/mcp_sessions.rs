//! Caps on MCP sessions (the `Mcp-Session-Id` conversations of Streamable HTTP): how many one
//! OAuth client (or, without authentication, one address) may hold at once, and how many
//! the gateway holds overall. Each session costs a task and buffers, so a client that opens
//! sessions in a loop must be stopped before memory is.
//!
//! An `initialize` request (a POST without `Mcp-Session-Id`) beyond a cap is refused with a
//! JSON-RPC error: 429 for the client's own cap, 503 for the overall one. Sessions are
//! forgotten when the client deletes them or when rmcp has dropped them (idle too long).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use serde_json::json;
use tokio::sync::Mutex;

use sessiongate_auth::{ClientIp, Principal};

use crate::jsonrpc_guard::RpcMessage;

const SESSION_HEADER: &str = "mcp-session-id";

/// The caps and the sessions each client holds.
#[derive(Debug)]
pub struct SessionCaps {
    per_client: usize,
    overall: usize,
    manager: Arc<LocalSessionManager>,
    held: Mutex<HashMap<String, Vec<String>>>,
}

impl SessionCaps {
    /// Caps over rmcp's session manager.
    pub fn new(per_client: usize, overall: usize, manager: Arc<LocalSessionManager>) -> Self {
        SessionCaps {
            per_client,
            overall,
            manager,
            held: Mutex::new(HashMap::new()),
        }
    }

    /// Drops the sessions rmcp no longer has; returns the number held overall.
    async fn prune(&self, held: &mut HashMap<String, Vec<String>>) -> usize {
        let mut total = 0;
        for ids in held.values_mut() {
            let mut alive = Vec::with_capacity(ids.len());
            for id in ids.drain(..) {
                let sid: rmcp::transport::streamable_http_server::session::SessionId =
                    id.as_str().into();
                if self.manager.has_session(&sid).await.unwrap_or(false) {
                    alive.push(id);
                }
            }
            *ids = alive;
            total += ids.len();
        }
        held.retain(|_, ids| !ids.is_empty());
        total
    }
}

fn who(req: &Request) -> String {
    if let Some(p) = req.extensions().get::<Principal>() {
        return format!("client:{}", p.client_id);
    }
    req.extensions()
        .get::<ClientIp>()
        .map(|c| format!("addr:{}", c.0))
        .unwrap_or_else(|| "addr:?".into())
}

fn refuse(status: StatusCode, message: String) -> Response {
    let body = json!({"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":message}});
    (status, axum::Json(body)).into_response()
}

/// The middleware on `/mcp`, behind the bearer check and the JSON-RPC guard.
pub async fn cap_sessions(
    State(caps): State<Arc<SessionCaps>>,
    req: Request,
    next: Next,
) -> Response {
    let key = who(&req);
    if req.method() == Method::DELETE {
        if let Some(id) = req
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
        {
            let mut held = caps.held.lock().await;
            if let Some(ids) = held.get_mut(&key) {
                ids.retain(|i| i != id);
            }
        }
        return next.run(req).await;
    }
    let is_initialize = req.method() == Method::POST
        && !req.headers().contains_key(SESSION_HEADER)
        && req
            .extensions()
            .get::<RpcMessage>()
            .and_then(|m| m.0.get("method"))
            .and_then(|m| m.as_str())
            == Some("initialize");
    if !is_initialize {
        return next.run(req).await;
    }
    {
        let mut held = caps.held.lock().await;
        let mine = held.get(&key).map_or(0, Vec::len);
        let total: usize = held.values().map(Vec::len).sum();
        if mine >= caps.per_client || total >= caps.overall {
            let total = caps.prune(&mut held).await;
            let mine = held.get(&key).map_or(0, Vec::len);
            if mine >= caps.per_client {
                tracing::info!(who = %key, mine, "refused a new MCP session: per-client cap");
                return refuse(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "this client already holds {mine} MCP sessions (the cap is {}); end one \
                         with DELETE /mcp or reuse it",
                        caps.per_client
                    ),
                );
            }
            if total >= caps.overall {
                tracing::warn!(total, "refused a new MCP session: overall cap");
                return refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "the gateway holds its maximum of {} MCP sessions; try again later",
                        caps.overall
                    ),
                );
            }
        }
    }
    let resp = next.run(req).await;
    if let Some(id) = resp
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        caps.held
            .lock()
            .await
            .entry(key)
            .or_default()
            .push(id.to_owned());
    }
    resp
}
