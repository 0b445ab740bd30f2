//! The session board, an MCP App, in a real host: `tests/clients/board_host.mjs` runs the MCP
//! Apps SDK's `AppBridge` with its `PostMessageTransport` in headless Chromium, driven by the
//! MCP TypeScript SDK client with a bearer token. It reads the board resource, renders the
//! board for `check_prompts` while a real Claude Code session (stand-in API) waits at its
//! permission prompt, and presses an answer button: "Yes" runs the command, "No" runs
//! nothing, and with a read-only token the press shows the scope refusal and sends nothing.
//! Every tool that links the board still answers with its full text content.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::claude_code::{FakeApi, claude_options, the_prompt, wait_for};
use sessiongate_tests::clients::{dir as clients_dir, node};
use sessiongate_tests::gateway::{Options, TestGateway};
use sessiongate_tests::mcp::McpClient;

/// Runs the host: renders the board for `check_prompts` and presses `label` on `session`'s
/// card; screenshots go to `shots` as `prefix-*`. Returns the host's report.
fn press_on_board(
    gw: &TestGateway,
    token: &str,
    session: &str,
    label: &str,
    prefix: &str,
) -> Value {
    let shots = shots_dir();
    let out = Command::new(node())
        .arg(clients_dir().join("board_host.mjs"))
        .args([&gw.mcp_url(), token])
        .arg(&shots)
        .args([session, label, prefix])
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .output()
        .expect("run board_host.mjs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "board host failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("board host printed no report ({e}): {stdout}"))
}

fn shots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts/board");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn full_token(gw: &TestGateway) -> String {
    gw.token("sessions:read sessions:write sessions:manage", "1h")
}

/// Claude Code in `project`, past its trust dialog and API-key question, asked to do something
/// that needs a permission, and waiting at that question.
async fn claude_waiting(c: &mut McpClient, gw: &TestGateway) {
    std::fs::create_dir(gw.root.join("project")).unwrap();
    c.call_ok(
        "create_session",
        json!({ "name": "cc", "profile": "claude-test", "working_dir": "project" }),
    )
    .await
    .unwrap();
    wait_for(c, "cc", "waiting_for_input").await;
    crate::claude_code::answer(c, "cc", "yes").await;
    wait_for(c, "cc", "waiting_for_input").await;
    crate::claude_code::answer(c, "cc", "Yes").await;
    wait_for(c, "cc", "idle").await;
    ask(c, "Create a marker file please").await;
}

async fn ask(c: &mut McpClient, message: &str) {
    c.call_ok(
        "send_message",
        json!({ "session": "cc", "message": message }),
    )
    .await
    .unwrap();
    wait_for(c, "cc", "waiting_for_input").await;
    let p = the_prompt(c, "cc").await;
    assert_eq!(p["question"], "Do you want to proceed?", "{p}");
}

fn answers_in_audit(gw: &TestGateway) -> usize {
    gw.audit()
        .iter()
        .filter(|e| e["action"] == "respond_to_prompt")
        .count()
}

fn home_with_claude_config() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".claude.json"),
        r#"{"hasCompletedOnboarding": true, "theme": "dark"}"#,
    )
    .unwrap();
    home
}

fn start_gateway(home: &Path, api: &FakeApi) -> TestGateway {
    let mut opts = claude_options("tmux", home, api);
    opts.oauth = true;
    TestGateway::start(opts)
}

