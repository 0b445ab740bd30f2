//! Bad input of every kind gets a clear error and changes nothing.

use std::process::Command;

use serde_json::json;

use crate::mcp_tools::client;
use sessiongate_tests::gateway::{Options, TestGateway};
use sessiongate_tests::mcp::McpClient;

async fn session_names(c: &mut McpClient) -> Vec<String> {
    let list = c.call("list_sessions", json!({})).await.unwrap();
    list["structuredContent"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn unknown_sessions_are_named_in_the_error() {
    let gw = TestGateway::start(Options::tmux("unknown"));
    let mut c = client(&gw).await;
    for (tool, args) in [
        ("get_logs", json!({ "session": "ghost" })),
        ("get_session_status", json!({ "session": "ghost" })),
        (
            "send_message",
            json!({ "session": "ghost", "message": "hi" }),
        ),
        (
            "send_keys",
            json!({ "session": "ghost", "keys": ["Enter"] }),
        ),
        ("terminate_session", json!({ "session": "ghost" })),
        (
            "respond_to_prompt",
            json!({ "session": "ghost", "answer": "1" }),
        ),
    ] {
        let err = c.call_err(tool, args).await.unwrap();
        assert!(err.contains("no session named \"ghost\""), "{tool}: {err}");
        assert!(err.contains("list_sessions"), "{tool}: {err}");
    }
}

#[tokio::test]
async fn hostile_names_are_refused_and_nothing_is_created() {
    let gw = TestGateway::start(Options::tmux("names"));
    let mut c = client(&gw).await;
    let huge = "a".repeat(1 << 20);
    for name in [
        "a;rm -rf",
        "../x",
        "=x",
        "a:b",
        "-t",
        "$(id)",
        "",
        huge.as_str(),
    ] {
        let err = c
            .call_err("create_session", json!({ "name": name, "profile": "bash" }))
            .await
            .unwrap();
        assert!(err.contains("invalid session name"), "{err}");
        assert!(
            err.len() < 300,
            "error echoes too much: {} bytes",
            err.len()
        );
        let err = c
            .call_err("get_logs", json!({ "session": name }))
            .await
            .unwrap();
        assert!(err.contains("invalid session name"), "{err}");
    }
    assert!(session_names(&mut c).await.is_empty());
    // The tmux server holds no session either.
    let out = Command::new("tmux")
        .args(["-L", &gw.socket, "list-sessions"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
}

#[tokio::test]
async fn working_dirs_outside_the_roots_and_unknown_profiles_are_refused() {
    let gw = TestGateway::start(Options::tmux("dirs"));
    let mut c = client(&gw).await;
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), gw.root.join("link-out")).unwrap();
    for dir in [
        "/",
        "/etc",
        "..",
        "link-out",
        outside.path().to_str().unwrap(),
    ] {
        let err = c
            .call_err(
                "create_session",
                json!({ "name": "d", "working_dir": dir, "profile": "bash" }),
            )
            .await
            .unwrap();
        assert!(err.contains("outside the allowed roots"), "{dir}: {err}");
    }
    let err = c
        .call_err(
            "create_session",
            json!({ "name": "d", "working_dir": "no/such/dir", "profile": "bash" }),
        )
        .await
        .unwrap();
    assert!(err.contains("does not exist"), "{err}");
    let err = c
        .call_err(
            "create_session",
            json!({ "name": "d", "profile": "bash -c id" }),
        )
        .await
        .unwrap();
    assert!(err.contains("unknown profile"), "{err}");
    assert!(
        err.contains("shell"),
        "lists the configured profiles: {err}"
    );
    assert!(session_names(&mut c).await.is_empty());
}

#[tokio::test]
async fn oversized_messages_and_bad_keys_are_refused() {
    let gw = TestGateway::start(Options::tmux("size"));
    let mut c = client(&gw).await;
    c.call_ok("create_session", json!({ "name": "s", "profile": "bash" }))
        .await
        .unwrap();
    let big = "x".repeat(300 * 1024);
    let err = c
        .call_err("send_message", json!({ "session": "s", "message": big }))
        .await
        .unwrap();
    assert!(err.contains("more than the limit"), "{err}");
    let err = c
        .call_err(
            "send_keys",
            json!({ "session": "s", "keys": ["Enter", "Explode"] }),
        )
        .await
        .unwrap();
    assert!(err.contains("unknown key"), "{err}");
    let many: Vec<&str> = vec!["Up"; 65];
    let err = c
        .call_err("send_keys", json!({ "session": "s", "keys": many }))
        .await
        .unwrap();
    assert!(err.contains("limit of 64"), "{err}");
    // A body over the HTTP limit is refused before it is parsed.
    let body = json!({
        "jsonrpc": "2.0", "id": 99, "method": "tools/call",
        "params": { "name": "send_message", "arguments": { "session": "s", "message": "y".repeat(3 << 20) } }
    });
    let r = c.post_raw_isolated(body.to_string()).await.unwrap();
    assert_eq!(r.status, 413, "{}", r.body);
    // The session is untouched and still answers.
    let screen = c
        .call_ok("get_logs", json!({ "session": "s" }))
        .await
        .unwrap();
    assert!(!screen.contains("xxxxxxxx"), "{screen}");
}

#[tokio::test]
async fn malformed_json_rpc_gets_a_clear_error() {
    let gw = TestGateway::start(Options::tmux("rpc"));
    let mut c = client(&gw).await;
    // Not JSON at all.
    let r = c.post_raw("{not json").await.unwrap();
    assert!((400..500).contains(&r.status), "{} {}", r.status, r.body);
    assert!(
        r.body.to_lowercase().contains("pars") || r.body.contains("-32700"),
        "{}",
        r.body
    );
    // JSON, but not JSON-RPC.
    let r = c.post_raw(r#"{"hello":"world"}"#).await.unwrap();
    assert!((400..500).contains(&r.status), "{} {}", r.status, r.body);
    // An unknown method is a JSON-RPC error, not a crash.
    let err = c.request("no/such/method", json!({})).await.unwrap_err();
    assert!(
        err.to_string().contains("-32601") || err.to_string().contains("method"),
        "{err}"
    );
    // Arguments of the wrong type are refused by the schema.
    let err = c
        .call("get_logs", json!({ "session": 5, "lines": "many" }))
        .await;
    match err {
        Ok(v) => assert_eq!(v["isError"], true, "{v}"),
        Err(e) => assert!(e.to_string().contains("-32602"), "{e}"),
    }
    // The server still serves the session afterwards.
    assert!(session_names(&mut c).await.is_empty());
}

#[tokio::test]
async fn foreign_origin_and_host_are_refused() {
    let gw = TestGateway::start(Options::tmux("origin"));
    let c = McpClient::new(&gw.mcp_url());
    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": { "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "evil", "version": "0" } }
    });
    let r = c
        .post_with(init.to_string(), &[("origin", "https://evil.example")])
        .await
        .unwrap();
    assert_eq!(r.status, 403, "{}", r.body);
    let r = c
        .post_with(init.to_string(), &[("host", "evil.example")])
        .await
        .unwrap();
    assert_eq!(r.status, 403, "{}", r.body);
    let r = c
        .post_with(init.to_string(), &[("origin", "http://localhost:6274")])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "a local browser client is fine: {}", r.body);
}

#[tokio::test]
async fn a_dead_tmux_server_loses_nothing_that_can_be_kept() {
    let gw = TestGateway::start(Options::tmux("dead"));
    let mut c = client(&gw).await;
    c.call_ok("create_session", json!({ "name": "d", "profile": "bash" }))
        .await
        .unwrap();
    let out = Command::new("tmux")
        .args(["-L", &gw.socket, "kill-server"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(session_names(&mut c).await.is_empty());
    let err = c
        .call_err("send_message", json!({ "session": "d", "message": "hi" }))
        .await
        .unwrap();
    assert!(err.contains("no session named"), "{err}");
    // The gateway starts a new tmux server on the next create.
    c.call_ok("create_session", json!({ "name": "d", "profile": "bash" }))
        .await
        .unwrap();
    assert_eq!(session_names(&mut c).await, vec!["d"]);
}
