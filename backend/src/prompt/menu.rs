//! Reading a cursor menu off the screen: the options around the cursor row, the question
//! above them, and the dialog's other lines as context.
//!
//! The options are the rows next to the cursor row whose text starts in the same column as
//! the cursor row's text (rows indented further continue the option above them). The question
//! is the nearest line above the options that contains a `?`, within the dialog (which ends
//! at a horizontal rule).

use super::{Prompt, PromptKind, PromptOption};
use crate::keys::Key;

/// How far above the footer the cursor row may be.
const MAX_MENU_ROWS: usize = 20;
/// How many context lines are kept.
const MAX_CONTEXT: usize = 12;

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

/// Reads the menu whose footer is on line `footer`, with `cursor` as the cursor glyph.
pub(super) fn read_menu(lines: &[&str], footer: usize, cursor: &str) -> Option<Prompt> {
    let top = footer.saturating_sub(MAX_MENU_ROWS);
    let cursor_row = (top..footer)
        .rev()
        .find(|&i| lines[i].trim_start().starts_with(cursor))?;
    let cursor_line = lines[cursor_row];
    let after_cursor = cursor_line.trim_start()[cursor.len()..].trim_start_matches([' ', '\u{a0}']);
    if after_cursor.is_empty() {
        // An empty input line (e.g. Claude Code's `❯` input box), not a menu row.
        return None;
    }
    let text_col = cursor_line.chars().count() - after_cursor.chars().count();
    // In a numbered menu every option starts with its number, and options may be separated
    // by blank lines or followed by indented descriptions (Codex draws them so).
    let numbered_menu = split_number(after_cursor).0.is_some();
    let is_option_row = |l: &str| {
        !l.trim().is_empty()
            && (l.trim_start().starts_with(cursor)
                || (indent(l) == text_col
                    && (!numbered_menu || split_number(l.trim_start()).0.is_some())))
    };
    let mut first = cursor_row;
    loop {
        let mut k = first;
        while numbered_menu && k > top && lines[k - 1].trim().is_empty() {
            k -= 1;
        }
        if k > top && is_option_row(lines[k - 1]) {
            first = k - 1;
        } else {
            break;
        }
    }
    let mut rows: Vec<(bool, String)> = Vec::new();
    let mut i = first;
    while i < footer {
        let l = lines[i];
        if l.trim().is_empty() {
            let next = (i + 1..footer).find(|&j| !lines[j].trim().is_empty());
            match next {
                Some(j) if numbered_menu && is_option_row(lines[j]) => {
                    i = j;
                    continue;
                }
                _ => break,
            }
        }
        if is_rule_line(l) {
            break;
        }
        let t = l.trim_start();
        if let Some(rest) = t.strip_prefix(cursor) {
            rows.push((true, rest.trim_matches([' ', '\u{a0}']).to_owned()));
        } else if is_option_row(l) {
            rows.push((false, t.to_owned()));
        } else if indent(l) > text_col && !rows.is_empty() {
            if let Some(last) = rows.last_mut() {
                last.1.push(' ');
                last.1.push_str(t);
            }
        } else {
            break;
        }
        i += 1;
    }
    if rows.len() < 2 {
        return None;
    }
    let cursor_index = rows.iter().position(|(sel, _)| *sel)?;
    let parsed: Vec<(Option<u32>, String)> = rows.iter().map(|(_, t)| split_number(t)).collect();
    let numbered = parsed.iter().all(|(n, _)| n.is_some());
    let options: Vec<PromptOption> = parsed
        .iter()
        .enumerate()
        .map(|(idx, (number, label))| PromptOption {
            number: if numbered { *number } else { None },
            label: if numbered {
                label.clone()
            } else {
                rows[idx].1.trim().to_owned()
            },
            selected: idx == cursor_index,
            keys: select_keys(numbered.then_some(*number).flatten(), idx, cursor_index),
        })
        .collect();

    // The dialog: from the horizontal rule above the options down to them.
    let mut dialog_top = first;
    while dialog_top > 0 && !is_solid_rule_line(lines[dialog_top - 1]) && first - dialog_top < 30 {
        dialog_top -= 1;
    }
    let dialog: Vec<&str> = lines[dialog_top..first]
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !is_rule_line(l))
        .collect();
    let q_index = dialog.iter().rposition(|l| l.contains('?'));
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
    let footer_text = lines[footer].to_ascii_lowercase();
    let cancel_keys = if footer_text.contains("esc") {
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
    Some(Prompt {
        kind: PromptKind::Menu,
        question,
        context,
        options,
        cursor: Some(cursor_index),
        cancel_keys,
        accepts_text: false,
    })
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
    let mut keys = Vec::new();
    if target > cursor {
        keys.extend(std::iter::repeat_n(Key::Down, target - cursor));
    } else {
        keys.extend(std::iter::repeat_n(Key::Up, cursor - target));
    }
    keys.push(Key::Enter);
    keys
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
