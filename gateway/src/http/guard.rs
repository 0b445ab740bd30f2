//! Checks and headers that apply to every route: `Host` and `Origin` validation against DNS
//! rebinding and cross-site requests, and the security headers of every response.
//!
//! - A header that may appear once ([`SINGLE_HEADERS`]: `Host`, `Authorization`, `Origin`,
//!   ...) and appears twice gets 400: each layer could read a different copy.
//! - `Host`, and the authority of an absolute-form target (or HTTP/2's `:authority`), must
//!   parse strictly ([`crate::http::authority`]; 400 otherwise) and name the public URL's host or a
//!   loopback name (plus configured extras); anything else is a rebinding attempt or a
//!   misrouted request and gets 403.
//! - `Origin`, when a browser sends one, must be the public URL's origin, a loopback origin,
//!   or a configured extra; anything else (including `null`) gets 403. Requests without
//!   `Origin` come from non-browser clients (ChatGPT's and Claude's servers, SDKs).
//! - Every response gets `X-Content-Type-Options: nosniff`, and `Strict-Transport-Security`
//!   when the public URL is https; HTML responses also get a strict CSP (no script,
//!   `frame-ancestors 'none'`), `X-Frame-Options`, `Referrer-Policy` and `no-store` if the page
//!   did not set its own.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::http::authority::{Authority, Origin};

/// The longest request URL accepted (an authorization request with a long `state` and a
/// client metadata URL fits comfortably).
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The headers a request may carry at most once. A second copy is ambiguous (which one does
/// each layer read?), so it is refused with 400 before anything reads either (RFC 9112 §3.2
/// requires it for `Host`). `Cookie` is not among them (HTTP/2 splits it into several
/// fields), nor list headers such as `X-Forwarded-For` (read as one list by `client_addr`).
pub const SINGLE_HEADERS: &[&str] = &[
    "host",
    "authorization",
    "origin",
    "content-type",
    "content-length",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
];

/// The hosts and origins a request may name.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    /// Allowed hosts as [`Authority::host`] gives them (any port).
    hosts: Vec<String>,
    origins: Vec<String>,
    https: bool,
}

impl OriginPolicy {
    /// The policy for a public URL plus extra allowed hosts and origins.
    pub fn new(public_url: &str, extra_hosts: &[String], extra_origins: &[String]) -> Self {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut origins = Vec::new();
        if let Some(url) = Origin::of_url(public_url) {
            hosts.push(url.authority.host.clone());
            origins.push(public_url_origin(public_url));
        }
        // A configured host is compared as it parses (a port in it is ignored, as it always
        // was); one that does not parse can never match.
        hosts.extend(
            extra_hosts
                .iter()
                .filter_map(|h| Authority::parse_configured(h).map(|a| a.host)),
        );
        origins.extend(
            extra_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase()),
        );
        OriginPolicy {
            hosts,
            origins,
            https: public_url.starts_with("https://"),
        }
    }

    /// The same hosts in rmcp's terms (a name without a port matches any port), for its own
    /// check behind ours.
    pub fn rmcp_hosts(&self) -> Vec<String> {
        let mut hosts = self.hosts.clone();
        hosts.push("[::1]".into());
        hosts
    }

    /// The same origins in rmcp's terms (`:*` for any port).
    pub fn rmcp_origins(&self) -> Vec<String> {
        let mut origins: Vec<String> = ["http", "https"]
            .iter()
            .flat_map(|scheme| {
                ["localhost", "127.0.0.1", "[::1]"]
                    .iter()
                    .map(move |host| format!("{scheme}://{host}:*"))
            })
            .collect();
        origins.extend(self.origins.iter().cloned());
        origins
    }

    /// Whether a `Host` header value (or a request target's authority) is well formed and
    /// names an allowed host.
    pub fn host_allowed(&self, host: &str) -> bool {
        Authority::parse(host).is_some_and(|a| self.authority_allowed(&a))
    }

    fn authority_allowed(&self, a: &Authority) -> bool {
        self.hosts.contains(&a.host)
    }

    /// Whether an `Origin` header value is acceptable: it must parse strictly, then be a
    /// loopback origin or one of the allowed ones.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let Some(parsed) = Origin::parse(origin) else {
            return false;
        };
        if matches!(
            parsed.authority.host.as_str(),
            "localhost" | "127.0.0.1" | "::1"
        ) {
            return true;
        }
        let origin = origin.to_ascii_lowercase();
        self.origins.iter().any(|o| {
            o == &origin
                || o.strip_suffix(":*").is_some_and(|base| {
                    origin
                        .strip_prefix(base)
                        .is_some_and(|rest| rest.is_empty() || port_suffix(rest))
                })
        })
    }
}

