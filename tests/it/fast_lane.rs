//! The fast lane: plain tool calls on an open MCP session come back as one JSON response,
//! with the same result rmcp gives, while everything the lane must not answer still goes
//! through rmcp (first call of a session, progress tokens, `wait_for`, bad arguments,
//! unknown sessions).

use serde_json::{Value, json};

use sessiongate_tests::gateway::{Options, TestGateway};
use sessiongate_tests::mcp::{McpClient, RawResponse};

use crate::mcp_tools::{client, wait_for_text};

fn content_type(r: &RawResponse) -> &str {
    r.headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Posts one `tools/call` with `params` and returns the response and its one message.
async fn call_raw(c: &McpClient, id: u64, params: Value) -> (RawResponse, Value) {
    let body = json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params });
    let r = c.post_raw(body.to_string()).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let mut messages = r.messages();
    assert_eq!(messages.len(), 1, "{}", r.body);
    let m = messages.remove(0);
    assert_eq!(m["id"], id, "{m}");
    (r, m)
}

#[tokio::test]
async fn plain_calls_come_back_as_json_with_rmcps_result() {
    let gw = TestGateway::start(Options::pty("fast-lane"));
    let mut c = client(&gw).await;
    // The session's first call goes through rmcp.
    let (r, _) = call_raw(&c, 1, json!({ "name": "list_sessions" })).await;
    assert!(content_type(&r).starts_with("text/event-stream"), "{r:?}");
    c.call_ok(
        "create_session",
        json!({ "name": "lane", "profile": "bash" }),
    )
    .await
    .unwrap();
    c.call_ok(
        "send_message",
        json!({ "session": "lane", "message": "echo lane-marker" }),
    )
    .await
    .unwrap();
    wait_for_text(&mut c, "lane", "\nlane-marker").await;

    // A plain call: JSON. The same call with a progress token: rmcp's event stream. Same result.
    let args = json!({ "session": "lane", "lines": 10 });
    let (fast, fast_msg) = call_raw(&c, 10, json!({ "name": "get_logs", "arguments": args })).await;
    assert_eq!(content_type(&fast), "application/json", "{fast:?}");
    // A body of known length, sent as such rather than in chunks.
    assert_eq!(
        fast.headers
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some(fast.body.len().to_string().as_str()),
        "{fast:?}"
    );
    let (slow, slow_msg) = call_raw(
        &c,
        11,
        json!({ "name": "get_logs", "arguments": args, "_meta": { "progressToken": "p1" } }),
    )
    .await;
    assert!(
        content_type(&slow).starts_with("text/event-stream"),
        "{slow:?}"
    );
    assert_eq!(fast_msg["result"], slow_msg["result"]);
    assert!(
        fast_msg["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("lane-marker")
    );

    // A tool failure is a result with isError on both lanes.
    let missing = json!({ "name": "get_session_status", "arguments": { "session": "nope" } });
    let (r, m) = call_raw(&c, 12, missing).await;
    assert_eq!(content_type(&r), "application/json");
    assert_eq!(m["result"]["isError"], true, "{m}");

    // Arguments that do not decode: rmcp's answer (a failed result that names the problem).
    let bad = json!({ "name": "get_logs", "arguments": { "session": 7 } });
    let (r, m) = call_raw(&c, 13, bad).await;
    assert!(content_type(&r).starts_with("text/event-stream"), "{r:?}");
    assert_eq!(m["result"]["isError"], true, "{m}");
    assert!(
        m.to_string().contains("failed to deserialize parameters"),
        "{m}"
    );

    // An unknown tool: rmcp's error too.
    let (_, m) = call_raw(&c, 14, json!({ "name": "no_such_tool" })).await;
    assert!(
        m.get("error").is_some() || m["result"]["isError"] == true,
        "{m}"
    );

    // wait_for always goes through rmcp.
    let wait = json!({ "name": "wait_for", "arguments": {
        "session": "lane", "until": "match", "pattern": "lane-marker", "timeout_s": 5 } });
    let (r, m) = call_raw(&c, 15, wait).await;
    assert!(content_type(&r).starts_with("text/event-stream"), "{r:?}");
    assert!(m["result"].to_string().contains("condition_met"), "{m}");
    // Its headline says what matched, not the session's state.
    let head = m["result"]["content"][0]["text"].as_str().unwrap_or("");
    assert!(
        head.starts_with("lane's screen matched \"lane-marker\" with \"lane-marker\" (after "),
        "{m}"
    );

    // A session rmcp does not know: its 404, not an answer.
    let mut stranger = McpClient::new(&gw.mcp_url());
    stranger.set_session_id("00000000-0000-0000-0000-000000000000");
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "list_sessions" } });
    let r = stranger.post_raw(body.to_string()).await.unwrap();
    assert_eq!(r.status, 404, "{r:?}");

    // After DELETE, the session's calls are refused, not answered by the lane.
    let old = c.session_id().unwrap().to_owned();
    c.delete_session().await.unwrap();
    c.set_session_id(&old);
    let body = json!({ "jsonrpc": "2.0", "id": 20, "method": "tools/call",
        "params": { "name": "list_sessions" } });
    let r = c.post_raw(body.to_string()).await.unwrap();
    assert_eq!(r.status, 404, "{r:?}");
}

