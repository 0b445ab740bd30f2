//! Reading a cursor menu off the screen: the options around the cursor row, the question
//! above them, and the dialog's other lines as context.
//!
//! The options are the rows next to the cursor row whose text starts in the same column as
//! the cursor row's text (after the cursor and a selection mark such as `✔`). Rows indented
//! further belong to the option above them: the first one continues its label when the
//! label's row was full (the next word would not have fitted on it), the rest are its
//! description. Indentation alone does not tell them apart on Claude Code's screens (both sit
//! in the label's column); the width does, and the colour (dim descriptions) would. In
//! a numbered menu the options count up from the first one, and blank lines or a horizontal
//! rule between two options (Claude Code draws "Chat about this" below a rule) do not end it.
//! A row in the options' column that begins with an age ("8 seconds ago · HEAD · 154KB", under
//! each conversation of Claude Code's `/resume`) is facts about the option above it: its
//! description, not an option; such options may stand a blank row apart.
//! The question is the nearest line above the options that contains a `?`, within the dialog
//! (which ends at a horizontal rule; a box drawn inside it, such as a search field or the
//! command Gemini CLI asks about, belongs to it), passing over the dialog's fields
//! (`Reason: …?`) unless no other line asks. A line the program wrapped is read as one line.

use super::{Prompt, PromptKind, PromptOption};
use crate::keys::Key;

/// How far above the footer (or the bottom of the screen) the cursor row may be.
const MAX_MENU_ROWS: usize = 30;
/// How many context lines are kept.
const MAX_CONTEXT: usize = 12;
/// How many lines may follow a menu that has no footer (a hint such as "ctrl+g to edit").
const MAX_LINES_BELOW: usize = 2;
/// Columns a program leaves free at the right edge when it wraps text.
const WRAP_SLACK: usize = 2;
/// How many screen rows a label may fill. Plain text cannot tell a third row of a label
/// from a description that fills its row (only the description's dim colour could), so a
/// label is taken to wrap at most once.
const MAX_LABEL_ROWS: usize = 2;
/// Marks drawn before the text of a selected (checked) row, e.g. the theme picker's `✔`.
const MARKS: [char; 4] = ['✔', '✓', '◉', '☑'];

/// A horizontal line: a solid one bounds a dialog, a dashed one separates parts inside it.
fn is_rule_line(l: &str) -> bool {
    let t = l.trim();
    t.chars().count() >= 3 && t.chars().all(|c| "─━═╌┄┈-—▔▁╭╮╰╯".contains(c))
}

fn is_solid_rule_line(l: &str) -> bool {
    is_rule_line(l) && !l.contains(['╌', '┄', '┈'])
}

fn indent(l: &str) -> usize {
    l.chars().take_while(|c| c.is_whitespace()).count()
}

/// The option number and label of a row's text, e.g. `2. Yes` → (Some(2), "Yes").
fn split_number(text: &str) -> (Option<u32>, String) {
    let digits: String = text.chars().take_while(|c| c.is_ascii_digit()).collect();
    if !digits.is_empty() && digits.len() <= 2 {
        let rest = &text[digits.len()..];
        if let Some(label) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return (digits.parse().ok(), label.trim().to_owned());
        }
    }
    (None, text.trim().to_owned())
}

/// A row split into whether the cursor is on it, the column its text starts in (after the
/// cursor and a selection mark) and that text.
fn row_text<'a>(line: &'a str, cursor: &str) -> (bool, usize, &'a str) {
    let mut rest = line.trim_start();
    let mut selected = false;
    if let Some(r) = rest.strip_prefix(cursor) {
        selected = true;
        rest = r.trim_start_matches([' ', '\u{a0}']);
    }
    let mut chars = rest.chars();
    if let Some(mark) = chars.next()
        && MARKS.contains(&mark)
        && !cursor.starts_with(mark)
        && chars.as_str().starts_with(' ')
    {
        rest = chars.as_str().trim_start_matches([' ', '\u{a0}']);
    }
    let col = line.chars().count() - rest.chars().count();
    (selected, col, rest.trim_end())
}

/// Whether a row is a line of facts about the option above it rather than an option: it
/// begins with an age such as "8 seconds ago" (Claude Code's `/resume` picker draws one under
/// each conversation, in the options' own column and told apart on screen only by its dim
/// colour, which plain text does not have).
fn is_metadata(text: &str) -> bool {
    let mut words = text.split_whitespace();
    let (Some(n), Some(unit), Some(ago)) = (words.next(), words.next(), words.next()) else {
        return false;
    };
    let unit = unit.trim_end_matches('s');
    (n.chars().all(|c| c.is_ascii_digit()) || n == "a" || n == "an")
        && ["second", "minute", "hour", "day", "week", "month", "year"].contains(&unit)
        && ago.trim_end_matches([',', '·']) == "ago"
}

