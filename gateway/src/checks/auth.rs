//! The resource-server side of `/mcp`: every request needs a valid bearer token from our own
//! authorization server, and every JSON-RPC method the scope `mcp/scopes.rs` gives it (a tool
//! call its tool's).
//!
//! The bearer check runs first (so a request without a token gets 401 with the discovery
//! challenge whatever its body); the scope check runs after the JSON-RPC guard has decoded the
//! body, and answers a call above the token's scopes with 403 `insufficient_scope` naming the
//! scope, so that clients can step up.

use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};

use sessiongate_auth::{AuthServer, BearerError, Principal, Scope};

use crate::checks::rpc::{RpcMessage, RpcMethod};
use crate::mcp::scopes::scope_for_method;

/// What the bearer check needs: the authorization server, and the metrics that count its
/// refusals.
#[derive(Debug, Clone)]
pub struct BearerState {
    /// Verifies the tokens.
    pub auth: Arc<AuthServer>,
    /// Counts refusals, when given.
    pub metrics: Option<Arc<crate::http::metrics::Metrics>>,
}

/// Checks the bearer token and records the [`Principal`] in the request's extensions.
pub async fn require_bearer(
    s: &BearerState,
    mut req: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    match s.auth.verify_bearer(req.headers(), req.uri()) {
        Ok(principal) => {
            req.extensions_mut().insert(principal);
            next(req).await
        }
        Err(e) => {
            tracing::debug!(error = %e, "refused a request to /mcp");
            if let Some(m) = &s.metrics {
                m.auth_failure(match e {
                    BearerError::Missing { .. } => "missing",
                    BearerError::InsufficientScope { .. } => "insufficient_scope",
                    _ => "invalid",
                });
            }
            e.into_response()
        }
    }
}

/// The scopes a message needs: each request and notification in it needs its method's scope
/// (a tool call its tool's), from [`crate::mcp::scopes`] and the tool catalogue. Answers to
/// the server's own requests need none.
pub(crate) fn needed_scopes(msg: &RpcMessage) -> Vec<Scope> {
    msg.items
        .iter()
        .filter_map(|m| match &m.method {
            RpcMethod::Named(method) => {
                scope_for_method(method, m.tool.as_ref().and_then(|t| t.entry))
            }
            // A "method" that is not a string is no method the table knows.
            RpcMethod::NotAString => Some(Scope::SessionsManage),
            RpcMethod::Answer => None,
        })
        .collect()
}

/// Refuses requests above the token's scopes (every method, not only tool calls). Runs after
/// the JSON-RPC guard.
pub async fn require_scope(
    auth: &AuthServer,
    req: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    let (Some(principal), Some(msg)) = (
        req.extensions().get::<Principal>(),
        req.extensions().get::<RpcMessage>(),
    ) else {
        return next(req).await;
    };
    if let Some(missing) = needed_scopes(msg).into_iter().find(|s| !principal.has(*s)) {
        tracing::info!(client_id = %principal.client_id, needed = %missing, "request above the token's scopes");
        return auth.insufficient_scope(missing).into_response();
    }
    next(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn needed_scopes(v: &Value) -> Vec<Scope> {
        super::needed_scopes(&RpcMessage::new(v.clone()))
    }

    #[test]
    fn every_method_needs_its_scope_and_tool_calls_their_tools() {
        let call = |name: &str| json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":name}});
        assert_eq!(needed_scopes(&call("get_logs")), vec![Scope::SessionsRead]);
        assert_eq!(
            needed_scopes(&call("create_session")),
            vec![Scope::SessionsManage]
        );
        assert_eq!(
            needed_scopes(&call("nonsense")),
            vec![Scope::SessionsManage]
        );
        let req = |method: &str| json!({"jsonrpc":"2.0","id":1,"method":method,"params":{"uri":"sessions://x"}});
        assert!(needed_scopes(&req("tools/list")).is_empty());
        assert!(needed_scopes(&req("initialize")).is_empty());
        assert_eq!(
            needed_scopes(&req("resources/read")),
            vec![Scope::SessionsRead]
        );
        assert_eq!(
            needed_scopes(&req("resources/subscribe")),
            vec![Scope::SessionsRead]
        );
        assert_eq!(
            needed_scopes(&req("no/such/method")),
            vec![Scope::SessionsManage]
        );
        assert_eq!(
            needed_scopes(&json!({"jsonrpc":"2.0","id":1,"method":7,"result":{}})),
            vec![Scope::SessionsManage]
        );
        // The client's answers to the server's requests need nothing.
        assert!(needed_scopes(&json!({"jsonrpc":"2.0","id":1,"result":{}})).is_empty());
        assert_eq!(
            needed_scopes(&json!([req("ping"), req("resources/list")])),
            vec![Scope::SessionsRead]
        );
        let batch = json!([call("send_message"), call("list_sessions")]);
        assert_eq!(
            needed_scopes(&batch),
            vec![Scope::SessionsWrite, Scope::SessionsRead]
        );
    }
}
