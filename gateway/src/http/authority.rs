//! Strict parsing of the authority a request names (`Host`, an absolute-form target, an
//! `Origin`, the public URL): a DNS name or IPv4 address, or a bracketed IPv6 literal, then
//! at most a decimal port. Every check of a host compares what was parsed here, never a
//! prefix or a suffix of the raw text, so that `[::1].evil.example`, `[::1]:x` or
//! `localhost@evil.example` cannot pass for loopback.

use std::net::{IpAddr, Ipv6Addr};

/// The longest host name accepted (a DNS name has at most 253 characters).
const MAX_HOST_LEN: usize = 253;

/// A parsed `host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// The host: a name or IPv4 address in lower case, or an IPv6 address in its canonical
    /// text form without brackets (`::1`).
    pub host: String,
    /// The port, when one was given.
    pub port: Option<u16>,
}

impl Authority {
    /// Parses `host`, `host:port`, `[v6]` or `[v6]:port`. Names may hold ASCII letters,
    /// digits, `-`, `.` and `_` only; a port is 1 to 5 digits up to 65535. Anything else
    /// (user info, a path, a zone id, an empty host or port, trailing text) is `None`.
    pub fn parse(s: &str) -> Option<Authority> {
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (v6, after) = rest.split_once(']')?;
            let addr: Ipv6Addr = v6.parse().ok()?;
            let port = match after {
                "" => None,
                p => Some(parse_port(p.strip_prefix(':')?)?),
            };
            (addr.to_string(), port)
        } else {
            let (name, port) = match s.split_once(':') {
                Some((name, p)) => (name, Some(parse_port(p)?)),
                None => (s, None),
            };
            let valid = !name.is_empty()
                && name.len() <= MAX_HOST_LEN
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
            if !valid {
                return None;
            }
            (name.to_ascii_lowercase(), port)
        };
        Some(Authority { host, port })
    }

    /// Parses a host as the owner writes it in `allowed_hosts`: an authority as
    /// [`Authority::parse`] takes it, or a bare IPv6 address (`::1`).
    pub fn parse_configured(s: &str) -> Option<Authority> {
        let s = s.trim();
        match s.parse::<Ipv6Addr>() {
            Ok(addr) => Some(Authority {
                host: addr.to_string(),
                port: None,
            }),
            Err(_) => Authority::parse(s),
        }
    }

    /// Whether the host is a loopback name or address: `localhost`, `127.0.0.0/8` or `::1`.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }
}

/// Whether a parsed host (see [`Authority::host`]) is loopback.
pub fn is_loopback_host(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

/// A parsed origin or base URL: `scheme://authority`, scheme `http` or `https`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `http` or `https`, lower case.
    pub scheme: String,
    /// The authority.
    pub authority: Authority,
}

impl Origin {
    /// Parses an `Origin` header value: `scheme://authority` and nothing after it.
    pub fn parse(s: &str) -> Option<Origin> {
        let (scheme, authority) = s.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        Some(Origin {
            scheme,
            authority: Authority::parse(authority)?,
        })
    }

    /// Parses the origin of a base URL such as the public URL (`https://gw.example.com/gw`):
    /// what comes before the first `/`, `?` or `#` after the scheme must be an authority.
    pub fn of_url(url: &str) -> Option<Origin> {
        let (scheme, rest) = url.split_once("://")?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        Origin::parse(&format!("{scheme}://{}", &rest[..end]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_parse_strictly() {
        let ok = |s: &str, host: &str, port: Option<u16>| {
            assert_eq!(
                Authority::parse(s),
                Some(Authority {
                    host: host.into(),
                    port
                }),
                "{s}"
            );
        };
        ok("GW.Example.com", "gw.example.com", None);
        ok("127.0.0.1:8000", "127.0.0.1", Some(8000));
        ok("[::1]", "::1", None);
        ok("[0:0:0:0:0:0:0:1]:9", "::1", Some(9));
        ok("lan_box:65535", "lan_box", Some(65535));
        for bad in [
            "",
            ":80",
            "host:",
            "host:x",
            "host:65536",
            "host:080000",
            "host:+80",
            "[::1].evil.example",
            "[::1]:x",
            "[::1]x",
            "[::1]:",
            "[::1",
            "::1",
            "[fe80::1%eth0]",
            "[127.0.0.1]",
            "localhost@evil.example",
            "user@localhost",
            "localhost/x",
            "localhost:80:80",
            "local host",
            "localhost\t",
            "xn--caf-dma.example\u{0}",
            "caf\u{e9}.example",
            "a%2eb",
        ] {
            assert_eq!(Authority::parse(bad), None, "{bad:?}");
        }
        assert!(Authority::parse(&"a".repeat(254)).is_none());
        let configured = Authority::parse_configured(" 0:0::1 ").unwrap();
        assert_eq!((configured.host.as_str(), configured.port), ("::1", None));
        assert_eq!(
            Authority::parse_configured("Lan-Box:80").unwrap().host,
            "lan-box"
        );
        assert!(Authority::parse_configured("::1]").is_none());
    }

    #[test]
    fn loopback_is_decided_on_the_parsed_host() {
        for lo in [
            "localhost",
            "LOCALHOST:1",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]:8",
        ] {
            assert!(Authority::parse(lo).unwrap().is_loopback(), "{lo}");
        }
        for far in [
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "0.0.0.0",
            "[::]",
            "[::ffff:127.0.0.1]",
            "gw.example.com",
        ] {
            assert!(!Authority::parse(far).unwrap().is_loopback(), "{far}");
        }
    }

    #[test]
    fn origins_and_base_urls() {
        let o = Origin::parse("HTTP://[::1]:6274").unwrap();
        assert_eq!(
            (o.scheme.as_str(), o.authority.host.as_str()),
            ("http", "::1")
        );
        for bad in [
            "null",
            "file://",
            "ftp://localhost",
            "http://localhost/",
            "http://[::1].evil.example",
            "http://localhost@evil.example",
            "http//localhost",
        ] {
            assert_eq!(Origin::parse(bad), None, "{bad}");
        }
        let u = Origin::of_url("https://gw.example.com:8443/gw/x?y").unwrap();
        assert_eq!(u.authority.host, "gw.example.com");
        assert_eq!(u.authority.port, Some(8443));
        assert!(
            Origin::of_url("http://127.0.0.1:8000")
                .unwrap()
                .authority
                .is_loopback()
        );
        assert_eq!(Origin::of_url("https://user@gw.example.com/"), None);
    }
}
