//! Unit tests of the emulator rendering.

use std::num::NonZeroU16;

use super::render;

fn parser(rows: u16, cols: u16, scrollback: usize) -> vt100::Parser {
    vt100::Parser::new(
        NonZeroU16::new(rows).unwrap(),
        NonZeroU16::new(cols).unwrap(),
        scrollback,
    )
}

#[test]
fn wrapped_rows_are_joined_and_scrollback_is_read_in_order() {
    let mut p = parser(4, 10, 100);
    p.process(b"0123456789abcdef\r\n");
    for i in 0..10 {
        p.process(format!("line{i}\r\n").as_bytes());
    }
    let (lines, skipped) = render::lines(&mut p, 100, true, false);
    assert_eq!(skipped, 0);
    let text: Vec<&str> = lines.iter().map(|l| l.trim_end()).collect();
    assert_eq!(text[0], "0123456789abcdef", "{text:?}");
    assert_eq!(text[1], "line0");
    assert!(text.contains(&"line9"));
    // Only what was asked for is read; the rest is counted.
    let (lines, skipped) = render::lines(&mut p, 2, true, false);
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert!(skipped > 0);
    // The view is back at the live screen afterwards.
    assert_eq!(p.screen().scrollback(), 0);
}

#[test]
fn scrollback_is_capped() {
    let mut p = parser(4, 20, 50);
    for i in 0..1000 {
        p.process(format!("row{i}\r\n").as_bytes());
    }
    let (lines, skipped) = render::lines(&mut p, 10_000, true, false);
    assert_eq!(skipped, 0);
    assert!(lines.len() <= 54, "{}", lines.len());
    assert_eq!(lines.last().map(|l| l.trim_end()), Some(""));
}