/// The boxes drawn before the labels of a menu of several choices: unticked, then ticked.
const CHECKBOXES: [(&str, bool); 5] = [
    ("[ ] ", false),
    ("[✔] ", true),
    ("[✓] ", true),
    ("[x] ", true),
    ("[X] ", true),
];

/// A label without its check box, and whether the box was ticked (`None`: no box).
fn checkbox(label: &str) -> (Option<bool>, &str) {
    CHECKBOXES
        .iter()
        .find_map(|(b, ticked)| label.strip_prefix(b).map(|rest| (Some(*ticked), rest)))
        .unwrap_or((None, label))
}

/// Whether a row's text is the button that sends the choices of a menu of several choices.
fn is_button(text: &str) -> bool {
    matches!(text, "Submit" | "Next")
}

/// Whether a row says that the list goes on beyond the screen (`↓ 17 more`): no option.
fn is_scroll_hint(text: &str) -> bool {
    text.starts_with(['↓', '↑'])
}

/// Whether a row of the dialog is a search field (`│ ⌕ Search… │`): not a question.
fn is_search_field(text: &str) -> bool {
    text.contains('⌕')
}

/// Whether an option's label says that choosing it lets its owner type an answer (Claude
/// Code's "Type something." under AskUserQuestion).
fn takes_text(label: &str) -> bool {
    let l = label.trim_start_matches("[ ] ").trim_end_matches('.');
    l.eq_ignore_ascii_case("type something")
}

/// One option as it is read, before it becomes a [`PromptOption`].
struct Row {
    selected: bool,
    number: Option<u32>,
    label: String,
    description: Option<String>,
    /// Whether it is the button that sends a multi-select menu's choices (no number).
    button: bool,
    /// The width of the option's last screen row, to tell a wrapped label from a description.
    last_width: usize,
    /// How many screen rows the label fills.
    label_rows: usize,
}

