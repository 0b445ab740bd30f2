//! Text helpers shared by the backends: trimming captured output and cutting a page from it.

use crate::types::{ReadRequest, Screen};

/// Cuts the window that `req` asks for out of captured output.
///
/// `captured` is everything the backend captured (scrollback and/or screen), one terminal
/// line per `\n`. Trailing spaces of each line and trailing blank lines are removed first, so
/// that a mostly empty screen does not look like forty lines of output.
pub fn page(captured: &str, req: &ReadRequest, cursor: Option<(u16, u16)>) -> Screen {
    let mut lines: Vec<&str> = captured
        .split('\n')
        .map(|l| l.trim_end_matches([' ', '\r']))
        .collect();
    while lines
        .last()
        .is_some_and(|l| l.is_empty() || is_blank_styled(l))
    {
        lines.pop();
    }
    let total = lines.len();
    let end = total.saturating_sub(req.offset);
    let start = end.saturating_sub(req.lines);
    Screen {
        text: lines[start..end].join("\n"),
        total_lines: total,
        first_line: start,
        returned_lines: end - start,
        more_above: start > 0,
        cursor,
    }
}

/// Whether a line holds nothing but escape sequences and spaces (a blank line when colours
/// were kept).
fn is_blank_styled(line: &str) -> bool {
    let mut in_escape = false;
    for c in line.chars() {
        match (in_escape, c) {
            (false, '\u{1b}') => in_escape = true,
            (false, ' ') => {}
            (false, _) => return false,
            (true, c) if c.is_ascii_alphabetic() => in_escape = false,
            (true, _) => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(lines: usize, offset: usize) -> ReadRequest {
        ReadRequest {
            lines,
            offset,
            ..ReadRequest::default()
        }
    }

    #[test]
    fn trims_and_pages_from_the_bottom() {
        let text = "one  \ntwo\nthree\nfour\n\n   \n\x1b[0m  \n";
        let s = page(text, &req(2, 0), None);
        assert_eq!(s.text, "three\nfour");
        assert_eq!(s.total_lines, 4);
        assert_eq!(s.first_line, 2);
        assert!(s.more_above);
        let s = page(text, &req(2, 2), None);
        assert_eq!(s.text, "one\ntwo");
        assert!(!s.more_above);
        let s = page(text, &req(10, 100), None);
        assert_eq!(s.text, "");
        assert_eq!(s.returned_lines, 0);
    }

    #[test]
    fn empty_capture_is_empty() {
        let s = page("", &req(40, 0), None);
        assert_eq!(s.total_lines, 0);
        assert_eq!(s.text, "");
    }
}