#[tokio::test]
async fn the_board_answers_claude_code_in_a_host() {
    let home = home_with_claude_config();
    let touch = "touch created-by-claude.txt";
    let api = FakeApi::start(home.path(), touch);
    let gw = start_gateway(home.path(), &api);
    let token = full_token(&gw);
    let mut c = McpClient::with_token(&gw.mcp_url(), &token).await.unwrap();
    claude_waiting(&mut c, &gw).await;
    let marker = gw.root.join("project/created-by-claude.txt");

    // Every tool that links the board still answers in full text for hosts without apps.
    let list = c.call("list_sessions", json!({})).await.unwrap();
    let text = list["content"][0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("cc — running, profile claude-test"),
        "{text}"
    );
    assert_eq!(
        list["structuredContent"]["board"]["sessions"][0]["state"],
        "waiting"
    );
    let prompts = c.call("check_prompts", json!({})).await.unwrap();
    let text = prompts["content"][0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("cc: Do you want to proceed?") && text.contains(touch),
        "{text}"
    );
    let status = c
        .call("get_session_status", json!({ "session": "cc" }))
        .await
        .unwrap();
    let text = status["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("State: waiting for input: Do you want to proceed?"),
        "{text}"
    );
    let logs = c
        .call("get_logs", json!({ "session": "cc" }))
        .await
        .unwrap();
    assert_eq!(
        logs["content"][0]["text"],
        logs["structuredContent"]["text"]
    );
    assert!(
        logs["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Do you want to proceed?")
    );
    assert_eq!(logs["structuredContent"]["session"], "cc");

    // A read-only token: the board shows the question, the press is refused, nothing is sent.
    let answered = answers_in_audit(&gw);
    let reader = gw.token("sessions:read", "1h");
    let r = press_on_board(&gw, &reader, "cc", "Yes", "readonly");
    // The gateway closes a connection idle for 10 s (its header-read deadline): a new client.
    let mut c = McpClient::with_token(&gw.mcp_url(), &token).await.unwrap();
    let note = r["note"].as_str().unwrap();
    assert!(
        note.contains("Refused") && note.contains("sessions:write"),
        "{r}"
    );
    assert_eq!(r["pressed"][0]["name"], "respond_to_prompt", "{r}");
    assert_eq!(
        r["before"], 0,
        "the view called tools before any press: {r}"
    );
    assert_eq!(
        answers_in_audit(&gw),
        answered,
        "a refused press reached the session"
    );
    assert_eq!(
        the_prompt(&mut c, "cc").await["question"],
        "Do you want to proceed?"
    );
    assert!(!marker.exists());

    // "Yes" on the board: the command runs.
    let r = press_on_board(&gw, &token, "cc", "Yes", "yes");
    let mut c = McpClient::with_token(&gw.mcp_url(), &token).await.unwrap();
    assert_eq!(
        r["before"], 0,
        "the view called tools before any press: {r}"
    );
    assert_eq!(
        r["pressed"][0],
        json!({ "name": "respond_to_prompt",
                "arguments": { "session": "cc", "answer": "1", "question": "Do you want to proceed?" } }),
        "{r}"
    );
    assert_eq!(r["note"], "Answered “Yes”.", "{r}");
    assert_eq!(r["network"], Value::Null, "the view fetched something: {r}");
    // Opening the card shows the screen and follows it with wait_for, not a timer.
    assert!(r["screen"].as_str().unwrap().contains("Claude Code"), "{r}");
    assert_eq!(r["opened"][0], "get_logs", "{r}");
    wait_for(&mut c, "cc", "idle").await;
    assert!(
        marker.exists(),
        "the command approved on the board did not run"
    );

    // "No" on a second prompt: nothing runs.
    std::fs::remove_file(&marker).unwrap();
    ask(&mut c, "Once more please").await;
    let r = press_on_board(&gw, &token, "cc", "No", "no");
    let mut c = McpClient::with_token(&gw.mcp_url(), &token).await.unwrap();
    assert_eq!(r["pressed"][0]["arguments"]["answer"], "4", "{r}");
    assert_eq!(r["note"], "Answered “No”.", "{r}");
    wait_for(&mut c, "cc", "idle").await;
    assert!(!marker.exists(), "a command refused on the board ran");
    c.call_ok("terminate_session", json!({ "session": "cc" }))
        .await
        .unwrap();
}

