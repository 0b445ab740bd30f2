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
    // Gemini CLI's idle screen (run by node) says "? for shortcuts" too.
    let gemini_idle = other_fixture("gemini", "idle");
    assert_eq!(
        Agent::guess(Some("gemini-test"), Some("node"), &gemini_idle),
        Agent::Gemini
    );
    assert_eq!(
        detect(
            &gemini_idle,
            Agent::guess(Some("gemini"), Some("node"), &gemini_idle)
        )
        .activity,
        Activity::Idle
    );
    assert_eq!(
        Agent::guess(Some("claude-test"), Some("node"), &gemini_idle),
        Agent::ClaudeCode
    );
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
fn codex_command_approval() {
    // Codex CLI 0.169.0 asking to run a command outside its sandbox (captured in the
    // end-to-end test's setup, `tests/it/coding_agents.rs`); the model's reason is a question
    // too, in a `Reason:` field under the dialog's own question.
    for (name, cursor) in [
        ("command-approval", 0),
        ("command-approval-cursor-second", 1),
    ] {
        let screen = other_fixture("codex", name);
        let d = detect(&screen, Agent::guess(Some("codex"), Some("codex"), &screen));
        assert_eq!(d.activity, Activity::WaitingForInput, "{name}: {d:?}");
        let p = d.prompt.unwrap();
        assert_eq!(p.question, "Would you like to run the following command?");
        for line in ["Reason: Create the marker file?", "$ touch MARKER"] {
            assert!(
                p.context.iter().any(|c| c == line),
                "{name}: {:?}",
                p.context
            );
        }
        let labels: Vec<&str> = p.options.iter().map(|o| o.label.as_str()).collect();
        assert_eq!(
            labels,
            vec![
                "Yes, proceed (y)",
                "Yes, and don't ask again for commands that start with `touch MARKER` (p)",
                "No, and tell Codex what to do differently (esc)",
            ],
            "{name}"
        );
        assert!(p.options.iter().all(|o| o.description.is_none()));
        assert_eq!(p.cursor, Some(cursor), "{name}");
        assert_eq!(p.cancel_keys, vec![Key::Escape]);
        // Both "Yes" options begin with "Yes,": a bare "yes" is refused, not guessed (the
        // second one grants more).
        assert!(plan_answer(&p, "yes").is_err());
        assert_eq!(
            plan_answer(&p, "Yes, proceed").unwrap().keys,
            vec![Key::Char('1')]
        );
        assert_eq!(plan_answer(&p, "No").unwrap().keys, vec![Key::Char('3')]);
    }
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

#[test]
fn gemini_shell_permission() {
    // Gemini CLI 0.61.0 asking to run a command (captured in the end-to-end test's setup,
    // `tests/it/coding_agents.rs`): the command sits in a box inside the dialog's box, and
    // that inner box belongs to the dialog's context.
    for (name, cursor) in [
        ("shell-permission", 0),
        ("shell-permission-cursor-second", 1),
    ] {
        let screen = other_fixture("gemini", name);
        let d = detect(&screen, Agent::guess(Some("gemini"), Some("node"), &screen));
        assert_eq!(d.activity, Activity::WaitingForInput, "{name}: {d:?}");
        let p = d.prompt.unwrap();
        assert_eq!(p.question, "Allow execution of [Shell]?");
        assert_eq!(
            p.context,
            vec!["? Shell  touch MARKER", "touch MARKER"],
            "{name}"
        );
        let labels: Vec<&str> = p.options.iter().map(|o| o.label.as_str()).collect();
        assert_eq!(
            labels,
            vec![
                "Allow once",
                "Allow for this session",
                "No, suggest changes (esc)"
            ],
            "{name}"
        );
        assert_eq!(p.cursor, Some(cursor), "{name}");
        assert_eq!(p.cancel_keys, vec![Key::Escape]);
        assert_eq!(
            plan_answer(&p, "allow once").unwrap().keys,
            vec![Key::Char('1')]
        );
        assert_eq!(plan_answer(&p, "no").unwrap().keys, vec![Key::Char('3')]);
    }

    // With GEMINI_API_KEY set, the authentication menu starts on its second option.
    let screen = other_fixture("gemini", "auth-menu-key-detected");
    let p = detect(&screen, Agent::Gemini).prompt.unwrap();
    assert_eq!(
        p.question,
        "How would you like to authenticate for this project?"
    );
    assert_eq!(p.options[1].label, "Use Gemini API Key");
    assert_eq!(p.cursor, Some(1));
}

#[test]
fn aider_yes_no_lines() {
    // aider 0.86.2 in its diff edit format (captured in the end-to-end test's setup,
    // `tests/it/coding_agents.rs`): its questions end with "(Y)es/(N)o … [Yes]:".
    for (name, question) in [
        (
            "release-notes-question",
            "Would you like to see what's new in this version? (Y)es/(N)o [Yes]:",
        ),
        ("create-new-file", "Create new file? (Y)es/(N)o [Yes]:"),
        (
            "run-shell-command",
            "Run shell command? (Y)es/(N)o/(D)on't ask again [Yes]:",
        ),
    ] {
        let screen = other_fixture("aider", name);
        let d = detect(&screen, Agent::guess(Some("aider"), Some("aider"), &screen));
        assert_eq!(d.rule.as_deref(), Some("aider/yes-no"), "{name}: {d:?}");
        let p = d.prompt.unwrap();
        assert_eq!(p.kind, PromptKind::YesNo, "{name}");
        assert_eq!(p.question, question);
        let plan = plan_answer(&p, "yes").unwrap();
        assert_eq!(
            (plan.text.as_deref(), plan.keys),
            (Some("y"), vec![Key::Enter])
        );
    }
    // The file's name is on the row above its question.
    let screen = other_fixture("aider", "create-new-file");
    let p = detect(&screen, Agent::Aider).prompt.unwrap();
    assert!(
        p.context.iter().any(|l| l == "notes.txt"),
        "{:?}",
        p.context
    );

    // Back at its prompt, which names the edit format: `diff>`.
    let screen = other_fixture("aider", "idle-after-task");
    let d = detect(&screen, Agent::Aider);
    assert_eq!(
        (d.activity, d.rule.as_deref()),
        (Activity::Idle, Some("aider/input"))
    );
}

#[test]
fn a_dot_inside_a_word_does_not_cut_the_question() {
    let screen = fixture("bash-permission");
    for (question, want) in [
        (
            "Do you want to make this edit to greet.py?",
            "Do you want to make this edit to greet.py?",
        ),
        (
            "Do you want to create notes.md?",
            "Do you want to create notes.md?",
        ),
        (
            "Fetch https://example.com/a.b?q=1 with v2.1 of ./src/x.rs?",
            "Fetch https://example.com/a.b?q=1 with v2.1 of ./src/x.rs?",
        ),
        ("Done. Do you want to proceed?", "Do you want to proceed?"),
        ("Careful! Overwrite it?", "Overwrite it?"),
    ] {
        let edited = screen.replace("Do you want to proceed?", question);
        let p = detect(&edited, Agent::ClaudeCode).prompt.unwrap();
        assert_eq!(p.question, want, "{question}");
    }
}

#[test]
fn a_shell_the_rules_cannot_read_is_decided_by_its_foreground_process() {
    // A prompt no rule knows (a two-line prompt ending in an arrow), and a cleared screen.
    for screen in ["~/proj on main\n➜", ""] {
        let mut d = detect(screen, Agent::Shell);
        assert_eq!(d.activity, Activity::Unknown, "{screen:?}");
        crate::prompt::refine_with_foreground(&mut d, Some("bash"));
        assert_eq!(d.activity, Activity::Idle, "{screen:?}");
        assert_eq!(d.rule.as_deref(), Some("shell/foreground:bash"));
        let mut d = detect(screen, Agent::Shell);
        crate::prompt::refine_with_foreground(&mut d, Some("sleep"));
        assert_eq!(d.activity, Activity::Working, "{screen:?}");
        assert_eq!(d.rule.as_deref(), Some("shell/foreground:sleep"));
    }
    // What the screen decided stays: a `read -p` question in bash is still a question.
    let mut d = detect("Branch name: ", Agent::Shell);
    let before = d.activity;
    crate::prompt::refine_with_foreground(&mut d, Some("bash"));
    assert_eq!(d.activity, before);
    // Other agents are never second-guessed by their foreground process.
    let mut d = detect("", Agent::ClaudeCode);
    crate::prompt::refine_with_foreground(&mut d, Some("bash"));
    assert_eq!(d.activity, Activity::Unknown);
}

fn menu_of(name: &str) -> Prompt {
    let d = detect(&fixture(name), Agent::ClaudeCode);
    assert_eq!(d.activity, Activity::WaitingForInput, "{name}: {d:?}");
    let p = d.prompt.unwrap_or_else(|| panic!("{name}: no prompt"));
    assert_eq!(p.kind, PromptKind::Menu, "{name}");
    p
}

fn labels(p: &Prompt) -> Vec<&str> {
    p.options.iter().map(|o| o.label.as_str()).collect()
}

fn descriptions(p: &Prompt) -> Vec<Option<&str>> {
    p.options.iter().map(|o| o.description.as_deref()).collect()
}

#[test]
fn ask_user_question_reads_labels_descriptions_and_the_option_below_the_rule() {
    let want_labels = vec![
        "PostgreSQL",
        "Redis",
        "SQLite",
        "Type something.",
        "Chat about this",
    ];
    let want_descriptions = vec![
        Some("Relational, already used by the billing service; SKIP LOCKED makes it a fine queue"),
        Some("In-memory, fast, but jobs are lost if it restarts without persistence"),
        Some("One file, no server; enough for a single worker"),
        None,
        None,
    ];
    for (name, cursor) in [
        ("ask-user-question", 0),
        ("ask-user-question-cursor-second", 1),
        ("ask-user-question-type-something", 3),
        ("ask-user-question-chat-about-this", 4),
    ] {
        let p = menu_of(name);
        assert_eq!(
            p.question, "Which database should the service use for its job queue?",
            "{name}"
        );
        assert_eq!(labels(&p), want_labels, "{name}");
        assert_eq!(descriptions(&p), want_descriptions, "{name}");
        assert_eq!(p.cursor, Some(cursor), "{name}");
        assert!(p.options[cursor].selected, "{name}");
        assert_eq!(
            p.options.iter().map(|o| o.number).collect::<Vec<_>>(),
            vec![Some(1), Some(2), Some(3), Some(4), Some(5)],
            "{name}"
        );
        assert!(p.accepts_text, "{name}");
        assert_eq!(
            p.options.iter().map(|o| o.takes_text).collect::<Vec<_>>(),
            vec![false, false, false, true, false],
            "{name}"
        );
        assert_eq!(p.cancel_keys, vec![Key::Escape], "{name}");
    }
}

#[test]
fn a_wrapped_label_is_one_label_and_its_description_stays_apart() {
    let p = menu_of("ask-user-question-wrapped");
    assert_eq!(
        p.question,
        "How should the importer treat rows whose date column cannot be parsed in any of the configured formats?"
    );
    assert_eq!(
        p.options[0].label,
        "Skip the row and write it to a rejects file next to the input so that someone can fix it by hand later on, once the owner of the upstream export has been told about it"
    );
    assert_eq!(
        p.options[0].description.as_deref(),
        Some(
            "Nothing is lost; the import finishes; the rejects file needs a person to look at it afterwards, which in practice may never happen unless somebody is told"
        )
    );
    assert_eq!(
        labels(&p)[1..],
        [
            "Stop the import",
            "Use today's date",
            "Type something.",
            "Chat about this"
        ]
    );
    // A permission option wrapped onto a second row is one label too.
    let p = menu_of("write-permission");
    assert_eq!(
        p.options[1].label,
        "Yes, and switch to accept edits (auto-approve file edits and common file commands) for this session (shift+tab)"
    );
    assert_eq!(p.options[1].description, None);
}

#[test]
fn answers_select_labels_never_descriptions_and_text_goes_through_type_something() {
    let p = menu_of("ask-user-question-cursor-second");
    // A label selects its option by digit.
    let plan = plan_answer(&p, "PostgreSQL").unwrap();
    assert_eq!((plan.before.clone(), plan.text.clone()), (vec![], None));
    assert_eq!(plan.keys, vec![Key::Char('1')]);
    assert_eq!(plan_answer(&p, "5").unwrap().keys, vec![Key::Char('5')]);
    // Words of a description select nothing: they are free text, typed into "Type something."
    // (arrows to it from the cursor on option 2, the text, Enter).
    for text in ["Relational", "In-memory, fast", "MySQL, please"] {
        let plan = plan_answer(&p, text).unwrap();
        assert_eq!(plan.before, vec![Key::Down, Key::Down], "{text}");
        assert_eq!(plan.text.as_deref(), Some(text));
        assert_eq!(plan.keys, vec![Key::Enter]);
        assert_eq!(plan.chosen.as_deref(), Some("Type something."));
    }
    // Choosing "Type something." without text is refused.
    for a in ["Type something.", "4"] {
        let err = plan_answer(&p, a).unwrap_err().to_string();
        assert!(err.contains("takes text"), "{a}: {err}");
    }
    // A menu without such an option takes no free text, and a description is no option.
    let p = menu_of("plan-approval");
    assert!(!p.accepts_text);
    let err = plan_answer(&p, "shift+tab to approve")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no option matches"), "{err}");
}

#[test]
fn dialogs_without_a_footer_are_prompts() {
    let p = menu_of("webfetch-permission");
    assert_eq!(
        p.question,
        "Do you want to allow Claude to fetch this content?"
    );
    assert_eq!(
        labels(&p),
        vec![
            "Yes",
            "Yes, and don't ask again for example.com",
            "No, and tell Claude what to do differently (esc)"
        ]
    );
    assert!(
        p.context
            .iter()
            .any(|c| c == "url: https://example.com/docs/v2.1/guide.html"),
        "{:?}",
        p.context
    );
    assert_eq!(p.cancel_keys, vec![Key::Escape]);

    let p = menu_of("plan-approval");
    assert_eq!(p.question, "Would you like to proceed?");
    assert_eq!(
        labels(&p),
        vec![
            "Yes, and use auto mode",
            "Yes, manually approve edits",
            "Tell Claude what to change"
        ]
    );
    assert_eq!(
        p.options[2].description.as_deref(),
        Some("shift+tab to approve with this feedback")
    );
    assert_eq!(plan_answer(&p, "2").unwrap().keys, vec![Key::Char('2')]);

    let p = menu_of("exit-plan-mode");
    assert_eq!(p.question, "Exit plan mode?");
    assert_eq!(
        labels(&p),
        vec![
            "Yes, and switch to default (ask each time) for this session",
            "No"
        ]
    );
    assert_eq!(p.cursor, Some(0));
}

#[test]
fn permission_dialogs_of_write_and_edit() {
    let p = menu_of("write-permission");
    assert_eq!(p.question, "Do you want to create notes.md?");
    assert_eq!(labels(&p)[0], "Yes");
    assert_eq!(labels(&p)[2], "No");
    let p = menu_of("edit-permission");
    assert_eq!(p.question, "Do you want to make this edit to greet.py?");
    assert!(
        p.context
            .iter()
            .any(|c| c == "2 +    return f\"Hello, {name}!\""),
        "the diff is context: {:?}",
        p.context
    );
    assert_eq!(plan_answer(&p, "yes").unwrap().keys, vec![Key::Char('1')]);
}

#[test]
fn pickers_with_a_mark_on_the_selected_row() {
    let themes = vec![
        "Auto (match terminal)",
        "Dark mode",
        "Light mode",
        "Dark mode (colorblind-friendly)",
        "Light mode (colorblind-friendly)",
        "Dark mode (ANSI colors only)",
        "Light mode (ANSI colors only)",
        "New custom theme…",
    ];
    for (name, cursor) in [("theme-picker", 1), ("theme-picker-cursor-moved", 2)] {
        let p = menu_of(name);
        assert_eq!(labels(&p), themes, "{name}");
        assert_eq!(p.cursor, Some(cursor), "{name}");
        assert_eq!(
            p.question,
            "Choose the text style that looks best with your terminal"
        );
    }
    let p = menu_of("theme-picker");
    assert_eq!(
        plan_answer(&p, "light mode").unwrap().keys,
        vec![Key::Down, Key::Enter]
    );

    // The model picker draws a description in a column beside each label.
    let p = menu_of("model-picker");
    assert_eq!(
        labels(&p),
        vec!["Default (recommended)", "Opus", "Fable", "Sonnet", "Haiku"]
    );
    assert_eq!(
        p.options[2].description.as_deref(),
        Some(
            "Fable 5.2 · Most capable for your hardest and longest-running tasks · $8/$40 per Mtok"
        )
    );
    assert_eq!(
        plan_answer(&p, "sonnet").unwrap().keys,
        vec![Key::Char('4')]
    );

    let p = menu_of("login-method-picker");
    assert_eq!(p.question, "Select login method:");
    assert_eq!(p.options.len(), 3);
}

#[test]
fn screens_that_wait_for_nothing_are_not_prompts() {
    // `/output-style` in 2.1.331 prints its styles and returns to the input box.
    let d = detect(&fixture("output-style-list"), Agent::ClaudeCode);
    assert_eq!(d.activity, Activity::Idle, "{d:?}");
    assert!(d.prompt.is_none());
}

/// A small deterministic generator (xorshift), so that the property test needs no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One random edit of a screen: a line removed, doubled, blanked, swapped with the next, or a
/// word in it replaced.
fn edit(rng: &mut Rng, lines: &mut Vec<String>) {
    if lines.is_empty() {
        return;
    }
    let i = rng.below(lines.len());
    match rng.below(5) {
        0 => {
            lines.remove(i);
        }
        1 => {
            let l = lines[i].clone();
            lines.insert(i, l);
        }
        2 => lines[i].clear(),
        3 if i + 1 < lines.len() => lines.swap(i, i + 1),
        _ => {
            const WORDS: [&str; 8] = [
                "x.py",
                "v2.1",
                "?",
                "1.",
                "❯",
                "Yes",
                "──────",
                "Esc to cancel",
            ];
            let words: Vec<&str> = lines[i].split(' ').collect();
            let w = rng.below(words.len());
            let mut words: Vec<String> = words.iter().map(|s| s.to_string()).collect();
            words[w] = WORDS[rng.below(WORDS.len())].to_owned();
            lines[i] = words.join(" ");
        }
    }
}

/// The properties every detected menu has, whatever the screen.
fn check_properties(screen: &str, p: &Prompt) -> Result<(), String> {
    let rows: Vec<&str> = screen.lines().collect();
    let fragment_free = |hay: &str, needle: &str| {
        hay.match_indices(needle).any(|(at, _)| {
            hay[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric())
        })
    };
    // A line the program wrapped is one line again: the question may run over several rows.
    let joined: String = rows
        .iter()
        .map(|r| r.trim().trim_matches('│').trim())
        .collect::<Vec<_>>()
        .join(" ");
    if !p.question.is_empty()
        && !rows.iter().any(|r| fragment_free(r, &p.question))
        && !fragment_free(&joined, &p.question)
    {
        return Err(format!(
            "question {:?} is not whole on the screen",
            p.question
        ));
    }
    let pairs: Vec<String> = rows
        .windows(2)
        .map(|w| format!("{} {}", w[0].trim_end(), w[1].trim()))
        .collect();
    let on_screen =
        |s: &str| rows.iter().any(|r| r.contains(s)) || pairs.iter().any(|r| r.contains(s));
    for o in &p.options {
        if !on_screen(&o.label) {
            return Err(format!("label {:?} is on no row", o.label));
        }
    }
    if let Some(c) = p.cursor {
        let o = p.options.get(c).ok_or("cursor past the options")?;
        if !o.selected || p.options.iter().filter(|o| o.selected).count() != 1 {
            return Err("the cursor option is not the one selected option".into());
        }
        let marked = rows.iter().enumerate().any(|(i, r)| {
            r.trim_start()
                .trim_start_matches('│')
                .trim_start()
                .starts_with(['❯', '›', '>', '●'])
                && (r.contains(&o.label)
                    || pairs.get(i).is_some_and(|pair| pair.contains(&o.label)))
        });
        if !marked {
            return Err(format!(
                "cursor option {:?} is not on the cursor row",
                o.label
            ));
        }
    }
    Ok(())
}

#[test]
fn property_detected_menus_are_made_of_what_is_on_the_screen() {
    let dir = format!("{}/rules/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut screens: Vec<(Agent, String)> = Vec::new();
    for (agent, sub) in [
        (Agent::ClaudeCode, "claude-code"),
        (Agent::Codex, "codex"),
        (Agent::Gemini, "gemini"),
    ] {
        for e in std::fs::read_dir(format!("{dir}/{sub}")).unwrap() {
            let path = e.unwrap().path();
            let name = path.to_string_lossy().into_owned();
            if name.ends_with(".txt") && !name.ends_with(".ansi.txt") {
                screens.push((agent, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    assert!(screens.len() >= 20, "{}", screens.len());
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut menus = 0;
    for (agent, screen) in &screens {
        for round in 0..300 {
            let mut lines: Vec<String> = screen.lines().map(str::to_owned).collect();
            // Round 0 is the screen as captured.
            for _ in 0..(round % 4) {
                edit(&mut rng, &mut lines);
            }
            let edited = lines.join("\n");
            let d = detect(&edited, *agent);
            if let Some(p) = d.prompt.as_ref().filter(|p| p.kind == PromptKind::Menu) {
                menus += 1;
                if let Err(why) = check_properties(&edited, p) {
                    panic!("{why}\n{p:#?}\non this screen:\n{edited}");
                }
            }
        }
    }
    assert!(menus > 1000, "{menus}");
}

#[test]
fn a_bash_command_of_several_lines_is_context_line_by_line() {
    let p = menu_of("bash-permission-multi-line");
    assert_eq!(p.question, "Do you want to proceed?");
    let command = [
        "mkdir -p build",
        "cd build",
        "touch first.txt second.txt",
        "echo done > result.txt",
    ];
    let at = p
        .context
        .iter()
        .position(|c| c == command[0])
        .unwrap_or_else(|| panic!("{:?}", p.context));
    assert_eq!(&p.context[at..at + 4], &command, "{:?}", p.context);
    // The warning Claude Code wrapped over two rows is one line.
    assert!(
        p.context.iter().any(|c| c
            == "Compound command contains cd with write operation - manual approval required \
                to prevent path resolution bypass"),
        "{:?}",
        p.context
    );
    assert_eq!(labels(&p)[0], "Yes");
    assert_eq!(labels(&p)[3], "No");
    assert!(labels(&p)[1].ends_with("commands in /tmp/cap/home/project"));
    assert_eq!(plan_answer(&p, "yes").unwrap().keys, vec![Key::Char('1')]);
}

#[test]
fn the_resume_picker_lists_conversations_with_their_facts_apart() {
    // One earlier conversation: the project's name above it is a heading, not an option.
    let p = menu_of("resume-picker");
    assert_eq!(p.question, "Resume session");
    assert_eq!(labels(&p), vec!["First conversation about greetings"]);
    assert_eq!(
        descriptions(&p),
        vec![Some("8 seconds ago · HEAD · 153.9KB")]
    );
    assert_eq!(p.cursor, Some(0));
    assert_eq!(plan_answer(&p, "first").unwrap().keys, vec![Key::Enter]);
    assert_eq!(p.cancel_keys, vec![Key::Escape]);
    let several = vec![
        "Third conversation about colours and the palette of the website",
        "Second conversation about dates",
        "Build it please",
    ];
    for (name, cursor) in [
        ("resume-picker-several", 0),
        ("resume-picker-cursor-moved", 1),
    ] {
        let p = menu_of(name);
        assert_eq!(labels(&p), several, "{name}");
        assert_eq!(p.cursor, Some(cursor), "{name}");
        assert_eq!(
            p.options[1].description.as_deref(),
            Some("9 seconds ago · HEAD · 154KB")
        );
    }
    let p = menu_of("resume-picker-several");
    assert_eq!(
        plan_answer(&p, "Build it please").unwrap().keys,
        vec![Key::Down, Key::Down, Key::Enter]
    );
}

#[test]
fn the_config_panel_lists_settings_with_their_values() {
    let d = detect(&fixture("config-panel"), Agent::ClaudeCode);
    assert_eq!(d.activity, Activity::WaitingForInput, "{d:?}");
    let p = d.prompt.unwrap();
    let l = labels(&p);
    assert_eq!(l.len(), 24, "{l:?}");
    assert_eq!(l[0], "Auto-compact");
    assert_eq!(l[3], "Switch models when a message is flagged");
    assert_eq!(l[23], "Open agents view by default");
    assert!(
        !l.iter().any(|l| l.contains("more")),
        "the scroll hint is no option"
    );
    assert_eq!(p.options[0].description.as_deref(), Some("on"));
    assert_eq!(
        p.options[3].description.as_deref(),
        Some("Switch automatically ›")
    );
    // The note under "Thinking mode" (the cursor skips it) belongs to that setting.
    assert_eq!(l[6], "Thinking mode");
    assert_eq!(
        p.options[6].description.as_deref(),
        Some("on; Thinking can't be turned off for Opus 5.5")
    );
    assert_eq!(l[7], "Session recap");
    assert_eq!(p.question, "Settings  Status   Config   Usage   Stats");
    assert_eq!(p.cursor, Some(0));
    assert_eq!(p.cancel_keys, vec![Key::Escape]);
    assert_eq!(
        plan_answer(&p, "Session recap").unwrap().keys,
        [vec![Key::Down; 7], vec![Key::Enter]].concat()
    );
}

#[test]
fn a_multi_select_menu_reads_ticks_and_its_submit_button() {
    let checks = vec![
        "cargo fmt",
        "cargo clippy",
        "cargo test",
        "Type something",
        "Submit",
        "Chat about this",
    ];
    let p = menu_of("ask-user-question-multi-select-one");
    assert_eq!(p.question, "Which checks should run before each commit?");
    assert_eq!(labels(&p), checks);
    assert_eq!(
        p.options.iter().map(|o| o.checked).collect::<Vec<_>>(),
        vec![
            Some(false),
            Some(false),
            Some(false),
            Some(false),
            None,
            None
        ]
    );
    assert_eq!(p.options[1].description.as_deref(), Some("Lints, slower"));
    assert_eq!(p.options[3].description, None, "Submit is no description");
    assert_eq!(p.cursor, Some(0));
    // A digit ticks an option; the button is reached with arrows and pressed with Enter.
    assert_eq!(
        plan_answer(&p, "cargo clippy").unwrap().keys,
        vec![Key::Char('2')]
    );
    assert_eq!(
        plan_answer(&p, "Submit").unwrap().keys,
        vec![Key::Down, Key::Down, Key::Down, Key::Down, Key::Enter]
    );
    assert_eq!(
        plan_answer(&p, "Chat about this").unwrap().keys,
        vec![Key::Char('5')]
    );

    let p = menu_of("ask-user-question-multi-select-ticked");
    assert_eq!(labels(&p), checks);
    assert_eq!(p.options[1].checked, Some(true));
    assert_eq!(p.options[0].checked, Some(false));

    // The cursor on the button.
    let p = menu_of("ask-user-question-multi-select-on-submit");
    assert_eq!(labels(&p), checks);
    assert_eq!(p.cursor, Some(4));
    assert_eq!(plan_answer(&p, "submit").unwrap().keys, vec![Key::Enter]);
    assert_eq!(
        plan_answer(&p, "cargo fmt").unwrap().keys,
        vec![Key::Char('1')]
    );

    // Two questions: the button says "Next".
    let p = menu_of("ask-user-question-multi-select");
    assert_eq!(
        labels(&p),
        vec![
            "cargo fmt",
            "cargo clippy",
            "cargo test",
            "Type something",
            "Next",
            "Chat about this"
        ]
    );

    // Then the answers are shown for review.
    let p = menu_of("ask-user-question-review-answers");
    assert_eq!(labels(&p), vec!["Submit answers", "Cancel"]);
}

#[test]
fn a_command_line_wrapped_over_two_rows_is_one_context_line() {
    let p = menu_of("bash-permission-wrapped");
    assert_eq!(p.question, "Do you want to proceed?");
    // The command's own line break stays; the row Claude Code wrapped at the screen's edge is
    // joined again.
    let at = p
        .context
        .iter()
        .position(|c| c == "printf \"%s")
        .unwrap_or_else(|| panic!("{:?}", p.context));
    assert_eq!(
        p.context[at + 1],
        "\" \"alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi \
         rho sigma tau upsilon\" > greek-letters-list.txt",
        "{:?}",
        p.context
    );
    assert_eq!(labels(&p).len(), 4);
}
