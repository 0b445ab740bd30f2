//! Ed25519 signing keys, JWT access tokens and the JWKS.
//!
//! The active key signs; keys retired by a rotation stay in the JWKS and keep verifying until
//! every token they signed has expired. Decoded keys are cached in memory, so verifying a
//! token reads no database.

use std::collections::HashMap;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::AuthError;
use crate::store::Store;
use crate::util::random_token;

/// Seconds of clock skew allowed on `exp` and `nbf`.
pub(crate) const LEEWAY_SECS: i64 = 5;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) iss: String,
    pub(crate) aud: String,
    pub(crate) sub: String,
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) exp: i64,
    pub(crate) iat: i64,
    pub(crate) nbf: i64,
    pub(crate) jti: String,
    /// The refresh-token family (grant) the token belongs to, for revocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) fid: Option<String>,
}

/// The signing keys.
pub(crate) struct KeyRing {
    active_kid: String,
    active: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    jwks: JwkSet,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("active_kid", &self.active_kid)
            .field("keys", &self.decoding.len())
            .finish_non_exhaustive()
    }
}

fn crypto(e: impl std::fmt::Display) -> AuthError {
    AuthError::Crypto(e.to_string())
}

impl KeyRing {
    /// Loads the keys from the store, generating the first one if there is none.
    pub(crate) fn load(store: &Store) -> Result<KeyRing, AuthError> {
        let mut keys = store.signing_keys()?;
        if !keys.iter().any(|k| k.3.is_none()) {
            generate(store)?;
            keys = store.signing_keys()?;
        }
        let mut decoding = HashMap::new();
        let mut jwks = Vec::new();
        let mut active = None;
        for (kid, pkcs8, _, retired) in keys {
            let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(crypto)?;
            decoding.insert(
                kid.clone(),
                DecodingKey::from_ed_der(pair.public_key().as_ref()),
            );
            let enc = EncodingKey::from_ed_der(&pkcs8);
            let mut jwk = Jwk::from_encoding_key(&enc, Algorithm::EdDSA).map_err(crypto)?;
            jwk.common.key_id = Some(kid.clone());
            jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
            jwks.push(jwk);
            if retired.is_none() {
                active = Some((kid, enc));
            }
        }
        let (active_kid, active) =
            active.ok_or_else(|| AuthError::Crypto("no active signing key".into()))?;
        Ok(KeyRing {
            active_kid,
            active,
            decoding,
            jwks: JwkSet { keys: jwks },
        })
    }

    /// Signs `claims` with the active key.
    pub(crate) fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.active_kid.clone());
        header.typ = Some("at+jwt".into());
        jsonwebtoken::encode(&header, claims, &self.active).map_err(crypto)
    }

    /// Verifies a token's signature (EdDSA only, key chosen by `kid`), issuer, audience and
    /// lifetime.
    pub(crate) fn verify(
        &self,
        token: &str,
        issuer: &str,
        audience: &str,
    ) -> Result<Claims, String> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| format!("malformed token: {e}"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(format!("algorithm {:?} is not accepted", header.alg));
        }
        let kid = header.kid.ok_or("the token names no key")?;
        let key = self
            .decoding
            .get(&kid)
            .ok_or("the token was signed by an unknown key")?;
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_issuer(&[issuer]);
        v.set_audience(&[audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf"]);
        v.validate_nbf = true;
        v.leeway = LEEWAY_SECS as u64;
        let claims = jsonwebtoken::decode::<Claims>(token, key, &v)
            .map(|d| d.claims)
            .map_err(|e| format!("token rejected: {e}"))?;
        // We never issue a token dated in the future; one that is was not made by us as we
        // made it (a clock gone wrong, or a key that leaked), so it is refused on its own.
        if claims.iat > crate::util::now() + v.leeway as i64 {
            return Err("token rejected: issued in the future".into());
        }
        Ok(claims)
    }

    /// The public keys.
    pub(crate) fn jwks(&self) -> &JwkSet {
        &self.jwks
    }
}

/// Generates a new key, retiring the active one.
pub(crate) fn generate(store: &Store) -> Result<(), AuthError> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8v1(&rng).map_err(crypto)?;
    let kid = random_token(12);
    store.insert_signing_key(&kid, doc.as_ref())?;
    tracing::info!(%kid, "generated a new token signing key");
    Ok(())
}
