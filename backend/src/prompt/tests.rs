//! Prompt detection over real Claude Code screens (`backend/rules/fixtures/claude-code/`,
//! captured from Claude Code 2.1.x) and over screens of other programs.

use super::*;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/rules/fixtures/claude-code/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn rule_files_parse() {
    assert!(
        rules::parse_for_test(&[
            "agent = \"x\"\n[[rule]]\nid = \"a\"\nstate = \"idle\"\npriority = 1\npattern = \"(\"\n"
        ])
        .is_err()
    );
    assert!(rules::parse_for_test(&["agent = \"x\"\n[[rule]]\nid = \"a\"\nstate = \"waiting\"\nkind = \"menu\"\npriority = 1\n"]).is_err());
    assert!(rules::parse_for_test(&["not toml ["]).is_err());
    // The built-in set loads.
    let _ = rules::RuleSet::get();
}

#[test]
fn claude_bash_permission_is_a_numbered_menu() {
    let screen = fixture("bash-permission");
    assert_eq!(
        Agent::guess(Some("claude"), Some("claude"), &screen),
        Agent::ClaudeCode
    );
    let d = detect(&screen, Agent::ClaudeCode);
    assert_eq!(d.activity, Activity::WaitingForInput, "{d:?}");
    let p = d.prompt.unwrap();
    assert_eq!(p.kind, PromptKind::Menu);
    assert_eq!(p.question, "Do you want to proceed?");
    assert!(
        p.context
            .iter()
            .any(|c| c == "touch /home/dev/created-by-claude.txt"),
        "{:?}",
        p.context
    );
    assert!(
        p.context.iter().any(|c| c == "Bash command"),
        "{:?}",
        p.context
    );
    let labels: Vec<&str> = p.options.iter().map(|o| o.label.as_str()).collect();
    assert_eq!(labels.len(), 4, "{labels:?}");
    assert_eq!(labels[0], "Yes");
    assert!(labels[1].starts_with("Yes, and always allow access to /home/dev"));
    assert!(labels[2].starts_with("Yes, and switch to auto mode"));
    assert_eq!(labels[3], "No");
    assert_eq!(
        p.options.iter().map(|o| o.number).collect::<Vec<_>>(),
        vec![Some(1), Some(2), Some(3), Some(4)]
    );
    assert_eq!(p.cursor, Some(0));
    assert!(p.options[0].selected);
    assert_eq!(p.cancel_keys, vec![Key::Escape]);
    // Digits select; nothing else is pressed.
    assert_eq!(plan_answer(&p, "1").unwrap().keys, vec![Key::Char('1')]);
    assert_eq!(plan_answer(&p, "no").unwrap().keys, vec![Key::Char('4')]);
    assert_eq!(
        plan_answer(&p, "Yes").unwrap().chosen.as_deref(),
        Some("Yes")
    );
    assert_eq!(
        plan_answer(&p, "yes, and always").unwrap().keys,
        vec![Key::Char('2')]
    );
    let err = plan_answer(&p, "yes,").unwrap_err().to_string();
    assert!(err.contains("several options"), "{err}");
    let err = plan_answer(&p, "7").unwrap_err().to_string();
    assert!(
        err.contains("no option 7") && err.contains("4 (No)"),
        "{err}"
    );
    assert!(plan_answer(&p, "").is_err());
    assert!(plan_answer(&p, "maybe").is_err());
}

#[test]
fn claude_trust_dialog_is_an_unnumbered_menu() {
    let d = detect(&fixture("trust-dialog"), Agent::ClaudeCode);
    assert_eq!(d.activity, Activity::WaitingForInput, "{d:?}");
    let p = d.prompt.unwrap();
    assert!(
        p.question
            .contains("Is this a project you created or one you trust?"),
        "{}",
        p.question
    );
    let labels: Vec<&str> = p.options.iter().map(|o| o.label.as_str()).collect();
    assert_eq!(labels, vec!["No, exit", "Yes, I trust this folder"]);
    assert_eq!(p.cursor, Some(0));
    assert!(p.options.iter().all(|o| o.number.is_none()));
    assert!(
        p.context.iter().any(|c| c.contains("/home/dev/project")),
        "{:?}",
        p.context
    );
    // Down once, then Enter picks "Yes"; the current option is just Enter.
    assert_eq!(
        plan_answer(&p, "yes").unwrap().keys,
        vec![Key::Down, Key::Enter]
    );
    assert_eq!(
        plan_answer(&p, "2").unwrap().keys,
        vec![Key::Down, Key::Enter]
    );
    assert_eq!(plan_answer(&p, "No, exit").unwrap().keys, vec![Key::Enter]);
}

