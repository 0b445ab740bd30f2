//! The prompt detectors, which read whatever a program in a session prints (the screen is
//! attacker-influenced: file contents, command output, a model's text): every agent's rules
//! on any screen, and turning answers into keys for whatever prompt they find.
#![no_main]

use libfuzzer_sys::fuzz_target;

use sessiongate_backend::prompt::{Agent, detect_with, plan_answer};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let screen = String::from_utf8_lossy(rest);
    let _ = Agent::guess(Some(&screen), Some(&screen), &screen);
    for agent in [
        Agent::ClaudeCode,
        Agent::Codex,
        Agent::Gemini,
        Agent::Aider,
        Agent::Shell,
        Agent::Unknown,
    ] {
        let d = detect_with(&screen, agent, flags & 1 == 1);
        if let Some(p) = &d.prompt {
            let last = screen.lines().last().unwrap_or("");
            for answer in ["1", "2", "9", "yes", "no", "y", "", last] {
                if let Ok(plan) = plan_answer(p, answer) {
                    // Arrows to the option plus Enter: never more keys than the menu has rows.
                    assert!(
                        plan.before.len() + plan.keys.len() <= p.options.len() + 2,
                        "{plan:?} for {p:?}"
                    );
                    // An answer is one line: nothing typed holds a line break or control.
                    assert!(
                        !plan.text.as_deref().unwrap_or("").chars().any(char::is_control),
                        "{plan:?}"
                    );
                }
            }
            for o in &p.options {
                let _ = plan_answer(p, &o.label);
            }
        }
    }
});
