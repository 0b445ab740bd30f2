//! A client of the 2026-07-28 MCP revision, end to end: the official MCP Python SDK's `Client`
//! (tests/clients/python_modern_flow.py) authorizes through sessiongate's OAuth server,
//! negotiates the stateless revision with `server/discover` (no `initialize`, no
//! `Mcp-Session-Id`), lists and calls tools, and is told through `subscriptions/listen` that
//! the session it created exited. Open listen streams count against the client's cap on MCP
//! sessions. The old revisions' clients are in `oauth.rs`.

use serde_json::json;

use sessiongate_tests::gateway::{OWNER_PASSWORD, Options, TestGateway};

#[tokio::test]
async fn python_sdk_speaks_2026_07_28_and_listens_for_state_changes() {
    let gw = TestGateway::start(Options::oauth("modern", 3600));
    let url = gw.mcp_url();
    let root = gw.root.clone();
    let (report, _) = sessiongate_tests::clients::run_python_report(
        "python_modern_flow.py",
        &[url.as_ref(), OWNER_PASSWORD.as_ref(), root.as_os_str()],
    )
    .await;
    eprintln!("{report}");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["protocol_version"], "2026-07-28", "{report}");
    assert!(report["updates"].as_u64().unwrap() >= 1, "{report}");
    let methods = report["methods"].as_array().unwrap();
    for m in [
        "server/discover",
        "tools/list",
        "tools/call",
        "subscriptions/listen",
    ] {
        assert!(methods.iter().any(|x| x == m), "{m} never sent: {report}");
    }
}

/// Opens a `subscriptions/listen` stream of the 2026-07-28 revision for `uri` with `token`;
/// the stream stays open while the response lives.
async fn listen(gw: &TestGateway, token: &str, uri: &str) -> reqwest::Response {
    let body = json!({"jsonrpc": "2.0", "id": "l", "method": "subscriptions/listen", "params": {
        "notifications": {"resourceSubscriptions": [uri]},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}
        }
    }});
    reqwest::Client::new()
        .post(gw.mcp_url())
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "subscriptions/listen")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn open_listen_streams_count_against_the_clients_session_cap() {
    let mut opts = Options::oauth("listencap", 3600);
    opts.extra_config
        .push_str("max_mcp_sessions_per_client = 2\n");
    let gw = TestGateway::start(opts);
    let token = gw.token("sessions:read", "1h");
    let a = listen(&gw, &token, "sessions://a").await;
    assert_eq!(a.status(), 200);
    let b = listen(&gw, &token, "sessions://b").await;
    assert_eq!(b.status(), 200);
    let third = listen(&gw, &token, "sessions://c").await;
    assert_eq!(third.status(), 429);
    let text = third.text().await.unwrap();
    assert!(text.contains("listen streams"), "{text}");
    // Closing a stream frees its slot, once the gateway has seen the connection go.
    drop(a);
    let mut freed = false;
    for _ in 0..100 {
        let r = listen(&gw, &token, "sessions://c").await;
        if r.status() == 200 {
            freed = true;
            break;
        }
        assert_eq!(r.status(), 429);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(freed, "closing a listen stream never freed its slot");
    drop(b);
}
