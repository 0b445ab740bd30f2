//! The form parser behind /token, /revoke and the login and consent forms (repeated and
//! oversized parameters refused), and the Cookie header reader.
#![no_main]

use libfuzzer_sys::fuzz_target;

use sessiongate_auth::fuzzing::{cookie, parse_form};

fuzz_target!(|data: &[u8]| {
    if let Some(form) = parse_form(data) {
        assert!(form.values().all(|v| v.len() <= 8192));
    }
    let header = String::from_utf8_lossy(data);
    if let Some(v) = cookie(&header, "sessiongate_login") {
        assert!(header.contains(&v));
        assert!(!v.contains(';'));
    }
});
