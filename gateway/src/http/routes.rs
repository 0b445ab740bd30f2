//! Every route the gateway serves, as a [`Route`] that carries its class: its metrics label,
//! its body cap and its rate-limit class. Each route is tagged where it is mounted
//! ([`tag`]), so the checks read the class from the request instead of matching paths, a new
//! route cannot be forgotten (an untagged request gets the smallest body cap and counts as
//! `other`), and under a path prefix the routes keep their names.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::Method;

use sessiongate_auth::Endpoint;

use crate::http::limits::{MAX_AUTH_BODY_BYTES, MAX_MCP_BODY_BYTES};

/// A route of the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `/mcp`: the MCP endpoint.
    Mcp,
    /// `/healthz`.
    Healthz,
    /// `/metrics`.
    Metrics,
    /// A route of the authorization server.
    Auth(Endpoint),
    /// `/answer/{token}`: a notification's answer page (its own per-address limit).
    Answer,
}

/// Which per-address bucket a request to the authorization server draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLimit {
    /// Client registrations.
    Register,
    /// The login and consent pages and their posts.
    Authorize,
    /// Token and revocation requests.
    Token,
}

impl Route {
    /// The route's name in metrics.
    pub fn label(self) -> &'static str {
        match self {
            Route::Mcp => "/mcp",
            Route::Healthz => "/healthz",
            Route::Metrics => "/metrics",
            Route::Answer => "/answer",
            Route::Auth(e) => e.label(),
        }
    }

    /// The largest request body the route accepts.
    pub fn body_cap(self) -> usize {
        match self {
            Route::Mcp => MAX_MCP_BODY_BYTES,
            _ => MAX_AUTH_BODY_BYTES,
        }
    }

    /// Whether a refusal of the body is a JSON-RPC error (on `/mcp`) rather than plain text.
    pub fn speaks_json_rpc(self) -> bool {
        self == Route::Mcp
    }

    /// The per-address rate limit a request with `method` to this route draws from, if any
    /// (`/mcp` has its own, in its checks).
    pub fn auth_limit(self, method: &Method) -> Option<AuthLimit> {
        let post = method == Method::POST;
        match self {
            Route::Auth(Endpoint::Register) if post => Some(AuthLimit::Register),
            Route::Auth(
                Endpoint::Authorize | Endpoint::Login | Endpoint::Consent | Endpoint::UpstreamStart,
            ) => Some(AuthLimit::Authorize),
            Route::Auth(Endpoint::Token | Endpoint::Revoke) if post => Some(AuthLimit::Token),
            _ => None,
        }
    }
}

/// The layer every route is mounted with: puts the [`Route`] into the request's extensions for
/// the checks behind, and into the response's for the HTTP metrics around the router.
pub async fn tag(State(route): State<Route>, mut req: Request, next: Next) -> Response {
    req.extensions_mut().insert(route);
    let mut resp = next.run(req).await;
    resp.extensions_mut().insert(route);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_has_its_class() {
        assert_eq!(Route::Mcp.body_cap(), MAX_MCP_BODY_BYTES);
        assert_eq!(Route::Auth(Endpoint::Token).body_cap(), MAX_AUTH_BODY_BYTES);
        assert_eq!(
            Route::Auth(Endpoint::Token).auth_limit(&Method::POST),
            Some(AuthLimit::Token)
        );
        assert_eq!(
            Route::Auth(Endpoint::Register).auth_limit(&Method::GET),
            None
        );
        assert_eq!(
            Route::Auth(Endpoint::Consent).auth_limit(&Method::GET),
            Some(AuthLimit::Authorize)
        );
        assert_eq!(Route::Auth(Endpoint::Jwks).auth_limit(&Method::GET), None);
        assert_eq!(
            Route::Auth(Endpoint::ResourceMetadata).label(),
            "/.well-known/oauth-protected-resource"
        );
    }
}
