//! The rule files and the matching of rules against a screen.
//!
//! A rule file (`backend/rules/<agent>.toml`) names its agent and lists rules. Each rule has
//! an id, the state it reports (`working`, `idle`, `waiting`), a priority, a region (how many
//! non-blank lines from the bottom it looks at) and either a `pattern` (a regular expression
//! matched against each line of the region) or, for menus, a `footer` pattern and a `cursor`
//! glyph. Waiting rules also name the prompt `kind`. A menu's footer raises confidence but
//! does not decide: a numbered menu at the bottom of the screen under a question matches
//! without it (one step lower in priority, its id marked "(no footer)").

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;

use super::{Activity, Prompt, PromptKind, menu};
use crate::keys::Key;

/// The rule files compiled into the binary.
const FILES: [&str; 6] = [
    include_str!("../../rules/claude-code.toml"),
    include_str!("../../rules/codex.toml"),
    include_str!("../../rules/gemini.toml"),
    include_str!("../../rules/aider.toml"),
    include_str!("../../rules/shell.toml"),
    include_str!("../../rules/generic.toml"),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    agent: String,
    rule: Vec<RawRule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum State {
    Working,
    Idle,
    Waiting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Menu,
    Line,
    YesNo,
    PressEnter,
    Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    state: State,
    #[serde(default)]
    kind: Option<Kind>,
    priority: i32,
    #[serde(default = "one")]
    region: usize,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    footer: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    quiet: bool,
}

fn one() -> usize {
    1
}

/// A compiled rule.
#[derive(Debug)]
struct Rule {
    id: String,
    state: State,
    kind: Option<Kind>,
    priority: i32,
    region: usize,
    pattern: Option<Regex>,
    footer: Option<Regex>,
    cursor: Option<String>,
    quiet: bool,
}

/// A rule that matched, with what it found.
#[derive(Debug)]
pub(super) struct Match {
    pub(super) activity: Activity,
    pub(super) prompt: Option<Prompt>,
    pub(super) rule_id: String,
    priority: i32,
}

/// Every rule file, compiled, by agent.
#[derive(Debug)]
pub(super) struct RuleSet {
    by_agent: HashMap<String, Vec<Rule>>,
}

/// Errors in a rule file.
#[derive(Debug, thiserror::Error)]
pub(super) enum RuleError {
    #[error("rule file is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("rule {id}: bad regular expression: {source}")]
    Regex { id: String, source: regex::Error },
    #[error("rule {0}: a menu rule needs footer and cursor; other rules need a pattern")]
    Shape(String),
}

impl RuleSet {
    /// The compiled rules, built once. The files are part of the binary and are checked by
    /// the unit tests, so a failure here is a build defect.
    pub(super) fn get() -> &'static RuleSet {
        static SET: OnceLock<RuleSet> = OnceLock::new();
        SET.get_or_init(|| RuleSet::parse(&FILES).expect("the built-in rule files are valid"))
    }

    fn parse(files: &[&str]) -> Result<RuleSet, RuleError> {
        let mut by_agent = HashMap::new();
        for text in files {
            let file: RuleFile = toml::from_str(text)?;
            let mut rules = Vec::new();
            for r in file.rule {
                let re = |p: &Option<String>| {
                    p.as_deref()
                        .map(Regex::new)
                        .transpose()
                        .map_err(|source| RuleError::Regex {
                            id: r.id.clone(),
                            source,
                        })
                };
                let rule = Rule {
                    pattern: re(&r.pattern)?,
                    footer: re(&r.footer)?,
                    id: r.id.clone(),
                    state: r.state,
                    kind: r.kind,
                    priority: r.priority,
                    region: r.region.max(1),
                    cursor: r.cursor.clone(),
                    quiet: r.quiet,
                };
                let shape_ok = match rule.kind {
                    Some(Kind::Menu) => rule.footer.is_some() && rule.cursor.is_some(),
                    _ => rule.pattern.is_some(),
                };
                if !shape_ok {
                    return Err(RuleError::Shape(rule.id));
                }
                rules.push(rule);
            }
            rules.sort_by_key(|r| std::cmp::Reverse(r.priority));
            by_agent.insert(file.agent, rules);
        }
        Ok(RuleSet { by_agent })
    }

    /// Every rule of `agent` that matches `lines`, highest priority first.
    pub(super) fn matching(&self, agent: &str, lines: &[&str], quiet: bool) -> Vec<Match> {
        let Some(rules) = self.by_agent.get(agent) else {
            return Vec::new();
        };
        // Indices of the non-blank lines, bottom first.
        let nonblank: Vec<usize> = (0..lines.len())
            .rev()
            .filter(|&i| !lines[i].trim().is_empty())
            .collect();
        let mut out: Vec<Match> = rules
            .iter()
            .filter(|r| quiet || !r.quiet)
            .filter_map(|r| r.apply(lines, &nonblank))
            .collect();
        out.sort_by_key(|m| std::cmp::Reverse(m.priority));
        out
    }
}