fn port_suffix(rest: &str) -> bool {
    rest.strip_prefix(':')
        .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// The public URL's origin as browsers write it: `scheme://authority`, lower case.
fn public_url_origin(public_url: &str) -> String {
    let (scheme, rest) = public_url.split_once("://").unwrap_or(("", public_url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!("{scheme}://{authority}").to_ascii_lowercase()
}

/// The first header of [`SINGLE_HEADERS`] that `headers` carries more than once.
fn repeated_header(headers: &http::HeaderMap) -> Option<&'static str> {
    SINGLE_HEADERS
        .iter()
        .copied()
        .find(|name| headers.get_all(*name).iter().nth(1).is_some())
}

/// Why a request's authority is refused.
enum AuthorityRefusal {
    /// Malformed: 400.
    Malformed(&'static str),
    /// Well formed but not served here: 403.
    Foreign(String),
    /// No authority at all: 403.
    Missing,
}

/// Checks every authority a request names: its `Host` and, for an absolute-form target (or
/// HTTP/2's `:authority`), the target's. Each must parse strictly and be allowed; checking
/// only one would let the other reach whatever reads it.
fn check_authority(policy: &OriginPolicy, req: &Request) -> Result<(), AuthorityRefusal> {
    let mut named = false;
    if let Some(value) = req.headers().get(header::HOST) {
        let host =
            value
                .to_str()
                .ok()
                .and_then(Authority::parse)
                .ok_or(AuthorityRefusal::Malformed(
                    "the Host header is not a valid host",
                ))?;
        if !policy.authority_allowed(&host) {
            return Err(AuthorityRefusal::Foreign(host.host));
        }
        named = true;
    }
    if let Some(target) = req.uri().authority() {
        let host = Authority::parse(target.as_str()).ok_or(AuthorityRefusal::Malformed(
            "the request target's authority is not a valid host",
        ))?;
        if !policy.authority_allowed(&host) {
            return Err(AuthorityRefusal::Foreign(host.host));
        }
        named = true;
    }
    if named {
        Ok(())
    } else {
        Err(AuthorityRefusal::Missing)
    }
}

fn bad_request(msg: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("bad request: {msg}\n"),
    )
        .into_response()
}

fn forbidden(msg: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{msg}\n"),
    )
        .into_response()
}

/// The length of `uri` as written (`scheme://authority/path?query`), without writing it out.
fn uri_len(uri: &http::Uri) -> usize {
    uri.scheme_str().map_or(0, |s| s.len() + "://".len())
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path().len()
        + uri.query().map_or(0, |q| q.len() + 1)
}

/// The middleware: refuses repeated single headers, malformed or foreign authorities and
/// foreign `Origin` values, then adds security headers.
pub async fn guard(
    policy: &OriginPolicy,
    req: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    if uri_len(req.uri()) > MAX_URI_BYTES {
        return (
            StatusCode::URI_TOO_LONG,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("the URL is longer than {MAX_URI_BYTES} bytes\n"),
        )
            .into_response();
    }
    if let Some(name) = repeated_header(req.headers()) {
        tracing::info!(header = name, "refused a request with a repeated header");
        return bad_request(&format!("more than one {name} header"));
    }
    let path = req.uri().path();
    // Health checks come from load balancers that address the gateway by IP.
    if path != "/healthz" {
        match check_authority(policy, &req) {
            Ok(()) => {}
            Err(AuthorityRefusal::Malformed(why)) => {
                tracing::info!(path, why, "refused a malformed authority");
                return bad_request(why);
            }
            Err(AuthorityRefusal::Foreign(host)) => {
                tracing::info!(host = %host.chars().take(100).collect::<String>(), path, "refused a foreign Host");
                return forbidden("forbidden: this Host is not served here");
            }
            Err(AuthorityRefusal::Missing) => {
                return forbidden("forbidden: the request names no Host");
            }
        }
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let ok = origin.to_str().is_ok_and(|o| policy.origin_allowed(o));
            if !ok {
                tracing::info!(origin = ?origin, path, "refused a foreign Origin");
                return forbidden("forbidden: requests from this Origin are not allowed");
            }
        }
    }
    let mut resp = next(req).await;
    add_security_headers(&mut resp, policy.https);
    resp
}

