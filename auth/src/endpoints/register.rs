//! `POST /register`: dynamic client registration (RFC 7591).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::error::AuthError;
use crate::redirect::check_registrable;
use crate::server::{AuthServer, db};
use crate::store::Client;
use crate::util::{display_name, now, random_token, sha256_b64};

/// The largest registration document accepted.
const MAX_BODY: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
struct Request {
    redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    response_types: Option<Vec<String>>,
    #[serde(default)]
    scope: Option<String>,
}

fn invalid(code: &'static str, d: impl Into<String>) -> AuthError {
    AuthError::bad(code, d)
}

/// Handles a registration.
pub(crate) async fn register(
    State(s): State<Arc<AuthServer>>,
    body: Bytes,
) -> Result<Response, AuthError> {
    if body.len() > MAX_BODY {
        return Err(invalid(
            "invalid_client_metadata",
            "the registration document is too large",
        ));
    }
    let req: Request = serde_json::from_slice(&body).map_err(|e| {
        invalid(
            "invalid_client_metadata",
            format!("not a JSON client metadata document: {e}"),
        )
    })?;
    let uris = req.redirect_uris.unwrap_or_default();
    if uris.is_empty() || uris.len() > 10 {
        return Err(invalid(
            "invalid_redirect_uri",
            "redirect_uris must list 1 to 10 URIs",
        ));
    }
    for u in &uris {
        check_registrable(u, &s.cfg.extra_redirect_patterns)
            .map_err(|e| invalid("invalid_redirect_uri", e))?;
    }
    let method = req
        .token_endpoint_auth_method
        .unwrap_or_else(|| "client_secret_basic".into());
    if !["none", "client_secret_basic", "client_secret_post"].contains(&method.as_str()) {
        return Err(invalid(
            "invalid_client_metadata",
            "token_endpoint_auth_method must be none, client_secret_basic or client_secret_post",
        ));
    }
    let grants = req
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".into()]);
    if grants.is_empty()
        || !grants
            .iter()
            .all(|g| g == "authorization_code" || g == "refresh_token")
    {
        return Err(invalid(
            "invalid_client_metadata",
            "grant_types may only hold authorization_code and refresh_token",
        ));
    }
    let responses = req.response_types.unwrap_or_else(|| vec!["code".into()]);
    if responses.iter().any(|r| r != "code") {
        return Err(invalid(
            "invalid_client_metadata",
            "response_types may only hold code",
        ));
    }
    if let Some(scope) = &req.scope {
        crate::scope::Scope::parse_list(scope)
            .map_err(|e| invalid("invalid_client_metadata", e))?;
    }
    let name = display_name(req.client_name.as_deref().unwrap_or(""));
    let client_id = random_token(16);
    let secret = (method != "none").then(|| random_token(32));
    let client = Client {
        client_id: client_id.clone(),
        secret_hash: secret.as_deref().map(|s| sha256_b64(s.as_bytes())),
        name: name.clone(),
        redirect_uris: uris.clone(),
        auth_method: method.clone(),
    };
    db(&s, move |store| store.insert_client(&client)).await?;
    tracing::info!(%client_id, client_name = %name, "registered a client");
    let mut body = json!({
        "client_id": client_id,
        "client_id_issued_at": now(),
        "client_name": name,
        "redirect_uris": uris,
        "grant_types": grants,
        "response_types": responses,
        "token_endpoint_auth_method": method,
    });
    if let Some(secret) = secret {
        body["client_secret"] = json!(secret);
        body["client_secret_expires_at"] = json!(0);
    }
    Ok((
        StatusCode::CREATED,
        [(http::header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response())
}
