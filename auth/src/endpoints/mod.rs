//! The HTTP handlers of the authorization server, one file per endpoint, the binding of the
//! authorization pages to one browser (`browser`), and the request helpers they share.

pub(crate) mod authorize;
pub(crate) mod browser;
pub(crate) mod metadata;
pub(crate) mod register;
pub(crate) mod revoke;
pub(crate) mod token;
pub(crate) mod upstream;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::ConnectInfo;
use http::{HeaderMap, header};

use crate::error::AuthError;

/// The client's address: the one the gateway determined ([`crate::ClientIp`], which honours
/// trusted proxies), else the peer of the connection.
pub(crate) fn client_addr(ext: &http::Extensions) -> IpAddr {
    if let Some(ip) = ext.get::<crate::ClientIp>() {
        return ip.0;
    }
    ext.get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Parses an `application/x-www-form-urlencoded` body, refusing repeated parameters (RFC
/// 6749 §3.1) and oversized values.
pub(crate) fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, AuthError> {
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        if v.len() > 8192 {
            return Err(AuthError::bad(
                "invalid_request",
                format!("parameter {k} is too long"),
            ));
        }
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(AuthError::bad(
                "invalid_request",
                format!("parameter {k} is repeated"),
            ));
        }
    }
    Ok(out)
}

/// The value of one cookie. A name sent twice counts as absent: a page on a sibling origin
/// (another port of the same host shares its cookies) could have planted the second one
/// under a longer path, so which one is ours cannot be told.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}
