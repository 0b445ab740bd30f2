//! Prompt detection: from a terminal screen to an activity state (`working`, `idle`,
//! `waiting_for_input`) and, when something waits for its owner, a structured [`Prompt`]; and
//! from a client's answer to exactly the keys that select it ([`plan_answer`]).
//!
//! Detection is driven by rule files kept as data (`backend/rules/*.toml`, one per agent plus
//! a generic set), each rule scoped to a region at the bottom of the screen and given a
//! priority. The agent's own rules are tried first; the generic rules (`[y/n]`, `Press
//! Enter`, a trailing `?`) only when none of them matched.
//!
//! # Layout
//! - this file: the public types, [`detect`] and [`plan_answer`];
//! - `rules`: loading the rule files and matching them against a screen;
//! - `menu`: reading a cursor menu (question, context, options) off the screen;
//! - `answer`: turning an answer into keys;
//! - [`claude_state`]: Claude Code's own state file, the best signal when it exists;
//! - [`transcript`]: Claude Code's conversation transcript as compact items.

mod answer;
pub mod claude_state;
mod menu;
mod rules;
pub mod transcript;

use serde::Serialize;

use crate::keys::Key;

pub use answer::{AnswerPlan, plan_answer};

/// Which program a session runs, as far as prompt detection is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Agent {
    /// Anthropic's Claude Code.
    ClaudeCode,
    /// OpenAI's Codex CLI.
    Codex,
    /// Google's Gemini CLI.
    Gemini,
    /// aider.
    Aider,
    /// A plain shell.
    Shell,
    /// Anything else: only the generic rules apply.
    Unknown,
}

impl Agent {
    /// Guesses the agent from the launch profile, the foreground command and the screen.
    pub fn guess(profile: Option<&str>, current_command: Option<&str>, screen: &str) -> Agent {
        let by_name = |s: &str| {
            let s = s.to_ascii_lowercase();
            if s.contains("claude") {
                Some(Agent::ClaudeCode)
            } else if s.contains("codex") {
                Some(Agent::Codex)
            } else if s.contains("gemini") {
                Some(Agent::Gemini)
            } else if s.contains("aider") {
                Some(Agent::Aider)
            } else if SHELLS.contains(&s.as_str()) || s == "shell" {
                Some(Agent::Shell)
            } else {
                None
            }
        };
        // The foreground command says what runs now (a shell may have started claude).
        if let Some(a) = current_command
            .and_then(by_name)
            .filter(|a| *a != Agent::Shell)
        {
            return a;
        }
        // "? for shortcuts" is Claude Code's hint, but Codex and Gemini CLI (a `node` process,
        // like Claude Code's npm build) print it too: it counts only when the profile names
        // no other agent.
        let by_profile = profile.and_then(by_name).filter(|a| *a != Agent::Shell);
        if screen.contains("Claude Code v")
            || (screen.contains("? for shortcuts")
                && by_profile.is_none_or(|a| a == Agent::ClaudeCode))
        {
            return Agent::ClaudeCode;
        }
        if let Some(a) = current_command.and_then(by_name) {
            return a;
        }
        profile.and_then(by_name).unwrap_or(Agent::Unknown)
    }

    /// How long after pasting a message this agent needs before the Enter that submits it,
    /// when that is longer than the backends' own short pause. Gemini CLI takes an Enter that
    /// comes within 40 ms of a paste (counted from when it handles the paste, and cleared only
    /// once it has drawn again) for a line break, so the message would sit unsent in its box.
    pub fn submit_pause(self) -> Option<std::time::Duration> {
        match self {
            Agent::Gemini => Some(std::time::Duration::from_millis(250)),
            _ => None,
        }
    }

    fn rule_file_name(self) -> Option<&'static str> {
        match self {
            Agent::ClaudeCode => Some("claude_code"),
            Agent::Codex => Some("codex"),
            Agent::Gemini => Some("gemini"),
            Agent::Aider => Some("aider"),
            Agent::Shell => Some("shell"),
            Agent::Unknown => None,
        }
    }
}

/// What a session is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// The program is busy (a spinner, "esc to interrupt").
    Working,
    /// The program waits at its input for a new instruction.
    Idle,
    /// The program asks a question and waits for the answer.
    WaitingForInput,
    /// No rule matched.
    Unknown,
}

/// The result of looking at a screen.
#[derive(Debug, Clone, Serialize)]
pub struct Detection {
    /// What the session is doing.
    pub activity: Activity,
    /// Whose rules were used.
    pub agent: Agent,
    /// The question, when `activity` is `waiting_for_input`.
    pub prompt: Option<Prompt>,
    /// The id of the rule that matched.
    pub rule: Option<String>,
}

