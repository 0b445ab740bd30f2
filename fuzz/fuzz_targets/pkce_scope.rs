//! PKCE and scopes: a verifier matches exactly its own S256 challenge; scope lists parse to
//! the same list after a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

use sessiongate_auth::Scope;
use sessiongate_auth::fuzzing::{pkce_verify, s256, valid_challenge, valid_verifier};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (verifier, challenge) = text.split_once('\n').unwrap_or((&text, ""));
    assert_eq!(
        pkce_verify(verifier, &s256(verifier)),
        valid_verifier(verifier)
    );
    if pkce_verify(verifier, challenge) {
        assert_eq!(challenge, s256(verifier));
    }
    if valid_challenge(challenge) {
        assert_eq!(challenge.len(), 43);
    }
    if let Ok(list) = Scope::parse_list(&text) {
        assert_eq!(Scope::parse_list(&Scope::join(&list)), Ok(list));
    }
});
