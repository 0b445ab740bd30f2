//! The checks every `/mcp` request passes, in order, as one chain ([`crate::http::chain`]):
//! per-address rate limit → bearer token → body size and time caps → JSON-RPC guard →
//! MCP-session caps → scope check → per-client tool-call rate limit → audit log → tool
//! metrics → deadline → the fast lane for plain tool calls ([`crate::checks::fast_lane`]) → rmcp.
//!
//! Each method runs one check and names the step after it. The checks themselves live in
//! their own modules; this file only fixes their order.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use tokio_util::sync::CancellationToken;

use sessiongate_auth::AuthServer;

use crate::audit::AuditLog;
use crate::checks::auth::BearerState;
use crate::checks::fast_lane::DirectCalls;
use crate::checks::session_caps::SessionCaps;
use crate::http::chain::Serve;
use crate::http::metrics::Metrics;
use crate::http::ratelimit::Limiters;
use crate::http::{limits, metrics, ratelimit};
use crate::mcp::SessionTools;

pub mod audit;
pub mod auth;
pub mod deadline;
pub mod fast_lane;
pub mod rpc;
pub mod session_caps;

/// rmcp's Streamable HTTP service for our tools.
pub type RmcpService = StreamableHttpService<SessionTools, LocalSessionManager>;

/// What the `/mcp` checks need.
pub struct McpStack {
    /// Rate limits per address and per client.
    pub limiters: Arc<Limiters>,
    /// The bearer check; `None` with `--auth none`.
    pub bearer: Option<BearerState>,
    /// The scope check's authorization server; `None` with `--auth none`.
    pub auth: Option<Arc<AuthServer>>,
    /// Caps on MCP sessions.
    pub caps: Arc<SessionCaps>,
    /// The audit log, when kept.
    pub audit: Option<Arc<AuditLog>>,
    /// Tool-call metrics.
    pub metrics: Arc<Metrics>,
    /// Cancelled when the gateway stops accepting: ends event streams.
    pub shutdown: CancellationToken,
    /// The fast lane.
    pub direct: Arc<DirectCalls>,
    /// rmcp, for everything the fast lane does not answer.
    pub rmcp: RmcpService,
}

impl std::fmt::Debug for McpStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // rmcp's service has no Debug.
        f.debug_struct("McpStack")
            .field("auth", &self.auth.is_some())
            .field("audit", &self.audit.is_some())
            .finish_non_exhaustive()
    }
}

impl Serve for McpStack {
    fn serve(&self, req: Request) -> impl Future<Output = Response> + Send {
        ratelimit::limit_mcp_address(&self.limiters, req, |r| self.authenticated(r))
    }
}

impl McpStack {
    async fn authenticated(&self, req: Request) -> Response {
        match &self.bearer {
            Some(bearer) => auth::require_bearer(bearer, req, |r| self.read(r)).await,
            None => self.read(req).await,
        }
    }

    async fn read(&self, req: Request) -> Response {
        // The body is read only after the token was checked: an unauthenticated client gets
        // its 401 at once and never makes the gateway buffer anything.
        limits::read_body(req, |r| self.decoded(r)).await
    }

    async fn decoded(&self, req: Request) -> Response {
        rpc::guard(req, |r| self.capped(r)).await
    }

    async fn capped(&self, req: Request) -> Response {
        session_caps::cap_sessions(&self.caps, req, |r| self.scoped(r)).await
    }

    async fn scoped(&self, req: Request) -> Response {
        match &self.auth {
            Some(auth) => auth::require_scope(auth, req, |r| self.limited(r)).await,
            None => self.limited(req).await,
        }
    }

    async fn limited(&self, req: Request) -> Response {
        ratelimit::limit_tool_calls(&self.limiters, req, |r| self.audited(r)).await
    }

    async fn audited(&self, req: Request) -> Response {
        match &self.audit {
            Some(log) => audit::record(log, req, |r| self.counted(r)).await,
            None => self.counted(req).await,
        }
    }

    async fn counted(&self, req: Request) -> Response {
        metrics::record_tool_calls(&self.metrics, req, |r| self.timed(r)).await
    }

    async fn timed(&self, req: Request) -> Response {
        deadline::mcp_deadline(&self.shutdown, req, |r| self.answered(r)).await
    }

    async fn answered(&self, req: Request) -> Response {
        fast_lane::answer(&self.direct, req, |r| self.rmcp(r)).await
    }

    async fn rmcp(&self, req: Request) -> Response {
        // rmcp's service is always ready and clones itself per call anyway.
        let mut rmcp = self.rmcp.clone();
        let delete = req.method() == http::Method::DELETE;
        let resp = match tower::Service::call(&mut rmcp, req).await {
            Ok(resp) => resp.map(Body::new),
            Err(never) => match never {},
        };
        // rmcp ends a session with 202 Accepted; the Python SDK takes only 200 or 204 as
        // success and warns on every close otherwise. The session is ended at this point,
        // so 204 says what happened.
        if delete && resp.status() == http::StatusCode::ACCEPTED {
            let (mut parts, _) = resp.into_parts();
            parts.status = http::StatusCode::NO_CONTENT;
            parts.headers.remove(http::header::CONTENT_LENGTH);
            parts.headers.remove(http::header::CONTENT_TYPE);
            return Response::from_parts(parts, Body::empty());
        }
        resp
    }
}