/// Reads the menu whose footer is on line `footer` (or, without a footer, the menu at the
/// bottom of the screen), with `cursor` as the cursor glyph.
///
/// A menu without a footer must be numbered, have a question above it and end at the bottom
/// of the screen (at most a short hint below it), so that an old menu in the scrollback
/// above an input box is not taken for a live one.
pub(super) fn read_menu(lines: &[&str], footer: Option<usize>, cursor: &str) -> Option<Prompt> {
    let limit = footer.unwrap_or(lines.len());
    let top = limit.saturating_sub(MAX_MENU_ROWS);
    let cursor_row = (top..limit)
        .rev()
        .find(|&i| lines[i].trim_start().starts_with(cursor))?;
    let (_, mut text_col, cursor_text) = row_text(lines[cursor_row], cursor);
    if cursor_text.is_empty() {
        // An empty input line (e.g. Claude Code's `❯` input box), not a menu row.
        return None;
    }
    let mut numbered_menu = split_number(cursor_text).0.is_some();
    // The cursor on a multi-select menu's button: the menu is the numbered options above it.
    let mut button_follows: Option<u32> = None;
    if is_button(cursor_text)
        && let Some((col, n)) = (top..cursor_row).rev().find_map(|k| {
            let (_, col, t) = row_text(lines[k], cursor);
            let (n, label) = split_number(t);
            n.filter(|_| checkbox(&label).0.is_some() && col < text_col)
                .map(|n| (col, n))
        })
    {
        text_col = col;
        numbered_menu = true;
        button_follows = Some(n);
    }
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let blank = |i: usize| lines[i].trim().is_empty();
    // An option row: its text in the options' column (and, in a numbered menu, a number).
    let option_at = |i: usize| -> Option<(bool, Option<u32>, String)> {
        let l = lines[i];
        if l.trim().is_empty() || is_rule_line(l) {
            return None;
        }
        let (selected, col, text) = row_text(l, cursor);
        if col != text_col || is_metadata(text) || is_scroll_hint(text) {
            return None;
        }
        let (number, label) = split_number(text);
        if numbered_menu && number.is_none() {
            return None;
        }
        Some((selected, number, label))
    };
    let continues = |i: usize| {
        let l = lines[i];
        !l.trim().is_empty()
            && !is_rule_line(l)
            && (indent(l) > text_col || (indent(l) == text_col && is_metadata(l.trim())))
            && option_at(i).is_none()
    };
    // A multi-select menu's button: `Submit` or `Next`, indented under the options.
    let button_at = |i: usize| {
        let (selected, col, text) = row_text(lines[i], cursor);
        (numbered_menu && col > text_col && is_button(text)).then(|| (selected, text.to_owned()))
    };

    // Up from the cursor row to the first option, over descriptions and, in a numbered menu,
    // blank lines and separators; numbers count down by one.
    let mut first = cursor_row;
    let mut first_number = option_at(cursor_row)
        .and_then(|o| o.1)
        .or(button_follows.map(|n| n + 1));
    let mut i = cursor_row;
    while i > top {
        let k = i - 1;
        if let Some((_, number, _)) = option_at(k) {
            if numbered_menu && number.zip(first_number).is_none_or(|(n, f)| n + 1 != f) {
                break;
            }
            first = k;
            first_number = number;
        } else if !(continues(k)
            || button_at(k).is_some()
            || (numbered_menu && (blank(k) || is_rule_line(lines[k])))
            || (blank(k) && k > top && is_metadata(lines[k - 1].trim())))
        {
            break;
        }
        i = k;
    }

    // Down from the first option: options, their wrapped labels and descriptions.
    let mut rows: Vec<Row> = Vec::new();
    let mut end = first;
    let mut i = first;
    let last_number = |rows: &[Row]| rows.iter().rev().find_map(|r| r.number);
    while i < limit {
        let l = lines[i];
        let after_box = rows
            .last()
            .is_some_and(|r| !r.button && checkbox(&r.label).0.is_some());
        if let Some((selected, label)) = button_at(i).filter(|_| after_box) {
            rows.push(Row {
                selected,
                number: None,
                label,
                description: None,
                button: true,
                last_width: l.chars().count(),
                label_rows: 1,
            });
        } else if let Some((selected, number, label)) = option_at(i) {
            let follows = match (rows.last(), number) {
                (None, _) => true,
                (Some(_), Some(n)) => last_number(&rows).is_some_and(|p| p + 1 == n),
                (Some(_), None) => !numbered_menu,
            };
            if !follows {
                break;
            }
            rows.push(Row {
                selected,
                number,
                label,
                description: None,
                button: false,
                last_width: l.chars().count(),
                label_rows: 1,
            });
        } else if blank(i) || is_rule_line(l) {
            // A gap or a separator inside a numbered menu, when the next option follows it.
            let next = (i + 1..limit).find(|&j| !blank(j) && !is_rule_line(lines[j]));
            let next_number = last_number(&rows).map(|n| n + 1);
            match next.map(|j| (j, option_at(j))) {
                Some((j, Some((_, Some(n), _)))) if numbered_menu && Some(n) == next_number => {
                    i = j;
                    continue;
                }
                // Options that carry facts are drawn a blank row apart (`/resume`).
                Some((j, Some((_, None, _))))
                    if !numbered_menu
                        && rows
                            .last()
                            .and_then(|r| r.description.as_deref())
                            .is_some_and(is_metadata) =>
                {
                    i = j;
                    continue;
                }
                _ => break,
            }
        } else if continues(i) {
            let Some(row) = rows.last_mut().filter(|r| !r.button) else {
                break;
            };
            let t = l.trim();
            let word = t.split_whitespace().next().map_or(0, |w| w.chars().count());
            let wrapped = row.last_width + 1 + word > width.saturating_sub(WRAP_SLACK);
            match &mut row.description {
                None if wrapped && row.label_rows < MAX_LABEL_ROWS && !is_metadata(t) => {
                    row.label.push(' ');
                    row.label.push_str(t);
                    row.label_rows += 1;
                }
                None => row.description = Some(t.to_owned()),
                Some(d) => {
                    d.push(' ');
                    d.push_str(t);
                }
            }
            row.last_width = l.chars().count();
        } else {
            break;
        }
        end = i + 1;
        i += 1;
    }
    // A heading over options that each carry a line of facts (the `/resume` picker's project
    // name) is no option: it is the only row without one.
    let facts = |r: &Row| r.description.as_deref().is_some_and(is_metadata);
    if rows.len() >= 2
        && !rows[0].selected
        && rows[0].description.is_none()
        && rows[1..].iter().all(facts)
    {
        rows.remove(0);
    }
    if rows.is_empty() || (rows.len() < 2 && !rows.iter().all(facts)) {
        return None;
    }
    split_columns(&mut rows);
    let cursor_index = rows.iter().position(|r| r.selected)?;
    let numbered = rows.iter().all(|r| r.number.is_some() || r.button);
    let options: Vec<PromptOption> = rows
        .iter()
        .enumerate()
        .map(|(idx, r)| {
            let text = takes_text(&r.label);
            let (checked, label) = checkbox(&r.label);
            PromptOption {
                number: if numbered { r.number } else { None },
                label: label.to_owned(),
                checked,
                description: r.description.clone(),
                selected: idx == cursor_index,
                // An option that takes text is reached with arrows; its text and Enter follow.
                keys: if text {
                    arrows(idx, cursor_index)
                } else {
                    select_keys(numbered.then_some(r.number).flatten(), idx, cursor_index)
                },
                takes_text: text,
            }
        })
        .collect();

    // Without a footer, the menu must end the screen.
    let below: Vec<&str> = lines[end..]
        .iter()
        .copied()
        .filter(|l| !l.trim().is_empty())
        .collect();
    if footer.is_none()
        && (!numbered
            || below.len() > MAX_LINES_BELOW
            || below
                .iter()
                .any(|l| is_rule_line(l) || l.trim_start().starts_with(cursor)))
    {
        return None;
    }

    // The dialog: from the horizontal rule above the options down to them.
    // A box inside the dialog (Gemini CLI draws the command it asks about in one) is part of
    // it: its bottom edge and its top edge end nothing.
    let mut dialog_top = first;
    let mut boxes = 0usize;
    while dialog_top > 0 && first - dialog_top < 30 {
        let l = lines[dialog_top - 1];
        let edge = l.trim_start().chars().next();
        if is_rule_line(l) && edge == Some('╰') {
            boxes += 1;
        } else if is_rule_line(l) && edge == Some('╭') && boxes > 0 {
            boxes -= 1;
        } else if boxes == 0 && is_solid_rule_line(l) {
            break;
        }
        dialog_top -= 1;
    }
    // Over options that carry facts, a row in the options' column is a heading (the project
    // of `/resume`'s conversations), not the question.
    let all_facts = rows.iter().all(facts);
    let rows_above: Vec<&str> = lines[dialog_top..first]
        .iter()
        .copied()
        .filter(|l| !(all_facts && indent(l) == text_col))
        .collect();
    let dialog = dialog_lines(&rows_above, width);
    let dialog: Vec<&str> = dialog.iter().map(String::as_str).collect();
    // A `?` in one of the dialog's fields (Codex's `Reason: …?` under its question) is the
    // field's value, not the dialog's question; it is the question only when no other is.
    let q_index = dialog
        .iter()
        .rposition(|l| l.contains('?') && !is_field_line(l))
        .or_else(|| dialog.iter().rposition(|l| l.contains('?')));
    if footer.is_none() && q_index.is_none() {
        return None;
    }
    let (question, context) = match q_index {
        Some(q) => {
            let line = dialog[q];
            let question = sentence_with_question(line);
            let context: Vec<String> = dialog
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != q)
                .map(|(_, l)| l.to_string())
                .collect();
            (question, context)
        }
        None => {
            let question = dialog.last().map(|s| s.to_string()).unwrap_or_default();
            let n = dialog.len().saturating_sub(1);
            (
                question,
                dialog[..n].iter().map(|s| s.to_string()).collect(),
            )
        }
    };
    // Esc cancels when the footer says so, or when an option says that it is Esc's choice.
    let says_esc = |l: &str| {
        let l = l.to_ascii_lowercase();
        l.contains("esc to") || l.contains("(esc)")
    };
    let cancels = footer.is_some_and(|f| lines[f].to_ascii_lowercase().contains("esc"))
        || rows.iter().any(|r| says_esc(&r.label))
        || below.iter().any(|l| says_esc(l));
    let cancel_keys = if cancels {
        vec![Key::Escape]
    } else {
        Vec::new()
    };
    let context = context
        .into_iter()
        .rev()
        .take(MAX_CONTEXT)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let accepts_text = options.iter().any(|o| o.takes_text);
    Some(Prompt {
        kind: PromptKind::Menu,
        question,
        context,
        options,
        cursor: Some(cursor_index),
        cancel_keys,
        accepts_text,
    })
}

