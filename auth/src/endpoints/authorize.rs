//! The authorization endpoint and its pages: `GET /authorize` checks the request, binds it to
//! the browser (`browser`) and shows the login or consent page; `POST /authorize/login` checks
//! the owner's password; `GET|POST /authorize/consent` asks for and records the owner's
//! decision, then redirects back to the client with a code (or `access_denied`), its `state`
//! and our `iss`. Every form and the consent page answer only the browser that opened the
//! request, and the consent only a login made in that browser.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use url::Url;

use super::{browser, client_addr, cookie, parse_form};
use crate::login_cookie;
use crate::pages;
use crate::password::Busy;
use crate::pkce::valid_challenge;
use crate::redirect::{is_loopback, matches, uri_chars_ok};
use crate::scope::Scope;
use crate::server::{AuthServer, CODE_TTL_SECS, LOGIN_TTL, Login, OWNER_SUB, Pending, db};
use crate::store::{Client, Code};
use crate::util::{ct_eq, display_name, now, random_token, sha256_b64};

/// Sends the browser back to the client with OAuth parameters.
fn back_to_client(
    redirect_uri: &str,
    state: Option<&str>,
    issuer: &str,
    params: &[(&str, &str)],
) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return pages::error(StatusCode::BAD_REQUEST, "the redirect URI is not a URL");
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        if let Some(st) = state {
            q.append_pair("state", st);
        }
        q.append_pair("iss", issuer);
    }
    Redirect::to(url.as_str()).into_response()
}

/// Finds a client by id: registered, or (for an https URL) its metadata document.
async fn find_client(s: &Arc<AuthServer>, client_id: &str) -> Result<Option<Client>, String> {
    if client_id.starts_with("https://")
        || (s.cfg.allow_private_cimd_hosts && client_id.starts_with("http://"))
    {
        return crate::cimd::fetch_client(s, client_id).await.map(Some);
    }
    if client_id.len() > 200 {
        return Ok(None);
    }
    let id = client_id.to_owned();
    db(s, move |store| store.client(&id))
        .await
        .map_err(|e| e.to_string())
}