fn add_security_headers(resp: &mut Response, https: bool) {
    let is_html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    if is_html {
        let defaults = [
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
            ),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "same-origin"),
            (header::CACHE_CONTROL, "no-store"),
        ];
        for (name, value) in defaults {
            if !h.contains_key(&name) {
                h.insert(name, HeaderValue::from_static(value));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_len_is_the_written_length() {
        for u in [
            "/mcp",
            "/mcp?x=1&y=2",
            "/",
            "*",
            "https://gw.example.com/mcp?q",
            "http://127.0.0.1:8000/",
            "gw.example.com:443",
        ] {
            let uri: http::Uri = u.parse().expect("uri");
            assert_eq!(uri_len(&uri), uri.to_string().len(), "{u}");
        }
    }

    fn policy() -> OriginPolicy {
        OriginPolicy::new(
            "https://gw.example.com/prefix",
            &["lan-box".into(), "FE80::1".into()],
            &[
                "https://app.example.org".into(),
                "http://dev.example.net:*".into(),
            ],
        )
    }

    #[test]
    fn hosts() {
        let p = policy();
        for ok in [
            "gw.example.com",
            "GW.example.com:443",
            "localhost:8000",
            "127.0.0.1",
            "[::1]:9",
            "lan-box:8000",
            "[fe80::1]:8000",
            "[fe80:0::1]",
        ] {
            assert!(p.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.com",
            "gw.example.com.evil.com",
            "localhost.evil.com",
            "127.0.0.2",
            "",
            "[::2]",
            "gw.example.com@evil.com",
            "[::1].evil.example",
            "[::1]:x",
            "[::1]evil",
            "localhost:x",
            "localhost:80/",
            "[::1]:80:80",
        ] {
            assert!(!p.host_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn origins() {
        let p = policy();
        for ok in [
            "https://gw.example.com",
            "http://localhost:6274",
            "http://127.0.0.1:3000",
            "http://[::1]:80",
            "https://app.example.org",
            "http://dev.example.net:5173",
            "http://dev.example.net",
        ] {
            assert!(p.origin_allowed(ok), "{ok}");
        }
        for bad in [
            "null",
            "https://evil.com",
            "http://gw.example.com",
            "https://gw.example.com.evil.com",
            "http://localhost.evil.com",
            "https://app.example.org.evil",
            "http://dev.example.net:5173x",
            "http://dev.example.net.evil:1",
            "file://",
            "http://localhost/path",
            "http://[::1].evil.example",
            "http://[::1]:x",
            "http://localhost@evil.example",
            "http://127.0.0.1.evil.example:80",
        ] {
            assert!(!p.origin_allowed(bad), "{bad}");
        }
    }
}
