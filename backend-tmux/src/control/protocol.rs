//! The control-mode protocol, line by line: `%begin`/`%end`/`%error` blocks that answer
//! commands, and `%`-notifications in between (`%output` carries a pane's output with
//! bytes below space and `\` written as three-digit octal escapes; `%subscription-changed`
//! carries the new value of a format the client subscribed to with `refresh-client -B`).
//!
//! A block ends only at an `%end` or `%error` line whose time, command number and flags are
//! exactly those of its `%begin`, so a screen line that merely looks like `%end ...` (a
//! capture of a program that printed one) is read as output.

/// What one line of control-mode output meant.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Item {
    /// A block ended: the reply to one command. `ours` is set for commands this client sent
    /// (flags 1); the reply to the client's own start-up command has flags 0.
    Reply {
        /// Whether the command came from this client's standard input.
        ours: bool,
        /// `Ok(output)` after `%end`, `Err(message)` after `%error`.
        result: Result<String, String>,
    },
    /// A pane showed output (`%output %<id> ...`); the bytes are decoded.
    Output {
        /// The pane id, `%` included (`%3`).
        pane: String,
        /// The bytes the pane's program wrote.
        data: Vec<u8>,
    },
    /// A subscribed format changed for a pane
    /// (`%subscription-changed <name> $S @W <index> %P ... : <value>`).
    Subscription {
        /// The subscription's name.
        name: String,
        /// The pane id, `%` included.
        pane: String,
        /// The format's new value.
        value: String,
    },
    /// The client is leaving (`%exit`).
    Exit,
    /// A notification sessiongate does not act on, or a line inside a block.
    Other,
    /// A line that cannot appear here: the stream is out of step.
    Garbled,
}

/// Reads a control-mode stream one line at a time.
#[derive(Debug, Default)]
pub(crate) struct Parser {
    /// The open block: its `time number flags` guard and the output so far.
    block: Option<(String, Vec<u8>)>,
}

impl Parser {
    /// Takes one line (without its `\n`).
    pub(crate) fn feed(&mut self, line: &[u8]) -> Item {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some((guard, out)) = &mut self.block {
            let closing = [(&b"%end "[..], true), (&b"%error "[..], false)]
                .into_iter()
                .find_map(|(tag, ok)| {
                    line.strip_prefix(tag)
                        .filter(|rest| *rest == guard.as_bytes())
                        .map(|_| ok)
                });
            return match closing {
                Some(ok) => {
                    let ours = guard.ends_with(" 1");
                    let mut text = String::from_utf8_lossy(out).into_owned();
                    if text.ends_with('\n') {
                        text.pop();
                    }
                    self.block = None;
                    Item::Reply {
                        ours,
                        result: if ok { Ok(text) } else { Err(text) },
                    }
                }
                None => {
                    out.extend_from_slice(line);
                    out.push(b'\n');
                    Item::Other
                }
            };
        }
        if let Some(rest) = line.strip_prefix(b"%begin ") {
            self.block = Some((String::from_utf8_lossy(rest).into_owned(), Vec::new()));
            return Item::Other;
        }
        if let Some(rest) = line.strip_prefix(b"%output ") {
            let Some(space) = rest.iter().position(|&b| b == b' ') else {
                return Item::Garbled;
            };
            let (pane, data) = rest.split_at(space);
            return Item::Output {
                pane: String::from_utf8_lossy(pane).into_owned(),
                data: decode_output(&data[1..]),
            };
        }
        if let Some(rest) = line.strip_prefix(b"%subscription-changed ") {
            // A notification of a shape we do not know is no reason to drop the client.
            return subscription(rest).unwrap_or(Item::Other);
        }
        if line == b"%exit" || line.starts_with(b"%exit ") {
            return Item::Exit;
        }
        if line.starts_with(b"%") {
            return Item::Other;
        }
        Item::Garbled
    }
}

