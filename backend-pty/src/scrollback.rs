//! The scrollback, kept as text rather than as terminal cells.
//!
//! vt100 keeps every scrollback row as cells (about 40 bytes each, so a 120-column, 10,000-line
//! scrollback costs ~40 MB per session). Instead the emulator keeps only the visible screen,
//! and each row that scrolls off is written here, once, as a line of text with its colours
//! as SGR sequences ("basic formatted", a few bytes per character). Memory per session is then
//! bounded by the line cap times the line length.

use std::collections::VecDeque;

use vt100::capture::BasicFormattedCaptureState;

/// The lines that scrolled off the top of the screen, oldest first.
#[derive(Debug)]
pub struct Scrollback {
    lines: VecDeque<String>,
    cap: usize,
    state: BasicFormattedCaptureState,
    scratch: String,
}

impl Scrollback {
    /// A scrollback holding at most `cap` lines.
    pub fn new(cap: usize) -> Self {
        Scrollback {
            lines: VecDeque::new(),
            cap,
            state: BasicFormattedCaptureState::default(),
            scratch: String::new(),
        }
    }

    /// How many lines are kept.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether no line is kept.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The last `n` lines, oldest first, with or without their colour sequences.
    pub fn tail(&self, n: usize, escapes: bool) -> Vec<String> {
        let skip = self.lines.len().saturating_sub(n);
        self.lines
            .iter()
            .skip(skip)
            .map(|l| if escapes { l.clone() } else { strip_sgr(l) })
            .collect()
    }

    /// The approximate heap size, for measurements.
    pub fn bytes(&self) -> usize {
        self.lines.iter().map(|l| l.capacity()).sum::<usize>()
            + self.lines.capacity() * std::mem::size_of::<String>()
    }
}

impl vt100::Callbacks for Scrollback {
    fn on_scroll(&mut self, contents: vt100::capture::RowContents<'_>, alternate_screen: bool) {
        // Full-screen programs draw on the alternate screen; what scrolls there is redraw
        // noise, not history (real terminals keep no scrollback for it either).
        if alternate_screen || self.cap == 0 {
            return;
        }
        self.scratch.clear();
        if contents
            .write_formatted_basic(&mut self.scratch, &mut self.state)
            .is_err()
        {
            return;
        }
        // A leading newline starts a new line; without one the row continues a wrapped line.
        match self.scratch.strip_prefix('\n') {
            Some(rest) => self.lines.push_back(rest.to_owned()),
            None => match self.lines.back_mut() {
                Some(last) => last.push_str(&self.scratch),
                None => self.lines.push_back(self.scratch.clone()),
            },
        }
        while self.lines.len() > self.cap {
            self.lines.pop_front();
        }
    }
}

/// Removes CSI sequences (colours, attributes) from a line.
pub fn strip_sgr(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if ('@'..='~').contains(&d) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
