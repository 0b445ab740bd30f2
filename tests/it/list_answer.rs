//! `list_sessions` is answered from a kept answer while nothing changed
//! (`gateway/src/mcp/kept_answers.rs`); every change it shows must still come through at once:
//! a session created, one that prints, one whose mute changes, one that exits, one that ends.
//! Each step asks for the list right before the change (so an answer is kept) and right after
//! it, and the answer after it must show the change.

use serde_json::{Value, json};

use sessiongate_tests::gateway::{Options, TestGateway};
use sessiongate_tests::mcp::McpClient;

use crate::mcp_tools::{client, wait_for_text};

async fn list(c: &mut McpClient) -> Value {
    let r = c.call("list_sessions", json!({})).await.unwrap();
    r["structuredContent"].clone()
}

fn entry<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
}

/// An RFC 3339 UTC time as (date and time to the second, nanoseconds), comparable.
fn instant(v: &Value) -> (String, u64) {
    let s = v.as_str().unwrap_or_default().trim_end_matches('Z');
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let nanos = format!("{frac:0<9}").parse().unwrap_or(0);
    (secs.to_owned(), nanos)
}

#[tokio::test]
async fn the_kept_list_shows_every_change_at_once() {
    let gw = TestGateway::start(Options::pty("list-answer"));
    let mut c = client(&gw).await;
    c.call_ok("create_session", json!({ "name": "a", "profile": "bash" }))
        .await
        .unwrap();

    // Created.
    assert!(entry(&list(&mut c).await, "b").is_none());
    c.call_ok("create_session", json!({ "name": "b", "profile": "bash" }))
        .await
        .unwrap();
    assert!(entry(&list(&mut c).await, "b").is_some(), "b created");

    // Prints: once the screen shows the marker, the list's time of last activity is not
    // older than the status's.
    list(&mut c).await;
    c.call_ok(
        "send_message",
        json!({ "session": "a", "message": "echo list-answer-$((1+1))" }),
    )
    .await
    .unwrap();
    wait_for_text(&mut c, "a", "list-answer-2").await;
    let status = c
        .call("get_session_status", json!({ "session": "a" }))
        .await
        .unwrap();
    let printed = instant(&status["structuredContent"]["session"]["last_activity"]);
    let listed = list(&mut c).await;
    let shown = instant(&entry(&listed, "a").unwrap()["last_activity"]);
    assert!(shown >= printed, "{shown:?} < {printed:?}: {listed}");

    // Mute, and unmute.
    assert_eq!(
        entry(&list(&mut c).await, "a").unwrap()["notifications"],
        "off"
    );
    c.call_ok(
        "set_notifications",
        json!({ "session": "a", "enabled": false }),
    )
    .await
    .unwrap();
    assert_eq!(
        entry(&list(&mut c).await, "a").unwrap()["notifications"],
        "muted"
    );
    c.call_ok(
        "set_notifications",
        json!({ "session": "a", "enabled": true }),
    )
    .await
    .unwrap();
    assert_eq!(
        entry(&list(&mut c).await, "a").unwrap()["notifications"],
        "off"
    );

    // Exits: once the status says so, so does the list.
    list(&mut c).await;
    c.call_ok(
        "send_message",
        json!({ "session": "b", "message": "exit 3" }),
    )
    .await
    .unwrap();
    // Bounded: a program that never exits fails the test instead of hanging it.
    let mut exited = false;
    for _ in 0..1200 {
        let s = c
            .call("get_session_status", json!({ "session": "b" }))
            .await
            .unwrap();
        if s["structuredContent"]["session"]["status"]["state"] != "running" {
            exited = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(exited, "b never exited");
    let listed = list(&mut c).await;
    assert_ne!(
        entry(&listed, "b").unwrap()["status"]["state"],
        "running",
        "{listed}"
    );

    // Ends.
    c.call_ok("terminate_session", json!({ "session": "b" }))
        .await
        .unwrap();
    assert!(entry(&list(&mut c).await, "b").is_none(), "b ended");
}

/// The fast lane sends a kept answer (the list, a session's status) as the bytes it was
/// serialized to, once per shape (with a session, and stateless with the 2026-07-28
/// revision's `resultType`): those bytes must be the answer rmcp gives to the same call, in
/// both shapes.
#[tokio::test]
async fn the_kept_answer_sent_as_bytes_is_the_answer_rmcp_gives() {
    let gw = TestGateway::start(Options::pty("list-bytes"));
    let mut c = client(&gw).await;
    for name in ["x", "y"] {
        c.call_ok("create_session", json!({ "name": name, "profile": "bash" }))
            .await
            .unwrap();
    }
    let url = gw.mcp_url();
    for (tool, args) in [
        ("list_sessions", json!({})),
        ("get_session_status", json!({ "session": "x" })),
    ] {
        let reused = format!("sessiongate_kept_answers_reused_total{{tool=\"{tool}\"}}");
        let mut from_bytes = 0;
        for round in 0..20 {
            let before = gw.metric(&reused).await.unwrap_or(0);
            // Two lane calls: the second is answered from the kept answer's bytes while it
            // is kept (the sessions' prompts may still be settling: then it is built again).
            c.call(tool, args.clone()).await.unwrap();
            let lane = c.call(tool, args.clone()).await.unwrap();
            let stateless = crate::fast_lane::stateless_call(&url, 1, tool, args.clone());
            let stateless: Value =
                serde_json::from_str(&stateless.await.text().await.unwrap()).unwrap();
            from_bytes += gw.metric(&reused).await.unwrap_or(0) - before;
            // rmcp answers a call that carries a progress token.
            let rmcp = c
                .request(
                    "tools/call",
                    json!({ "name": tool, "arguments": args, "_meta": { "progressToken": round } }),
                )
                .await
                .unwrap();
            assert_eq!(lane, rmcp, "{tool}, round {round}");
            assert!(lane.get("resultType").is_none(), "{lane}");
            let rmcp = crate::fast_lane::stateless_call_with(
                &url,
                2,
                tool,
                args.clone(),
                json!({ "progressToken": "p" }),
            )
            .await;
            let headers = rmcp.headers().clone();
            let body = rmcp.text().await.unwrap();
            let rmcp = sessiongate_tests::mcp::messages_in(&headers, &body)
                .into_iter()
                .find(|m| m["id"] == 2)
                .unwrap_or_else(|| panic!("no answer in {body}"));
            assert_eq!(stateless["result"], rmcp["result"], "{tool}, round {round}");
            assert_eq!(stateless["result"]["resultType"], "complete");
            if from_bytes >= 4 {
                break;
            }
        }
        assert!(
            from_bytes >= 4,
            "{tool}: the kept answer was handed out again only {from_bytes} times in 20 rounds"
        );
    }
}
