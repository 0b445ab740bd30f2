//! Entry points for the fuzz targets in `fuzz/` (not an API: hidden from the docs and free to
//! change). They expose the parsers that read attacker-controlled request data without making
//! the modules themselves public.

use std::collections::HashMap;

/// Parses a form body as `/token`, `/revoke` and the login and consent forms do.
pub fn parse_form(body: &[u8]) -> Option<HashMap<String, String>> {
    crate::endpoints::parse_form(body).ok()
}

/// Whether a redirect URI may be registered (with `extra` allowlist patterns).
pub fn check_registrable(uri: &str, extra: &[String]) -> bool {
    crate::redirect::check_registrable(uri, extra).is_ok()
}

/// Whether a requested redirect URI matches a registered one.
pub fn redirect_matches(registered: &str, requested: &str) -> bool {
    crate::redirect::matches(registered, requested)
}

/// Whether a URL is http(s) on a loopback host.
pub fn is_loopback(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| crate::redirect::is_loopback(&u))
}

/// Whether a PKCE challenge is well-formed.
pub fn valid_challenge(challenge: &str) -> bool {
    crate::pkce::valid_challenge(challenge)
}

/// Whether a PKCE verifier is well-formed.
pub fn valid_verifier(verifier: &str) -> bool {
    crate::pkce::valid_verifier(verifier)
}

/// Whether `verifier` matches the S256 `challenge`.
pub fn pkce_verify(verifier: &str, challenge: &str) -> bool {
    crate::pkce::verify(verifier, challenge)
}

/// The S256 challenge of a verifier.
pub fn s256(verifier: &str) -> String {
    crate::util::sha256_b64(verifier.as_bytes())
}

/// The value of a cookie in a `Cookie` header.
pub fn cookie(header: &str, name: &str) -> Option<String> {
    let mut headers = http::HeaderMap::new();
    let value = http::HeaderValue::from_str(header).ok()?;
    headers.insert(http::header::COOKIE, value);
    crate::endpoints::cookie(&headers, name).map(str::to_owned)
}

/// Whether a client-metadata fetch must never reach this address.
pub fn is_internal(ip: std::net::IpAddr) -> bool {
    crate::cimd::is_internal(ip)
}
