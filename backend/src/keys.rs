//! Named keys that a client may send to a session (`send_keys`, prompt answers).
//!
//! Names follow tmux's spelling where one exists (`Enter`, `Escape`, `C-c`, `PageUp`), and a
//! few common aliases are accepted (`Esc`, `Ctrl-C`, `^C`, `Return`). Each backend maps a
//! [`Key`] to what it sends: a tmux key name or the bytes an xterm would write.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The most keys accepted in one call, so that one request cannot queue unbounded input.
pub const MAX_KEYS_PER_CALL: usize = 64;

/// A key that is not plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// Return / Enter.
    Enter,
    /// Escape.
    Escape,
    /// Tab.
    Tab,
    /// Shift-Tab.
    BackTab,
    /// Backspace.
    Backspace,
    /// Delete (forward).
    Delete,
    /// Insert.
    Insert,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Arrow left.
    Left,
    /// Arrow right.
    Right,
    /// Home.
    Home,
    /// End.
    End,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// The space bar.
    Space,
    /// A function key, 1 to 12.
    F(u8),
    /// Control plus a letter `a`..`z` (lower case), or one of `@ [ \ ] ^ _`.
    Ctrl(char),
    /// A single printable character sent as itself (for example a menu digit).
    Char(char),
}

impl Key {
    /// Parses a list of key names, refusing more than [`MAX_KEYS_PER_CALL`].
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Vec<Key>, Error> {
        if names.len() > MAX_KEYS_PER_CALL {
            return Err(Error::TooManyKeys {
                len: names.len(),
                max: MAX_KEYS_PER_CALL,
            });
        }
        names.iter().map(|n| n.as_ref().parse()).collect()
    }
}

impl FromStr for Key {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || Error::InvalidKey(crate::name::printable_prefix(s));
        let lower = s.to_ascii_lowercase();
        let key = match lower.as_str() {
            "enter" | "return" | "cr" => Key::Enter,
            "escape" | "esc" => Key::Escape,
            "tab" => Key::Tab,
            "btab" | "backtab" | "s-tab" | "shift-tab" => Key::BackTab,
            "backspace" | "bspace" | "bs" => Key::Backspace,
            "delete" | "del" | "dc" => Key::Delete,
            "insert" | "ins" | "ic" => Key::Insert,
            "up" => Key::Up,
            "down" => Key::Down,
            "left" => Key::Left,
            "right" => Key::Right,
            "home" => Key::Home,
            "end" => Key::End,
            "pageup" | "pgup" | "ppage" => Key::PageUp,
            "pagedown" | "pgdn" | "npage" => Key::PageDown,
            "space" => Key::Space,
            _ => {
                if let Some(n) = lower.strip_prefix('f').and_then(|d| d.parse::<u8>().ok()) {
                    if (1..=12).contains(&n) {
                        return Ok(Key::F(n));
                    }
                    return Err(bad());
                }
                let ctrl = lower
                    .strip_prefix("c-")
                    .or_else(|| lower.strip_prefix("ctrl-"))
                    .or_else(|| lower.strip_prefix("ctrl+"))
                    .or_else(|| lower.strip_prefix('^'));
                if let Some(rest) = ctrl {
                    let mut chars = rest.chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) if c.is_ascii_lowercase() || "@[\\]^_".contains(c) => {
                            return Ok(Key::Ctrl(c));
                        }
                        _ => return Err(bad()),
                    }
                }
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if !c.is_control() => Key::Char(c),
                    _ => return Err(bad()),
                }
            }
        };
        Ok(key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Enter => f.write_str("Enter"),
            Key::Escape => f.write_str("Escape"),
            Key::Tab => f.write_str("Tab"),
            Key::BackTab => f.write_str("BTab"),
            Key::Backspace => f.write_str("BSpace"),
            Key::Delete => f.write_str("DC"),
            Key::Insert => f.write_str("IC"),
            Key::Up => f.write_str("Up"),
            Key::Down => f.write_str("Down"),
            Key::Left => f.write_str("Left"),
            Key::Right => f.write_str("Right"),
            Key::Home => f.write_str("Home"),
            Key::End => f.write_str("End"),
            Key::PageUp => f.write_str("PPage"),
            Key::PageDown => f.write_str("NPage"),
            Key::Space => f.write_str("Space"),
            Key::F(n) => write!(f, "F{n}"),
            Key::Ctrl(c) => write!(f, "C-{c}"),
            Key::Char(c) => write!(f, "{c}"),
        }
    }
}

