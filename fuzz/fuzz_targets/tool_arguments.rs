//! Tool arguments and the untrusted strings inside them: every tool's argument decoding,
//! session names (an accepted name has only the safe alphabet), key lists, and the removal of
//! bracketed-paste markers from typed text (nothing that could end a paste survives).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

use sessiongate::fuzzing::{decode_tool_args, tools};
use sessiongate_backend::keys::{PASTE_END, PASTE_START, strip_paste_markers};
use sessiongate_backend::{Key, SessionName};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let tools = tools();
    let tool = tools[usize::from(selector) % tools.len()];
    let text = String::from_utf8_lossy(rest);
    let args: Value =
        serde_json::from_slice(rest).unwrap_or_else(|_| Value::String(text.clone().into_owned()));
    assert!(decode_tool_args(tool, &args).is_some());

    if let Ok(name) = SessionName::new(&text) {
        // A bare name, or HOST:NAME with one ':'; each part from the small alphabet.
        let (host, bare) = match name.as_str().split_once(':') {
            Some((h, b)) => (Some(h), b),
            None => (None, name.as_str()),
        };
        let part_ok = |n: &str, max: usize| {
            (1..=max).contains(&n.len())
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
                && !n.starts_with('-')
                && !n.bytes().all(|b| b == b'.')
        };
        assert!(part_ok(bare, 64));
        assert!(host.is_none_or(|h| part_ok(h, 32)));
        assert_eq!(name.bare().as_str(), bare);
        assert_eq!(name.host(), host);
    }
    let keys: Vec<&str> = text.split(',').collect();
    if let Ok(parsed) = Key::parse_list(&keys) {
        assert!(parsed.len() <= sessiongate_backend::keys::MAX_KEYS_PER_CALL);
    }
    let clean = strip_paste_markers(&text);
    assert!(!clean.contains(PASTE_END) && !clean.contains(PASTE_START));
    assert!(clean.len() <= text.len());
});
