//! Remote hosts over SSH through the real binary: a real `sshd` on loopback plays the remote
//! machine (tmux on this machine, its own socket), reached with the test's own keys,
//! `known_hosts` and `ssh_config`. Sessions named `HOST:NAME` work like local ones; a host
//! that goes down, that hangs after accepting the connection, whose key is unknown or that
//! refuses the key is reported with its name and the reason while the local machine goes on.

use std::time::Duration;

use serde_json::{Value, json};

use sessiongate_tests::gateway::{Options, TestGateway, unique_socket};
use sessiongate_tests::mcp::McpClient;
use sessiongate_tests::sshd::{ALIAS, ClientFaults, SilentHost, Sshd};

use crate::mcp_tools::{client, wait_for_text};

/// Kills the "remote" tmux server (on this machine) when the test ends.
struct RemoteTmux(String);

impl Drop for RemoteTmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// A `[hosts.NAME]` table for a server reached through `ssh_config`.
fn host_table(name: &str, ssh_config: &std::path::Path, socket: &str, root: &str) -> String {
    format!(
        "[hosts.{name}]\nssh = \"{ALIAS}\"\nssh_config = \"{}\"\ntmux_socket = \"{socket}\"\n\
         allowed_roots = [\"{root}\"]\nconnect_timeout_secs = 3\ncommand_timeout_secs = 6\n\
         extra_profiles = {{ bash = [\"bash\", \"--norc\", \"--noprofile\"] }}\n",
        ssh_config.display()
    )
}

/// A gateway (local tmux) with the given host tables.
fn gateway(tag: &str, tables: &str) -> TestGateway {
    let mut opts = Options::tmux(tag);
    // Tables go after the [extra_profiles] table the fixture writes.
    opts.extra_profiles = format!("\n{tables}");
    TestGateway::start(opts)
}

/// A remote root: a directory the "remote" user can use.
fn remote_root() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

async fn structured(c: &mut McpClient, tool: &str, args: Value) -> Value {
    let r = c.call(tool, args).await.unwrap();
    assert_ne!(r["isError"], json!(true), "{tool}: {r}");
    r["structuredContent"].clone()
}