#[tokio::test]
async fn the_lane_keeps_the_scope_check_and_the_audit_log() {
    let gw = TestGateway::start(Options::oauth("fast-lane-checks", 3600));
    let mut reader = McpClient::with_token(&gw.mcp_url(), &gw.token("sessions:read", "1h"))
        .await
        .unwrap();
    reader.call_ok("list_sessions", json!({})).await.unwrap();
    reader.call_ok("list_sessions", json!({})).await.unwrap();
    let body = json!({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"create_session","arguments":{"name":"x","profile":"bash"}}});
    let r = reader.post_raw(body.to_string()).await.unwrap();
    assert_eq!(r.status, 403, "{r:?}");

    let mut writer = McpClient::with_token(
        &gw.mcp_url(),
        &gw.token("sessions:read sessions:write sessions:manage", "1h"),
    )
    .await
    .unwrap();
    writer.call_ok("list_sessions", json!({})).await.unwrap();
    writer
        .call_ok("create_session", json!({ "name": "a", "profile": "bash" }))
        .await
        .unwrap();
    writer
        .call_ok(
            "send_message",
            json!({ "session": "a", "message": "echo audited" }),
        )
        .await
        .unwrap();
    let audit = gw.audit_of(2).await;
    let actions: Vec<&str> = audit.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["create_session", "send_message"], "{audit:?}");
}

/// A `tools/call` of the 2026-07-28 revision: no session, the protocol version and client
/// capabilities in `_meta`, the method and tool name in headers.
pub(crate) async fn stateless_call(
    url: &str,
    id: u64,
    tool: &str,
    args: Value,
) -> reqwest::Response {
    stateless_call_with(url, id, tool, args, json!({})).await
}

