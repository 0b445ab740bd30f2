//! Client ID metadata documents: a `client_id` that is an https URL names a JSON document
//! describing the client. Fetching a URL chosen by a stranger is an SSRF risk, so the fetch
//! resolves the name first and refuses loopback, private, link-local and other internal
//! addresses, pins the connection to the checked address, follows no redirects, gives up
//! after 5 seconds and reads at most 5 KB. Documents are cached for 10 minutes.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use url::Url;

use crate::redirect::{check_registrable, uri_chars_ok};
use crate::server::AuthServer;
use crate::store::Client;
use crate::util::display_name;

/// The largest document read.
pub(crate) const MAX_DOCUMENT: usize = 5 * 1024;
/// How long a fetch may take.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a fetched document is trusted.
const CACHE_TTL: Duration = Duration::from_secs(10 * 60);

/// Fetched documents by URL.
#[derive(Debug, Default)]
pub(crate) struct CimdCache(Mutex<HashMap<String, (Client, Instant)>>);

#[derive(Debug, Deserialize)]
struct Document {
    client_id: String,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
}

/// Whether an address is one a metadata fetch must never reach.
pub(crate) fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_internal(IpAddr::V4(v4)))
        }
    }
}

/// Fetches and validates the metadata document behind `client_id`.
pub(crate) async fn fetch_client(s: &Arc<AuthServer>, client_id: &str) -> Result<Client, String> {
    if let Some((c, at)) = s
        .cimd
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(client_id)
        && at.elapsed() < CACHE_TTL
    {
        return Ok(c.clone());
    }
    let allow_private = s.cfg.allow_private_cimd_hosts;
    // The id is compared, cached and logged as written; URL parsing would drop tabs and line
    // breaks from what is fetched, so such an id could differ from the document's location.
    if !uri_chars_ok(client_id) {
        return Err("a client_id URL may hold only the characters a URI can hold".into());
    }
    let url = Url::parse(client_id).map_err(|e| format!("client_id is not a URL: {e}"))?;
    let scheme_ok = url.scheme() == "https" || (allow_private && url.scheme() == "http");
    if !scheme_ok {
        return Err("a client_id URL must use https".into());
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("a client_id URL may have no fragment and no user info".into());
    }
    if url.path() == "/" || client_id.contains("/./") || client_id.contains("/../") {
        return Err("a client_id URL needs a path without dot segments".into());
    }
    let host = url
        .host_str()
        .ok_or("the client_id URL has no host")?
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    // An IPv6 literal comes bracketed ("[::1]"); the resolver wants the bare address, and
    // must get it, so that the address checks below see it.
    let lookup = match url.host() {
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        _ => host.clone(),
    };
    let addrs: Vec<SocketAddr> = tokio::time::timeout(
        FETCH_TIMEOUT,
        tokio::net::lookup_host((lookup.as_str(), port)),
    )
    .await
    .map_err(|_| "resolving the client_id host timed out".to_string())?
    .map_err(|e| format!("cannot resolve the client_id host: {e}"))?
    .collect();
    let addr = *addrs.first().ok_or("the client_id host has no address")?;
    if !allow_private && addrs.iter().any(|a| is_internal(a.ip())) {
        return Err("the client_id host resolves to an internal address".into());
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(FETCH_TIMEOUT)
        .resolve(&host, addr)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let mut resp = http
        .get(url.clone())
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("fetching the client metadata failed: {e}"))?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(format!(
            "the client metadata URL answered {}",
            resp.status()
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("reading the client metadata failed: {e}"))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_DOCUMENT {
            return Err(format!(
                "the client metadata document is larger than {MAX_DOCUMENT} bytes"
            ));
        }
    }
    let doc: Document = serde_json::from_slice(&body)
        .map_err(|e| format!("the client metadata is not valid JSON: {e}"))?;
    if doc.client_id != client_id {
        return Err("the document's client_id differs from its URL".into());
    }
    match doc.token_endpoint_auth_method.as_deref() {
        None | Some("none") => {}
        Some(m) => {
            return Err(format!(
                "token_endpoint_auth_method {m:?} is not supported for metadata documents; use none"
            ));
        }
    }
    if doc.redirect_uris.is_empty() || doc.redirect_uris.len() > 10 {
        return Err("the document must list 1 to 10 redirect_uris".into());
    }
    for u in &doc.redirect_uris {
        check_registrable(u, &s.cfg.extra_redirect_patterns)?;
    }
    let client = Client {
        client_id: client_id.to_owned(),
        secret_hash: None,
        name: display_name(doc.client_name.as_deref().unwrap_or(&host)),
        redirect_uris: doc.redirect_uris,
        auth_method: "none".into(),
    };
    let mut cache = s.cimd.0.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() > 1000 {
        cache.clear();
    }
    cache.insert(client_id.to_owned(), (client.clone(), Instant::now()));
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }
}
