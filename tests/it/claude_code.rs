//! The real Claude Code TUI (the native binary from the npm package), offline: its API is a
//! local stand-in (`tests/clients/fake_anthropic_api.py`) that asks to run a Bash command.
//! Through sessiongate's MCP tools the owner accepts the trust dialog and the API-key question,
//! sends a message, waits for the permission prompt, reads it with check_prompts, answers it,
//! and the command really runs (or, answered "No", does not). The same for Write and Edit (the
//! file written, the edit applied), AskUserQuestion (an option by label; free text through
//! "Type something."; options of a multi-select ticked, then Submit), Bash with a command of
//! several lines (each line in the context; all of them run), and the dialogs without a
//! footer: "Exit plan mode?", WebFetch's permission and the plan approval (checked by the tool
//! results Claude Code sends back to the stand-in). The approved Edit is then reviewed with
//! get_changes (its hunk in the diff). On both backends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::mcp_tools::client;
use sessiongate_tests::gateway::{Options, TestGateway};
use sessiongate_tests::mcp::McpClient;

use sessiongate_tests::clients::dir as clients_dir;

/// Which installed Claude Code a test drives.
#[derive(Debug, Clone, Copy)]
enum Version {
    /// The one pinned in `tests/clients/package.json`, which every flow runs against.
    Pinned,
    /// The newest on npm when it was pinned (`tests/clients/claude-newest/package.json`), which
    /// the permission flow also runs against.
    Newest,
}

fn claude_binary_of(version: Version) -> PathBuf {
    let base = match version {
        Version::Pinned => clients_dir(),
        Version::Newest => clients_dir().join("claude-newest"),
    };
    let p = base.join("node_modules/@anthropic-ai/claude-code-linux-x64/claude");
    assert!(
        p.exists(),
        "Claude Code ({version:?}) is not installed: run `.ci/run node-clients`"
    );
    p
}

pub(crate) fn claude_binary() -> PathBuf {
    claude_binary_of(Version::Pinned)
}

/// The stand-in API, killed on drop.
pub(crate) struct FakeApi {
    child: Child,
    pub(crate) port: u16,
    log: PathBuf,
}

impl FakeApi {
    pub(crate) fn start(dir: &Path, command: &str) -> FakeApi {
        FakeApi::start_with(dir, command, None)
    }

