//! Small helpers: randomness, hashing, encoding, time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `n` bytes from the operating system's CSPRNG, base64url-encoded.
pub(crate) fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    // The system RNG does not fail on Linux once the kernel is seeded; if it ever did, a
    // token of zeros must not be issued, so this aborts the request instead.
    aws_lc_rs::rand::fill(&mut buf).expect("the system random number generator works");
    URL_SAFE_NO_PAD.encode(buf)
}

/// SHA-256 of `data`, base64url-encoded: how secrets are stored at rest.
pub(crate) fn sha256_b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data))
}

/// Constant-time equality of two strings.
pub(crate) fn ct_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Escapes text for HTML.
pub(crate) fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
