//! Turning the emulator's screen and the text scrollback into lines.

use crate::scrollback::Scrollback;

/// The emulator of one session: vt100 for the visible screen, text lines for the scrollback.
pub type Emulator = vt100::Parser<Scrollback>;

/// A new emulator of `rows` x `cols` keeping `scrollback` lines of history.
pub fn emulator(rows: u16, cols: u16, scrollback: usize) -> Emulator {
    let nz = |v: u16| std::num::NonZeroU16::new(v.max(1)).unwrap_or(std::num::NonZeroU16::MIN);
    // The parser itself keeps no scrollback: rows that scroll off go to the callback.
    vt100::Parser::new_with_callbacks(nz(rows), nz(cols), 0, Scrollback::new(scrollback))
}

/// The lines of the terminal, oldest first, covering at least the last `wanted` lines of
/// scrollback plus the whole visible screen (fewer when there is less). Returns the lines and
/// how many scrollback lines exist above the first one returned.
///
/// Wrapped rows are joined into one line, like `tmux capture-pane -J`.
pub fn lines(
    emu: &Emulator,
    wanted: usize,
    scrollback: bool,
    escapes: bool,
) -> (Vec<String>, usize) {
    let history = emu.callbacks();
    let take = if scrollback {
        wanted.min(history.len())
    } else {
        0
    };
    let mut out = history.tail(take, escapes);
    let screen = emu.screen();
    let cols = screen.size().1.get();
    let rows: Vec<String> = if escapes {
        screen.rows_formatted(0, cols).collect()
    } else {
        screen.rows(0, cols).collect()
    };
    let mut continuing = false;
    for (i, text) in rows.into_iter().enumerate() {
        if continuing && let Some(last) = out.last_mut() {
            last.push_str(&text);
        } else {
            out.push(text);
        }
        continuing = screen.row_wrapped(i as u16);
    }
    (out, history.len() - take)
}