/// The shape of a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptKind {
    /// A menu with a cursor; options are picked by number or with arrows and Enter.
    Menu,
    /// A y/n question answered by typing `y` or `n` and Enter.
    YesNo,
    /// "Press Enter to continue".
    PressEnter,
    /// A question answered with free text and Enter.
    Text,
}

/// A question on screen, structured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prompt {
    /// The shape of the question.
    pub kind: PromptKind,
    /// The question itself.
    pub question: String,
    /// Lines around the question that explain it (e.g. the command Claude wants to run).
    pub context: Vec<String>,
    /// The options, in screen order.
    pub options: Vec<PromptOption>,
    /// Which option the cursor is on.
    pub cursor: Option<usize>,
    /// The keys that dismiss the question without answering.
    pub cancel_keys: Vec<Key>,
    /// Whether free text is an acceptable answer (in a menu: it has an option that takes
    /// text).
    pub accepts_text: bool,
}

/// One option of a question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromptOption {
    /// The number shown before the option, if any.
    pub number: Option<u32>,
    /// The option's text (a label wrapped over several rows is joined into one).
    pub label: String,
    /// The explanation drawn with the option (under it, or in a column beside it); never
    /// matched against an answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether the cursor is on it.
    pub selected: bool,
    /// Exactly the keys that select it, from the current cursor position. For an option
    /// that takes text, the keys that move to it; the text and Enter follow.
    pub keys: Vec<Key>,
    /// Whether choosing it means typing an answer (Claude Code's "Type something."): the only
    /// way free text reaches a menu.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub takes_text: bool,
    /// In a menu of several choices (Claude Code's multi-select AskUserQuestion, `[ ]` and
    /// `[✔]` before the labels): whether it is ticked. Its keys then tick or untick it; the
    /// `Submit` (or `Next`) option sends the choices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked: Option<bool>,
}

/// Looks at a screen (the visible screen as plain text) and says what the session is doing.
///
/// The screen is assumed quiet (no output for a moment); see [`detect_with`] for screens that
/// are still changing.
pub fn detect(screen: &str, agent: Agent) -> Detection {
    detect_with(screen, agent, true)
}

/// Like [`detect`], but rules that need a quiet screen (a trailing `?` or `:` on a line that
/// may still be growing) are skipped when `quiet` is false.
pub fn detect_with(screen: &str, agent: Agent, quiet: bool) -> Detection {
    let lines: Vec<&str> = screen.lines().map(unbox).collect();
    let set = rules::RuleSet::get();
    let own = agent
        .rule_file_name()
        .map(|f| set.matching(f, &lines, quiet))
        .unwrap_or_default();
    let found = if own.is_empty() {
        set.matching("generic", &lines, quiet)
    } else {
        own
    };
    match found.into_iter().next() {
        Some(m) => Detection {
            activity: m.activity,
            agent,
            prompt: m.prompt,
            rule: Some(m.rule_id),
        },
        None => Detection {
            activity: Activity::Unknown,
            agent,
            prompt: None,
            rule: None,
        },
    }
}

/// The program names taken for a shell.
const SHELLS: [&str; 6] = ["bash", "zsh", "sh", "fish", "dash", "ksh"];

/// Completes a plain shell's detection with its foreground process when the screen alone
/// did not decide (a prompt the rules do not know, a cleared screen): the shell itself in
/// the foreground means it waits at its prompt (idle); another program there means a command
/// runs (working). The rule id names the signal that decided (`shell/foreground:<name>`).
/// Detections of other agents, and of screens the rules did read, are left as they are.
pub fn refine_with_foreground(d: &mut Detection, current_command: Option<&str>) {
    if d.agent != Agent::Shell || d.activity != Activity::Unknown {
        return;
    }
    let Some(cmd) = current_command.map(|c| c.trim_start_matches('-')) else {
        return;
    };
    d.activity = if SHELLS.contains(&cmd) {
        Activity::Idle
    } else {
        Activity::Working
    };
    d.rule = Some(format!("shell/foreground:{cmd}"));
}

/// A line without trailing blanks and, when it is a row of a box (`│ … │`), without the box's
/// edges, so that menus drawn inside boxes read like any other.
fn unbox(line: &str) -> &str {
    let t = line.trim_end();
    let inner = t.trim_start();
    match inner.strip_prefix('│').and_then(|r| r.strip_suffix('│')) {
        Some(body) => body.trim_end(),
        None => t,
    }
}

#[cfg(test)]
mod tests;
