//! Turning the emulator's grid (screen plus scrollback) into text lines.

use vt100::Parser;

/// The lines of the terminal, oldest first, covering at least the last `wanted` lines of
/// scrollback plus the whole visible screen (fewer when there is less). Returns the lines and
/// how many scrollback lines exist above the first one returned.
///
/// Wrapped rows are joined into one line, like `tmux capture-pane -J`.
pub fn lines(
    parser: &mut Parser,
    wanted: usize,
    scrollback: bool,
    escapes: bool,
) -> (Vec<String>, usize) {
    let screen = parser.screen_mut();
    let (rows, cols) = screen.size();
    let rows = usize::from(rows.get());
    let cols = cols.get();
    // How many scrollback rows exist: scroll as far back as possible and read the position.
    screen.set_scrollback(usize::MAX);
    let available = screen.scrollback();
    let take = if scrollback { wanted.min(available) } else { 0 };
    let mut raw: Vec<(String, bool)> = Vec::with_capacity(take + rows);
    // Read `take` scrollback rows, one screenful at a time, from the oldest wanted row down.
    let mut offset = take;
    while offset > 0 {
        screen.set_scrollback(offset);
        let n = offset.min(rows);
        let texts: Vec<String> = if escapes {
            screen.rows_formatted(0, cols).take(n).collect()
        } else {
            screen.rows(0, cols).take(n).collect()
        };
        for (i, t) in texts.into_iter().enumerate() {
            let wrapped = screen.row_wrapped(i as u16);
            raw.push((t, wrapped));
        }
        offset -= n;
    }
    screen.set_scrollback(0);
    let texts: Vec<String> = if escapes {
        screen.rows_formatted(0, cols).collect()
    } else {
        screen.rows(0, cols).collect()
    };
    for (i, t) in texts.into_iter().enumerate() {
        let wrapped = screen.row_wrapped(i as u16);
        raw.push((t, wrapped));
    }
    // Join wrapped rows.
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    let mut continuing = false;
    for (text, wrapped) in raw {
        if continuing {
            if let Some(last) = out.last_mut() {
                last.push_str(&text);
            }
        } else {
            out.push(text);
        }
        continuing = wrapped;
    }
    (out, available - take)
}
