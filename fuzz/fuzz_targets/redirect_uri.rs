//! Redirect URIs: what registration accepts and how a requested URI is matched against a
//! registered one. A match is exact, or loopback to loopback with no fragment and no user
//! info, differing only in the port; registration never accepts a fragment, user info, a
//! foreign host, or a character outside printable ASCII.
#![no_main]

use libfuzzer_sys::fuzz_target;

use sessiongate_auth::fuzzing::{check_registrable, is_loopback, redirect_matches};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (registered, requested) = text.split_once('\n').unwrap_or((&text, &text));
    if redirect_matches(registered, requested) && registered != requested {
        assert!(is_loopback(registered) && is_loopback(requested));
        assert!(!requested.contains('#'), "fragment matched: {requested:?}");
        assert!(
            registered.bytes().all(|b| b.is_ascii_graphic())
                && requested.bytes().all(|b| b.is_ascii_graphic()),
            "matched with a control character: {registered:?} {requested:?}"
        );
    }
    if check_registrable(requested, &[]) {
        assert!(!requested.contains('#'));
        assert!(
            requested.bytes().all(|b| b.is_ascii_graphic()),
            "registered a control character, a space or non-ASCII: {requested:?}"
        );
        let allowed_host = is_loopback(requested)
            || requested.starts_with("https://chatgpt.com/")
            || requested.starts_with("https://chat.openai.com/")
            || requested.starts_with("https://claude.ai/")
            || requested.starts_with("https://claude.com/");
        assert!(allowed_host, "registered a foreign URI: {requested:?}");
    }
    // An owner-configured prefix pattern admits only plain path segments below it.
    let pattern = format!("{registered}*");
    if check_registrable(requested, std::slice::from_ref(&pattern))
        && !check_registrable(requested, &[])
    {
        let rest = requested.strip_prefix(registered).expect("prefix");
        assert!(
            rest.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
});
