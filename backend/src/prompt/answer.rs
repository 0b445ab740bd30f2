//! Turning a client's answer into the exact input that selects it.

use serde::Serialize;

use super::{Prompt, PromptKind};
use crate::error::Error;
use crate::keys::Key;

/// What to send: `before` pressed, `text` typed literally (without Enter), then `keys` pressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerPlan {
    /// Keys to press before the text: the arrows to a menu option that takes text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<Key>,
    /// Text to type first, if any.
    pub text: Option<String>,
    /// Keys to press after the text.
    pub keys: Vec<Key>,
    /// The label of the option chosen, for menus and y/n questions.
    pub chosen: Option<String>,
}

/// Plans the input for `answer` to `prompt`.
///
/// `answer` is an option number, an option label or the beginning of one (case-insensitive;
/// an exact label wins over prefixes, an ambiguous prefix is refused), `yes`/`no` for y/n
/// questions, anything for "Press Enter", and free text for text questions. A menu takes free
/// text only through its option that takes text (Claude Code's "Type something."): an answer
/// that is no option's number or label goes there (arrows to it, the text, Enter). Descriptions
/// are never matched.
///
/// An answer is one line: a line break or any other control character (and the Unicode
/// line and paragraph separators) is refused whatever the question, before anything is
/// typed. Typed into a text question, a line break would submit the answer and run what
/// follows it as the next command (`"main\ntouch x"` to a shell's `read -p`).
pub fn plan_answer(prompt: &Prompt, answer: &str) -> Result<AnswerPlan, Error> {
    check_one_line(answer)?;
    let a = answer.trim();
    match prompt.kind {
        PromptKind::PressEnter => Ok(AnswerPlan {
            before: Vec::new(),
            text: None,
            keys: vec![Key::Enter],
            chosen: None,
        }),
        PromptKind::Text => Ok(AnswerPlan {
            before: Vec::new(),
            text: (!answer.is_empty()).then(|| answer.to_owned()),
            keys: vec![Key::Enter],
            chosen: None,
        }),
        PromptKind::YesNo => {
            let lower = a.to_ascii_lowercase();
            let (letter, label) = match lower.as_str() {
                "y" | "yes" | "1" => ('y', "yes"),
                "n" | "no" | "2" => ('n', "no"),
                _ => {
                    return Err(Error::InvalidArgument(format!(
                        "answer {:?} does not fit the question {:?}; answer yes or no",
                        crate::name::printable_prefix(answer),
                        prompt.question
                    )));
                }
            };
            Ok(AnswerPlan {
                before: Vec::new(),
                text: Some(letter.to_string()),
                keys: vec![Key::Enter],
                chosen: Some(label.into()),
            })
        }
        PromptKind::Menu => {
            let text_option = prompt.options.iter().find(|o| o.takes_text);
            let (option, text) = match (choose(prompt, a), text_option) {
                (Ok(index), _) if !prompt.options[index].takes_text => {
                    (&prompt.options[index], None)
                }
                (Ok(_), Some(o)) => {
                    return Err(Error::InvalidArgument(format!(
                        "option {:?} takes text: answer with the text itself",
                        o.label
                    )));
                }
                (Err(_), Some(o)) if !a.is_empty() => (o, Some(answer.to_owned())),
                (Err(e), _) => return Err(e),
                (Ok(index), None) => (&prompt.options[index], None),
            };
            if text.is_some() {
                return Ok(AnswerPlan {
                    before: option.keys.clone(),
                    text,
                    keys: vec![Key::Enter],
                    chosen: Some(option.label.clone()),
                });
            }
            Ok(AnswerPlan {
                before: Vec::new(),
                text: None,
                keys: option.keys.clone(),
                chosen: Some(option.label.clone()),
            })
        }
    }
}

/// Refuses an answer that is not a single line of text.
fn check_one_line(answer: &str) -> Result<(), Error> {
    let Some((offset, c)) = answer
        .char_indices()
        .find(|(_, c)| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    else {
        return Ok(());
    };
    Err(Error::InvalidArgument(format!(
        "the answer holds the control character {} at byte {offset}; an answer is one line \
         without line breaks or control characters, and nothing was typed. Type several lines \
         with send_message and press keys with send_keys",
        c.escape_default()
    )))
}

fn valid_answers(prompt: &Prompt) -> String {
    prompt
        .options
        .iter()
        .enumerate()
        .map(|(i, o)| match o.number {
            Some(n) => format!("{n} ({})", o.label),
            None => format!("{} ({})", i + 1, o.label),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn choose(prompt: &Prompt, a: &str) -> Result<usize, Error> {
    let refuse = |why: String| {
        Err(Error::InvalidArgument(format!(
            "{why}; valid answers: {}",
            valid_answers(prompt)
        )))
    };
    if a.is_empty() {
        return refuse("the answer is empty".into());
    }
    if let Ok(n) = a.trim_end_matches('.').parse::<u32>() {
        if let Some(i) = prompt.options.iter().position(|o| o.number == Some(n)) {
            return Ok(i);
        }
        let numbered = prompt.options.iter().any(|o| o.number.is_some());
        if !numbered && n >= 1 && (n as usize) <= prompt.options.len() {
            return Ok(n as usize - 1);
        }
        return refuse(format!("there is no option {n}"));
    }
    let lower = a.to_lowercase();
    if let Some(i) = prompt
        .options
        .iter()
        .position(|o| o.label.to_lowercase() == lower)
    {
        return Ok(i);
    }
    let prefixed: Vec<usize> = prompt
        .options
        .iter()
        .enumerate()
        .filter(|(_, o)| o.label.to_lowercase().starts_with(&lower))
        .map(|(i, _)| i)
        .collect();
    match prefixed.as_slice() {
        [one] => Ok(*one),
        [] => refuse(format!(
            "no option matches {:?}",
            crate::name::printable_prefix(a)
        )),
        _ => refuse(format!(
            "{:?} matches several options",
            crate::name::printable_prefix(a)
        )),
    }
}
