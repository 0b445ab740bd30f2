//! Keeping an authorization request in the browser that opened it.
//!
//! `GET /authorize` gives the browser a random browser cookie (HttpOnly, SameSite=Lax,
//! `__Host-` on https) unless it has one, and the pending request keeps the cookie's SHA-256.
//! The request's forms (password, provider buttons, consent) are accepted only from a browser
//! that presents that cookie, and the consent only with a login made in that same browser.
//! So a stranger who starts their own request cannot have the owner's signed-in browser
//! approve it: they know its `req` and `csrf`, but not the owner's browser cookie, and the
//! owner's login is bound to the owner's browser, not to theirs.
//!
//! Form posts are also refused when their `Origin` is not the gateway's own: the public URL's
//! origin, or on loopback exactly the origin the request was sent to. Any loopback origin is
//! same-site for cookies (they ignore the port), so a page served on another port of the
//! owner's machine must not count as the gateway.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use url::Url;

use super::cookie;
use crate::pages;
use crate::server::{AuthServer, LOGIN_TTL, Pending};
use crate::util::{ct_eq, random_token, sha256_b64};

/// The length of a browser cookie's value (32 random bytes, base64url).
const COOKIE_LEN: usize = 43;

/// The browser cookie's name.
fn cookie_name(s: &AuthServer) -> &'static str {
    if s.cfg.secure_cookies {
        "__Host-sessiongate_browser"
    } else {
        "sessiongate_browser"
    }
}

/// The browser cookie a request carries, if it has a well-formed one.
fn presented<'a>(s: &AuthServer, headers: &'a HeaderMap) -> Option<&'a str> {
    cookie(headers, cookie_name(s)).filter(|c| {
        c.len() == COOKIE_LEN
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// The browser of a request that opens an authorization request: its cookie value (the one
/// it has, or a new one) and the `Set-Cookie` that keeps it for as long as a login lasts.
pub(crate) fn identify(s: &AuthServer, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let value = presented(s, headers)
        .map(str::to_owned)
        .unwrap_or_else(|| random_token(32));
    let secure = if s.cfg.secure_cookies { "; Secure" } else { "" };
    let set_cookie = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        cookie_name(s),
        LOGIN_TTL.as_secs()
    );
    (value, HeaderValue::from_str(&set_cookie).ok())
}

/// The hash a pending request and a login keep of a browser cookie.
pub(crate) fn hash(value: &str) -> String {
    sha256_b64(value.as_bytes())
}

/// The hash of the well-formed browser cookie a request carries, if any.
pub(crate) fn presented_hash(s: &AuthServer, headers: &HeaderMap) -> Option<String> {
    presented(s, headers).map(hash)
}

/// Whether the request comes from the browser that opened `p` (constant time).
pub(crate) fn opened(s: &AuthServer, headers: &HeaderMap, p: &Pending) -> bool {
    presented(s, headers).is_some_and(|c| ct_eq(&hash(c), &p.browser))
}

/// The page for a form of a request that another browser opened.
pub(crate) fn other_browser() -> Response {
    pages::error(
        StatusCode::FORBIDDEN,
        "this sign-in request was started in another browser; start again from your app",
    )
}

/// Checks a form post's `Origin`: none (not a browser), the public URL's origin, or on a
/// loopback `Host` exactly the origin the request was sent to (the `Host` with the public
/// URL's scheme). Returns the refusal page.
pub(crate) fn check_origin(s: &AuthServer, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    // Browsers send an origin in its serialized form; anything else is not ours.
    let own = |origin: &str| {
        if serialized(s.issuer()).is_some_and(|public| public == origin) {
            return true;
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            });
        let Some(host) = host else {
            return false;
        };
        // The scheme is the public URL's: the gateway (or the proxy before it) speaks one.
        let scheme = s.issuer().split("://").next().unwrap_or("http");
        Url::parse(&format!("{scheme}://{host}")).is_ok_and(|u| {
            crate::redirect::is_loopback(&u) && u.origin().ascii_serialization() == origin
        })
    };
    if origin.to_str().is_ok_and(own) {
        return Ok(());
    }
    tracing::info!(origin = ?origin, "refused a form posted from another origin");
    Err(Box::new(pages::error(
        StatusCode::FORBIDDEN,
        "this form was sent from another site; start again from your app",
    )))
}

/// The origin of a URL, serialized (`scheme://host[:port]`, default ports dropped), or `None`
/// for an opaque origin.
fn serialized(url: &str) -> Option<String> {
    let origin = Url::parse(url).ok()?.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}
