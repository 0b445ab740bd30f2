//! Scope escalation through methods other than `tools/call`: a token without
//! `sessions:read` must not see a session's screen through its resource (list, read,
//! subscribe), completions, prompts or the log level, nor smuggle such a request in a batch;
//! a method the scope table does not know needs the highest scope. The protocol's plumbing
//! (initialize, ping, tools/list) still works with any valid token.

use serde_json::{Value, json};

use sessiongate_tests::mcp::McpClient;

use crate::common::{self, session_names};

/// A JSON-RPC request body.
fn request(id: u64, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

/// Asserts a 403 `insufficient_scope` naming `scope`, without the secret on screen.
fn assert_refused(r: &sessiongate_tests::mcp::RawResponse, scope: &str, what: &str) {
    assert_eq!(r.status, 403, "{what}: {}", r.body);
    let challenge = r.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains(&format!("scope=\"{scope}\"")),
        "{what}: {challenge}"
    );
    assert!(!r.body.contains("SECRET"), "{what}: {}", r.body);
}

#[tokio::test]
async fn reading_a_session_by_any_method_needs_the_read_scope() {
    let gw = common::gateway("scopes-methods");
    let mut admin = common::admin(&gw).await;
    admin
        .call_ok("create_session", json!({"name": "s", "profile": "bash"}))
        .await
        .unwrap();
    admin
        .call_ok(
            "send_message",
            json!({"session": "s", "message": "echo SECRET$((6*7))"}),
        )
        .await
        .unwrap();
    admin
        .call_ok(
            "wait_for",
            json!({"session": "s", "until": "match", "pattern": "SECRET42", "timeout_s": 30}),
        )
        .await
        .unwrap();
    let uri = json!({ "uri": "sessions://s" });
    let reads: Vec<(&str, Value)> = vec![
        ("resources/list", json!({})),
        ("resources/read", uri.clone()),
        ("resources/subscribe", uri.clone()),
        ("resources/unsubscribe", uri.clone()),
        ("resources/templates/list", json!({})),
        (
            "completion/complete",
            json!({"ref": {"type": "ref/resource", "uri": "sessions://{name}"}, "argument": {"name": "name", "value": "s"}}),
        ),
        ("prompts/list", json!({})),
        ("prompts/get", json!({"name": "s"})),
        ("logging/setLevel", json!({"level": "debug"})),
    ];
    for scopes in [
        "sessions:write",
        "sessions:manage",
        "sessions:write,sessions:manage",
    ] {
        let c: McpClient = common::client(&gw, &gw.token(scopes, "1h")).await;
        // The plumbing every client needs works with any valid token.
        for method in ["ping", "tools/list"] {
            let r = c
                .post_raw(request(9, method, json!({})).to_string())
                .await
                .unwrap();
            assert_eq!(r.status, 200, "{scopes} {method}: {}", r.body);
        }
        for (i, (method, params)) in reads.iter().enumerate() {
            let what = format!("{scopes} {method}");
            let body = request(10 + i as u64, method, params.clone());
            let r = c.post_raw(body.to_string()).await.unwrap();
            assert_refused(&r, "sessions:read", &what);
            // Hidden in a batch behind a request the token may make.
            let batch = json!([request(1, "ping", json!({})), body]);
            let r = c.post_raw(batch.to_string()).await.unwrap();
            assert_refused(&r, "sessions:read", &format!("{what} in a batch"));
        }
        // The tool that reads the same screen is refused alike.
        let r = c
            .post_raw(common::call_body(30, "get_logs", json!({"session": "s"})))
            .await
            .unwrap();
        assert_refused(&r, "sessions:read", &format!("{scopes} get_logs"));
    }
    // Methods the table does not know need the highest scope, also in a batch.
    let reader = common::client(&gw, &gw.token("sessions:read", "1h")).await;
    for method in [
        "no/such/method",
        "tasks/get",
        "skills/list",
        "resources/directory/read",
        "Resources/Read",
    ] {
        let r = reader
            .post_raw(request(40, method, json!({"uri": "sessions://s"})).to_string())
            .await
            .unwrap();
        assert_refused(&r, "sessions:manage", method);
    }
    // The read scope reads the resource (the refusals above were about the scope, not the
    // resource).
    let r = reader
        .post_raw(request(50, "resources/read", uri).to_string())
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("SECRET42"), "{}", r.body);
    assert_eq!(session_names(&mut admin).await, vec!["s".to_owned()]);
}
