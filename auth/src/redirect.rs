//! Redirect URIs: which a client may register, and how a request's URI is matched.
//!
//! Deny by default: a registered URI must be http on a loopback address (any port, RFC 8252)
//! or match an allowlist pattern (pre-seeded with the ChatGPT and Claude callbacks, extended
//! by the owner). No fragments, no user info, only the characters RFC 3986 allows (URL
//! parsers silently drop tabs and line breaks, so `/c\tb` would otherwise come to mean
//! `/cb`), and a loopback host written the one usual way (`127.0.0.1`, not `127.1` or
//! `2130706433`). URIs are matched as text, never after parsing.

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

/// Whether every character of `uri` is one RFC 3986 lets a URI hold as written: unreserved
/// and reserved ASCII characters, and `%` followed by two hex digits. No control characters,
/// no spaces, no backslashes, nothing beyond ASCII.
pub(crate) fn uri_chars_ok(uri: &str) -> bool {
    let b = uri.as_bytes();
    b.iter().enumerate().all(|(i, &c)| match c {
        b'%' => b
            .get(i + 1..i + 3)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
        c => c.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&c),
    })
}

/// Checks a URI offered at registration. Returns the reason when it is refused.
pub(crate) fn check_registrable(uri: &str, extra: &[String]) -> Result<(), String> {
    if !uri_chars_ok(uri) {
        return Err(format!(
            "{uri:?} holds a character a URI cannot hold (a control character, a space, a \\ or a character beyond ASCII)"
        ));
    }
    let url = Url::parse(uri).map_err(|e| format!("{uri:?} is not a URL: {e}"))?;
    if url.fragment().is_some() {
        return Err(format!("{uri:?} has a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{uri:?} carries user info"));
    }
    if is_loopback(&url) {
        if !canonical_host(uri, &url) {
            return Err(format!(
                "{uri:?} writes its loopback host in an unusual way; write it as {}",
                url.host_str().unwrap_or("127.0.0.1")
            ));
        }
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

/// Whether the `requested` redirect URI matches a `registered` one: the same text, or for a
/// loopback URI, the same text apart from the port (RFC 8252 §7.3). Nothing is compared after
/// parsing, so `127.1`, `0x7f.1` or a dropped tab never make two different texts match, and
/// user info or a fragment in a request can only match a registration that had them (which
/// registration refuses).
pub(crate) fn matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Some((a_host, _, a_rest)), Some((b_host, _, b_rest))) =
        (around_port(registered), around_port(requested))
    else {
        return false;
    };
    a_host == b_host
        && a_rest == b_rest
        && uri_chars_ok(registered)
        && Url::parse(registered).is_ok_and(|u| is_loopback(&u) && canonical_host(registered, &u))
}

/// A URI split around its port as written: `(up to the end of the host, port, the rest)`.
/// `None` without `://`, or when what follows the host is not a port of up to five digits
/// (user info ends in `@` before the host, so it ends up in the host part).
fn around_port(uri: &str) -> Option<(&str, &str, &str)> {
    let start = uri.find("://")? + 3;
    let end = uri[start..]
        .find(['/', '?', '#'])
        .map_or(uri.len(), |i| start + i);
    let authority = &uri[start..end];
    let host_len = match authority.strip_prefix('[') {
        Some(v6) => v6.find(']')? + 2,
        None => authority.find(':').unwrap_or(authority.len()),
    };
    let port = &authority[host_len..];
    let port = match port {
        "" => "",
        p => p.strip_prefix(':')?,
    };
    if port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((&uri[..start + host_len], port, &uri[end..]))
}

