//! `POST /token`: the authorization-code grant (PKCE S256, single-use codes; a reused code
//! revokes what it issued) and the refresh-token grant (rotation; a reused refresh token
//! revokes its whole family).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;

use super::parse_form;
use crate::error::AuthError;
use crate::pkce;
use crate::redirect::matches;
use crate::scope::Scope;
use crate::server::{AuthServer, db};
use crate::store::{Client, Family};
use crate::util::{ct_eq, now, random_token, sha256_b64};

/// Authenticates the client of a token or revocation request: HTTP Basic, a secret in the
/// body, or (public clients) the `client_id` alone.
pub(crate) async fn authenticate_client(
    s: &Arc<AuthServer>,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Client, AuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let dec = |x: &str| {
                form_urlencoded::parse(format!("x={x}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((dec(id)?, dec(secret)?))
        });
    let (client_id, secret) = match (&basic, form.get("client_id")) {
        (Some((id, secret)), body_id) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(AuthError::invalid_client(
                    "client_id differs between the header and the body",
                ));
            }
            (id.clone(), Some(secret.clone()))
        }
        (None, Some(id)) => (id.clone(), form.get("client_secret").cloned()),
        (None, None) => return Err(AuthError::invalid_client("the request names no client")),
    };
    if client_id.len() > 200 {
        return Err(AuthError::invalid_client("unknown client; register again"));
    }
    let id = client_id.clone();
    let client = if client_id.starts_with("https://")
        || (s.cfg.allow_private_cimd_hosts && client_id.starts_with("http://"))
    {
        crate::cimd::fetch_client(s, &client_id)
            .await
            .map_err(AuthError::invalid_client)?
    } else {
        db(s, move |store| store.client(&id))
            .await?
            .ok_or_else(|| AuthError::invalid_client("unknown client; register again"))?
    };
    match (&client.secret_hash, secret) {
        (Some(expected), Some(given)) if ct_eq(&sha256_b64(given.as_bytes()), expected) => {
            Ok(client)
        }
        (Some(_), _) => Err(AuthError::invalid_client(
            "the client secret is missing or wrong",
        )),
        (None, _) => Ok(client),
    }
}

fn token_response(access: String, ttl: u64, refresh: &str, scope: &str) -> Response {
    let mut resp = Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl,
        "refresh_token": refresh,
        "scope": scope,
    }))
    .into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// Handles `POST /token`.
pub(crate) async fn token(
    State(s): State<Arc<AuthServer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AuthError> {
    if body.len() > 32 * 1024 {
        return Err(AuthError::bad(
            "invalid_request",
            "the request is too large",
        ));
    }
    let form = parse_form(&body)?;
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let client = authenticate_client(&s, &headers, &form).await?;
            code_grant(&s, &client, &form).await
        }
        Some("refresh_token") => {
            let client = authenticate_client(&s, &headers, &form).await?;
            refresh_grant(&s, &client, &form).await
        }
        Some(other) => Err(AuthError::bad(
            "unsupported_grant_type",
            format!(
                "grant_type {:?} is not supported",
                other.chars().take(40).collect::<String>()
            ),
        )),
        None => Err(AuthError::bad("invalid_request", "grant_type is missing")),
    }
}

