//! Sign-in through an upstream provider: `POST /authorize/upstream` (the login page's
//! provider buttons) sends the browser to the provider; `GET /login/callback/{name}` takes it
//! back, and on success signs the browser in and shows the consent page's address.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::authorize::pending_form;
use super::authorize::sign_in;
use super::cookie;
use crate::pages;
use crate::server::AuthServer;
use crate::upstream::UpstreamError;
use crate::util::random_token;

/// The cookie that binds an upstream sign-in to the browser that started it.
fn browser_cookie_name(s: &AuthServer) -> &'static str {
    if s.cfg.secure_cookies {
        "__Host-sessiongate_upstream"
    } else {
        "sessiongate_upstream"
    }
}

fn callback_url(s: &AuthServer, name: &str) -> String {
    format!("{}/login/callback/{name}", s.issuer())
}

fn error_page(e: &UpstreamError) -> Response {
    match e {
        UpstreamError::NotAllowed { .. } => pages::refused(&e.to_string()),
        _ => pages::error(e.status(), &e.to_string()),
    }
}

/// `POST /authorize/upstream`: `req`, `csrf` and `provider` from the login page.
pub(crate) async fn begin(
    State(s): State<Arc<AuthServer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, id, p) = match pending_form(&s, &headers, &body) {
        Ok(checked) => checked,
        Err(page) => return *page,
    };
    let name = form.get("provider").cloned().unwrap_or_default();
    // Reuse the browser's binding cookie, so that sign-ins in two tabs both work.
    let browser = cookie(&headers, browser_cookie_name(&s))
        .filter(|c| c.len() == 43)
        .map(str::to_owned)
        .unwrap_or_else(|| random_token(32));
    match s
        .upstream
        .begin(&name, &id, &browser, &callback_url(&s, &name))
        .await
    {
        Ok(url) => {
            tracing::info!(provider = %name, client_id = %p.client_id, "sending the browser to an identity provider");
            let secure = if s.cfg.secure_cookies { "; Secure" } else { "" };
            let set_cookie = format!(
                "{}={browser}; Path=/; HttpOnly; SameSite=Lax; Max-Age=600{secure}",
                browser_cookie_name(&s)
            );
            let mut resp = Redirect::to(&url).into_response();
            if let Ok(v) = HeaderValue::from_str(&set_cookie) {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            resp
        }
        Err(e) => {
            tracing::warn!(provider = %name, error = %e, "could not start an upstream sign-in");
            error_page(&e)
        }
    }
}

/// `GET /login/callback/{name}`: the provider's answer.
pub(crate) async fn callback(
    State(s): State<Arc<AuthServer>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let attempt = match s.upstream.take_attempt(
        &name,
        q.get("state").map(String::as_str),
        cookie(&headers, browser_cookie_name(&s)),
    ) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(provider = %name, error = %e, "refused an upstream callback");
            return error_page(&e);
        }
    };
    // The attempt was begun by the browser that opened this request (its form was checked
    // then), and the login goes to that browser.
    let Some(pending) = s.pending(&attempt.req) else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "this sign-in request has expired; start again from your app",
        );
    };
    match s
        .upstream
        .finish(&attempt, &q, &callback_url(&s, &name))
        .await
    {
        Ok((who, rule)) => {
            tracing::info!(provider = %name, subject = %who.subject, upstream_id = %who.id, %rule, "signed in through an identity provider");
            sign_in(&s, &who.subject, &attempt.req, &pending.browser)
        }
        Err(e) => {
            tracing::warn!(provider = %name, error = %e, "upstream sign-in failed");
            error_page(&e)
        }
    }
}