/// Like [`stateless_call`], with more `_meta` keys (a progress token sends it to rmcp).
pub(crate) async fn stateless_call_with(
    url: &str,
    id: u64,
    tool: &str,
    args: Value,
    extra_meta: Value,
) -> reqwest::Response {
    let mut meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    if let (Some(m), Some(extra)) = (meta.as_object_mut(), extra_meta.as_object()) {
        m.extend(extra.clone());
    }
    let body = json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": tool,
        "arguments": args,
        "_meta": meta
    } });
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn stateless_calls_of_the_2026_revision_come_back_as_one_json_response() {
    let gw = TestGateway::start(Options::pty("stateless"));
    let mut c = client(&gw).await;
    c.call_ok("create_session", json!({ "name": "st", "profile": "bash" }))
        .await
        .unwrap();
    for (id, tool, args) in [
        (1, "get_session_status", json!({ "session": "st" })),
        (2, "list_sessions", json!({})),
        (3, "get_logs", json!({ "session": "st", "lines": 5 })),
    ] {
        let r = stateless_call(&gw.mcp_url(), id, tool, args).await;
        assert_eq!(r.status(), 200, "{tool}");
        assert!(r.headers().get("mcp-session-id").is_none(), "{tool}");
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = r.text().await.unwrap();
        assert!(ct.starts_with("application/json"), "{tool}: {ct}: {body}");
        let m: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(m["id"], id, "{m}");
        assert_ne!(m["result"]["isError"], json!(true), "{m}");
        assert!(
            m["result"]["content"][0]["text"]
                .as_str()
                .is_some_and(|t| !t.is_empty()),
            "{m}"
        );
    }
    // A tool error is a result too, in the same shape.
    let r = stateless_call(&gw.mcp_url(), 4, "get_logs", json!({ "session": "nope" })).await;
    let m: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(m["result"]["isError"], json!(true), "{m}");
}

/// How many tool calls the fast lane answered without a session, from `/metrics`.
async fn stateless_lane_calls(gw: &TestGateway) -> u64 {
    gw.metric("sessiongate_fast_lane_calls_total{request=\"stateless\"}")
        .await
        .expect("no fast-lane counter")
}

#[tokio::test]
async fn stateless_calls_get_the_same_answer_from_the_lane_as_from_rmcp() {
    let gw = TestGateway::start(Options::pty("stateless-eq"));
    let mut c = client(&gw).await;
    c.call_ok("create_session", json!({ "name": "eq", "profile": "bash" }))
        .await
        .unwrap();
    c.call_ok(
        "send_message",
        json!({ "session": "eq", "message": "echo eq-marker" }),
    )
    .await
    .unwrap();
    wait_for_text(&mut c, "eq", "\neq-marker").await;
    let url = gw.mcp_url();
    // Every tool but wait_for (always rmcp's) and the ones that create or end sessions,
    // with arguments whose answer does not change between two calls.
    let calls = [
        ("list_sessions", json!({})),
        ("get_session_status", json!({ "session": "eq" })),
        ("get_logs", json!({ "session": "eq", "lines": 10 })),
        ("check_prompts", json!({})),
        ("get_transcript", json!({ "session": "eq" })),
        ("search", json!({ "query": "eq" })),
        ("fetch", json!({ "id": "eq" })),
        ("send_keys", json!({ "session": "eq", "keys": ["Right"] })),
        (
            "respond_to_prompt",
            json!({ "session": "eq", "answer": "1" }),
        ),
        ("get_logs", json!({ "session": "nope" })),
    ];
    let before = stateless_lane_calls(&gw).await;
    for (i, (tool, args)) in calls.iter().enumerate() {
        let id = i as u64 * 2 + 1;
        let lane = stateless_call(&url, id, tool, args.clone()).await;
        assert_eq!(lane.status(), 200, "{tool}");
        let lane: Value = serde_json::from_str(&lane.text().await.unwrap()).unwrap();
        let rmcp = stateless_call_with(
            &url,
            id + 1,
            tool,
            args.clone(),
            json!({ "progressToken": "p" }),
        )
        .await;
        assert_eq!(rmcp.status(), 200, "{tool}");
        let headers = rmcp.headers().clone();
        let body = rmcp.text().await.unwrap();
        let rmcp = sessiongate_tests::mcp::messages_in(&headers, &body)
            .into_iter()
            .find(|m| m["id"] == id + 1)
            .unwrap_or_else(|| panic!("{tool}: no answer in {body}"));
        assert_eq!(lane["result"], rmcp["result"], "{tool}");
        assert_eq!(lane["result"]["resultType"], "complete", "{tool}: {lane}");
    }
    // Each call without a progress token was the lane's, each with one rmcp's.
    assert_eq!(stateless_lane_calls(&gw).await - before, calls.len() as u64);
}