impl serde::Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The bracketed-paste start marker (`ESC [ 200 ~`).
pub const PASTE_START: &str = "\x1b[200~";
/// The bracketed-paste end marker (`ESC [ 201 ~`).
pub const PASTE_END: &str = "\x1b[201~";

/// `text` with every bracketed-paste marker removed, including markers that only appear once
/// an inner one is removed (`ESC[20` + `ESC[201~` + `1~`). Both backends type text as one
/// bracketed paste; a marker inside the text would end the paste early and let the rest
/// arrive as keystrokes (a carriage return after it would submit a command). One pass, linear
/// in the length of the text.
pub fn strip_paste_markers(text: &str) -> String {
    if !text.contains('\x1b') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        out.push(ch);
        if ch == '~' && (out.ends_with(PASTE_START) || out.ends_with(PASTE_END)) {
            out.truncate(out.len() - PASTE_END.len());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_aliases() {
        assert_eq!("Enter".parse::<Key>().unwrap(), Key::Enter);
        assert_eq!("esc".parse::<Key>().unwrap(), Key::Escape);
        assert_eq!("C-c".parse::<Key>().unwrap(), Key::Ctrl('c'));
        assert_eq!("Ctrl-C".parse::<Key>().unwrap(), Key::Ctrl('c'));
        assert_eq!("^d".parse::<Key>().unwrap(), Key::Ctrl('d'));
        assert_eq!("PageUp".parse::<Key>().unwrap(), Key::PageUp);
        assert_eq!("F12".parse::<Key>().unwrap(), Key::F(12));
        assert_eq!("1".parse::<Key>().unwrap(), Key::Char('1'));
    }

    #[test]
    fn refuses_unknown_names() {
        for bad in ["", "F13", "C-", "C-ab", "Enterprise", "\u{1b}", "ls -la"] {
            assert!(
                matches!(bad.parse::<Key>(), Err(Error::InvalidKey(_))),
                "{bad:?}"
            );
        }
        let many = vec!["Up"; MAX_KEYS_PER_CALL + 1];
        assert!(matches!(
            Key::parse_list(&many),
            Err(Error::TooManyKeys { .. })
        ));
    }

    #[test]
    fn display_round_trips() {
        for k in [
            Key::Enter,
            Key::PageUp,
            Key::Ctrl('c'),
            Key::F(3),
            Key::BackTab,
            Key::Char('2'),
        ] {
            assert_eq!(k.to_string().parse::<Key>().unwrap(), k);
        }
    }

    #[test]
    fn paste_markers_are_removed_even_when_nested() {
        assert_eq!(strip_paste_markers("plain text\n"), "plain text\n");
        assert_eq!(
            strip_paste_markers("a\x1b[201~\rrm -rf /\r"),
            "a\rrm -rf /\r"
        );
        assert_eq!(strip_paste_markers("\x1b[200~x\x1b[201~"), "x");
        // Removing the inner marker must not leave an outer one behind.
        for evil in [
            "\x1b[20\x1b[201~1~\r",
            "\x1b[2\x1b[201~01~\r",
            "\x1b[\x1b[20\x1b[201~1~201~\r",
            "\x1b\x1b[200~[201~",
        ] {
            let out = strip_paste_markers(evil);
            assert!(
                !out.contains(PASTE_END) && !out.contains(PASTE_START),
                "{evil:?} -> {out:?}"
            );
        }
        // Other escape sequences are text like any other.
        assert_eq!(strip_paste_markers("\x1b[31mred"), "\x1b[31mred");
    }
}