/// The dialog's text lines (bars, rules and blank rows dropped), a line that the program
/// wrapped because it did not fit the screen joined into one again (the next row's first word
/// would not have fitted on the row above): a long warning under a command is one line, while
/// the lines of a command of several lines stay apart.
fn dialog_lines(rows: &[&str], width: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut prev_width: Option<usize> = None;
    for row in rows {
        let t = row.trim().trim_matches('│').trim();
        if t.is_empty() || is_rule_line(t) || is_search_field(t) {
            prev_width = None;
            continue;
        }
        let word = t.split_whitespace().next().map_or(0, |w| w.chars().count());
        match (prev_width, out.last_mut()) {
            (Some(w), Some(last)) if w + 1 + word > width.saturating_sub(WRAP_SLACK) => {
                last.push(' ');
                last.push_str(t);
            }
            _ => out.push(t.to_owned()),
        }
        // A row inside a box (its right border drawn) wraps inside the box: never joined.
        let r = row.trim_end();
        prev_width = (!r.ends_with('│')).then(|| r.chars().count());
    }
    out
}

/// Splits labels drawn in two columns (Claude Code's model picker: `Opus   Opus 5.5 · Best
/// for …`) into label and description, when every option has a second column.
///
/// In a longer list (Claude Code's `/config`: a setting, then its value) a row without a second
/// column is a note about the option above it (`Thinking can't be turned off for …`, which the
/// cursor skips): it joins that option's description instead of being an option.
fn split_columns(rows: &mut Vec<Row>) {
    let gap = |label: &str| {
        label
            .find("  ")
            .map(|at| (at, label[at..].trim_start().to_owned()))
            .filter(|(_, rest)| !rest.is_empty())
    };
    let without = rows.iter().filter(|r| gap(&r.label).is_none()).count();
    let notes_only = without > 0
        && rows.len() >= 3 * without
        && gap(&rows[0].label).is_some()
        && rows
            .iter()
            .all(|r| gap(&r.label).is_some() || (!r.selected && r.description.is_none()));
    if without > 0 && !notes_only {
        return;
    }
    let notes: Vec<bool> = rows.iter().map(|r| gap(&r.label).is_none()).collect();
    for r in rows.iter_mut() {
        if let Some((at, rest)) = gap(&r.label) {
            let label = r.label[..at].trim_end();
            let label = label
                .strip_suffix(MARKS)
                .map_or(label, str::trim_end)
                .to_owned();
            r.description = Some(match r.description.take() {
                Some(more) => format!("{rest} {more}"),
                None => rest,
            });
            r.label = label;
        }
    }
    if notes_only {
        let mut kept: Vec<Row> = Vec::with_capacity(rows.len());
        for (r, note) in rows.drain(..).zip(notes) {
            match kept.last_mut() {
                Some(prev) if note => {
                    let note = r.label;
                    prev.description = Some(match prev.description.take() {
                        Some(d) => format!("{d}; {note}"),
                        None => note,
                    });
                }
                _ => kept.push(r),
            }
        }
        *rows = kept;
    }
}

