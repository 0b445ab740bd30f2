//! Checks and headers that apply to every route: `Host` and `Origin` validation against DNS
//! rebinding and cross-site requests, and the security headers of every response.
//!
//! - `Host` must name the public URL's host or a loopback name (plus configured extras);
//!   anything else is a rebinding attempt or a misrouted request and gets 403.
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

/// The longest request URL accepted (an authorization request with a long `state` and a
/// client metadata URL fits comfortably).
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The hosts and origins a request may name.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
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
        if let Ok(url) = url_parts(public_url) {
            hosts.push(url.host.clone());
            origins.push(url.origin);
        }
        hosts.extend(extra_hosts.iter().map(|h| h.to_ascii_lowercase()));
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

    /// Whether a `Host` header value (or HTTP/2 authority) is acceptable.
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let name = strip_port(&host);
        self.hosts.iter().any(|h| h == name)
    }

    /// Whether an `Origin` header value is acceptable.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        let Some((scheme, authority)) = origin.split_once("://") else {
            return false;
        };
        if (scheme == "http" || scheme == "https")
            && !authority.contains('/')
            && matches!(strip_port(authority), "localhost" | "127.0.0.1" | "::1")
        {
            return true;
        }
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

/// `host:port` → `host`; `[v6]:port` and `[v6]` → `v6`.
fn strip_port(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    }
}

struct UrlParts {
    host: String,
    origin: String,
}

fn url_parts(public_url: &str) -> Result<UrlParts, ()> {
    let (scheme, rest) = public_url.split_once("://").ok_or(())?;
    let authority = rest.split('/').next().ok_or(())?.to_ascii_lowercase();
    if authority.is_empty() {
        return Err(());
    }
    Ok(UrlParts {
        host: strip_port(&authority).to_owned(),
        origin: format!("{}://{authority}", scheme.to_ascii_lowercase()),
    })
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

/// The middleware: refuses foreign `Host` and `Origin` values, then adds security headers.
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
    let path = req.uri().path();
    // Health checks come from load balancers that address the gateway by IP.
    if path != "/healthz" {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()));
        match host {
            Some(h) if policy.host_allowed(h) => {}
            Some(h) => {
                tracing::info!(host = %h.chars().take(100).collect::<String>(), path, "refused a foreign Host");
                return forbidden("forbidden: this Host is not served here");
            }
            None => return forbidden("forbidden: the request names no Host"),
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
            &["lan-box".into()],
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
        ] {
            assert!(!p.origin_allowed(bad), "{bad}");
        }
    }
}
