//! Discovery: protected-resource metadata (RFC 9728), authorization-server metadata (RFC
//! 8414, also served as OpenID configuration) and the JWKS.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::scope::Scope;
use crate::server::AuthServer;

fn scopes() -> Vec<&'static str> {
    Scope::ALL.iter().map(|s| s.as_str()).collect()
}

/// `GET /.well-known/oauth-protected-resource[/mcp]`.
pub(crate) async fn protected_resource(State(s): State<Arc<AuthServer>>) -> Json<Value> {
    Json(json!({
        "resource": s.resource(),
        "authorization_servers": [s.issuer()],
        "scopes_supported": scopes(),
        "bearer_methods_supported": ["header"],
        "resource_name": "sessiongate",
    }))
}

/// `GET /.well-known/oauth-authorization-server` and `/.well-known/openid-configuration`.
pub(crate) async fn authorization_server(State(s): State<Arc<AuthServer>>) -> Json<Value> {
    let i = s.issuer();
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "registration_endpoint": format!("{i}/register"),
        "revocation_endpoint": format!("{i}/revoke"),
        "jwks_uri": format!("{i}/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "scopes_supported": scopes(),
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
    }))
}

/// `GET /jwks.json`.
pub(crate) async fn jwks(State(s): State<Arc<AuthServer>>) -> impl IntoResponse {
    let set = s
        .keys
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .jwks()
        .clone();
    Json(set)
}