/// Reads `<name> $S @W <index> %P ... : <value>`: the value follows the first ` : ` (the
/// fields before it never hold one). A subscription not about a pane (`-` for its pane)
/// counts as nothing sessiongate acts on.
fn subscription(rest: &[u8]) -> Option<Item> {
    let text = String::from_utf8_lossy(rest);
    let (fields, value) = text.split_once(" : ")?;
    let mut fields = fields.split(' ');
    let name = fields.next()?.to_owned();
    let pane = fields.nth(3)?;
    if !pane.starts_with('%') {
        return Some(Item::Other);
    }
    Some(Item::Subscription {
        name,
        pane: pane.to_owned(),
        value: value.to_owned(),
    })
}

/// Decodes the octal escapes of a `%output` payload (`\ooo` is one byte).
pub(crate) fn decode_output(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        let digits = data
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)) && d[0] <= b'3');
        match (b, digits) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_octal_escapes() {
        assert_eq!(decode_output(br"a\015\012b"), b"a\r\nb");
        assert_eq!(decode_output(br"\134\033[1m"), b"\\\x1b[1m");
        // A backslash that starts no escape is kept.
        assert_eq!(decode_output(br"x\9"), br"x\9");
        assert_eq!(decode_output("é".as_bytes()), "é".as_bytes());
    }

    #[test]
    fn blocks_become_replies_in_order() {
        let mut p = Parser::default();
        assert_eq!(p.feed(b"%begin 1 10 0"), Item::Other);
        assert_eq!(
            p.feed(b"%end 1 10 0"),
            Item::Reply {
                ours: false,
                result: Ok(String::new())
            }
        );
        p.feed(b"%begin 1 11 1");
        p.feed(b"line one");
        p.feed(b"%output %1 not-a-notification-inside-a-block");
        assert_eq!(
            p.feed(b"%end 1 11 1"),
            Item::Reply {
                ours: true,
                result: Ok("line one\n%output %1 not-a-notification-inside-a-block".into())
            }
        );
        p.feed(b"%begin 1 12 1");
        p.feed(b"can't find session: x");
        assert_eq!(
            p.feed(b"%error 1 12 1"),
            Item::Reply {
                ours: true,
                result: Err("can't find session: x".into())
            }
        );
    }

    #[test]
    fn a_lookalike_end_line_is_output() {
        let mut p = Parser::default();
        p.feed(b"%begin 1795 276 1");
        assert_eq!(p.feed(b"%end 1 2 1"), Item::Other);
        assert_eq!(p.feed(b"%error 1795 277 1"), Item::Other);
        assert_eq!(
            p.feed(b"%end 1795 276 1"),
            Item::Reply {
                ours: true,
                result: Ok("%end 1 2 1\n%error 1795 277 1".into())
            }
        );
    }

    #[test]
    fn notifications_outside_blocks() {
        let mut p = Parser::default();
        assert_eq!(
            p.feed(br"%output %12 hi\015\012"),
            Item::Output {
                pane: "%12".into(),
                data: b"hi\r\n".to_vec()
            }
        );
        assert_eq!(p.feed(b"%window-add @3"), Item::Other);
        assert_eq!(
            p.feed(b"%subscription-changed dead $0 @1 1 %1 : 1"),
            Item::Subscription {
                name: "dead".into(),
                pane: "%1".into(),
                value: "1".into()
            }
        );
        assert_eq!(
            p.feed(b"%subscription-changed dead $0 @1 1 - : 0"),
            Item::Other
        );
        assert_eq!(p.feed(b"%subscription-changed dead"), Item::Other);
        assert_eq!(p.feed(b"%exit"), Item::Exit);
        assert_eq!(p.feed(b"%exit detached"), Item::Exit);
        assert_eq!(p.feed(b"stray text"), Item::Garbled);
        assert_eq!(p.feed(b"%output broken"), Item::Garbled);
    }
}