async fn code_grant(
    s: &Arc<AuthServer>,
    client: &Client,
    form: &HashMap<String, String>,
) -> Result<Response, AuthError> {
    let grant = |d: &str| AuthError::bad("invalid_grant", d.to_owned());
    let code = form
        .get("code")
        .ok_or_else(|| AuthError::bad("invalid_request", "code is missing"))?;
    let hash = sha256_b64(code.as_bytes());
    let h = hash.clone();
    let stored = db(s, move |store| store.code(&h))
        .await?
        .ok_or_else(|| grant("the authorization code is unknown"))?;
    if stored.used_at.is_some() {
        // A replayed code: whoever holds it may be an attacker, so everything it issued goes.
        if let Some(fid) = &stored.family_id {
            s.revoke_family(fid)?;
            tracing::warn!(client_id = %stored.client_id, "authorization code reused; its grant was revoked");
        }
        return Err(grant("the authorization code was already used"));
    }
    if stored.expires_at < now() {
        return Err(grant("the authorization code has expired"));
    }
    if stored.client_id != client.client_id {
        return Err(grant("the authorization code was issued to another client"));
    }
    match form.get("redirect_uri") {
        Some(r) if matches(&stored.redirect_uri, r) => {}
        Some(_) => {
            return Err(grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        None => return Err(AuthError::bad("invalid_request", "redirect_uri is missing")),
    }
    let Some(verifier) = form.get("code_verifier") else {
        return Err(AuthError::bad(
            "invalid_request",
            "code_verifier is missing (PKCE is required)",
        ));
    };
    if !pkce::verify(verifier, &stored.challenge) {
        return Err(grant("code_verifier does not match the code_challenge"));
    }
    if let Some(r) = form.get("resource")
        && *r != stored.resource
    {
        return Err(AuthError::bad(
            "invalid_target",
            "resource differs from the authorization request",
        ));
    }
    let scopes = Scope::parse_list(&stored.scope).map_err(|e| grant(&e))?;
    let family = Family {
        family_id: random_token(16),
        client_id: client.client_id.clone(),
        sub: stored.sub.clone(),
        scope: stored.scope.clone(),
        resource: stored.resource.clone(),
        revoked_at: None,
    };
    let refresh = random_token(32);
    let refresh_hash = sha256_b64(refresh.as_bytes());
    let refresh_exp = now() + s.cfg.refresh_token_ttl.as_secs() as i64;
    let f = family.clone();
    let redeemed = db(s, move |store| {
        store.redeem_code(&hash, &f, &refresh_hash, refresh_exp)
    })
    .await?;
    if !redeemed {
        return Err(grant("the authorization code was already used"));
    }
    let ttl = s.cfg.access_token_ttl;
    let access = s.issue_access_token(
        &family.sub,
        &client.client_id,
        &scopes,
        &family.resource,
        Some(&family.family_id),
        ttl,
    )?;
    tracing::info!(client_id = %client.client_id, "issued tokens for an authorization code");
    Ok(token_response(
        access,
        ttl.as_secs(),
        &refresh,
        &stored.scope,
    ))
}

async fn refresh_grant(
    s: &Arc<AuthServer>,
    client: &Client,
    form: &HashMap<String, String>,
) -> Result<Response, AuthError> {
    let grant = |d: &str| AuthError::bad("invalid_grant", d.to_owned());
    let token = form
        .get("refresh_token")
        .ok_or_else(|| AuthError::bad("invalid_request", "refresh_token is missing"))?;
    let old_hash = sha256_b64(token.as_bytes());
    let h = old_hash.clone();
    let (refresh, family) = db(s, move |store| store.refresh(&h))
        .await?
        .ok_or_else(|| grant("the refresh token is unknown"))?;
    if family.client_id != client.client_id {
        return Err(grant("the refresh token was issued to another client"));
    }
    if family.revoked_at.is_some() {
        return Err(grant("the grant was revoked; sign in again"));
    }
    if refresh.used_at.is_some() {
        // Reuse of a rotated token: one of its holders is not the client. Revoke the family.
        s.revoke_family(&family.family_id)?;
        tracing::warn!(client_id = %client.client_id, "refresh token reused; its grant was revoked");
        return Err(grant(
            "the refresh token was already used; the grant is revoked, sign in again",
        ));
    }
    if refresh.expires_at < now() {
        return Err(grant("the refresh token has expired; sign in again"));
    }
    let granted = Scope::parse_list(&family.scope).map_err(|e| grant(&e))?;
    let scopes = match form.get("scope") {
        None => granted.clone(),
        Some(asked) => {
            let asked = Scope::parse_list(asked).map_err(|e| AuthError::bad("invalid_scope", e))?;
            if asked.iter().any(|a| !granted.contains(a)) {
                return Err(AuthError::bad(
                    "invalid_scope",
                    "a refresh cannot add scopes the owner did not grant",
                ));
            }
            if asked.is_empty() {
                granted.clone()
            } else {
                asked
            }
        }
    };
    if let Some(r) = form.get("resource")
        && *r != family.resource
    {
        return Err(AuthError::bad(
            "invalid_target",
            "resource differs from the grant",
        ));
    }
    let new = random_token(32);
    let new_hash = sha256_b64(new.as_bytes());
    let exp = now() + s.cfg.refresh_token_ttl.as_secs() as i64;
    let fid = family.family_id.clone();
    let rotated = db(s, move |store| {
        store.rotate_refresh(&old_hash, &new_hash, &fid, exp)
    })
    .await?;
    if !rotated {
        s.revoke_family(&family.family_id)?;
        return Err(grant(
            "the refresh token was already used; the grant is revoked, sign in again",
        ));
    }
    let ttl = s.cfg.access_token_ttl;
    let access = s.issue_access_token(
        &family.sub,
        &client.client_id,
        &scopes,
        &family.resource,
        Some(&family.family_id),
        ttl,
    )?;
    Ok(token_response(
        access,
        ttl.as_secs(),
        &new,
        &Scope::join(&scopes),
    ))
}
