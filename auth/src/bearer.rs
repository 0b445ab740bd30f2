//! The resource server's side: who a bearer token speaks for ([`Principal`]), and the
//! refusals ([`BearerError`]) with the `WWW-Authenticate` challenges that let MCP clients
//! discover the authorization server (RFC 9728) and step up their scopes.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::scope::Scope;

/// The largest Authorization header accepted; anything longer is not one of our tokens.
pub(crate) const MAX_TOKEN_LEN: usize = 4096;

/// Who a valid access token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user (`owner`, or an upstream identity).
    pub sub: String,
    /// The OAuth client the token was issued to.
    pub client_id: String,
    /// The scopes granted.
    pub scopes: Vec<Scope>,
    /// The token's id.
    pub jti: String,
}

impl Principal {
    /// Whether the token carries `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// Why a request to the protected resource is refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BearerError {
    /// No token was sent.
    #[error("an access token is required")]
    Missing {
        /// The protected-resource metadata URL for the challenge.
        resource_metadata: String,
    },
    /// A token was sent and is not acceptable.
    #[error("invalid token: {reason}")]
    Invalid {
        /// Why.
        reason: String,
        /// The protected-resource metadata URL for the challenge.
        resource_metadata: String,
    },
    /// The token is valid but lacks a scope.
    #[error("this call needs the {needed} scope")]
    InsufficientScope {
        /// The scope the call needs.
        needed: Scope,
        /// The protected-resource metadata URL for the challenge.
        resource_metadata: String,
    },
}

fn quote(s: &str) -> String {
    s.replace(['"', '\\', '\r', '\n'], " ")
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let all = Scope::join(&Scope::ALL);
        let (status, challenge, body) = match &self {
            BearerError::Missing { resource_metadata } => (
                StatusCode::UNAUTHORIZED,
                format!("Bearer resource_metadata=\"{resource_metadata}\", scope=\"{all}\""),
                json!({ "error": "invalid_request", "error_description": self.to_string() }),
            ),
            BearerError::Invalid {
                reason,
                resource_metadata,
            } => (
                StatusCode::UNAUTHORIZED,
                format!(
                    "Bearer resource_metadata=\"{resource_metadata}\", scope=\"{all}\", error=\"invalid_token\", error_description=\"{}\"",
                    quote(reason)
                ),
                json!({ "error": "invalid_token", "error_description": reason }),
            ),
            BearerError::InsufficientScope {
                needed,
                resource_metadata,
            } => (
                StatusCode::FORBIDDEN,
                format!(
                    "Bearer resource_metadata=\"{resource_metadata}\", error=\"insufficient_scope\", scope=\"{needed}\", error_description=\"this call needs the {needed} scope\""
                ),
                json!({ "error": "insufficient_scope", "error_description": self.to_string(), "scope": needed.as_str() }),
            ),
        };
        let mut resp = (status, Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}