    /// The stand-in API answering user turns with the tool calls of `turns` (see the script).
    fn start_with(dir: &Path, command: &str, turns: Option<&Value>) -> FakeApi {
        let port_file = dir.join("api.port");
        let log = dir.join("api.log");
        let mut cmd = Command::new("python3");
        cmd.arg(clients_dir().join("fake_anthropic_api.py"))
            .arg(&port_file)
            .arg(&log)
            .arg(command);
        if let Some(turns) = turns {
            cmd.arg(turns.to_string());
        }
        let child = cmd.stdout(Stdio::null()).spawn().unwrap();
        for _ in 0..200 {
            if let Ok(p) = std::fs::read_to_string(&port_file)
                && let Ok(port) = p.trim().parse()
            {
                return FakeApi { child, port, log };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        panic!("the fake API did not start");
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn wait_for(c: &mut McpClient, session: &str, until: &str) -> Value {
    let r = c
        .call(
            "wait_for",
            json!({ "session": session, "until": until, "timeout_s": 60 }),
        )
        .await
        .unwrap();
    assert_ne!(r["isError"], true, "{r}");
    assert_eq!(
        r["structuredContent"]["condition_met"], true,
        "waiting for {until}: {r}"
    );
    r
}

pub(crate) async fn the_prompt(c: &mut McpClient, session: &str) -> Value {
    let r = c.call("check_prompts", json!({})).await.unwrap();
    let waiting = r["structuredContent"]["waiting"]
        .as_array()
        .unwrap()
        .clone();
    let mine = waiting
        .iter()
        .find(|w| w["session"] == session)
        .unwrap_or_else(|| panic!("{session} is not waiting: {r}"));
    mine["detection"]["prompt"].clone()
}

pub(crate) fn labels(prompt: &Value) -> Vec<String> {
    prompt["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["label"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) async fn answer(c: &mut McpClient, session: &str, answer: &str) -> Value {
    let r = c
        .call(
            "respond_to_prompt",
            json!({ "session": session, "answer": answer }),
        )
        .await
        .unwrap();
    assert_ne!(r["isError"], true, "{r}");
    r
}

/// `respond_to_prompt` with the question being answered; the call must succeed.
pub(crate) async fn answer_checked(
    c: &mut McpClient,
    session: &str,
    answer: &str,
    question: &Value,
) -> Value {
    let r = c
        .call(
            "respond_to_prompt",
            json!({ "session": session, "answer": answer, "question": question }),
        )
        .await
        .unwrap();
    assert_ne!(r["isError"], true, "{r}");
    r
}

pub(crate) fn claude_options(backend: &str, home: &Path, api: &FakeApi) -> Options {
    claude_options_in(backend, home, api, "default")
}

/// Options whose `claude-test` profile starts Claude Code in permission mode `mode`.
fn claude_options_in(backend: &str, home: &Path, api: &FakeApi, mode: &str) -> Options {
    claude_options_of(backend, home, api, mode, &claude_binary())
}

/// Options whose `claude-test` profile starts `binary` in permission mode `mode`.
fn claude_options_of(
    backend: &str,
    home: &Path,
    api: &FakeApi,
    mode: &str,
    binary: &Path,
) -> Options {
    let mut opts = Options::for_backend(backend, "claude");
    opts.extra_profiles = format!(
        "claude-test = {{ command = [{:?}, \"--permission-mode\", {mode:?}], env = {{ HOME = {:?}, \
         ANTHROPIC_BASE_URL = \"http://127.0.0.1:{}\", ANTHROPIC_API_KEY = \"sk-ant-test-0123456789abcdefghijklmnopqrstuvwxyz\", \
         DISABLE_TELEMETRY = \"1\", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = \"1\", DISABLE_AUTOUPDATER = \"1\" }} }}\n",
        binary.display().to_string(),
        home.display().to_string(),
        api.port
    );
    opts
}

async fn claude_permission_flow(backend: &str, version: Version) {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".claude.json"),
        r#"{"hasCompletedOnboarding": true, "theme": "dark"}"#,
    )
    .unwrap();
    // Claude's Bash tool runs in the session's working directory.
    let touch = "touch created-by-claude.txt";
    let api = FakeApi::start(home.path(), touch);
    let binary = claude_binary_of(version);
    let gw = TestGateway::start(claude_options_of(
        backend,
        home.path(),
        &api,
        "default",
        &binary,
    ));
    let mut c = client(&gw).await;
    let proj = gw.root.join("project");
    std::fs::create_dir(&proj).unwrap();
    let marker = proj.join("created-by-claude.txt");
    c.call_ok(
        "create_session",
        json!({ "name": "cc", "profile": "claude-test", "working_dir": "project" }),
    )
    .await
    .unwrap();

    // First start in a folder: the trust dialog, an unnumbered menu with the cursor on "No, exit".
    wait_for(&mut c, "cc", "waiting_for_input").await;
    let p = the_prompt(&mut c, "cc").await;
    assert!(p["question"].as_str().unwrap().contains("trust"), "{p}");
    assert_eq!(labels(&p), vec!["No, exit", "Yes, I trust this folder"]);
    assert_eq!(p["cursor"], 0);
    let r = answer(&mut c, "cc", "yes").await;
    assert_eq!(r["structuredContent"]["keys"], json!(["Down", "Enter"]));

    // The API-key question, cursor on "No (recommended)".
    wait_for(&mut c, "cc", "waiting_for_input").await;
    let p = the_prompt(&mut c, "cc").await;
    assert_eq!(p["question"], "Do you want to use this API key?", "{p}");
    assert_eq!(labels(&p), vec!["Yes", "No (recommended)"]);
    answer(&mut c, "cc", "Yes").await;
    wait_for(&mut c, "cc", "idle").await;

    // A task that needs a Bash command: the permission prompt, read exactly.
    c.call_ok(
        "send_message",
        json!({ "session": "cc", "message": "Create a marker file please" }),
    )
    .await
    .unwrap();
    wait_for(&mut c, "cc", "waiting_for_input").await;
    let p = the_prompt(&mut c, "cc").await;
    assert_eq!(p["question"], "Do you want to proceed?", "{p}");
    assert!(
        p["context"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str() == Some(touch)),
        "{p}"
    );
    let l = labels(&p);
    assert_eq!(l.len(), 4, "{l:?}");
    assert_eq!((l[0].as_str(), l[3].as_str()), ("Yes", "No"));
    // Claude Code writes its state file a moment after it draws the dialog (on a busy machine,
    // noticeably later): until then the screen is the signal. Look again for a while.
    let mut status = Value::Null;
    for _ in 0..40 {
        status = c
            .call("get_session_status", json!({ "session": "cc" }))
            .await
            .unwrap();
        let rule = status["structuredContent"]["detection"]["rule"].as_str();
        if rule.is_some_and(|r| r.contains("state-file")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(
        status["structuredContent"]["detection"]["activity"], "waiting_for_input",
        "{status}"
    );
    assert!(
        status["structuredContent"]["detection"]["rule"]
            .as_str()
            .unwrap()
            .contains("state-file"),
        "Claude Code's state file is the signal: {status}"
    );
    let r = answer(&mut c, "cc", "1").await;
    assert_eq!(
        r["structuredContent"]["keys"],
        json!(["1"]),
        "exactly the digit, nothing more"
    );
    wait_for(&mut c, "cc", "idle").await;
    assert!(marker.exists(), "the approved command did not run");

    // The transcript tells the story cleanly.
    // Claude Code may write its last message to the transcript just after it turns idle.
    let done = |t: &Value| {
        t["structuredContent"]["items"]
            .as_array()
            .is_some_and(|items| {
                items.iter().any(|i| {
                    i["kind"] == "assistant" && i["text"].as_str().unwrap().contains("All done")
                })
            })
    };
    let mut t = Value::Null;
    for _ in 0..100 {
        t = c
            .call("get_transcript", json!({ "session": "cc", "limit": 20 }))
            .await
            .unwrap();
        assert_ne!(t["isError"], true, "{t}");
        if done(&t) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let items = t["structuredContent"]["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|i| i["kind"] == "tool_use" && i["tool"] == "Bash" && i["text"] == touch),
        "{t}"
    );
    assert!(
        items
            .iter()
            .any(|i| i["kind"] == "assistant" && i["text"].as_str().unwrap().contains("All done")),
        "{t}"
    );

    // The "No" path: the command must not run.
    std::fs::remove_file(&marker).unwrap();
    c.call_ok(
        "send_message",
        json!({ "session": "cc", "message": "Once more please" }),
    )
    .await
    .unwrap();
    wait_for(&mut c, "cc", "waiting_for_input").await;
    let p = the_prompt(&mut c, "cc").await;
    assert_eq!(p["question"], "Do you want to proceed?");
    let r = answer(&mut c, "cc", "No").await;
    assert_eq!(r["structuredContent"]["keys"], json!(["4"]));
    wait_for(&mut c, "cc", "idle").await;
    assert!(!marker.exists(), "a refused command ran");
    let log = std::fs::read_to_string(&api.log).unwrap();
    assert!(log.contains("tool_use"), "{log}");
    c.call_ok("terminate_session", json!({ "session": "cc" }))
        .await
        .unwrap();
}

#[tokio::test]
async fn claude_code_on_tmux() {
    claude_permission_flow("tmux", Version::Pinned).await;
}

#[tokio::test]
async fn claude_code_on_pty() {
    claude_permission_flow("pty", Version::Pinned).await;
}

/// The permission flow (trust, API key, Bash answered Yes and No) against the newest Claude
/// Code too; the other flows run against the pinned one only, to keep CI short.
#[tokio::test]
async fn claude_code_newest_on_tmux() {
    claude_permission_flow("tmux", Version::Newest).await;
}

#[tokio::test]
async fn claude_code_newest_on_pty() {
    claude_permission_flow("pty", Version::Newest).await;
}

/// Runs git in `dir` with no system or global configuration.
pub(crate) fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args([
            "-c",
            "user.name=Owner",
            "-c",
            "user.email=owner@example.com",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

/// The tool results the stand-in API received, in order (what the user answered).
fn tool_results(api: &FakeApi) -> Vec<String> {
    std::fs::read_to_string(&api.log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["result"].as_str().map(str::to_owned))
        .collect()
}

/// Write, Edit and AskUserQuestion, each answered through respond_to_prompt and checked by
/// its effect: the file written, the edit applied, the chosen option and the typed answer in
/// what Claude Code sent back to its API.
async fn claude_tools_flow(backend: &str, version: Version) {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".claude.json"),
        r#"{"hasCompletedOnboarding": true, "theme": "dark"}"#,
    )
    .unwrap();
    let question = json!({"questions": [{
        "question": "Which database should the service use for its job queue?",
        "header": "Database", "multiSelect": false,
        "options": [
            {"label": "PostgreSQL", "description": "Relational, already used by the billing service"},
            {"label": "Redis", "description": "In-memory, fast, but jobs are lost on a restart"},
            {"label": "SQLite", "description": "One file, no server"}]}]});
    let checks = json!({"questions": [{
        "question": "Which checks should run before each commit?",
        "header": "Checks", "multiSelect": true,
        "options": [
            {"label": "cargo fmt", "description": "Formatting only"},
            {"label": "cargo clippy", "description": "Lints, slower"},
            {"label": "cargo test", "description": "The whole suite"}]}]});
    let multi_line = "mkdir -p build\ncd build\ntouch first.txt second.txt\necho done > result.txt";
    let turns = json!([
        {"name": "Write", "input": {"file_path": "{cwd}/notes.md", "content": "# Notes\n\nFirst line.\n"}, "final": "Wrote it."},
        {"steps": [
            {"name": "Read", "input": {"file_path": "{cwd}/notes.md"}},
            {"name": "Edit", "input": {"file_path": "{cwd}/notes.md", "old_string": "First line.", "new_string": "First line, edited."}}],
         "final": "Edited it."},
        {"name": "AskUserQuestion", "input": question, "final": "Noted."},
        {"name": "AskUserQuestion", "input": question, "final": "Noted."},
        {"name": "Bash", "input": {"command": multi_line, "description": "Create the build files"}, "final": "Built."},
        {"name": "AskUserQuestion", "input": checks, "final": "Noted."},
    ]);
    let api = FakeApi::start_with(home.path(), "true", Some(&turns));
    let gw = TestGateway::start(claude_options_of(
        backend,
        home.path(),
        &api,
        "default",
        &claude_binary_of(version),
    ));
    let mut c = client(&gw).await;
    let proj = gw.root.join("project");
    std::fs::create_dir(&proj).unwrap();
    // A git repository, so that get_changes can show the edit Claude Code makes.
    git(&proj, &["init", "-q"]);
    std::fs::write(proj.join("README"), "project\n").unwrap();
    git(&proj, &["add", "README"]);
    git(&proj, &["commit", "-q", "-m", "start"]);
    let notes = proj.join("notes.md");
    c.call_ok(
        "create_session",
        json!({ "name": "cc", "profile": "claude-test", "working_dir": "project" }),
    )
    .await
    .unwrap();
    wait_for(&mut c, "cc", "waiting_for_input").await;
    answer(&mut c, "cc", "yes").await;
    wait_for(&mut c, "cc", "waiting_for_input").await;
    answer(&mut c, "cc", "Yes").await;
    wait_for(&mut c, "cc", "idle").await;

    // Write: the question names the file whole; "Yes" writes it.
    c.call_ok(
        "send_message",
        json!({ "session": "cc", "message": "Write the notes" }),
    )
    .await
    .unwrap();
    wait_for(&mut c, "cc", "waiting_for_input").await;
    let p = the_prompt(&mut c, "cc").await;
    assert_eq!(p["question"], "Do you want to create notes.md?", "{p}");
    let l = labels(&p);
    assert_eq!(
        (l[0].as_str(), l[l.len() - 1].as_str()),
        ("Yes", "No"),
        "{p}"
    );
    let r = answer(&mut c, "cc", "Yes").await;
    assert_eq!(r["structuredContent"]["keys"], json!(["1"]));
    wait_for(&mut c, "cc", "idle").await;
    assert_eq!(
        std::fs::read_to_string(&notes).unwrap(),
        "# Notes\n\nFirst line.\n"
    );
    let ch = c
        .call("get_changes", json!({ "session": "cc" }))
        .await
        .unwrap();
    assert_eq!(
        ch["structuredContent"]["status"]["untracked"],
        json!(["notes.md"]),
        "{ch}"
    );
    git(&proj, &["add", "notes.md"]);
    git(&proj, &["commit", "-q", "-m", "notes"]);

    // Edit: the diff is context; "1" applies it.
    c.call_ok(
        "send_message",
        json!({ "session": "cc", "message": "Edit the notes" }),
    )
    .await
    .unwrap();
    wait_for(&mut c, "cc", "waiting_for_input").await;
    // Claude Code draws the dialog first and its diff a moment later ("…" until then).
    let shows_edit = |p: &Value| {
        p["context"].as_array().unwrap().iter().any(|l| {
            l.as_str()
                .is_some_and(|l| l.contains("First line, edited."))
        })
    };
    let mut p = the_prompt(&mut c, "cc").await;
    for _ in 0..100 {
        if shows_edit(&p) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        p = the_prompt(&mut c, "cc").await;
    }
    assert_eq!(
        p["question"], "Do you want to make this edit to notes.md?",
        "{p}"
    );
    assert!(shows_edit(&p), "{p}");
    answer(&mut c, "cc", "1").await;
    wait_for(&mut c, "cc", "idle").await;
    assert_eq!(
        std::fs::read_to_string(&notes).unwrap(),
        "# Notes\n\nFirst line, edited.\n"
    );
    // get_changes shows the hunk the owner just approved.
    let ch = c
        .call("get_changes", json!({ "session": "cc" }))
        .await
        .unwrap();
    assert_ne!(ch["isError"], true, "{ch}");
    assert_eq!(
        ch["structuredContent"]["status"]["changed"],
        json!(["notes.md"]),
        "{ch}"
    );
    let diff = ch["structuredContent"]["diff"].as_str().unwrap();
    assert!(
        diff.contains("--- a/notes.md\n+++ b/notes.md\n")
            && diff.contains("-First line.\n+First line, edited.\n"),
        "{diff}"
    );

    // AskUserQuestion: labels and descriptions apart; an option picked by its label.
    c.call_ok(
        "send_message",
        json!({ "session": "cc", "message": "Ask me" }),
    )
    .await
    .unwrap();
    wait_for(&mut c, "cc", "waiting_for_input").await;
    let p = the_prompt(&mut c, "cc").await;
    assert_eq!(
        p["question"], "Which database should the service use for its job queue?",
        "{p}"
    );
    assert_eq!(
        labels(&p),
        vec![
            "PostgreSQL",
            "Redis",
            "SQLite",
            "Type something.",
            "Chat about this"
        ]
    );
    assert_eq!(
        p["options"][1]["description"],
        "In-memory, fast, but jobs are lost on a restart"
    );
    assert_eq!(p["cursor"], 0);
    assert_eq!(p["accepts_text"], true);
    answer(&mut c, "cc", "Redis").await;
    wait_for(&mut c, "cc", "idle").await;
    let results = tool_results(&api);
    assert!(
        results.last().is_some_and(|r| r.contains("Redis")),
        "{results:?}"
    );

    // "Type something.": free text, typed into that option.
    c.call_ok(
        "send_message",
        json!({ "session": "cc", "message": "Ask me again" }),
    )
    .await
    .unwrap();
    wait_for(&mut c, "cc", "waiting_for_input").await;
    let r = answer(&mut c, "cc", "MariaDB with a jobs table").await;
    assert_eq!(
        r["structuredContent"]["keys"],
        json!(["Down", "Down", "Down", "Enter"]),
        "{r}"
    );
    wait_for(&mut c, "cc", "idle").await;
    let results = tool_results(&api);
    assert!(
        results
            .last()
            .is_some_and(|r| r.contains("MariaDB with a jobs table")),
        "{results:?}"
    );

    // Bash with a command of several lines: each line is context; "Yes" runs all of them.
    c.call_ok(
        "send_message",
        json!({ "session": "cc", "message": "Build it" }),
    )
    .await
    .unwrap();
    wait_for(&mut c, "cc", "waiting_for_input").await;
    let p = the_prompt(&mut c, "cc").await;
    assert_eq!(p["question"], "Do you want to proceed?", "{p}");
    let context: Vec<&str> = p["context"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let lines: Vec<&str> = multi_line.lines().collect();
    assert!(
        context.windows(lines.len()).any(|w| w == lines.as_slice()),
        "{p}"
    );
    let r = answer(&mut c, "cc", "Yes").await;
    assert_eq!(r["structuredContent"]["keys"], json!(["1"]));
    wait_for(&mut c, "cc", "idle").await;
    assert_eq!(
        std::fs::read_to_string(proj.join("build/result.txt")).unwrap(),
        "done\n"
    );
    assert!(proj.join("build/first.txt").exists() && proj.join("build/second.txt").exists());

    // A multi-select question: a digit ticks an option, "Submit" sends, the review confirms.
    c.call_ok(
        "send_message",
        json!({ "session": "cc", "message": "Pick the checks" }),
    )
    .await
    .unwrap();
    wait_for(&mut c, "cc", "waiting_for_input").await;
    let p = the_prompt(&mut c, "cc").await;
    assert_eq!(
        labels(&p),
        vec![
            "cargo fmt",
            "cargo clippy",
            "cargo test",
            "Type something",
            "Submit",
            "Chat about this"
        ],
        "{p}"
    );
    assert_eq!(p["options"][1]["checked"], false, "{p}");
    let r = answer(&mut c, "cc", "cargo clippy").await;
    assert_eq!(r["structuredContent"]["keys"], json!(["2"]), "{r}");
    let mut p = the_prompt(&mut c, "cc").await;
    for _ in 0..100 {
        if p["options"][1]["checked"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        p = the_prompt(&mut c, "cc").await;
    }
    assert_eq!(p["options"][1]["checked"], true, "{p}");
    let r = answer(&mut c, "cc", "Submit").await;
    assert_eq!(
        r["structuredContent"]["keys"],
        json!(["Down", "Down", "Down", "Down", "Enter"]),
        "{r}"
    );
    let mut p = the_prompt(&mut c, "cc").await;
    for _ in 0..100 {
        if labels(&p).first().is_some_and(|l| l == "Submit answers") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        p = the_prompt(&mut c, "cc").await;
    }
    assert_eq!(labels(&p), vec!["Submit answers", "Cancel"], "{p}");
    answer(&mut c, "cc", "Submit answers").await;
    wait_for(&mut c, "cc", "idle").await;
    let results = tool_results(&api);
    assert!(
        results
            .last()
            .is_some_and(|r| r.contains("=\"cargo clippy\"")),
        "{results:?}"
    );
    c.call_ok("terminate_session", json!({ "session": "cc" }))
        .await
        .unwrap();
}

#[tokio::test]
async fn claude_code_tools_on_tmux() {
    claude_tools_flow("tmux", Version::Pinned).await;
}

#[tokio::test]
async fn claude_code_tools_on_pty() {
    claude_tools_flow("pty", Version::Pinned).await;
}

#[tokio::test]
async fn claude_code_tools_newest_on_tmux() {
    claude_tools_flow("tmux", Version::Newest).await;
}

#[tokio::test]
async fn claude_code_tools_newest_on_pty() {
    claude_tools_flow("pty", Version::Newest).await;
}

/// Dialogs without the footer the menu rule knows: "Exit plan mode?", WebFetch's permission
/// and the plan approval, each answered through respond_to_prompt and checked by the tool
/// result Claude Code sent back to its API.
async fn claude_plan_flow(backend: &str, version: Version) {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".claude.json"),
        r#"{"hasCompletedOnboarding": true, "theme": "dark"}"#,
    )
    .unwrap();
    let plan = "# Plan\n\n1. Add a greet function\n2. Call it from main";
    let turns = json!([
        {"when": "Leave plan mode", "name": "ExitPlanMode", "input": {}, "final": "Left it."},
        {"when": "Fetch it", "name": "WebFetch",
         "input": {"url": "https://example.com/guide.html", "prompt": "Summarise it"}, "final": "Fine."},
        {"when": "Plan it", "steps": [
            {"name": "EnterPlanMode", "input": {}},
            {"name": "Write", "input": {"file_path": "{plan_file}", "content": plan}},
            {"name": "ExitPlanMode", "input": {"plan": plan}}],
         "final": "Starting."},
    ]);
    let api = FakeApi::start_with(home.path(), "true", Some(&turns));
    let gw = TestGateway::start(claude_options_of(
        backend,
        home.path(),
        &api,
        "plan",
        &claude_binary_of(version),
    ));
    let mut c = client(&gw).await;
    std::fs::create_dir(gw.root.join("project")).unwrap();
    c.call_ok(
        "create_session",
        json!({ "name": "cc", "profile": "claude-test", "working_dir": "project" }),
    )
    .await
    .unwrap();
    wait_for(&mut c, "cc", "waiting_for_input").await;
    answer(&mut c, "cc", "yes").await;
    wait_for(&mut c, "cc", "waiting_for_input").await;
    answer(&mut c, "cc", "Yes").await;
    wait_for(&mut c, "cc", "idle").await;

    // "Exit plan mode?" (started in plan mode, no plan written): no footer under it.
    let message = |m: &str| json!({ "session": "cc", "message": m });
    c.call_ok("send_message", message("Leave plan mode"))
        .await
        .unwrap();
    wait_for(&mut c, "cc", "waiting_for_input").await;
    let p = the_prompt(&mut c, "cc").await;
    assert_eq!(p["question"], "Exit plan mode?", "{p}");
    assert_eq!(labels(&p).len(), 2, "{p}");
    answer(&mut c, "cc", "1").await;
    wait_for(&mut c, "cc", "idle").await;
    let results = tool_results(&api);
    assert!(
        results.last().is_some_and(|r| r.contains("approved")),
        "{results:?}"
    );

    // WebFetch: its last option ends in "(esc)" and there is no footer; "No" refuses it.
    c.call_ok("send_message", message("Fetch it"))
        .await
        .unwrap();
    wait_for(&mut c, "cc", "waiting_for_input").await;
    let p = the_prompt(&mut c, "cc").await;
    assert_eq!(
        p["question"], "Do you want to allow Claude to fetch this content?",
        "{p}"
    );
    assert_eq!(p["cancel_keys"], json!(["Escape"]), "{p}");
    let r = answer(&mut c, "cc", "No").await;
    assert_eq!(r["structuredContent"]["keys"], json!(["3"]));
    wait_for(&mut c, "cc", "idle").await;

    // The plan approval: its footer is about editing the plan; option 2 accepts the plan.
    c.call_ok("send_message", message("Plan it")).await.unwrap();
    wait_for(&mut c, "cc", "waiting_for_input").await;
    let p = the_prompt(&mut c, "cc").await;
    assert_eq!(p["question"], "Would you like to proceed?", "{p}");
    assert_eq!(labels(&p)[1], "Yes, manually approve edits", "{p}");
    let r = answer(&mut c, "cc", "Yes, manually").await;
    assert_eq!(r["structuredContent"]["keys"], json!(["2"]));
    wait_for(&mut c, "cc", "idle").await;
    let results = tool_results(&api);
    assert!(
        results
            .iter()
            .any(|r| r.contains("doesn't want to proceed")),
        "the fetch was refused: {results:?}"
    );
    assert!(
        results
            .last()
            .is_some_and(|r| r.contains("User has approved your plan")),
        "{results:?}"
    );
    c.call_ok("terminate_session", json!({ "session": "cc" }))
        .await
        .unwrap();
}

#[tokio::test]
async fn claude_code_plan_and_fetch_on_tmux() {
    claude_plan_flow("tmux", Version::Pinned).await;
}

#[tokio::test]
async fn claude_code_plan_and_fetch_on_pty() {
    claude_plan_flow("pty", Version::Pinned).await;
}

#[tokio::test]
async fn claude_code_plan_and_fetch_newest_on_tmux() {
    claude_plan_flow("tmux", Version::Newest).await;
}

#[tokio::test]
async fn claude_code_plan_and_fetch_newest_on_pty() {
    claude_plan_flow("pty", Version::Newest).await;
}
