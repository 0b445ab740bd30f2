//! `POST /revoke` (RFC 7009): revokes a refresh token (and its whole grant) or an access
//! token. Unknown tokens get 200 too, as the RFC asks.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::parse_form;
use super::token::authenticate_client;
use crate::error::AuthError;
use crate::server::{AuthServer, db};
use crate::util::sha256_b64;

/// Handles `POST /revoke`.
pub(crate) async fn revoke(
    State(s): State<Arc<AuthServer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AuthError> {
    let form = parse_form(&body)?;
    let client = authenticate_client(&s, &headers, &form).await?;
    let token = form
        .get("token")
        .ok_or_else(|| AuthError::bad("invalid_request", "token is missing"))?
        .clone();
    // A refresh token?
    let hash = sha256_b64(token.as_bytes());
    if let Some((_, family)) = db(&s, move |store| store.refresh(&hash)).await?
        && family.client_id == client.client_id
    {
        s.revoke_family(&family.family_id)?;
        return Ok(StatusCode::OK.into_response());
    }
    // An access token of ours, issued to this client?
    let claims =
        s.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .verify(&token, s.issuer(), &s.resource());
    if let Ok(c) = claims
        && c.client_id == client.client_id
    {
        let (jti, exp) = (c.jti.clone(), c.exp);
        db(&s, move |store| store.revoke_jti(&jti, exp)).await?;
        s.revoked_jtis
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(c.jti);
        if let Some(fid) = c.fid {
            s.revoke_family(&fid)?;
        }
    }
    Ok(StatusCode::OK.into_response())
}
