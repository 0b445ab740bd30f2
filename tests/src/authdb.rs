//! A read-only look into a gateway's `auth.db`, so that attack tests can prove that a refused
//! request changed nothing (no client registered, no code or token issued, a grant still
//! valid or still revoked), and forge tokens with the gateway's own signing key.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// How many rows each table of the authorization server holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Registered clients.
    pub clients: i64,
    /// Authorization codes issued.
    pub codes: i64,
    /// Grants (refresh-token families).
    pub families: i64,
    /// Refresh tokens issued.
    pub refresh_tokens: i64,
    /// Grants revoked.
    pub revoked_families: i64,
    /// Consents recorded.
    pub consents: i64,
}

fn open(data_dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(
        data_dir.join("auth.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open auth.db read-only")
}

/// The row counts of the gateway's authorization database.
pub fn counts(data_dir: &Path) -> Counts {
    let db = open(data_dir);
    let n = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).expect(sql) };
    Counts {
        clients: n("SELECT count(*) FROM clients"),
        codes: n("SELECT count(*) FROM codes"),
        families: n("SELECT count(*) FROM families"),
        refresh_tokens: n("SELECT count(*) FROM refresh_tokens"),
        revoked_families: n("SELECT count(*) FROM families WHERE revoked_at IS NOT NULL"),
        consents: n("SELECT count(*) FROM consents"),
    }
}

/// The gateway's active signing key: its id and PKCS#8 document.
fn active_key(data_dir: &Path) -> (String, Vec<u8>) {
    open(data_dir)
        .query_row(
            "SELECT kid, pkcs8 FROM signing_keys WHERE retired_at IS NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("an active signing key")
}

/// A JWT with any header and claims, signed with the gateway's own Ed25519 key: a token only
/// the gateway could have made, so that a refusal can only come from the claims. The active
/// key's id is added to the header unless it has a `kid` (`null` for a token naming none).
pub fn sign_with_gateway_key(data_dir: &Path, header: &Value, claims: &Value) -> String {
    use aws_lc_rs::signature::Ed25519KeyPair;
    let (kid, pkcs8) = active_key(data_dir);
    let mut header = header.clone();
    if header.get("kid").is_none() {
        header["kid"] = Value::String(kid);
    }
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let key = Ed25519KeyPair::from_pkcs8(&pkcs8).expect("Ed25519 key");
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

/// The id of the gateway's active signing key.
pub fn active_kid(data_dir: &Path) -> String {
    active_key(data_dir).0
}

/// The gateway's public key (the JWKS `x`), raw bytes.
pub fn public_key(data_dir: &Path) -> Vec<u8> {
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
    let (_, pkcs8) = active_key(data_dir);
    Ed25519KeyPair::from_pkcs8(&pkcs8)
        .expect("Ed25519 key")
        .public_key()
        .as_ref()
        .to_vec()
}

/// A JWT signed with HMAC-SHA256 under `secret` (the key-confusion attack).
pub fn sign_hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// A JWT with `alg: none` and an empty signature.
pub fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}