#[test]
fn claude_api_key_question_has_the_cursor_on_the_second_option() {
    let d = detect(&fixture("api-key-question"), Agent::ClaudeCode);
    let p = d.prompt.unwrap();
    assert_eq!(p.question, "Do you want to use this API key?");
    let labels: Vec<&str> = p.options.iter().map(|o| o.label.as_str()).collect();
    assert_eq!(labels, vec!["Yes", "No (recommended)"]);
    assert_eq!(p.cursor, Some(1));
    assert!(
        p.context.iter().any(|c| c.starts_with("ANTHROPIC_API_KEY")),
        "{:?}",
        p.context
    );
    assert_eq!(
        plan_answer(&p, "Yes").unwrap().keys,
        vec![Key::Up, Key::Enter]
    );
    assert_eq!(plan_answer(&p, "no").unwrap().keys, vec![Key::Enter]);
}

#[test]
fn claude_idle_screens_have_no_prompt() {
    for name in ["idle-empty", "idle-after-task", "idle-not-logged-in"] {
        let screen = fixture(name);
        let agent = Agent::guess(Some("claude"), Some("claude"), &screen);
        let d = detect(&screen, agent);
        assert_eq!(d.activity, Activity::Idle, "{name}: {d:?}");
        assert!(d.prompt.is_none(), "{name}");
    }
}

#[test]
fn claude_busy_screen_is_working() {
    let idle = fixture("idle-empty");
    let busy = idle.replacen(
        "────",
        "✻ Crafting… (12s · ↑ 1.2k tokens · esc to interrupt)\n\n────",
        1,
    );
    let d = detect(&busy, Agent::ClaudeCode);
    assert_eq!(d.activity, Activity::Working, "{d:?}");
    assert!(d.prompt.is_none());
}

#[test]
fn old_messages_with_the_cursor_glyph_are_not_menus() {
    // Sent messages are echoed with ❯ in the scrollback; with no menu footer they are not a menu.
    let screen = "❯ Do you want to proceed?\n● Sure.\n❯ 1. Yes\n  2. No\n\n─────\n❯\u{a0}\n─────\n  ? for shortcuts\n";
    let d = detect(screen, Agent::ClaudeCode);
    assert_eq!(d.activity, Activity::Idle, "{d:?}");
}

#[test]
fn generic_yes_no_prompts() {
    for screen in [
        "$ ./install.sh\nThis will change things.\nContinue? [y/N] ",
        "Do you want to continue? [Y/n]",
        "Overwrite file? (y/n)",
    ] {
        let d = detect(screen, Agent::Shell);
        assert_eq!(d.activity, Activity::WaitingForInput, "{screen}: {d:?}");
        let p = d.prompt.unwrap();
        assert_eq!(p.kind, PromptKind::YesNo);
        let plan = plan_answer(&p, "yes").unwrap();
        assert_eq!(plan.text.as_deref(), Some("y"));
        assert_eq!(plan.keys, vec![Key::Enter]);
        assert_eq!(plan_answer(&p, "N").unwrap().text.as_deref(), Some("n"));
        assert!(plan_answer(&p, "perhaps").is_err());
    }
}

#[test]
fn generic_press_enter_and_text_prompts() {
    let d = detect("Installed.\nPress Enter to continue...", Agent::Unknown);
    let p = d.prompt.unwrap();
    assert_eq!(p.kind, PromptKind::PressEnter);
    assert_eq!(plan_answer(&p, "ok").unwrap().keys, vec![Key::Enter]);
    assert!(plan_answer(&p, "ok").unwrap().text.is_none());

    let d = detect(">>> name = input(\"Name: \")\nName:", Agent::Unknown);
    let p = d.prompt.unwrap();
    assert_eq!(p.kind, PromptKind::Text);
    assert!(p.accepts_text);
    let plan = plan_answer(&p, "Ada Lovelace").unwrap();
    assert_eq!(plan.text.as_deref(), Some("Ada Lovelace"));
    assert_eq!(plan.keys, vec![Key::Enter]);
}

