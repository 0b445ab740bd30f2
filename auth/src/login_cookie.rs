//! The owner's login cookie, one way for every page that signs people in (the authorization
//! pages and the gateway's answer pages): its name, and starting a login bound to a browser.

use std::time::{Duration, Instant};

use axum::http::HeaderValue;

use crate::server::{AuthServer, Login};
use crate::util::random_token;

/// The login cookie's name: `__Host-` prefixed when cookies are secure.
pub(crate) fn name(s: &AuthServer) -> &'static str {
    if s.cfg.secure_cookies {
        "__Host-sessiongate_login"
    } else {
        "sessiongate_login"
    }
}

/// Signs `sub` in for `ttl`, bound to the browser whose browser cookie hashes to `browser`;
/// returns the `Set-Cookie` value that carries the login (`None` if it cannot be a header,
/// which a random token and a fixed name never cause).
pub(crate) fn start(
    s: &AuthServer,
    sub: &str,
    browser: &str,
    ttl: Duration,
) -> Option<HeaderValue> {
    let token = random_token(32);
    s.logins.lock().unwrap_or_else(|p| p.into_inner()).insert(
        token.clone(),
        Login {
            sub: sub.to_owned(),
            browser: browser.to_owned(),
            expires: Instant::now() + ttl,
        },
    );
    let secure = if s.cfg.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        name(s),
        ttl.as_secs()
    ))
    .ok()
}
