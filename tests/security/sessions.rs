//! Input that reaches tmux and the terminal: session names crafted as tmux targets, options or
//! shell syntax; working directories that climb out of the allowed root; text that tries to
//! end the bracketed paste it is typed in and run what follows; key names that try to be tmux
//! commands. Every refusal names its reason, and tmux is left exactly as it was.

use serde_json::json;

use sessiongate_tests::gateway::TestGateway;
use sessiongate_tests::mcp::McpClient;

use crate::common::{self, session_names, tmux_sessions};

/// Calls a tool that must fail; returns its error text.
async fn refused(c: &mut McpClient, tool: &str, args: serde_json::Value) -> String {
    c.call_err(tool, args).await.unwrap()
}

/// Waits until the session's screen shows `needle`.
async fn wait_screen(c: &mut McpClient, session: &str, needle: &str) -> String {
    let r = c
        .call("wait_for", json!({"session": session, "until": "match", "pattern": regex_escape(needle), "timeout_s": 30}))
        .await
        .unwrap();
    let screen = c
        .call_ok("get_logs", json!({"session": session, "lines": 200}))
        .await
        .unwrap();
    assert!(
        screen.contains(needle),
        "{needle:?} never appeared: {r}\n{screen}"
    );
    screen
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || c == ' ' {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

#[tokio::test]
async fn names_crafted_for_tmux_targets_are_refused() {
    let gw = common::gateway("names");
    let mut c = common::admin(&gw).await;
    let long = "a".repeat(65);
    let huge = "b".repeat(1 << 20);
    let names: Vec<&str> = vec![
        "=x",
        "a:b",
        "x:0.1",
        "a;b",
        ";",
        "-t",
        "-tother",
        "$(id)",
        "`id`",
        "a\nb",
        "a b",
        "a\tb",
        "%1",
        "{last}",
        "~",
        "..",
        ".",
        "...",
        "a/b",
        "../x",
        "\u{430}dmin",
        "a\0b",
        "#{pane_id}",
        "\x1b[31m",
        "a\\b",
        "!",
        "",
        &long,
        &huge,
    ];
    for name in &names {
        for (tool, args) in [
            ("create_session", json!({"name": name, "profile": "bash"})),
            ("send_message", json!({"session": name, "message": "id"})),
            ("terminate_session", json!({"session": name})),
        ] {
            let err = refused(&mut c, tool, args).await;
            assert!(
                err.starts_with("invalid session name"),
                "{tool} {name:?}: {err}"
            );
            assert!(
                err.len() < 300,
                "{tool}: the error echoes {} bytes",
                err.len()
            );
        }
    }
    assert!(tmux_sessions(&gw).is_empty(), "{:?}", tmux_sessions(&gw));
    assert!(session_names(&mut c).await.is_empty());
}

#[tokio::test]
async fn targets_match_exactly_and_only_prefixed_sessions() {
    let gw = common::gateway("targets");
    let mut c = common::admin(&gw).await;
    // A session of the owner's on the same tmux server, not made by sessiongate.
    let out = std::process::Command::new("tmux")
        .args([
            "-L",
            &gw.socket,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "victim",
            "bash --norc --noprofile",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (tool, args) in [
        ("get_logs", json!({"session": "victim"})),
        (
            "send_message",
            json!({"session": "victim", "message": "echo pwned"}),
        ),
        ("terminate_session", json!({"session": "victim"})),
    ] {
        let err = refused(&mut c, tool, args).await;
        assert!(err.contains("no session named \"victim\""), "{tool}: {err}");
    }
    // "a.b" is a valid name; as a tmux target it must not reach window "b" of "a", nor "a".
    c.call_ok("create_session", json!({"name": "a", "profile": "bash"}))
        .await
        .unwrap();
    let err = refused(
        &mut c,
        "send_message",
        json!({"session": "a.b", "message": "echo wrong"}),
    )
    .await;
    assert!(err.contains("no session named \"a.b\""), "{err}");
    let err = refused(
        &mut c,
        "send_message",
        json!({"session": "a.0", "message": "echo wrong"}),
    )
    .await;
    assert!(err.contains("no session named \"a.0\""), "{err}");
    c.call_ok("create_session", json!({"name": "a.b", "profile": "bash"}))
        .await
        .unwrap();
    c.call_ok(
        "send_message",
        json!({"session": "a.b", "message": "echo in-a-dot-$((40+2))"}),
    )
    .await
    .unwrap();
    wait_screen(&mut c, "a.b", "in-a-dot-42").await;
    c.call_ok(
        "send_message",
        json!({"session": "a", "message": "echo in-a-$((40+2))"}),
    )
    .await
    .unwrap();
    let a = wait_screen(&mut c, "a", "in-a-42").await;
    assert!(!a.contains("in-a-dot") && !a.contains("wrong"), "{a}");
    // tmux turns '.' into '_' in session names; "a_b" must not reach "a.b" through that.
    let err = refused(
        &mut c,
        "send_message",
        json!({"session": "a_b", "message": "echo alias"}),
    )
    .await;
    assert!(err.contains("no session named \"a_b\""), "{err}");
    let err = refused(
        &mut c,
        "create_session",
        json!({"name": "a_b", "profile": "bash"}),
    )
    .await;
    assert!(err.contains("already exists"), "{err}");
    // The owner's own session was never touched.
    let mut all = tmux_sessions(&gw);
    // The backend's own control-mode session; `+` can never be in a session name.
    all.retain(|n| n != "claude-+control");
    all.sort();
    assert_eq!(all, vec!["claude-a", "claude-a_b", "victim"]);
    assert_eq!(session_names(&mut c).await, vec!["a", "a.b"]);
    let victim = std::process::Command::new("tmux")
        .args(["-L", &gw.socket, "capture-pane", "-p", "-t", "=victim:"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&victim.stdout).contains("pwned"));
}

#[tokio::test]
async fn working_dirs_cannot_leave_the_allowed_root() {
    let gw = common::gateway("paths");
    let mut c = common::admin(&gw).await;
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), gw.root.join("link-out")).unwrap();
    std::fs::create_dir(gw.root.join("inside")).unwrap();
    std::os::unix::fs::symlink("../..", gw.root.join("inside/up")).unwrap();
    std::fs::write(gw.root.join("file"), "x").unwrap();
    let sibling = format!("{}-sibling", gw.root.display());
    std::fs::create_dir_all(&sibling).unwrap();
    let long = "d/".repeat(3000);
    let outside_path = outside.path().display().to_string();
    let cases: Vec<(&str, &str)> = vec![
        ("/", "outside the allowed roots"),
        ("/etc", "outside the allowed roots"),
        ("..", "outside the allowed roots"),
        ("../..", "outside the allowed roots"),
        ("inside/../..", "outside the allowed roots"),
        ("link-out", "outside the allowed roots"),
        ("inside/up", "outside the allowed roots"),
        (&outside_path, "outside the allowed roots"),
        (&sibling, "outside the allowed roots"),
        ("/proc/self/root/etc", "outside the allowed roots"),
        ("/proc/self/cwd", "outside the allowed roots"),
        ("~root", "does not exist or is not a directory"),
        ("file", "does not exist or is not a directory"),
        ("a\0b", "does not exist or is not a directory"),
        (&long, "does not exist or is not a directory"),
    ];
    for (dir, reason) in cases {
        let err = refused(
            &mut c,
            "create_session",
            json!({"name": "p", "working_dir": dir, "profile": "bash"}),
        )
        .await;
        assert!(err.contains(reason), "{dir:?}: {err}");
        assert!(err.len() < 600, "{dir:?}: {} bytes", err.len());
    }
    // Profiles are names, not command lines.
    for profile in ["bash -c id", "../bash", "/bin/sh", "bash;id"] {
        let err = refused(
            &mut c,
            "create_session",
            json!({"name": "p", "profile": profile}),
        )
        .await;
        assert!(err.contains("unknown profile"), "{profile}: {err}");
    }
    assert!(tmux_sessions(&gw).is_empty());
    std::fs::remove_dir_all(&sibling).unwrap();
}

/// Types `text` without submitting, clears the line (end, then kill to its start: no signal,
/// so nothing typed is flushed or lost), and returns once a later command ran.
async fn type_then_clear(c: &mut McpClient, text: &str, n: usize) {
    c.call_ok(
        "send_message",
        json!({"session": "s", "message": text, "submit": false}),
    )
    .await
    .unwrap();
    c.call_ok("send_keys", json!({"session": "s", "keys": ["C-e", "C-u"]}))
        .await
        .unwrap();
    c.call_ok(
        "send_message",
        json!({"session": "s", "message": format!("echo mark-{n}-$((40+2))")}),
    )
    .await
    .unwrap();
    wait_screen(c, "s", &format!("mark-{n}-42")).await;
}

async fn paste_breakouts_are_inert(backend: &str) {
    let mut opts = sessiongate_tests::gateway::Options::oauth(&format!("paste-{backend}"), 3600);
    opts.backend = backend.into();
    let gw = TestGateway::start(opts);
    let mut c = common::admin(&gw).await;
    c.call_ok("create_session", json!({"name": "s", "profile": "bash"}))
        .await
        .unwrap();
    // Bash enables bracketed paste; wait for its prompt.
    c.call_ok(
        "send_message",
        json!({"session": "s", "message": "echo ready-$((1+1))"}),
    )
    .await
    .unwrap();
    wait_screen(&mut c, "s", "ready-2").await;
    let pwned = gw.root.join("pwned");
    let p = pwned.display();
    let cases = [
        format!(": \x1b[201~\rtouch {p}\r"),
        format!(": \x1b[20\x1b[201~1~\rtouch {p}\r"),
        format!(": \x1b[2\x1b[200~01~\rtouch {p}\r"),
        format!("\x1b[200~: \x1b[201~\x1b[201~\rtouch {p}\r"),
        format!(": \x1b[201~\x1b\x1b[201~\rtouch {p}\r"),
        format!(": \x1b[31m\x1bOA\x1b[A\rtouch {p}\r"),
    ];
    for (i, evil) in cases.iter().enumerate() {
        type_then_clear(&mut c, evil, i).await;
        assert!(
            !pwned.exists(),
            "{backend}: case {i} broke out of the paste: {evil:?}"
        );
    }
    // Characters the terminal's line discipline acts on even inside a paste (Ctrl-C aborts
    // the paste, and what follows arrives as keystrokes): refused, nothing typed.
    for (evil, shown) in [
        (format!(": \x03\rtouch {p}\r"), "\\u{3}"),
        (format!(": \x1a\rtouch {p}\r"), "\\u{1a}"),
        (format!(": \x1c\rtouch {p}\r"), "\\u{1c}"),
        (format!(": \x04\rtouch {p}\r"), "\\u{4}"),
        (format!(": \0touch {p}\r"), "\\u{0}"),
    ] {
        let err = refused(
            &mut c,
            "send_message",
            json!({"session": "s", "message": evil, "submit": false}),
        )
        .await;
        assert!(
            err.starts_with(&format!(
                "message contains the control character {shown} at byte 2;"
            )),
            "{evil:?}: {err}"
        );
    }
    // The prompt line after the last mark is still empty.
    let screen = c
        .call_ok("get_logs", json!({"session": "s", "lines": 5}))
        .await
        .unwrap();
    let last = screen.trim_end().lines().last().unwrap_or("");
    assert!(
        last.ends_with('#') || last.ends_with('$'),
        "a refused message was typed: {screen}"
    );
    type_then_clear(&mut c, "", 99).await;
    assert!(!pwned.exists());
    // Key names that try to be tmux commands or options are refused, and nothing is typed.
    for keys in [
        json!(["kill-server"]),
        json!(["C-c;kill-server"]),
        json!(["Enter;"]),
        json!(["-t"]),
        json!(["=victim:"]),
        json!(["\\;"]),
    ] {
        let err = refused(&mut c, "send_keys", json!({"session": "s", "keys": keys})).await;
        assert!(err.contains("unknown key"), "{keys}: {err}");
    }
    let screen = c
        .call_ok("get_logs", json!({"session": "s", "lines": 200}))
        .await
        .unwrap();
    assert!(!screen.contains("kill-server"), "{screen}");
    assert_eq!(session_names(&mut c).await, vec!["s"]);
}

#[tokio::test]
async fn paste_breakouts_are_inert_on_tmux() {
    paste_breakouts_are_inert("tmux").await;
}

#[tokio::test]
async fn paste_breakouts_are_inert_on_pty() {
    paste_breakouts_are_inert("pty").await;
}

/// An answer to a text question is one line: `"main\ntouch …"` to a shell's `read -p` would
/// answer `main` and then run the rest as a command. Every line break or control character is
/// refused, nothing is typed, and the question still waits for a proper answer.
async fn free_text_answers_are_one_line(backend: &str) {
    let mut opts = sessiongate_tests::gateway::Options::oauth(&format!("answer-{backend}"), 3600);
    opts.backend = backend.into();
    let gw = TestGateway::start(opts);
    let mut c = common::admin(&gw).await;
    c.call_ok("create_session", json!({"name": "q", "profile": "bash"}))
        .await
        .unwrap();
    c.call_ok(
        "send_message",
        json!({"session": "q", "message": "read -p 'Branch name: ' b; echo \"got:$b\""}),
    )
    .await
    .unwrap();
    let r = c
        .call(
            "wait_for",
            json!({"session": "q", "until": "waiting_for_input", "timeout_s": 30}),
        )
        .await
        .unwrap();
    assert_eq!(r["structuredContent"]["condition_met"], true, "{r}");
    let pwned = gw.root.join("pwned");
    let p = pwned.display();
    for (evil, shown) in [
        (format!("main\ntouch {p}"), "\\n"),
        (format!("main\rtouch {p}"), "\\r"),
        (format!("main\r\ntouch {p}\n"), "\\r"),
        (format!("main\u{2028}touch {p}"), "\\u{2028}"),
        (format!("main\u{85}touch {p}"), "\\u{85}"),
        ("main\x1b[A".to_owned(), "\\u{1b}"),
        ("main\ttab".to_owned(), "\\t"),
    ] {
        let err = refused(
            &mut c,
            "respond_to_prompt",
            json!({"session": "q", "answer": evil}),
        )
        .await;
        assert!(
            err.starts_with(&format!(
                "the answer holds the control character {shown} at byte 4; an answer is one line"
            )),
            "{evil:?}: {err}"
        );
    }
    // Nothing was typed: the question still waits on an empty input line.
    let screen = c
        .call_ok("get_logs", json!({"session": "q", "lines": 5}))
        .await
        .unwrap();
    assert!(
        screen.trim_end().ends_with("Branch name:"),
        "a refused answer was typed: {screen}"
    );
    // A one-line answer is typed and submitted once; what followed never ran.
    c.call_ok(
        "respond_to_prompt",
        json!({"session": "q", "answer": "main"}),
    )
    .await
    .unwrap();
    wait_screen(&mut c, "q", "got:main").await;
    c.call_ok(
        "send_message",
        json!({"session": "q", "message": "echo end-$((40+2))"}),
    )
    .await
    .unwrap();
    wait_screen(&mut c, "q", "end-42").await;
    assert!(!pwned.exists(), "{backend}: a second line of an answer ran");
}

#[tokio::test]
async fn free_text_answers_are_one_line_on_tmux() {
    free_text_answers_are_one_line("tmux").await;
}

#[tokio::test]
async fn free_text_answers_are_one_line_on_pty() {
    free_text_answers_are_one_line("pty").await;
}
