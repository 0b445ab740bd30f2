//! Redirect URIs: which a client may register, and how a request's URI is matched.
//!
//! Deny by default: a registered URI must be http on a loopback address (any port, RFC 8252)
//! or match an allowlist pattern (pre-seeded with the ChatGPT and Claude callbacks, extended
//! by the owner). No fragments, no user info.

use url::Url;

/// The callbacks of the hosted MCP clients, allowed out of the box.
pub(crate) const DEFAULT_PATTERNS: &[&str] = &[
    "https://chatgpt.com/connector_platform_oauth_redirect",
    "https://chatgpt.com/connector/oauth/*",
    "https://chat.openai.com/connector_platform_oauth_redirect",
    "https://claude.ai/api/mcp/auth_callback",
    "https://claude.com/api/mcp/auth_callback",
];

/// Whether `url` is http(s) on a loopback host.
pub(crate) fn is_loopback(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
        && match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
}

/// Checks a URI offered at registration. Returns the reason when it is refused.
pub(crate) fn check_registrable(uri: &str, extra: &[String]) -> Result<(), String> {
    let url = Url::parse(uri).map_err(|e| format!("{uri:?} is not a URL: {e}"))?;
    if url.fragment().is_some() {
        return Err(format!("{uri:?} has a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{uri:?} carries user info"));
    }
    if is_loopback(&url) {
        return Ok(());
    }
    let allowed = DEFAULT_PATTERNS
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
        .any(|p| pattern_matches(p, uri));
    if allowed {
        Ok(())
    } else {
        Err(format!(
            "{uri:?} is not an allowed redirect URI: use http on localhost, a ChatGPT or Claude \
             callback, or ask the owner to add it to redirect_uri_allowlist"
        ))
    }
}

fn pattern_matches(pattern: &str, uri: &str) -> bool {
    match pattern.strip_suffix('*') {
        // A prefix pattern only matches below a path boundary, so that
        // "https://a.com/cb/*" never admits "https://a.com/cb/../evil".
        Some(prefix) => uri.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }),
        None => uri == pattern,
    }
}

/// Whether the `requested` redirect URI matches a `registered` one: exactly, or for loopback
/// URIs, with any port (RFC 8252 §7.3). User info is never accepted in a request, as it is
/// never accepted at registration (`http://evil.example@127.0.0.1/cb` reads as a foreign host
/// to a person).
pub(crate) fn matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(a), Ok(b)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    is_loopback(&a)
        && is_loopback(&b)
        && a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.path() == b.path()
        && a.query() == b.query()
        && b.fragment().is_none()
        && b.username().is_empty()
        && b.password().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_is_deny_by_default() {
        let extra = vec!["https://example.com/cb".to_owned()];
        for ok in [
            "http://localhost:6274/oauth/callback",
            "http://127.0.0.1:33333/callback",
            "http://[::1]:9/cb",
            "https://chatgpt.com/connector_platform_oauth_redirect",
            "https://chatgpt.com/connector/oauth/abc123",
            "https://claude.ai/api/mcp/auth_callback",
            "https://example.com/cb",
        ] {
            assert!(check_registrable(ok, &extra).is_ok(), "{ok}");
        }
        for bad in [
            "https://evil.example/cb",
            "http://localhost.evil.com/cb",
            "https://chatgpt.com.evil.com/connector_platform_oauth_redirect",
            "https://chatgpt.com/connector/oauth/x/../../evil",
            "https://claude.ai/api/mcp/auth_callback#frag",
            "https://user@claude.ai/api/mcp/auth_callback",
            "HTTPS://CLAUDE.AI/api/mcp/auth_callback/extra",
            "javascript:alert(1)",
            "not a url",
            "https://example.com/cb2",
        ] {
            assert!(check_registrable(bad, &extra).is_err(), "{bad}");
        }
    }

    #[test]
    fn matching_is_exact_except_loopback_ports() {
        assert!(matches(
            "http://127.0.0.1:1000/cb",
            "http://127.0.0.1:2000/cb"
        ));
        assert!(!matches(
            "http://127.0.0.1:1000/cb",
            "http://127.0.0.1:2000/cb2"
        ));
        assert!(!matches(
            "http://127.0.0.1:1000/cb",
            "http://localhost:1000/cb"
        ));
        assert!(matches(
            "https://claude.ai/api/mcp/auth_callback",
            "https://claude.ai/api/mcp/auth_callback"
        ));
        assert!(!matches(
            "https://claude.ai/api/mcp/auth_callback",
            "https://claude.ai/api/mcp/auth_callback/"
        ));
        assert!(!matches(
            "https://claude.ai/api/mcp/auth_callback",
            "https://CLAUDE.ai/api/mcp/auth_callback"
        ));
        for with_userinfo in [
            "http://evil.example@127.0.0.1:2000/cb",
            "http://user:pass@127.0.0.1:1000/cb",
            "http://:x@127.0.0.1:1000/cb",
        ] {
            assert!(
                !matches("http://127.0.0.1:1000/cb", with_userinfo),
                "{with_userinfo}"
            );
        }
    }
}
