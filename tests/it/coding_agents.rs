//! Codex CLI, Gemini CLI and aider, the real programs, offline: their model API is a local
//! stand-in (`tests/clients/fake_model_api.py`) that answers a message by asking to run
//! `touch MARKER`. Through sessiongate's MCP tools the owner sends the message, finds the
//! agent's approval question with check_prompts, answers it with respond_to_prompt, and the
//! command runs (or, answered "No", does not). aider's questions are y/n lines ("Create new
//! file?", "Run shell command?"). On both backends.
//!
//! Each program comes from the pinned lists (`tests/clients/package.json`,
//! `tests/clients/aider-requirements.txt`, installed by `.ci/run node-clients python-clients`).
//! A test whose program is not installed says so and passes, except in CI (`CI` set), where
//! it fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::claude_code::{answer, labels, the_prompt, wait_for};
use crate::mcp_tools::client;
use sessiongate_tests::clients::dir as clients_dir;
use sessiongate_tests::gateway::{Options, TestGateway};
use sessiongate_tests::mcp::McpClient;

/// The command every stand-in answer asks to run, in the session's working directory.
const TOUCH: &str = "touch MARKER";

/// `path` when it exists. Otherwise the test is skipped with a message, or, in CI, fails.
fn installed(path: PathBuf, what: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    let how = "run `.ci/run node-clients python-clients`";
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is not installed at {} ({how}); CI must run this test",
        path.display()
    );
    eprintln!(
        "SKIPPED: {what} is not installed at {} ({how})",
        path.display()
    );
    None
}

