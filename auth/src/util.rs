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
    ct_eq_bytes(a.as_bytes(), b.as_bytes())
}

/// Constant-time equality of two byte strings (their lengths are not secret).
pub(crate) fn ct_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
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

/// A client's name as the pages show it: no control characters and no invisible formatting
/// characters (bidirectional overrides and isolates, zero-width characters, fillers, tags),
/// which could make it read as another name; runs of white space become one space; at most
/// 100 characters. A name with nothing left reads "An unnamed MCP client".
pub(crate) fn display_name(raw: &str) -> String {
    let visible: String = raw
        .chars()
        .filter(|&c| !c.is_control() && !invisible(c))
        .collect();
    let name: String = visible
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(100)
        .collect();
    if name.is_empty() {
        return "An unnamed MCP client".to_owned();
    }
    name
}

/// Characters that render as nothing (or reorder what follows) without being controls.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}