#[test]
fn an_answer_is_one_line_whatever_the_question() {
    let text = detect(">>> name = input(\"Name: \")\nName:", Agent::Unknown)
        .prompt
        .unwrap();
    let enter = detect("Installed.\nPress Enter to continue...", Agent::Unknown)
        .prompt
        .unwrap();
    let yes_no = detect("Overwrite the file? [y/N] ", Agent::Unknown)
        .prompt
        .unwrap();
    for p in [&text, &enter, &yes_no] {
        for bad in [
            "main\ntouch /tmp/pwned",
            "main\r",
            "y\n",
            "a\tb",
            "\x1b[A",
            "a\x03",
            "a\x7f",
            "a\u{85}b",
            "a\u{2028}b",
            "a\u{2029}b",
            "\0",
        ] {
            let err = plan_answer(p, bad).unwrap_err().to_string();
            assert!(
                err.contains("an answer is one line") && err.contains("nothing was typed"),
                "{:?} {bad:?}: {err}",
                p.kind
            );
        }
    }
    assert_eq!(
        plan_answer(&text, "main  branch ✓")
            .unwrap()
            .text
            .as_deref(),
        Some("main  branch ✓")
    );
}

#[test]
fn shell_prompt_is_idle_and_output_is_not_a_question() {
    let d = detect("$ ls\na b c\nuser@host:~/proj$", Agent::Shell);
    assert_eq!(d.activity, Activity::Idle, "{d:?}");
    let d = detect("root@box:/# ", Agent::Shell);
    assert_eq!(d.activity, Activity::Idle);
    let d = detect("compiling...\n[12/40] building foo", Agent::Shell);
    assert_eq!(d.activity, Activity::Unknown);
    assert!(d.prompt.is_none());
}

#[test]
fn hostile_screens_do_not_break_detection() {
    let long = "❯ ".repeat(10_000);
    for screen in [
        "",
        "\n\n\n",
        "❯",
        "❯ 1. Yes\nEsc to cancel",
        long.as_str(),
        "?\u{0}\u{1b}[31m",
    ] {
        let _ = detect(screen, Agent::ClaudeCode);
        let _ = detect(screen, Agent::Unknown);
    }
}

#[test]
fn agent_guess_prefers_the_foreground_program() {
    assert_eq!(
        Agent::guess(Some("shell"), Some("claude"), ""),
        Agent::ClaudeCode
    );
    assert_eq!(Agent::guess(Some("claude"), Some("bash"), ""), Agent::Shell);
    assert_eq!(Agent::guess(Some("claude"), None, ""), Agent::ClaudeCode);
    assert_eq!(
        Agent::guess(None, Some("node"), "Claude Code v2.1"),
        Agent::ClaudeCode
    );
    assert_eq!(Agent::guess(Some("x"), Some("vim"), ""), Agent::Unknown);
}

fn other_fixture(agent: &str, name: &str) -> String {
    let path = format!(
        "{}/rules/fixtures/{agent}/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn codex_sign_in_menu() {
    // Captured from Codex CLI (npm @openai/codex) on first start, offline.
    let screen = other_fixture("codex", "sign-in-menu");
    let d = detect(&screen, Agent::guess(Some("codex"), Some("codex"), &screen));
    assert_eq!(d.activity, Activity::WaitingForInput, "{d:?}");
    let p = d.prompt.unwrap();
    assert_eq!(p.options.len(), 3, "{:?}", p.options);
    assert!(p.options[0].label.starts_with("Sign in with ChatGPT"));
    assert!(p.options[2].label.starts_with("Sign in another way"));
    assert_eq!(p.cursor, Some(0));
    assert_eq!(p.question, "Choose how you want to use Codex.");
    assert_eq!(plan_answer(&p, "3").unwrap().keys, vec![Key::Char('3')]);
}

#[test]
fn gemini_menus_inside_boxes() {
    // Captured from Gemini CLI (npm @google/gemini-cli) on first start, offline.
    let screen = other_fixture("gemini", "trust-folder");
    let d = detect(&screen, Agent::guess(Some("gemini"), Some("node"), &screen));
    assert_eq!(d.activity, Activity::WaitingForInput, "{d:?}");
    let p = d.prompt.unwrap();
    assert_eq!(p.question, "Do you trust the files in this folder?");
    let labels: Vec<&str> = p.options.iter().map(|o| o.label.as_str()).collect();
    assert_eq!(
        labels,
        vec![
            "Trust folder (w)",
            "Trust parent folder (agents)",
            "Don't trust"
        ]
    );
    assert_eq!(p.cursor, Some(0));

    let screen = other_fixture("gemini", "auth-menu");
    let d = detect(&screen, Agent::Gemini);
    let p = d.prompt.unwrap();
    assert_eq!(
        p.question,
        "How would you like to authenticate for this project?"
    );
    assert_eq!(p.options.len(), 3);
    assert_eq!(p.options[1].label, "Use Gemini API Key");
}
