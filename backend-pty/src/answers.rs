//! What a terminal answers to the programs that ask it something: the cursor position
//! (`ESC [ 6 n`, a "cursor position report"). prompt_toolkit (aider, IPython) asks before
//! every prompt and, without an answer, waits up to two seconds each time before it gives up;
//! tmux and real terminals answer at once.

use crate::render::Emulator;

/// The question for the cursor position.
const CURSOR_POSITION: &[u8] = b"\x1b[6n";

/// Feeds `bytes` to `emulator` and returns what the terminal answers to the questions among
/// them, each with the cursor where it stood when the question came. A question split across
/// two reads goes unanswered (programs write it in one piece).
pub(crate) fn process(emulator: &mut Emulator, bytes: &[u8]) -> Vec<u8> {
    let mut answers = Vec::new();
    let mut rest = bytes;
    while let Some(at) = rest
        .windows(CURSOR_POSITION.len())
        .position(|w| w == CURSOR_POSITION)
    {
        let end = at + CURSOR_POSITION.len();
        emulator.process(&rest[..end]);
        let (row, col) = emulator.screen().cursor_position();
        answers.extend_from_slice(format!("\x1b[{};{}R", row + 1, col + 1).as_bytes());
        rest = &rest[end..];
    }
    emulator.process(rest);
    answers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_question_is_answered_with_the_cursor_of_its_moment() {
        let mut e = crate::render::emulator(24, 80, 100);
        assert!(process(&mut e, b"plain output\r\n").is_empty());
        let answers = process(&mut e, b"ab\x1b[6n\r\nxyz\x1b[6nmore");
        assert_eq!(answers, b"\x1b[2;3R\x1b[3;4R");
        assert!(e.screen().contents().contains("xyzmore"));
    }
}