/// Arrow keys from option `cursor` to option `target`, without Enter.
fn arrows(target: usize, cursor: usize) -> Vec<Key> {
    if target > cursor {
        std::iter::repeat_n(Key::Down, target - cursor).collect()
    } else {
        std::iter::repeat_n(Key::Up, cursor - target).collect()
    }
}

/// The keys that select option `target` of a menu whose cursor is on `cursor`: its digit when
/// the menu is numbered (the program acts on the digit alone), otherwise arrows and Enter.
fn select_keys(number: Option<u32>, target: usize, cursor: usize) -> Vec<Key> {
    if let Some(c) = number
        .filter(|n| *n <= 9)
        .and_then(|n| char::from_digit(n, 10))
    {
        return vec![Key::Char(c)];
    }
    let mut keys = arrows(target, cursor);
    keys.push(Key::Enter);
    keys
}

/// A line of the form `Name: value` with a one-word name (`Reason: …`, `url: …`): a field
/// of the dialog. A label of several words ("Quick safety check: Is this …?") leads into
/// the question instead.
fn is_field_line(line: &str) -> bool {
    line.split_once(": ")
        .is_some_and(|(name, _)| !name.is_empty() && name.chars().all(char::is_alphanumeric))
}

/// The sentence of `line` that ends with its last `?` (a `?` inside a URL ends nothing).
fn sentence_with_question(line: &str) -> String {
    let Some(q) = line.rfind('?') else {
        return line.to_owned();
    };
    let head = &line[..=q];
    // Keep what follows a label such as "Quick safety check:" too; cut only at an earlier
    // sentence end: a '.' or '!' followed by whitespace. A dot inside a word (`greet.py`,
    // `v2.1`, `example.com`, `./src`) ends nothing.
    let start = head[..q]
        .char_indices()
        .zip(head[..q].chars().skip(1))
        .filter(|((_, c), next)| matches!(c, '.' | '!') && next.is_whitespace())
        .map(|((p, _), _)| p + 1)
        .last()
        .unwrap_or(0);
    head[start..].trim().to_owned()
}