impl Rule {
    fn apply(&self, lines: &[&str], nonblank: &[usize]) -> Option<Match> {
        let region = &nonblank[..self.region.min(nonblank.len())];
        let found = |activity, prompt| {
            Some(Match {
                activity,
                prompt,
                rule_id: self.id.clone(),
                priority: self.priority,
            })
        };
        match (self.state, self.kind) {
            (State::Waiting, Some(Kind::Menu)) => {
                let footer = self.footer.as_ref()?;
                let cursor = self.cursor.as_deref()?;
                // The footer raises confidence; a numbered menu at the bottom of the screen
                // under a question is a prompt without one too (Claude Code's WebFetch
                // permission, "Exit plan mode?"), one step lower in priority.
                let at = region.iter().copied().find(|&i| footer.is_match(lines[i]));
                if let Some(prompt) = at.and_then(|at| menu::read_menu(lines, Some(at), cursor)) {
                    return found(Activity::WaitingForInput, Some(prompt));
                }
                let bottom = *region.first()?;
                let prompt = menu::read_menu(&lines[..=bottom], None, cursor)?;
                Some(Match {
                    activity: Activity::WaitingForInput,
                    prompt: Some(prompt),
                    rule_id: format!("{} (no footer)", self.id),
                    priority: self.priority - 1,
                })
            }
            (State::Waiting, kind) => {
                let last = *region.first()?;
                let pattern = self.pattern.as_ref()?;
                if !region.iter().any(|&i| pattern.is_match(lines[i])) {
                    return None;
                }
                let kind = match kind {
                    Some(Kind::PressEnter) => PromptKind::PressEnter,
                    Some(Kind::Text) => PromptKind::Text,
                    _ => PromptKind::YesNo,
                };
                found(
                    Activity::WaitingForInput,
                    Some(line_prompt(lines, last, kind)),
                )
            }
            (state, _) => {
                let pattern = self.pattern.as_ref()?;
                if !region.iter().any(|&i| pattern.is_match(lines[i])) {
                    return None;
                }
                let activity = if state == State::Working {
                    Activity::Working
                } else {
                    Activity::Idle
                };
                found(activity, None)
            }
        }
    }
}

/// A one-line question (y/n, press Enter, free text) on line `at`.
fn line_prompt(lines: &[&str], at: usize, kind: PromptKind) -> Prompt {
    let context: Vec<String> = lines[..at]
        .iter()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(3)
        .map(|l| l.trim().to_owned())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let options = match kind {
        PromptKind::YesNo => vec![
            super::PromptOption {
                number: None,
                label: "yes".into(),
                description: None,
                selected: false,
                keys: vec![Key::Char('y'), Key::Enter],
                takes_text: false,
                checked: None,
            },
            super::PromptOption {
                number: None,
                label: "no".into(),
                description: None,
                selected: false,
                keys: vec![Key::Char('n'), Key::Enter],
                takes_text: false,
                checked: None,
            },
        ],
        _ => Vec::new(),
    };
    Prompt {
        kind,
        question: lines[at].trim().to_owned(),
        context,
        options,
        cursor: None,
        cancel_keys: vec![Key::Ctrl('c')],
        accepts_text: kind == PromptKind::Text,
    }
}

#[cfg(test)]
pub(super) fn parse_for_test(files: &[&str]) -> Result<(), RuleError> {
    RuleSet::parse(files).map(|_| ())
}
