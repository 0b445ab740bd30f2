//! Unit tests of the emulator rendering and the text scrollback.

use super::render;

#[test]
fn wrapped_rows_are_joined_and_scrollback_is_read_in_order() {
    let mut p = render::emulator(4, 10, 100);
    p.process(b"0123456789abcdef\r\n");
    for i in 0..10 {
        p.process(format!("line{i}\r\n").as_bytes());
    }
    let (lines, skipped) = render::lines(&p, 100, true, false);
    assert_eq!(skipped, 0);
    let text: Vec<&str> = lines.iter().map(|l| l.trim_end()).collect();
    assert_eq!(text[0], "0123456789abcdef", "{text:?}");
    assert_eq!(text[1], "line0");
    assert!(text.contains(&"line9"));
    // Only what was asked for is read; the rest is counted.
    let (lines, skipped) = render::lines(&p, 2, true, false);
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert!(skipped > 0);
    // Colours survive in the scrollback when asked for, and are stripped otherwise.
    let mut p = render::emulator(2, 20, 100);
    p.process(b"\x1b[31mred\x1b[0m\r\nb\r\nc\r\nd\r\n");
    let (plain, _) = render::lines(&p, 10, true, false);
    assert_eq!(plain[0].trim_end(), "red");
    let (colour, _) = render::lines(&p, 10, true, true);
    assert!(colour[0].contains("\x1b["), "{:?}", colour[0]);
}

#[test]
fn scrollback_is_capped_and_small() {
    let mut p = render::emulator(4, 120, 10_000);
    for i in 0..30_000 {
        p.process(
            format!("row {i} of some output that is about sixty characters long\r\n").as_bytes(),
        );
    }
    let (lines, skipped) = render::lines(&p, 100_000, true, false);
    assert_eq!(skipped, 0);
    assert_eq!(lines.len(), 10_000 + 4, "{}", lines.len());
    assert!(lines[0].starts_with("row 19997 "), "{}", lines[0]);
    let bytes = p.callbacks().bytes();
    assert!(bytes < 2_000_000, "{bytes} bytes for 10,000 lines");
}

#[test]
fn the_alternate_screen_leaves_no_scrollback() {
    let mut p = render::emulator(3, 20, 100);
    p.process(b"\x1b[?1049h");
    for i in 0..50 {
        p.process(format!("frame {i}\r\n").as_bytes());
    }
    assert!(p.callbacks().is_empty());
}
