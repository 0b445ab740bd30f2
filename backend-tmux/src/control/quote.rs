//! Quoting an argument for tmux's command parser, which reads every line a control-mode
//! client sends.
//!
//! Each argument becomes one single-quoted word. Inside single quotes tmux's parser treats
//! every character literally (`;`, `#`, `$`, `~`, `{`, `\`, `"` included); a single quote
//! itself is written as `"'"` next to the quoted parts, which the parser joins into the same
//! word. A control-mode command is one line, so line breaks and other control characters
//! (tabs aside, which stay literal inside quotes) cannot be carried at all: such arguments are refused and the caller uses a forked tmux
//! (argv) instead; client text that holds one (several lines, say) goes to a forked
//! `load-buffer -` on standard input, never onto a command line.

/// Quotes `arg` as one word for tmux's parser, or `None` when it holds a control character
/// other than a tab (a command line cannot carry one).
pub(crate) fn quote_arg(arg: &str) -> Option<String> {
    if arg.chars().any(|c| c.is_control() && c != '\t') {
        return None;
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('\'');
    for ch in arg.chars() {
        if ch == '\'' {
            // Close the quoted part, add a double-quoted quote, reopen.
            out.push_str("'\"'\"'");
        } else {
            out.push(ch);
        }
    }
    out.push('\'');
    Some(out)
}

/// Joins quoted arguments into one command line (with its final newline), or `None` when
/// an argument cannot be quoted.
pub(crate) fn command_line<S: AsRef<str>>(args: &[S]) -> Option<String> {
    let mut line = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        line.push_str(&quote_arg(a.as_ref())?);
    }
    line.push('\n');
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_are_single_quoted() {
        assert_eq!(quote_arg("list-panes").as_deref(), Some("'list-panes'"));
        assert_eq!(quote_arg("").as_deref(), Some("''"));
    }

    #[test]
    fn quotes_become_a_double_quoted_quote() {
        assert_eq!(quote_arg("it's").as_deref(), Some("'it'\"'\"'s'"));
    }

    #[test]
    fn control_characters_are_refused() {
        for bad in ["a\nb", "a\rb", "\u{0}", "\u{1b}[31m", "\u{7f}"] {
            assert_eq!(quote_arg(bad), None, "{bad:?}");
        }
        assert_eq!(command_line(&["send-keys", "x\ny"]), None);
    }

    #[test]
    fn command_lines_end_in_one_newline() {
        assert_eq!(command_line(&["a", "b c"]).as_deref(), Some("'a' 'b c'\n"));
    }
}
