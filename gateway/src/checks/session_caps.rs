//! Caps on MCP sessions (the `Mcp-Session-Id` conversations of Streamable HTTP): how many one
//! OAuth client (or, without authentication, one address) may hold at once, and how many
//! the gateway holds overall. Each session costs a task and buffers, so a client that opens
//! sessions in a loop must be stopped before memory is.
//!
//! An `initialize` request (a POST without `Mcp-Session-Id`) beyond a cap is refused with a
//! JSON-RPC error: 429 for the client's own cap, 503 for the overall one. Sessions are
//! forgotten when the client deletes them or when rmcp has dropped them (idle too long).
//!
//! A client of the 2026-07-28 revision opens no session, but its `subscriptions/listen`
//! stream is what a session's event stream was: an open reply and watcher tasks. Each open
//! listen stream holds a slot under the same caps until its reply is dropped (the client
//! cancelled it or went away), so that a client cannot open them without bound either.
//!
//! Each session also belongs to who opened it (the OAuth client and the signed-in user, or
//! without authentication the address): a request that names another owner's session is
//! answered 404, as if the session did not exist, so that a leaked or guessed session id is
//! of no use to anyone else.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::{SessionId, SessionManager};
use serde_json::json;
use std::sync::Mutex;

use sessiongate_auth::{ClientIp, Principal};

use crate::checks::rpc::RpcMessage;

/// The header that names an MCP session.
pub(crate) const SESSION_HEADER: &str = "mcp-session-id";

/// The caps and the sessions each client holds.
#[derive(Debug)]
pub struct SessionCaps {
    per_client: usize,
    overall: usize,
    manager: Arc<LocalSessionManager>,
    held: Mutex<Held>,
}

/// The open sessions, and `initialize` requests under way (a slot is reserved before the
/// request runs, so that concurrent requests cannot all pass the check).
#[derive(Debug, Default)]
struct Held {
    /// Who holds each session, by session id.
    sessions: HashMap<String, Holder>,
    /// Reserved slots by cap key.
    pending: HashMap<String, usize>,
}

/// Who holds a session: the key its cap is counted under, and its owner (who alone may use
/// it).
#[derive(Debug)]
struct Holder {
    key: String,
    owner: String,
}

impl Held {
    fn mine(&self, key: &str) -> usize {
        self.sessions.values().filter(|h| h.key == key).count()
            + self.pending.get(key).copied().unwrap_or(0)
    }

    fn total(&self) -> usize {
        self.sessions.len() + self.pending.values().sum::<usize>()
    }
}

/// A reserved slot; released when dropped (the request finished, failed or was abandoned;
/// for a listen stream, when its reply is dropped).
struct Reservation(Arc<SessionCaps>, String);

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut held = self.0.lock();
        if let Some(n) = held.pending.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                held.pending.remove(&self.1);
            }
        }
    }
}

impl SessionCaps {
    /// Caps over rmcp's session manager.
    pub fn new(per_client: usize, overall: usize, manager: Arc<LocalSessionManager>) -> Self {
        SessionCaps {
            per_client,
            overall,
            manager,
            held: Mutex::new(Held::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets the sessions rmcp no longer has (ended, or idle too long).
    async fn prune(&self) {
        let known: Vec<String> = self.lock().sessions.keys().cloned().collect();
        let mut gone = Vec::new();
        for id in known {
            let sid: SessionId = id.as_str().into();
            if !self.manager.has_session(&sid).await.unwrap_or(false) {
                gone.push(id);
            }
        }
        let mut held = self.lock();
        for id in &gone {
            held.sessions.remove(id);
        }
    }

    /// Reserves a slot for `key`, or says which cap stops it.
    fn reserve(self: &Arc<Self>, key: &str) -> Result<Reservation, Box<Response>> {
        let mut held = self.lock();
        let mine = held.mine(key);
        if mine >= self.per_client {
            tracing::info!(who = %key, mine, "refused a new MCP session: per-client cap");
            return Err(Box::new(refuse(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "this client already holds {mine} MCP sessions and listen streams (the cap \
                     is {}); end one (DELETE /mcp, or cancel a subscriptions/listen) or reuse it",
                    self.per_client
                ),
            )));
        }
        let total = held.total();
        if total >= self.overall {
            tracing::warn!(total, "refused a new MCP session: overall cap");
            return Err(Box::new(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the gateway holds its maximum of {} MCP sessions; try again later",
                    self.overall
                ),
            )));
        }
        *held.pending.entry(key.to_owned()).or_default() += 1;
        Ok(Reservation(self.clone(), key.to_owned()))
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

/// Who owns a session opened by `req`: the OAuth client and the user it acts for, or the
/// address without authentication.
fn owner(req: &Request) -> String {
    match req.extensions().get::<Principal>() {
        Some(p) => format!("client:{} user:{}", p.client_id, p.sub),
        None => who(req),
    }
}

fn refuse(status: StatusCode, message: String) -> Response {
    let body = json!({"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":message}});
    (status, axum::Json(body)).into_response()
}

/// The middleware on `/mcp`, behind the bearer check and the JSON-RPC guard.
pub async fn cap_sessions(
    caps: &Arc<SessionCaps>,
    req: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    let key = who(&req);
    let owner = owner(&req);
    let id = req
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(id) = &id
        && caps
            .lock()
            .sessions
            .get(id)
            .is_some_and(|h| h.owner != owner)
    {
        tracing::warn!(who = %owner, "refused a request on another client's MCP session");
        return refuse(
            StatusCode::NOT_FOUND,
            "Session not found: start a new one with initialize".into(),
        );
    }
    if req.method() == Method::DELETE {
        let resp = next(req).await;
        // Forgotten only once rmcp has really ended it.
        if let Some(id) = id
            && resp.status().is_success()
        {
            caps.lock().sessions.remove(&id);
        }
        return resp;
    }
    let opens = if req.method() == Method::POST && !req.headers().contains_key(SESSION_HEADER) {
        req.extensions()
            .get::<RpcMessage>()
            .and_then(RpcMessage::single)
            .and_then(|m| m.method_name())
    } else {
        None
    };
    let is_listen = opens == Some("subscriptions/listen");
    if opens != Some("initialize") && !is_listen {
        return next(req).await;
    }
    let reservation = match caps.reserve(&key) {
        Ok(r) => r,
        Err(_) => {
            // At a cap: perhaps some sessions have ended since; look again.
            caps.prune().await;
            match caps.reserve(&key) {
                Ok(r) => r,
                Err(refusal) => return *refusal,
            }
        }
    };
    let resp = next(req).await;
    if is_listen {
        // The slot is held for as long as the stream's reply is open.
        let (parts, body) = resp.into_parts();
        let body = body.map_frame(move |frame| {
            let _held = &reservation;
            frame
        });
        return Response::from_parts(parts, Body::new(body));
    }
    if let Some(id) = resp
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        caps.lock()
            .sessions
            .insert(id.to_owned(), Holder { key, owner });
    }
    drop(reservation);
    resp
}