/// `GET /authorize`.
pub(crate) async fn start(
    State(s): State<Arc<AuthServer>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    // Until the client and its redirect URI are known to be good, errors are pages: never
    // redirect anywhere on the strength of an unchecked request.
    let Some(client_id) = get("client_id") else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "the request names no client (client_id is missing)",
        );
    };
    let client = match find_client(&s, client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return pages::error(
                StatusCode::BAD_REQUEST,
                "this app is not registered with sessiongate (unknown client_id); reconnect it so that it registers again",
            );
        }
        Err(e) => {
            return pages::error(
                StatusCode::BAD_REQUEST,
                &format!("the app's client metadata could not be used: {e}"),
            );
        }
    };
    let redirect_uri = match get("redirect_uri") {
        Some(r) => match client.redirect_uris.iter().any(|reg| matches(reg, r)) {
            true => r.to_owned(),
            false => {
                return pages::error(
                    StatusCode::BAD_REQUEST,
                    "the redirect URI does not match any URI this app registered",
                );
            }
        },
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return pages::error(StatusCode::BAD_REQUEST, "redirect_uri is missing"),
    };
    // A URI registered before registration refused control characters is not used either.
    if !uri_chars_ok(&redirect_uri) {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "the app registered a redirect URI with characters a URI cannot hold; reconnect it so that it registers again",
        );
    }
    let state = get("state").map(str::to_owned);
    // RFC 6749 Appendix A.5: state is printable ASCII. Anything else is not sent back.
    if state
        .as_deref()
        .is_some_and(|st| !st.bytes().all(|b| (0x20..=0x7e).contains(&b)))
    {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "state may only hold printable ASCII characters",
        );
    }
    let issuer = s.issuer().to_owned();
    let fail = |code: &str, desc: &str| {
        back_to_client(
            &redirect_uri,
            state.as_deref(),
            &issuer,
            &[("error", code), ("error_description", desc)],
        )
    };
    if get("response_type") != Some("code") {
        return fail("unsupported_response_type", "response_type must be code");
    }
    let Some(challenge) = get("code_challenge") else {
        return fail(
            "invalid_request",
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        );
    };
    if get("code_challenge_method") != Some("S256") {
        return fail("invalid_request", "code_challenge_method must be S256");
    }
    if !valid_challenge(challenge) {
        return fail(
            "invalid_request",
            "code_challenge must be the base64url SHA-256 of the verifier",
        );
    }
    let resource = match get("resource") {
        None => s.resource(),
        Some(r) if r == s.resource() => r.to_owned(),
        Some(_) => {
            return fail(
                "invalid_target",
                "resource must be this server's MCP endpoint",
            );
        }
    };
    let scopes = match get("scope").map(Scope::parse_list) {
        None => Scope::ALL.to_vec(),
        Some(Ok(list)) if list.is_empty() => Scope::ALL.to_vec(),
        Some(Ok(list)) => list,
        Some(Err(e)) => return fail("invalid_scope", &e),
    };
    let (browser_cookie, set_cookie) = browser::identify(&s, &headers);
    let pending = Pending {
        client_id: client.client_id.clone(),
        client_name: display_name(&client.name),
        redirect_uri,
        state,
        challenge: challenge.to_owned(),
        scopes,
        resource,
        csrf: random_token(24),
        browser: browser::hash(&browser_cookie),
        created: Instant::now(),
    };
    let shown = pending.clone();
    let id = s.remember_pending(pending);
    let mut resp = match login_of(&s, &headers, &shown) {
        Some(login) => consent_for(&s, &id, &login.sub),
        None => login_page(&s, &id, &shown, None, StatusCode::OK),
    };
    if let Some(v) = set_cookie {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// The login of this browser, if it signed in and is the browser that opened `p`.
fn login_of(s: &AuthServer, headers: &HeaderMap, p: &Pending) -> Option<Login> {
    s.logged_in(cookie(headers, login_cookie::name(s)))
        .filter(|login| ct_eq(&login.browser, &p.browser))
}

fn consent_for(s: &AuthServer, id: &str, sub: &str) -> Response {
    let Some(p) = s.pending(id) else {
        return pages::error(StatusCode::BAD_REQUEST, "this sign-in request has expired");
    };
    let origin = Url::parse(&p.redirect_uri)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let loopback = Url::parse(&p.redirect_uri).is_ok_and(|u| is_loopback(&u));
    let form = pages::RequestForm {
        base: s.issuer(),
        req: id,
        csrf: &p.csrf,
    };
    pages::consent(
        form,
        &p.client_name,
        &p.redirect_uri,
        &origin,
        loopback,
        &p.scopes,
        sub,
    )
}

/// `POST /authorize/login`.
pub(crate) async fn login(
    State(s): State<Arc<AuthServer>>,
    req: axum::extract::Request,
) -> Response {
    let addr = client_addr(req.extensions());
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 16 * 1024).await else {
        return pages::error(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large");
    };
    let (form, id, p) = match pending_form(&s, &parts.headers, &body) {
        Ok(checked) => checked,
        Err(page) => return *page,
    };
    if !s.cfg.login.password {
        return pages::error(
            StatusCode::FORBIDDEN,
            "signing in with the owner password is turned off; use one of the other ways",
        );
    }
    // The attempt is charged before the password is checked, so that attempts sent at once
    // cannot all pass while the first ones are being checked.
    if let Err(wait) = s.limiter.begin(addr) {
        let message = format!(
            "Too many failed attempts. Try again in {} minutes.",
            wait.div_ceil(60)
        );
        return too_many(&s, &id, &p, &message, wait);
    }
    let password = form.get("password").cloned().unwrap_or_default();
    match s.passwords.check(password).await {
        Ok(true) => {
            s.limiter.succeeded(addr);
            sign_in(&s, OWNER_SUB, &id, &p.browser)
        }
        Ok(false) => {
            tracing::warn!(%addr, "failed owner login");
            login_page(
                &s,
                &id,
                &p,
                Some("Wrong password."),
                StatusCode::UNAUTHORIZED,
            )
        }
        Err(Busy) => {
            s.limiter.refund(addr);
            tracing::warn!(%addr, "refused an owner login: too many password checks at once");
            too_many(
                &s,
                &id,
                &p,
                "Too many sign-ins at once. Try again in a moment.",
                1,
            )
        }
    }
}

/// The login page again with a 429 and `Retry-After: wait`.
fn too_many(s: &AuthServer, id: &str, p: &Pending, message: &str, wait: u64) -> Response {
    let mut resp = login_page(s, id, p, Some(message), StatusCode::TOO_MANY_REQUESTS);
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Signs the browser in as `sub` (a login cookie, bound to the browser whose cookie hashes to
/// `browser`) and sends it to the consent page of the pending request `req`.
pub(crate) fn sign_in(s: &AuthServer, sub: &str, req: &str, browser: &str) -> Response {
    let set_cookie = login_cookie::start(s, sub, browser, LOGIN_TTL);
    let mut resp =
        Redirect::to(&format!("{}/authorize/consent?req={req}", s.issuer())).into_response();
    if let Some(v) = set_cookie {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// The login page of a pending request, offering the configured ways to sign in.
fn login_page(
    s: &AuthServer,
    id: &str,
    p: &Pending,
    message: Option<&str>,
    status: StatusCode,
) -> Response {
    let ways = pages::Ways {
        password: s.cfg.login.password,
        providers: s.upstream.buttons(),
        provider_origins: s.upstream.form_origins(),
    };
    let form = pages::RequestForm {
        base: s.issuer(),
        req: id,
        csrf: &p.csrf,
    };
    pages::login(form, &p.client_name, &ways, message, status)
}

/// `GET /authorize/consent?req=…`.
pub(crate) async fn consent_page(
    State(s): State<Arc<AuthServer>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let id = q.get("req").cloned().unwrap_or_default();
    let Some(p) = s.pending(&id) else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "this sign-in request has expired or is unknown; start again from your app",
        );
    };
    // A link to another browser's request shows nothing: not its login page, not its consent.
    if !browser::opened(&s, &headers, &p) {
        return browser::other_browser();
    }
    match login_of(&s, &headers, &p) {
        Some(login) => consent_for(&s, &id, &login.sub),
        None => login_page(&s, &id, &p, None, StatusCode::OK),
    }
}

/// The form a login page posted, with the pending request it names, once it comes from our
/// own origin, its CSRF token (compared in constant time) matches, and it comes from the
/// browser that opened the request: `(form, request id, request)`, or the error page.
pub(crate) fn pending_form(
    s: &AuthServer,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(HashMap<String, String>, String, Pending), Box<Response>> {
    browser::check_origin(s, headers)?;
    let Ok(form) = parse_form(body) else {
        return Err(Box::new(pages::error(
            StatusCode::BAD_REQUEST,
            "the form is malformed",
        )));
    };
    let id = form.get("req").cloned().unwrap_or_default();
    let Some(p) = s.pending(&id) else {
        return Err(Box::new(pages::error(
            StatusCode::BAD_REQUEST,
            "this sign-in request has expired or is unknown; start again from your app",
        )));
    };
    if !ct_eq(form.get("csrf").map(String::as_str).unwrap_or(""), &p.csrf) {
        return Err(Box::new(pages::error(
            StatusCode::FORBIDDEN,
            "the form's security token is wrong; start again from your app",
        )));
    }
    if !browser::opened(s, headers, &p) {
        return Err(Box::new(browser::other_browser()));
    }
    Ok((form, id, p))
}

/// `POST /authorize/consent`.
pub(crate) async fn decide(
    State(s): State<Arc<AuthServer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(page) = browser::check_origin(&s, &headers) {
        return *page;
    }
    let Ok(form) = parse_form(&body) else {
        return pages::error(StatusCode::BAD_REQUEST, "the form is malformed");
    };
    let id = form.get("req").cloned().unwrap_or_default();
    let Some(login) = s.logged_in(cookie(&headers, login_cookie::name(&s))) else {
        return pages::error(
            StatusCode::FORBIDDEN,
            "you are not signed in; start again from your app",
        );
    };
    let Some(p) = s.pending(&id) else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "this sign-in request has expired or was already answered",
        );
    };
    if !ct_eq(form.get("csrf").map(String::as_str).unwrap_or(""), &p.csrf) {
        return pages::error(
            StatusCode::FORBIDDEN,
            "the form's security token is wrong; start again from your app",
        );
    }
    // The decision comes from the browser that opened the request, signed in there: another
    // request's `req` and `csrf` are no use in the owner's browser.
    if !browser::opened(&s, &headers, &p) || !ct_eq(&login.browser, &p.browser) {
        return browser::other_browser();
    }
    let sub = login.sub;
    // Single use: a decision consumes the request.
    let Some(p) = s.take_pending(&id) else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "this sign-in request was already answered",
        );
    };
    let issuer = s.issuer().to_owned();
    if form.get("decision").map(String::as_str) != Some("approve") {
        tracing::info!(client_id = %p.client_id, subject = %sub, "access denied");
        return back_to_client(
            &p.redirect_uri,
            p.state.as_deref(),
            &issuer,
            &[
                ("error", "access_denied"),
                ("error_description", "the owner denied access"),
            ],
        );
    }
    let code = random_token(32);
    let stored = Code {
        client_id: p.client_id.clone(),
        redirect_uri: p.redirect_uri.clone(),
        challenge: p.challenge.clone(),
        scope: Scope::join(&p.scopes),
        resource: p.resource.clone(),
        sub: sub.clone(),
        expires_at: now() + CODE_TTL_SECS,
        used_at: None,
        family_id: None,
    };
    let hash = sha256_b64(code.as_bytes());
    let client_id = p.client_id.clone();
    let scope = stored.scope.clone();
    let approver = sub.clone();
    let result = db(&s, move |store| {
        store.insert_code(&hash, &stored)?;
        store.record_consent(&client_id, &sub, &scope)?;
        store.touch_client(&client_id)
    })
    .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "storing an authorization code");
        return back_to_client(
            &p.redirect_uri,
            p.state.as_deref(),
            &issuer,
            &[("error", "server_error")],
        );
    }
    tracing::info!(client_id = %p.client_id, subject = %approver, "access approved");
    back_to_client(
        &p.redirect_uri,
        p.state.as_deref(),
        &issuer,
        &[("code", &code)],
    )
}