/// The board answers a question it shows; when the session asks something else by the time
/// the owner presses, nothing is sent (respond_to_prompt's `question`).
#[tokio::test]
async fn an_answer_for_another_question_sends_nothing() {
    let gw = TestGateway::start(Options::tmux("board-question"));
    let mut c = crate::mcp_tools::client(&gw).await;
    c.call_ok("create_session", json!({ "name": "q", "profile": "bash" }))
        .await
        .unwrap();
    c.call_ok(
        "send_message",
        json!({ "session": "q", "message": "read -p 'Proceed? [y/N] ' x; echo got-$x" }),
    )
    .await
    .unwrap();
    wait_for(&mut c, "q", "waiting_for_input").await;
    let question = the_prompt(&mut c, "q").await["question"].clone();
    let err = c
        .call_err(
            "respond_to_prompt",
            json!({ "session": "q", "answer": "y", "question": "Delete everything?" }),
        )
        .await
        .unwrap();
    assert!(
        err.contains("the prompt changed") && err.contains("nothing was sent"),
        "{err}"
    );
    let screen = c
        .call_ok("get_logs", json!({ "session": "q" }))
        .await
        .unwrap();
    assert!(!screen.contains("got-y"), "an answer was typed: {screen}");
    assert_eq!(the_prompt(&mut c, "q").await["question"], question);
    // The question as shown: answered.
    let r = crate::claude_code::answer_checked(&mut c, "q", "y", &question).await;
    assert_eq!(r["structuredContent"]["prompt_gone"], true, "{r}");
}

/// `wait_for` with until = "change" returns once the screen differs from its start, so the
/// board's live screen follows the session without a timer.
#[tokio::test]
async fn wait_for_change_follows_the_screen() {
    let gw = TestGateway::start(Options::tmux("board-change"));
    let mut c = crate::mcp_tools::client(&gw).await;
    c.call_ok("create_session", json!({ "name": "w", "profile": "bash" }))
        .await
        .unwrap();
    wait_for(&mut c, "w", "idle").await;
    let mut waiter = crate::mcp_tools::client(&gw).await;
    let wait = tokio::spawn(async move {
        waiter
            .call(
                "wait_for",
                json!({ "session": "w", "until": "change", "timeout_s": 60 }),
            )
            .await
            .unwrap()
    });
    // Output until the wait returns (whenever it started, a change comes after it).
    let mut n = 0;
    while !wait.is_finished() {
        n += 1;
        c.call_ok(
            "send_message",
            json!({ "session": "w", "message": format!("echo tick-{n}") }),
        )
        .await
        .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let r = wait.await.unwrap();
    assert_ne!(r["isError"], true, "{r}");
    assert_eq!(r["structuredContent"]["condition_met"], true, "{r}");
    let text = r["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("w's screen changed"), "{text}");
}

/// With no sessions the board says how to start one, naming the profiles and folders; a
/// program that finished (exit code 0) and one that exited with an error look different.
#[tokio::test]
async fn the_board_lists_sessions_or_says_how_to_start_one() {
    let mut opts = Options::oauth("board-list", 3600);
    opts.extra_profiles = "done0 = [\"sh\", \"-c\", \"echo done\"]\n".into();
    let gw = TestGateway::start(opts);
    let reader = gw.token("sessions:read", "1h");
    let r = press_on_board(&gw, &reader, "-", "-", "empty");
    let text = r["empty"].as_str().unwrap();
    assert!(
        text.contains("No sessions yet") && text.contains("create_session"),
        "{r}"
    );
    assert!(
        text.contains("bash") && text.contains("Folders under"),
        "{r}"
    );
    assert_eq!(r["before"], 0, "the view called tools by itself: {r}");

    let mut c = McpClient::with_token(&gw.mcp_url(), &full_token(&gw))
        .await
        .unwrap();
    for (name, profile) in [("ok", "done0"), ("bad", "exit3")] {
        c.call_ok(
            "create_session",
            json!({ "name": name, "profile": profile }),
        )
        .await
        .unwrap();
        wait_for(&mut c, name, "exited").await;
    }
    let r = press_on_board(&gw, &reader, "-", "-", "exited");
    let cards = r["cards"].as_array().unwrap();
    let card = |n: &str| cards.iter().find(|c| c["name"] == n).unwrap().clone();
    assert_eq!(card("ok")["badge"], "finished", "{r}");
    assert_eq!(card("bad")["badge"], "exited (code 3)", "{r}");
    assert!(
        card("ok")["class"].as_str().unwrap().contains("finished"),
        "{r}"
    );
    assert!(
        card("bad")["class"].as_str().unwrap().contains("exited"),
        "{r}"
    );
}
