//! Who is the client: the connection's peer, unless that peer is a reverse proxy the owner
//! trusts (`--trusted-proxy`, CIDRs), in which case the address it forwarded in the one
//! header the owner says it sets: `X-Forwarded-For` (the default; nginx, Caddy, Traefik) or
//! `Forwarded` (RFC 7239). The other header is ignored: proxies pass through what they do not
//! set, so reading it would let a client write its own address.
//!
//! The chain is read from the right: each hop appended by a trusted proxy is skipped until the
//! first address that is not a trusted proxy, which is the client. Anything to its left was
//! written by the client itself and is ignored, so a client cannot choose its own address for
//! the rate limits and the audit log. Forwarded headers from an untrusted peer are ignored
//! entirely. The address only feeds rate limits and the audit log: the issuer, resource and
//! redirect URLs come from `--public-url` alone, never from forwarded headers.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use http::HeaderMap;
use ipnet::IpNet;

use sessiongate_auth::ClientIp;

use crate::error::Error;

/// Which header the trusted proxies set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, ...`.
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

/// The reverse proxies whose forwarded headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// Parses CIDRs (`10.0.0.0/8`) or single addresses (`127.0.0.1`, `::1`).
    pub fn parse(items: &[String]) -> Result<Self, Error> {
        let mut nets = Vec::new();
        for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    Error::Refused(format!(
                        "--trusted-proxy {item:?} is neither an address nor a CIDR such as 10.0.0.0/8"
                    ))
                })?;
            nets.push(net);
        }
        Ok(TrustedProxies {
            nets,
            header: ForwardedHeader::default(),
        })
    }

    /// The same proxies, read through `header`.
    pub fn with_header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client's address for a request that arrived from `peer` with `headers`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let chain = forwarded_chain(headers, self.header);
        let mut client = peer;
        for hop in chain.iter().rev() {
            match hop {
                Some(ip) => {
                    client = canonical(*ip);
                    if !self.trusts(client) {
                        return client;
                    }
                }
                // An unreadable or obfuscated hop: stop at the last proxy we can vouch for.
                None => return client,
            }
        }
        client
    }
}

/// Puts the request's [`ClientIp`] into its extensions.
pub async fn tag(
    proxies: &TrustedProxies,
    mut req: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let ip = proxies.client_ip(peer, req.headers());
    req.extensions_mut().insert(ClientIp(ip));
    next(req).await
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) as plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The forwarded hops in the chosen header, left (original client) to right (nearest proxy);
/// `None` marks a hop that is not an address.
fn forwarded_chain(headers: &HeaderMap, which: ForwardedHeader) -> Vec<Option<IpAddr>> {
    if which == ForwardedHeader::Forwarded {
        return headers
            .get_all(http::header::FORWARDED)
            .iter()
            .map(|v| v.to_str().unwrap_or("for=\"\u{0}\""))
            .flat_map(|v| v.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(k, _)| k.eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| parse_forwarded_node(v))
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().ok())
        .flat_map(|v| v.unwrap_or("\u{0}").split(','))
        .map(|hop| parse_node(hop.trim()))
        .collect()
}

/// `for=` values: `192.0.2.1`, `"192.0.2.1:4711"`, `"[2001:db8::1]:4711"`, `unknown`, `_hidden`.
fn parse_forwarded_node(v: &str) -> Option<IpAddr> {
    parse_node(v.trim().trim_matches('"'))
}

fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("valid list")
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn untrusted_peers_forwarded_headers_are_ignored() {
        let p = proxies(&["127.0.0.1"]);
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(p.client_ip(ip("203.0.113.9"), &h), ip("203.0.113.9"));
        assert_eq!(
            TrustedProxies::default().client_ip(ip("127.0.0.1"), &h),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let p = proxies(&["127.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(p.client_ip(ip("127.0.0.1"), &h), ip("198.51.100.7"));
    }

    #[test]
    fn a_client_cannot_spoof_by_prepending() {
        // The client sent "X-Forwarded-For: 10.9.9.9"; the proxy appended the real address.
        let p = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 198.51.100.7")]);
        assert_eq!(p.client_ip(ip("127.0.0.1"), &h), ip("198.51.100.7"));
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.7, 10.1.1.1"),
        ]);
        assert_eq!(p.client_ip(ip("127.0.0.1"), &h), ip("198.51.100.7"));
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let h = headers(&[
            (
                "forwarded",
                "for=\"[2001:db8::5]:4711\";proto=https, for=127.0.0.1",
            ),
            ("x-forwarded-for", "9.9.9.9"),
        ]);
        // nginx sets X-Forwarded-For and passes the client's own Forwarded through.
        let xff = proxies(&["::1", "127.0.0.1"]);
        assert_eq!(xff.client_ip(ip("::1"), &h), ip("9.9.9.9"));
        let fwd = proxies(&["::1", "127.0.0.1"]).with_header(ForwardedHeader::Forwarded);
        assert_eq!(fwd.client_ip(ip("::1"), &h), ip("2001:db8::5"));
        // A client-written Forwarded alone changes nothing under X-Forwarded-For.
        let h = headers(&[("forwarded", "for=203.0.113.9")]);
        assert_eq!(xff.client_ip(ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn garbage_hops_stop_at_the_last_trusted_proxy() {
        let p = proxies(&["127.0.0.1"]);
        for bad in ["unknown", "not-an-ip", "", "1.2.3.4.5"] {
            let h = headers(&[("x-forwarded-for", bad)]);
            assert_eq!(p.client_ip(ip("127.0.0.1"), &h), ip("127.0.0.1"), "{bad:?}");
        }
        let p = p.with_header(ForwardedHeader::Forwarded);
        let h = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(p.client_ip(ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn mapped_addresses_and_bad_cidrs() {
        let p = proxies(&["127.0.0.1"]);
        let h = headers(&[("x-forwarded-for", "::ffff:198.51.100.7")]);
        assert_eq!(p.client_ip(ip("::ffff:127.0.0.1"), &h), ip("198.51.100.7"));
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["example.com".into()]).is_err());
    }
}
