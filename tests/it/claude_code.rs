//! The real Claude Code TUI (the native binary from the npm package), offline: its API is a
//! local stand-in (`tests/clients/fake_anthropic_api.py`) that asks to run a Bash command.
//! Through sessiongate's MCP tools the owner accepts the trust dialog and the API-key question,
//! sends a message, waits for the permission prompt, reads it with check_prompts, answers it,
//! and the command really runs (or, answered "No", does not). On both backends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::mcp_tools::client;
use sessiongate_tests::gateway::{Options, TestGateway};
use sessiongate_tests::mcp::McpClient;

use sessiongate_tests::clients::dir as clients_dir;

fn claude_binary() -> PathBuf {
    let p = clients_dir().join("node_modules/@anthropic-ai/claude-code-linux-x64/claude");
    assert!(
        p.exists(),
        "Claude Code is not installed: run `.ci/run node-clients`"
    );
    p
}

/// The stand-in API, killed on drop.
struct FakeApi {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl FakeApi {
    fn start(dir: &Path, command: &str) -> FakeApi {
        let port_file = dir.join("api.port");
        let log = dir.join("api.log");
        let child = Command::new("python3")
            .arg(clients_dir().join("fake_anthropic_api.py"))
            .arg(&port_file)
            .arg(&log)
            .arg(command)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
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

async fn wait_for(c: &mut McpClient, session: &str, until: &str) -> Value {
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

async fn the_prompt(c: &mut McpClient, session: &str) -> Value {
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

fn labels(prompt: &Value) -> Vec<String> {
    prompt["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["label"].as_str().unwrap().to_owned())
        .collect()
}

async fn answer(c: &mut McpClient, session: &str, answer: &str) -> Value {
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

async fn claude_permission_flow(backend: &str) {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".claude.json"),
        r#"{"hasCompletedOnboarding": true, "theme": "dark"}"#,
    )
    .unwrap();
    // Claude's Bash tool runs in the session's working directory.
    let touch = "touch created-by-claude.txt";
    let api = FakeApi::start(home.path(), touch);
    let mut opts = Options::for_backend(backend, "claude");
    opts.extra_profiles = format!(
        "claude-test = {{ command = [{:?}, \"--permission-mode\", \"default\"], env = {{ HOME = {:?}, \
         ANTHROPIC_BASE_URL = \"http://127.0.0.1:{}\", ANTHROPIC_API_KEY = \"sk-ant-test-0123456789abcdefghijklmnopqrstuvwxyz\", \
         DISABLE_TELEMETRY = \"1\", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = \"1\", DISABLE_AUTOUPDATER = \"1\" }} }}\n",
        claude_binary().display().to_string(),
        home.path().display().to_string(),
        api.port
    );
    let gw = TestGateway::start(opts);
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
    let status = c
        .call("get_session_status", json!({ "session": "cc" }))
        .await
        .unwrap();
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
    let t = c
        .call("get_transcript", json!({ "session": "cc", "limit": 20 }))
        .await
        .unwrap();
    assert_ne!(t["isError"], true, "{t}");
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
    claude_permission_flow("tmux").await;
}

#[tokio::test]
async fn claude_code_on_pty() {
    claude_permission_flow("pty").await;
}
