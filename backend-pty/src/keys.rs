//! What an xterm writes for each named key, and how text is pasted.

use sessiongate_backend::Key;

/// The bytes for `key`. `app_cursor` is the terminal's application-cursor mode (DECCKM), in
/// which arrows and Home/End send `ESC O x` instead of `ESC [ x`.
pub fn key_bytes(key: Key, app_cursor: bool) -> Vec<u8> {
    let csi_or_ss3 = |c: char| -> Vec<u8> {
        if app_cursor {
            format!("\x1bO{c}").into_bytes()
        } else {
            format!("\x1b[{c}").into_bytes()
        }
    };
    match key {
        Key::Enter => b"\r".to_vec(),
        Key::Escape => b"\x1b".to_vec(),
        Key::Tab => b"\t".to_vec(),
        Key::BackTab => b"\x1b[Z".to_vec(),
        Key::Backspace => b"\x7f".to_vec(),
        Key::Delete => b"\x1b[3~".to_vec(),
        Key::Insert => b"\x1b[2~".to_vec(),
        Key::Up => csi_or_ss3('A'),
        Key::Down => csi_or_ss3('B'),
        Key::Right => csi_or_ss3('C'),
        Key::Left => csi_or_ss3('D'),
        Key::Home => csi_or_ss3('H'),
        Key::End => csi_or_ss3('F'),
        Key::PageUp => b"\x1b[5~".to_vec(),
        Key::PageDown => b"\x1b[6~".to_vec(),
        Key::Space => b" ".to_vec(),
        Key::F(n @ 1..=4) => format!("\x1bO{}", (b'P' + n - 1) as char).into_bytes(),
        Key::F(n) => {
            let code = match n {
                5 => 15,
                6 => 17,
                7 => 18,
                8 => 19,
                9 => 20,
                10 => 21,
                11 => 23,
                _ => 24,
            };
            format!("\x1b[{code}~").into_bytes()
        }
        Key::Ctrl(c) => {
            let b = match c {
                'a'..='z' => c as u8 - b'a' + 1,
                '@' => 0,
                '[' => 27,
                '\\' => 28,
                ']' => 29,
                '^' => 30,
                _ => 31,
            };
            vec![b]
        }
        Key::Char(c) => c.to_string().into_bytes(),
    }
}

/// The bytes that type `text`. With bracketed paste (the program asked for it with DECSET
/// 2004) the text is wrapped in paste markers, so several lines arrive as one paste; any paste
/// marker inside the text is removed first, so text cannot end the paste early and smuggle in
/// keystrokes. Without it, line feeds become carriage returns, as a terminal sends them.
pub fn paste_bytes(text: &str, bracketed: bool) -> Vec<u8> {
    let clean = sessiongate_backend::keys::strip_paste_markers(text);
    if bracketed {
        let mut out = b"\x1b[200~".to_vec();
        out.extend_from_slice(clean.as_bytes());
        out.extend_from_slice(b"\x1b[201~");
        out
    } else {
        clean.replace("\r\n", "\r").replace('\n', "\r").into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_xterm_sequences() {
        assert_eq!(key_bytes(Key::Enter, false), b"\r");
        assert_eq!(key_bytes(Key::Up, false), b"\x1b[A");
        assert_eq!(key_bytes(Key::Up, true), b"\x1bOA");
        assert_eq!(key_bytes(Key::Ctrl('c'), false), [3]);
        assert_eq!(key_bytes(Key::Ctrl('d'), false), [4]);
        assert_eq!(key_bytes(Key::F(1), false), b"\x1bOP");
        assert_eq!(key_bytes(Key::F(5), false), b"\x1b[15~");
        assert_eq!(key_bytes(Key::F(12), false), b"\x1b[24~");
        assert_eq!(key_bytes(Key::Char('é'), false), "é".as_bytes());
        assert_eq!(key_bytes(Key::BackTab, false), b"\x1b[Z");
    }

    #[test]
    fn pastes_cannot_escape_their_brackets() {
        for evil in [
            "a\x1b[201~\x03rm -rf /\n",
            "a\x1b[20\x1b[201~1~\rrm -rf /\n",
        ] {
            let out = paste_bytes(evil, true);
            let s = String::from_utf8(out).unwrap();
            assert_eq!(s.matches("\x1b[201~").count(), 1, "{evil:?}");
            assert!(s.ends_with("\x1b[201~"));
        }
        assert_eq!(paste_bytes("a\nb", false), b"a\rb");
    }
}