/// The stand-in model API, killed on drop.
struct ModelApi {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl ModelApi {
    fn start(dir: &Path) -> ModelApi {
        let port_file = dir.join("api.port");
        let log = dir.join("api.log");
        let mut child = Command::new("python3")
            .arg(clients_dir().join("fake_model_api.py"))
            .arg(&port_file)
            .arg(&log)
            .arg(TOUCH)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..400 {
            if let Ok(p) = std::fs::read_to_string(&port_file)
                && let Ok(port) = p.trim().parse()
            {
                return ModelApi { child, port, log };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the stand-in model API did not start");
    }

    /// The request paths the stand-in answered, in order.
    fn paths(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v["path"].as_str().map(str::to_owned))
            .collect()
    }
}

impl Drop for ModelApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TOML inline table of environment variables.
fn env_table(vars: &[(&str, String)]) -> String {
    let pairs: Vec<String> = vars.iter().map(|(k, v)| format!("{k} = {v:?}")).collect();
    format!("{{ {} }}", pairs.join(", "))
}

/// A launch profile line: `name = { command = [...], env = {...} }`.
fn profile(name: &str, command: &[String], env: &[(&str, String)]) -> String {
    format!(
        "{name} = {{ command = {command:?}, env = {} }}\n",
        env_table(env)
    )
}

async fn send(c: &mut McpClient, session: &str, message: &str) {
    c.call_ok(
        "send_message",
        json!({ "session": session, "message": message }),
    )
    .await
    .unwrap();
}

/// Waits for the session's question and returns it once it is `question`.
async fn prompt_asking(c: &mut McpClient, session: &str, question: &str) -> Value {
    wait_for(c, session, "waiting_for_input").await;
    let p = the_prompt(c, session).await;
    assert_eq!(p["question"], question, "{p}");
    p
}

/// The project folder (under the gateway's root) that the session starts in.
fn project(gw: &TestGateway) -> PathBuf {
    let proj = gw.root.join("project");
    std::fs::create_dir(&proj).unwrap();
    proj
}

// --- Codex CLI ------------------------------------------------------------------------------

fn codex_binary() -> Option<PathBuf> {
    installed(
        clients_dir().join(
            "node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex",
        ),
        "Codex CLI (npm @openai/codex)",
    )
}

/// Codex's configuration: the stand-in as its model provider (Responses API), approvals on
/// request with a workspace sandbox (so a command that asks to leave the sandbox needs the
/// user's yes), the project trusted, no update check.
fn codex_config(api: &ModelApi, proj: &Path) -> String {
    format!(
        "model = \"gpt-5-codex\"\nmodel_provider = \"standin\"\napproval_policy = \"on-request\"\n\
         sandbox_mode = \"workspace-write\"\ncheck_for_update_on_startup = false\n\n\
         [model_providers.standin]\nname = \"stand-in\"\nbase_url = \"http://127.0.0.1:{}/v1\"\n\
         env_key = \"STANDIN_API_KEY\"\nwire_api = \"responses\"\n\n\
         [projects.{:?}]\ntrust_level = \"trusted\"\n",
        api.port,
        proj.display().to_string()
    )
}

async fn codex_flow(backend: &str) {
    let Some(codex) = codex_binary() else { return };
    let home = tempfile::tempdir().unwrap();
    let api = ModelApi::start(home.path());
    let codex_home = home.path().join("codex");
    std::fs::create_dir(&codex_home).unwrap();
    let mut opts = Options::for_backend(backend, "codex");
    opts.extra_profiles = profile(
        "codex-test",
        &[codex.display().to_string()],
        &[
            ("HOME", home.path().display().to_string()),
            ("CODEX_HOME", codex_home.display().to_string()),
            ("STANDIN_API_KEY", "sk-test".into()),
        ],
    );
    let gw = TestGateway::start(opts);
    let proj = project(&gw);
    std::fs::write(codex_home.join("config.toml"), codex_config(&api, &proj)).unwrap();
    let marker = proj.join("MARKER");
    let mut c = client(&gw).await;
    c.call_ok(
        "create_session",
        json!({ "name": "cx", "profile": "codex-test", "working_dir": "project" }),
    )
    .await
    .unwrap();
    wait_for(&mut c, "cx", "idle").await;

    // The model asks to run the command outside the sandbox: Codex asks its user.
    send(&mut c, "cx", "Create a marker file please").await;
    let p = prompt_asking(&mut c, "cx", "Would you like to run the following command?").await;
    assert!(
        p["context"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "$ touch MARKER"),
        "{p}"
    );
    assert_eq!(
        labels(&p),
        vec![
            "Yes, proceed (y)",
            "Yes, and don't ask again for commands that start with `touch MARKER` (p)",
            "No, and tell Codex what to do differently (esc)",
        ]
    );
    assert_eq!(p["cursor"], 0);
    let r = answer(&mut c, "cx", "Yes, proceed").await;
    assert_eq!(r["structuredContent"]["keys"], json!(["1"]));
    wait_for(&mut c, "cx", "idle").await;
    assert!(marker.exists(), "the approved command did not run");

    // Refused: the command does not run.
    std::fs::remove_file(&marker).unwrap();
    send(&mut c, "cx", "Once more please").await;
    prompt_asking(&mut c, "cx", "Would you like to run the following command?").await;
    let r = answer(&mut c, "cx", "No").await;
    assert_eq!(r["structuredContent"]["keys"], json!(["3"]));
    wait_for(&mut c, "cx", "idle").await;
    assert!(!marker.exists(), "a refused command ran");
    assert!(api.paths().iter().any(|p| p == "/v1/responses"));
    c.call_ok("terminate_session", json!({ "session": "cx" }))
        .await
        .unwrap();
}

#[tokio::test]
async fn codex_cli_on_tmux() {
    codex_flow("tmux").await;
}

#[tokio::test]
async fn codex_cli_on_pty() {
    codex_flow("pty").await;
}

// --- Gemini CLI -----------------------------------------------------------------------------

async fn gemini_flow(backend: &str) {
    let Some(gemini) = installed(
        clients_dir().join("node_modules/@google/gemini-cli/bundle/gemini.js"),
        "Gemini CLI (npm @google/gemini-cli)",
    ) else {
        return;
    };
    let node = sessiongate_tests::clients::node();
    let home = tempfile::tempdir().unwrap();
    let api = ModelApi::start(home.path());
    let mut opts = Options::for_backend(backend, "gemini");
    opts.extra_profiles = profile(
        "gemini-test",
        &[node.display().to_string(), gemini.display().to_string()],
        &[
            ("HOME", home.path().display().to_string()),
            // Gemini CLI runs headless (reads a prompt from stdin, then exits) when
            // CI=true, as in CI's own environment, which sessions inherit.
            ("CI", "false".into()),
            ("GEMINI_API_KEY", "test-key".into()),
            (
                "GOOGLE_GEMINI_BASE_URL",
                format!("http://127.0.0.1:{}", api.port),
            ),
        ],
    );
    let gw = TestGateway::start(opts);
    let proj = project(&gw);
    // The folder trusted and the key chosen beforehand: their dialogs are fixtures
    // (`backend/rules/fixtures/gemini/`), and answering the trust dialog restarts Gemini CLI.
    let settings = home.path().join(".gemini");
    std::fs::create_dir(&settings).unwrap();
    std::fs::write(
        settings.join("trustedFolders.json"),
        json!({ proj.display().to_string(): "TRUST_FOLDER" }).to_string(),
    )
    .unwrap();
    std::fs::write(
        settings.join("settings.json"),
        json!({ "security": { "auth": { "selectedType": "gemini-api-key" } } }).to_string(),
    )
    .unwrap();
    let marker = proj.join("MARKER");
    let mut c = client(&gw).await;
    c.call_ok(
        "create_session",
        json!({ "name": "gm", "profile": "gemini-test", "working_dir": "project" }),
    )
    .await
    .unwrap();
    wait_for(&mut c, "gm", "idle").await;

    send(&mut c, "gm", "Create a marker file please").await;
    let p = prompt_asking(&mut c, "gm", "Allow execution of [Shell]?").await;
    assert!(
        p["context"].as_array().unwrap().iter().any(|l| l == TOUCH),
        "{p}"
    );
    assert_eq!(
        labels(&p),
        vec![
            "Allow once",
            "Allow for this session",
            "No, suggest changes (esc)"
        ]
    );
    assert_eq!(p["cursor"], 0);
    let r = answer(&mut c, "gm", "Allow once").await;
    assert_eq!(r["structuredContent"]["keys"], json!(["1"]));
    wait_for(&mut c, "gm", "idle").await;
    assert!(marker.exists(), "the approved command did not run");

    std::fs::remove_file(&marker).unwrap();
    send(&mut c, "gm", "Once more please").await;
    prompt_asking(&mut c, "gm", "Allow execution of [Shell]?").await;
    let r = answer(&mut c, "gm", "No").await;
    assert_eq!(r["structuredContent"]["keys"], json!(["3"]));
    wait_for(&mut c, "gm", "idle").await;
    assert!(!marker.exists(), "a refused command ran");
    assert!(
        api.paths()
            .iter()
            .any(|p| p.contains(":streamGenerateContent"))
    );
    c.call_ok("terminate_session", json!({ "session": "gm" }))
        .await
        .unwrap();
}

#[tokio::test]
async fn gemini_cli_on_tmux() {
    gemini_flow("tmux").await;
}

#[tokio::test]
async fn gemini_cli_on_pty() {
    gemini_flow("pty").await;
}

// --- aider ----------------------------------------------------------------------------------

/// aider, in its own virtual environment (its pinned dependencies clash with the MCP SDK's).
fn aider_binary() -> Option<PathBuf> {
    installed(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv-aider/bin/aider"),
        "aider (PyPI aider-chat)",
    )
}

async fn aider_flow(backend: &str) {
    let Some(aider) = aider_binary() else { return };
    let home = tempfile::tempdir().unwrap();
    let api = ModelApi::start(home.path());
    // aider looks up its model's limits in a cached copy of litellm's price list and fetches
    // that list from GitHub when the cache is empty: a cache naming the stand-in keeps it home.
    let caches = home.path().join(".aider/caches");
    std::fs::create_dir_all(&caches).unwrap();
    std::fs::write(
        caches.join("model_prices_and_context_window.json"),
        json!({ "openai/stand-in": {
            "max_input_tokens": 128000, "max_output_tokens": 4096,
            "input_cost_per_token": 0, "output_cost_per_token": 0,
            "litellm_provider": "openai", "mode": "chat" } })
        .to_string(),
    )
    .unwrap();
    let mut opts = Options::for_backend(backend, "aider");
    let command: Vec<String> = [
        aider.display().to_string().as_str(),
        "--model",
        "openai/stand-in",
        "--edit-format",
        "diff",
        "--no-git",
        "--no-check-update",
        "--analytics-disable",
        "--no-show-model-warnings",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    opts.extra_profiles = profile(
        "aider-test",
        &command,
        &[
            ("HOME", home.path().display().to_string()),
            ("OPENAI_API_KEY", "sk-test".into()),
            (
                "OPENAI_API_BASE",
                format!("http://127.0.0.1:{}/v1", api.port),
            ),
        ],
    );
    let gw = TestGateway::start(opts);
    let proj = project(&gw);
    let marker = proj.join("MARKER");
    let notes = proj.join("notes.txt");
    let mut c = client(&gw).await;
    c.call_ok(
        "create_session",
        json!({ "name": "ad", "profile": "aider-test", "working_dir": "project" }),
    )
    .await
    .unwrap();

    // The first start offers the release notes: a y/n line, answered no.
    let p = prompt_asking(
        &mut c,
        "ad",
        "Would you like to see what's new in this version? (Y)es/(N)o [Yes]:",
    )
    .await;
    assert_eq!(labels(&p), vec!["yes", "no"]);
    answer(&mut c, "ad", "no").await;
    wait_for(&mut c, "ad", "idle").await;

    // The reply creates notes.txt and suggests the command: yes to the file, no to the command.
    send(&mut c, "ad", "Create `notes.txt` and a marker please").await;
    prompt_asking(&mut c, "ad", "Create new file? (Y)es/(N)o [Yes]:").await;
    let r = answer(&mut c, "ad", "yes").await;
    assert_eq!(r["structuredContent"]["typed"], "y", "{r}");
    prompt_asking(
        &mut c,
        "ad",
        "Run shell command? (Y)es/(N)o/(D)on't ask again [Yes]:",
    )
    .await;
    assert!(notes.exists(), "the approved file was not created");
    answer(&mut c, "ad", "no").await;
    wait_for(&mut c, "ad", "idle").await;
    assert!(!marker.exists(), "a refused command ran");

    // Once more, and yes: the command runs.
    send(&mut c, "ad", "Once more please").await;
    prompt_asking(
        &mut c,
        "ad",
        "Run shell command? (Y)es/(N)o/(D)on't ask again [Yes]:",
    )
    .await;
    answer(&mut c, "ad", "yes").await;
    wait_for(&mut c, "ad", "idle").await;
    assert!(marker.exists(), "the approved command did not run");
    assert!(api.paths().iter().any(|p| p == "/v1/chat/completions"));
    c.call_ok("terminate_session", json!({ "session": "ad" }))
        .await
        .unwrap();
}

#[tokio::test]
async fn aider_on_tmux() {
    aider_flow("tmux").await;
}

#[tokio::test]
async fn aider_on_pty() {
    aider_flow("pty").await;
}
