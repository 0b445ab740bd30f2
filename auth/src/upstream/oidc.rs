//! OpenID Connect: the issuer's discovery document and keys (cached), and the checks on an
//! ID token: signature with a key from the issuer's JWKS and an asymmetric algorithm, issuer,
//! audience (and `azp`), expiry, and the nonce bound to this sign-in.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::http::{CallError, get_json};
use crate::util::ct_eq;

/// How long a discovery document and its keys are reused.
const CACHE_TTL: Duration = Duration::from_secs(60 * 60);
/// Clock skew tolerated on `exp`, `iat` and `nbf`.
const LEEWAY_SECS: u64 = 60;

/// What sessiongate uses from a discovery document.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Discovery {
    pub(crate) issuer: String,
    pub(crate) authorization_endpoint: String,
    pub(crate) token_endpoint: String,
    pub(crate) jwks_uri: String,
    #[serde(default)]
    pub(crate) userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub(crate) token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

/// A provider's discovery document and keys, fetched when first needed.
#[derive(Debug, Clone)]
pub(crate) struct Cached {
    pub(crate) doc: Discovery,
    pub(crate) keys: JwkSet,
    pub(crate) fetched: Instant,
}

impl Cached {
    pub(crate) fn fresh(&self) -> bool {
        self.fetched.elapsed() < CACHE_TTL
    }
}

/// Fetches and checks the discovery document and the keys.
pub(crate) async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Cached, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let doc: Discovery = get_json(http, &url, None, "application/json")
        .await
        .map_err(|e| e.to_string())?;
    if doc.issuer != issuer {
        return Err(format!(
            "the discovery document names the issuer {:?}, not {issuer:?}",
            doc.issuer
        ));
    }
    for u in [
        Some(&doc.authorization_endpoint),
        Some(&doc.token_endpoint),
        Some(&doc.jwks_uri),
        doc.userinfo_endpoint.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        super::config::check_url(u)?;
    }
    let keys = fetch_keys(http, &doc.jwks_uri)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Cached {
        doc,
        keys,
        fetched: Instant::now(),
    })
}

/// Fetches the issuer's JWKS.
pub(crate) async fn fetch_keys(
    http: &reqwest::Client,
    jwks_uri: &str,
) -> Result<JwkSet, CallError> {
    get_json(http, jwks_uri, None, "application/json").await
}

/// The algorithms accepted on ID tokens: asymmetric only (a symmetric one would make the
/// client secret a signing key).
const ALGS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// Why an ID token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum IdTokenError {
    /// The key is not in the issuer's JWKS (perhaps rotated: fetch it again once).
    #[error("the ID token was signed with a key the provider does not publish")]
    UnknownKey,
    /// Anything else, with the reason.
    #[error("the ID token was refused: {0}")]
    Invalid(String),
}

/// Checks an ID token and returns its claims.
pub(crate) fn verify_id_token(
    token: &str,
    keys: &JwkSet,
    issuer: &str,
    client_id: &str,
    nonce: &str,
) -> Result<Map<String, Value>, IdTokenError> {
    let bad = |s: &str| IdTokenError::Invalid(s.to_owned());
    let header = jsonwebtoken::decode_header(token).map_err(|_| bad("it is not a JWT"))?;
    if !ALGS.contains(&header.alg) {
        return Err(bad(&format!(
            "its algorithm {:?} is not accepted",
            header.alg
        )));
    }
    let key = pick_key(keys, header.kid.as_deref(), header.alg)?;
    let decoding = DecodingKey::from_jwk(key).map_err(|_| bad("the provider's key is unusable"))?;
    let mut v = Validation::new(header.alg);
    v.set_issuer(&[issuer]);
    v.set_audience(&[client_id]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.leeway = LEEWAY_SECS;
    v.validate_nbf = true;
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &decoding, &v).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::InvalidSignature => bad("its signature is not valid"),
            K::ExpiredSignature => bad("it has expired"),
            K::ImmatureSignature => bad("it is not valid yet"),
            K::InvalidIssuer => bad("it was issued by someone else (iss)"),
            K::InvalidAudience => bad("it was issued for another client (aud)"),
            K::MissingRequiredClaim(c) => bad(&format!("the {c} claim is missing")),
            _ => bad(&format!("it could not be verified ({e})")),
        }
    })?;
    let claims = data.claims;
    // Several audiences: the authorized party must be us (OIDC Core 3.1.3.7).
    if let Some(azp) = claims.get("azp")
        && azp.as_str() != Some(client_id)
    {
        return Err(bad("it was issued to another party (azp)"));
    }
    if claims.get("aud").is_some_and(Value::is_array) && claims.get("azp").is_none() {
        let auds = claims.get("aud").and_then(Value::as_array);
        if auds.is_some_and(|a| a.len() > 1) {
            return Err(bad("it has several audiences and no azp"));
        }
    }
    match claims.get("nonce").and_then(Value::as_str) {
        Some(n) if ct_eq(n, nonce) => {}
        Some(_) => return Err(bad("its nonce does not match this sign-in")),
        None => return Err(bad("it carries no nonce")),
    }
    match claims.get("iat").and_then(Value::as_i64) {
        Some(iat) if iat <= crate::util::now() + LEEWAY_SECS as i64 => {}
        Some(_) => return Err(bad("it was issued in the future (iat)")),
        None => return Err(bad("the iat claim is missing")),
    }
    match claims.get("sub").and_then(Value::as_str) {
        Some(s) if !s.is_empty() && s.len() <= 255 => {}
        _ => return Err(bad("its sub claim is not a valid subject")),
    }
    Ok(claims)
}

/// The key for a token: by `kid`, or the only signing key when the token names none.
fn pick_key<'a>(
    keys: &'a JwkSet,
    kid: Option<&str>,
    alg: Algorithm,
) -> Result<&'a Jwk, IdTokenError> {
    let usable = |k: &&Jwk| {
        !matches!(k.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature)
            && k.common
                .key_algorithm
                .is_none_or(|ka| ka == KeyAlgorithm::from(alg))
    };
    let found: Vec<&Jwk> = match kid {
        Some(kid) => keys
            .keys
            .iter()
            .filter(|k| k.common.key_id.as_deref() == Some(kid))
            .filter(usable)
            .collect(),
        None => keys.keys.iter().filter(usable).collect(),
    };
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(IdTokenError::UnknownKey),
        _ => Err(IdTokenError::Invalid(
            "the token names no key and the provider publishes several".into(),
        )),
    }
}

/// Claims from the userinfo endpoint, merged under the ID token's when their `sub` is the
/// same person (OIDC Core 5.3.2); the ID token's own claims win.
pub(crate) async fn add_userinfo(
    http: &reqwest::Client,
    endpoint: &str,
    access_token: &str,
    claims: &mut Map<String, Value>,
) -> Result<(), String> {
    let info: Map<String, Value> = get_json(http, endpoint, Some(access_token), "application/json")
        .await
        .map_err(|e| e.to_string())?;
    if info.get("sub") != claims.get("sub") {
        return Err("the userinfo endpoint describes another subject".into());
    }
    for (k, v) in info {
        claims.entry(k).or_insert(v);
    }
    Ok(())
}

/// Verified email addresses among the claims (`email` with `email_verified` true).
pub(crate) fn verified_emails(claims: &Map<String, Value>) -> Vec<String> {
    let verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    match claims.get("email").and_then(Value::as_str) {
        Some(e) if verified => vec![e.to_owned()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
#[path = "oidc_tests.rs"]
mod tests;
