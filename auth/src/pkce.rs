//! PKCE (RFC 7636), S256 only.

use crate::util::{ct_eq, sha256_b64};

/// Whether a challenge is well-formed: base64url of a SHA-256 digest (43 characters).
pub(crate) fn valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether a verifier is well-formed (43 to 128 unreserved characters).
pub(crate) fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Whether `verifier` matches the S256 `challenge`, compared in constant time.
pub(crate) fn verify(verifier: &str, challenge: &str) -> bool {
    valid_verifier(verifier) && ct_eq(&sha256_b64(verifier.as_bytes()), challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_example() {
        let verifier = "dBjftJeZ4CVP-mJ92K9QdNJr6UwBD3Jv8pZ2Jk8D-0M";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(!verify(verifier, challenge));
        let v = "dBjftJeZ4CVP-mJ92K9QdNJr6UwBD3Jv8pZ2Jk8D-0M-extra-long-enough";
        assert!(verify(v, &sha256_b64(v.as_bytes())));
        assert!(valid_challenge(challenge));
        assert!(!valid_challenge("short"));
        assert!(!verify("short", challenge));
    }
}