/// Whether `uri` writes its host as its parsed form `url` does (lower case, IPv4 in dotted
/// decimal without leading zeros, IPv6 compressed).
fn canonical_host(uri: &str, url: &Url) -> bool {
    let Some((before, _, _)) = around_port(uri) else {
        return false;
    };
    let written = before.split_once("://").map_or("", |(_, host)| host);
    url.host_str() == Some(written)
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

    #[test]
    fn registration_refuses_characters_a_uri_cannot_hold() {
        for bad in [
            "http://127.0.0.1:1000/c\tb",
            "http://127.0.0.1:1000/cb\r\nSet-Cookie: x=y",
            "http://127.0.0.1:1000/cb\n",
            "http://127.0.0.1:1000/c\0b",
            "http://127.0.0.1:1000/c\x7fb",
            "\thttp://127.0.0.1:1000/cb",
            "http://127.0.0.1:1000/c b",
            "http://127.0.0.1:1000/c\\b",
            "http://127.0.0.1:1000/c\u{85}b",
            "http://127.0.0.1:1000/caf\u{e9}",
            "http://127.0.0.1:1000/c%zzb",
            "http://127.0.0.1:1000/cb%",
            "https://claude.ai/api/mcp/auth_callback\t",
        ] {
            let e = check_registrable(bad, &[]).unwrap_err();
            assert!(e.contains("a character a URI cannot hold"), "{bad:?}: {e}");
        }
        assert!(check_registrable("http://127.0.0.1:1000/c%09b", &[]).is_ok());
    }

    #[test]
    fn loopback_hosts_are_registered_only_as_usually_written() {
        for bad in [
            "http://127.1:1000/cb",
            "http://2130706433:1000/cb",
            "http://0x7f.1:1000/cb",
            "http://0x7f000001/cb",
            "http://127.000.000.001:1000/cb",
            "http://0177.0.0.1/cb",
            "http://LOCALHOST:1000/cb",
            "http://[0:0:0:0:0:0:0:1]:1000/cb",
            "http://@127.0.0.1:1000/cb",
        ] {
            assert!(check_registrable(bad, &[]).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_uris_match_as_text_apart_from_the_port() {
        for (registered, requested) in [
            ("http://127.0.0.1:1000/cb", "http://127.0.0.1:2000/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:2000/cb"),
            ("http://127.0.0.1:1000/cb", "http://127.0.0.1/cb"),
            ("http://[::1]:1000/cb", "http://[::1]:2000/cb"),
            ("http://localhost:1000/cb?x=1", "http://localhost:3/cb?x=1"),
        ] {
            assert!(matches(registered, requested), "{registered} {requested}");
        }
        for (registered, requested) in [
            ("http://127.0.0.1:1000/cb", "http://127.1:1000/cb"),
            ("http://127.0.0.1:1000/cb", "http://2130706433:1000/cb"),
            ("http://127.0.0.1:1000/cb", "http://0x7f.1:1000/cb"),
            ("http://127.0.0.1:1000/cb", "http://127.000.000.001:1000/cb"),
            ("http://127.0.0.1:1000/cb", "HTTP://127.0.0.1:1000/cb"),
            ("http://127.0.0.1:1000/cb", "http://127.0.0.1:1000/c\tb"),
            ("http://127.0.0.1:1000/c\tb", "http://127.0.0.1:1000/cb"),
            ("http://127.0.0.1:1000/c\tb", "http://127.0.0.1:2000/c\tb"),
            ("http://127.0.0.1:1000/cb", "http://127.0.0.1:1000/%63b"),
            ("http://127.0.0.1:1000/cb", "http://127.0.0.1:1000/cb/."),
            ("http://127.0.0.1:1000/cb", "http://127.0.0.1:x/cb"),
            ("http://127.0.0.1:1000/cb", "http://127.0.0.1:123456/cb"),
            (
                "http://127.0.0.1:1000/cb",
                "http://127.0.0.1:1000@evil.example/cb",
            ),
            ("http://127.1:1000/cb", "http://127.1:2000/cb"),
            ("http://[::1]:1000/cb", "http://[0::1]:1000/cb"),
            (
                "https://claude.ai/api/mcp/auth_callback",
                "https://claude.ai:444/api/mcp/auth_callback",
            ),
        ] {
            assert!(
                !matches(registered, requested),
                "{registered:?} {requested:?}"
            );
        }
    }
}