/// Polls `tool` until it succeeds (a liveness deadline, not a timing assertion).
async fn until_ok(c: &mut McpClient, tool: &str, args: Value) -> String {
    let mut last = Value::Null;
    for _ in 0..120 {
        last = c.call(tool, args.clone()).await.unwrap();
        if last["isError"] != json!(true) {
            return sessiongate_tests::mcp::text_of(&last);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{tool} never succeeded: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_sessions_work_like_local_ones_and_lists_merge_hosts() {
    let sshd = Sshd::start_new();
    let socket = unique_socket("remote");
    let _remote = RemoteTmux(socket.clone());
    let root = remote_root();
    let cfg = sshd.ssh_config(ClientFaults::default());
    // A second host: the same sshd, another tmux server.
    let socket2 = unique_socket("remote2");
    let _remote2 = RemoteTmux(socket2.clone());
    let r = root.path().display().to_string();
    let gw = gateway(
        "hosts",
        &format!(
            "{}{}",
            host_table("build", &cfg, &socket, &r),
            host_table("gpu", &cfg, &socket2, &r)
        ),
    );
    let mut c = client(&gw).await;

    c.call_ok(
        "create_session",
        json!({ "name": "here", "profile": "bash" }),
    )
    .await
    .unwrap();
    // Both ways of naming the host.
    c.call_ok(
        "create_session",
        json!({ "name": "build:cc", "profile": "bash" }),
    )
    .await
    .unwrap();
    c.call_ok(
        "create_session",
        json!({ "name": "two", "host": "build", "profile": "bash", "working_dir": "." }),
    )
    .await
    .unwrap();
    // The remote session lives on the remote tmux server, under its own name.
    let out = std::process::Command::new("tmux")
        .args(["-L", &socket, "ls", "-F", "#{session_name}"])
        .output()
        .unwrap();
    let remote_names = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(remote_names.contains("claude-cc"), "{remote_names}");

    c.call_ok(
        "send_message",
        json!({ "session": "build:cc", "message": "echo remote-$((40+2))" }),
    )
    .await
    .unwrap();
    wait_for_text(&mut c, "build:cc", "remote-42").await;
    c.call_ok(
        "send_keys",
        json!({ "session": "build:cc", "keys": ["C-c"] }),
    )
    .await
    .unwrap();
    let status = structured(
        &mut c,
        "get_session_status",
        json!({ "session": "build:cc" }),
    )
    .await;
    assert_eq!(status["session"]["name"], "build:cc", "{status}");
    assert_eq!(
        status["session"]["pid"],
        Value::Null,
        "a remote pid is not one of this machine's"
    );

    c.call_ok(
        "create_session",
        json!({ "name": "gpu:cc", "profile": "bash" }),
    )
    .await
    .unwrap();
    let list = structured(&mut c, "list_sessions", json!({})).await;
    let names: Vec<(String, String)> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["host"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("build:cc".to_owned(), "build".to_owned()),
            ("build:two".to_owned(), "build".to_owned()),
            ("gpu:cc".to_owned(), "gpu".to_owned()),
            ("here".to_owned(), "local".to_owned()),
        ]
    );
    for (i, host) in ["local", "build", "gpu"].iter().enumerate() {
        assert_eq!(list["hosts"][i]["host"], *host, "{list}");
        assert_eq!(list["hosts"][i]["reachable"], true, "{list}");
    }
    let prompts = structured(&mut c, "check_prompts", json!({})).await;
    assert_eq!(prompts["checked"], 4, "{prompts}");
    assert_eq!(prompts["hosts"].as_array().unwrap().len(), 3, "{prompts}");

    // A directory outside the host's roots, and an unknown host, are refused.
    let err = c
        .call_err(
            "create_session",
            json!({ "name": "build:out", "profile": "bash", "working_dir": "/" }),
        )
        .await
        .unwrap();
    assert!(err.contains("outside the allowed roots"), "{err}");
    let err = c
        .call_err("get_logs", json!({ "session": "tpu:cc" }))
        .await
        .unwrap();
    assert!(err.contains("no host named \"tpu\""), "{err}");

    // Hostile directories and host names change nothing on the remote side: each is refused
    // and no command in them ran there.
    let canary = root.path().join("PWNED");
    for dir in [
        format!("$(touch {})", canary.display()),
        format!("`touch {}`", canary.display()),
        format!("x'; touch {}; '", canary.display()),
        format!("x\ntouch {}", canary.display()),
        "-P".to_owned(),
        "../../..".to_owned(),
        "/etc".to_owned(),
        "~root".to_owned(),
    ] {
        let err = c
            .call_err(
                "create_session",
                json!({ "name": "build:evil", "profile": "bash", "working_dir": dir }),
            )
            .await
            .unwrap();
        assert!(
            err.contains("does not exist") || err.contains("outside the allowed roots"),
            "{dir:?}: {err}"
        );
    }
    for host in ["a;b", "$(id)", "-oProxyCommand=id", "build:x"] {
        let err = c
            .call_err(
                "create_session",
                json!({ "name": "evil", "host": host, "profile": "bash" }),
            )
            .await
            .unwrap();
        assert!(err.contains("invalid session name"), "{host:?}: {err}");
    }
    assert!(
        !canary.exists(),
        "a hostile directory ran a command on the host"
    );
    let out = std::process::Command::new("tmux")
        .args(["-L", &socket, "ls", "-F", "#{session_name}"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("evil"),
        "{out:?}"
    );

    c.call_ok("terminate_session", json!({ "session": "build:cc" }))
        .await
        .unwrap();
    let err = c
        .call_err("get_logs", json!({ "session": "build:cc" }))
        .await
        .unwrap();
    assert!(err.contains("build:cc"), "{err}");

    // `hosts check` reaches it and shows tmux's version and the root resolved there.
    let config = gw.data_dir.join("config.toml");
    let (ok, out, err) = gw.cli(&["hosts", "check", "--config", config.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("build") && out.contains("yes") && out.contains("tmux "),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_goes_down_is_named_in_errors_and_comes_back() {
    let mut sshd = Sshd::start_new();
    let socket = unique_socket("down");
    let _remote = RemoteTmux(socket.clone());
    let root = remote_root();
    let cfg = sshd.ssh_config(ClientFaults::default());
    let gw = gateway(
        "hostdown",
        &host_table("build", &cfg, &socket, &root.path().display().to_string()),
    );
    let mut c = client(&gw).await;
    c.call_ok(
        "create_session",
        json!({ "name": "here", "profile": "bash" }),
    )
    .await
    .unwrap();
    c.call_ok(
        "create_session",
        json!({ "name": "build:cc", "profile": "bash" }),
    )
    .await
    .unwrap();
    c.call_ok(
        "send_message",
        json!({ "session": "build:cc", "message": "echo before-down" }),
    )
    .await
    .unwrap();
    wait_for_text(&mut c, "build:cc", "before-down").await;

    sshd.stop();
    let err = c
        .call_err("get_logs", json!({ "session": "build:cc" }))
        .await
        .unwrap();
    assert!(
        err.contains("host build") && err.contains("SSH"),
        "the error must name the host and SSH: {err}"
    );
    // This machine is not affected, and the list says which host is missing.
    c.call_ok(
        "send_message",
        json!({ "session": "here", "message": "echo local-still-$((1+1))" }),
    )
    .await
    .unwrap();
    wait_for_text(&mut c, "here", "local-still-2").await;
    let list = structured(&mut c, "list_sessions", json!({})).await;
    let names: Vec<&str> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["here"], "{list}");
    assert_eq!(list["hosts"][1]["reachable"], false, "{list}");
    assert!(
        list["hosts"][1]["error"]
            .as_str()
            .unwrap()
            .contains("host build"),
        "{list}"
    );

    // The host returns (its tmux server never stopped): the session is reached again.
    sshd.start();
    until_ok(
        &mut c,
        "get_session_status",
        json!({ "session": "build:cc" }),
    )
    .await;
    c.call_ok(
        "send_message",
        json!({ "session": "build:cc", "message": "echo after-up" }),
    )
    .await
    .unwrap();
    wait_for_text(&mut c, "build:cc", "after-up").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_host_key_or_a_refused_key_is_reported_and_nothing_is_accepted() {
    let sshd = Sshd::start_new();
    let socket = unique_socket("keys");
    let _remote = RemoteTmux(socket.clone());
    let root = remote_root();
    let unknown = sshd.ssh_config(ClientFaults {
        unknown_host_key: true,
        ..ClientFaults::default()
    });
    let wrong = sshd.ssh_config(ClientFaults {
        wrong_key: true,
        ..ClientFaults::default()
    });
    let r = root.path().display().to_string();
    let gw = gateway(
        "hostkeys",
        &format!(
            "{}{}",
            host_table("stranger", &unknown, &socket, &r),
            host_table("wrongkey", &wrong, &socket, &r)
        ),
    );
    let mut c = client(&gw).await;
    let err = c
        .call_err(
            "create_session",
            json!({ "name": "stranger:cc", "profile": "bash" }),
        )
        .await
        .unwrap();
    assert!(
        err.contains("host key") && err.contains(&format!("ssh -F {}", unknown.display())),
        "the error must say how to accept the key: {err}"
    );
    // Never accepted silently: the known_hosts file is still empty.
    let known = std::fs::read_to_string(sshd.dir().join("empty_known_hosts")).unwrap();
    assert!(known.is_empty(), "{known}");
    let err = c
        .call_err(
            "create_session",
            json!({ "name": "wrongkey:cc", "profile": "bash" }),
        )
        .await
        .unwrap();
    assert!(
        err.contains("host wrongkey") && err.contains("refused every key"),
        "{err}"
    );
    // Nothing was started on the "remote" tmux server.
    let out = std::process::Command::new("tmux")
        .args(["-L", &socket, "ls"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a session was created: {out:?}");

    let config = gw.data_dir.join("config.toml");
    let (ok, out, _) = gw.cli(&["hosts", "check", "--config", config.to_str().unwrap()]);
    assert!(!ok, "hosts check must fail when hosts are unusable: {out}");
    assert!(
        out.contains("stranger") && out.contains("host key"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_never_answers_blocks_nothing_else() {
    let silent = SilentHost::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ssh_config");
    std::fs::write(
        &cfg,
        format!(
            "Host {ALIAS}\n  HostName 127.0.0.1\n  Port {}\n  IdentityAgent none\n  \
             UserKnownHostsFile /dev/null\n  GlobalKnownHostsFile /dev/null\n",
            silent.port
        ),
    )
    .unwrap();
    let socket = unique_socket("silent");
    let gw = gateway("silent", &host_table("mute", &cfg, &socket, "/tmp"));
    let mut c = client(&gw).await;
    c.call_ok(
        "create_session",
        json!({ "name": "here", "profile": "bash" }),
    )
    .await
    .unwrap();

    // A call on the silent host, and meanwhile a call on this machine.
    let mut other = client(&gw).await;
    let hung = tokio::spawn(async move {
        other
            .call_err("get_logs", json!({ "session": "mute:cc" }))
            .await
            .unwrap()
    });
    c.call_ok(
        "send_message",
        json!({ "session": "here", "message": "echo not-blocked" }),
    )
    .await
    .unwrap();
    wait_for_text(&mut c, "here", "not-blocked").await;
    let err = hung.await.unwrap();
    assert!(err.contains("host mute"), "{err}");
    // The list answers with this machine's sessions and the host's error.
    let list = structured(&mut c, "list_sessions", json!({})).await;
    assert_eq!(list["sessions"][0]["name"], "here", "{list}");
    assert_eq!(list["hosts"][1]["reachable"], false, "{list}");
}

/// The real Claude Code on a remote host: its trust and API-key dialogs and its Bash
/// permission prompt answered through `HOST:NAME`, `check_prompts` naming the host, its state
/// file (status) and transcript read on that host over the SSH connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_on_a_remote_host_asks_and_is_answered() {
    use crate::claude_code::{FakeApi, answer, claude_binary, labels, the_prompt, wait_for};
    let sshd = Sshd::start_new();
    let socket = unique_socket("remote-cc");
    let _remote = RemoteTmux(socket.clone());
    let root = remote_root();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".claude.json"),
        r#"{"hasCompletedOnboarding": true, "theme": "dark"}"#,
    )
    .unwrap();
    let touch = "touch created-by-claude.txt";
    let api = FakeApi::start(home.path(), touch);
    let proj = root.path().join("project");
    std::fs::create_dir(&proj).unwrap();
    let marker = proj.join("created-by-claude.txt");
    // The profile of that host sets the environment: its own HOME and the stand-in API.
    let table = format!(
        "[hosts.build]\nssh = \"{ALIAS}\"\nssh_config = \"{}\"\ntmux_socket = \"{socket}\"\n\
         allowed_roots = [\"{}\"]\nconnect_timeout_secs = 3\ncommand_timeout_secs = 6\n\
         [hosts.build.extra_profiles]\nclaude-test = {{ command = [{:?}, \"--permission-mode\", \"default\"], \
         env = {{ HOME = {:?}, ANTHROPIC_BASE_URL = \"http://127.0.0.1:{}\", \
         ANTHROPIC_API_KEY = \"sk-ant-test-0123456789abcdefghijklmnopqrstuvwxyz\", DISABLE_TELEMETRY = \"1\", \
         CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = \"1\", DISABLE_AUTOUPDATER = \"1\" }} }}\n",
        sshd.ssh_config(ClientFaults::default()).display(),
        root.path().display(),
        claude_binary().display().to_string(),
        home.path().display().to_string(),
        api.port
    );
    let gw = gateway("hosts-cc", &table);
    let mut c = client(&gw).await;
    let cc = "build:cc";
    c.call_ok(
        "create_session",
        json!({ "name": cc, "profile": "claude-test", "working_dir": "project" }),
    )
    .await
    .unwrap();
    wait_for(&mut c, cc, "waiting_for_input").await;
    let p = the_prompt(&mut c, cc).await;
    assert!(p["question"].as_str().unwrap().contains("trust"), "{p}");
    answer(&mut c, cc, "yes").await;
    wait_for(&mut c, cc, "waiting_for_input").await;
    let p = the_prompt(&mut c, cc).await;
    assert_eq!(p["question"], "Do you want to use this API key?", "{p}");
    answer(&mut c, cc, "Yes").await;
    wait_for(&mut c, cc, "idle").await;

    c.call_ok(
        "send_message",
        json!({ "session": cc, "message": "Create a marker file please" }),
    )
    .await
    .unwrap();
    wait_for(&mut c, cc, "waiting_for_input").await;
    let prompts = structured(&mut c, "check_prompts", json!({})).await;
    let mine = prompts["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["session"] == cc)
        .unwrap_or_else(|| panic!("{cc} is not listed as waiting: {prompts}"))
        .clone();
    assert_eq!(mine["host"], "build", "{mine}");
    let p = &mine["detection"]["prompt"];
    assert_eq!(p["question"], "Do you want to proceed?", "{p}");
    let l = labels(p);
    assert_eq!((l[0].as_str(), l[l.len() - 1].as_str()), ("Yes", "No"));
    // The state file on that host is the signal, as on this machine.
    let status = structured(&mut c, "get_session_status", json!({ "session": cc })).await;
    assert!(
        status["detection"]["rule"]
            .as_str()
            .unwrap_or_default()
            .contains("state-file"),
        "Claude Code's state file on the host is the signal: {status}"
    );
    let r = answer(&mut c, cc, "1").await;
    assert_eq!(r["structuredContent"]["keys"], json!(["1"]));
    wait_for(&mut c, cc, "idle").await;
    assert!(marker.exists(), "the approved command did not run");

    // The transcript, read on that host.
    let mut t = Value::Null;
    for _ in 0..100 {
        t = c
            .call("get_transcript", json!({ "session": cc, "limit": 20 }))
            .await
            .unwrap();
        assert_ne!(t["isError"], true, "{t}");
        let items = t["structuredContent"]["items"].as_array().unwrap();
        if items
            .iter()
            .any(|i| i["kind"] == "tool_use" && i["tool"] == "Bash" && i["text"] == touch)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(t["structuredContent"]["session"], cc, "{t}");
    assert!(
        t["structuredContent"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "tool_use" && i["tool"] == "Bash" && i["text"] == touch),
        "{t}"
    );
}

/// The status of a remote session that runs (a stand-in for) Claude Code costs no command on
/// the host per call: its state is kept until the session prints (then read again at once,
/// so an answered question is never reported as still waiting), and where its state file is
/// was remembered. Counted on the host: sshd logs every command it starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_claude_codes_state_is_not_read_again_until_it_changes() {
    let sshd = Sshd::start_new();
    let socket = unique_socket("remote-fake-cc");
    let _remote = RemoteTmux(socket.clone());
    let root = remote_root();
    let home = tempfile::tempdir().unwrap();
    let table = format!(
        "[hosts.build]\nssh = \"{ALIAS}\"\nssh_config = \"{}\"\ntmux_socket = \"{socket}\"\n\
         allowed_roots = [\"{}\"]\nconnect_timeout_secs = 3\ncommand_timeout_secs = 6\n\
         [hosts.build.extra_profiles]\nfake-cc = {}\n",
        sshd.ssh_config(ClientFaults::default()).display(),
        root.path().display(),
        sessiongate_tests::fake_claude::profile(root.path(), home.path()),
    );
    let gw = gateway("hosts-fake-cc", &table);
    let mut c = client(&gw).await;
    let cc = "build:cc";
    c.call_ok(
        "create_session",
        json!({ "name": cc, "profile": "fake-cc" }),
    )
    .await
    .unwrap();
    let rule = |s: &Value| {
        s["detection"]["rule"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let mut status = Value::Null;
    for _ in 0..100 {
        status = structured(&mut c, "get_session_status", json!({ "session": cc })).await;
        if rule(&status).contains("state-file (waiting") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(rule(&status).contains("state-file (waiting"), "{status}");
    // Past the moment right after the output (a state read then is not kept).
    tokio::time::sleep(Duration::from_millis(500)).await;

    let calls = 20;
    let before = sshd.commands_started();
    let started = std::time::Instant::now();
    for _ in 0..calls {
        let s = structured(&mut c, "get_session_status", json!({ "session": cc })).await;
        assert!(rule(&s).contains("state-file (waiting"), "{s}");
    }
    let ran = sshd.commands_started() - before;
    // At most one read per second (what is kept is kept that long at most), and one more.
    let bound = 2 + started.elapsed().as_secs() as usize;
    assert!(
        ran <= bound,
        "{ran} commands ran on the host for {calls} status calls (at most {bound} expected)"
    );

    // The answer: the stand-in writes its new state, then prints. Once its output is on the
    // screen, the status says so at once.
    c.call_ok("send_message", json!({ "session": cc, "message": "go" }))
        .await
        .unwrap();
    wait_for_text(&mut c, cc, "working on go").await;
    let s = structured(&mut c, "get_session_status", json!({ "session": cc })).await;
    assert!(rule(&s).contains("state-file (busy"), "{s}");
}
