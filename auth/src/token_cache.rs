//! Verified access tokens, remembered until they expire, so that a client's every call does
//! not pay for the signature check again (about 90 µs, the largest cost of a tool call).
//!
//! Entries are keyed by the SHA-256 of the token, never the token itself; an entry is only
//! ever made from a token that passed the full check. Revocation is not cached: the caller
//! checks the revocation sets on every call. Expiry is checked on every hit with the same
//! leeway as the full check. The map is bounded: when full, expired entries go, and if it is
//! still full it starts over.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::keys::{Claims, LEEWAY_SECS};
use crate::util::now;

/// How many tokens are remembered at most.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    map: Mutex<HashMap<[u8; 32], Arc<Claims>>>,
}

fn key(token: &str) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut k = [0u8; 32];
    k.copy_from_slice(digest.as_ref());
    k
}

impl TokenCache {
    /// The claims of a token that was verified before and has not expired.
    pub(crate) fn get(&self, token: &str) -> Option<Arc<Claims>> {
        let k = key(token);
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&k).filter(|c| c.exp + LEEWAY_SECS > now()).cloned()
    }

    /// Remembers a token that just passed the full check.
    pub(crate) fn insert(&self, token: &str, claims: Claims) -> Arc<Claims> {
        let claims = Arc::new(claims);
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            let t = now();
            map.retain(|_, c| c.exp + LEEWAY_SECS > t);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(key(token), claims.clone());
        claims
    }

    /// Forgets everything (the signing keys changed).
    pub(crate) fn clear(&self) {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: "i".into(),
            aud: "a".into(),
            sub: "s".into(),
            client_id: "c".into(),
            scope: "sessions:read".into(),
            exp,
            iat: 0,
            nbf: 0,
            jti: "j".into(),
            fid: None,
        }
    }

    #[test]
    fn hits_until_expiry_and_only_for_the_same_token() {
        let cache = TokenCache::default();
        cache.insert("tok", claims(now() + 60));
        assert!(cache.get("tok").is_some());
        assert!(cache.get("tok2").is_none());
        assert!(cache.get("to").is_none());
        cache.insert("old", claims(now() - LEEWAY_SECS - 1));
        assert!(cache.get("old").is_none(), "expired tokens are not served");
        cache.clear();
        assert!(cache.get("tok").is_none());
    }

    #[test]
    fn stays_bounded() {
        let cache = TokenCache::default();
        for i in 0..(MAX_ENTRIES + 10) {
            cache.insert(&format!("t{i}"), claims(now() + 60));
        }
        let len = cache.map.lock().expect("lock").len();
        assert!(len <= MAX_ENTRIES, "{len}");
    }
}
