//! Hostile JSON-RPC on /mcp, with a valid token: bodies too large or too deep to parse,
//! batches that are empty, malformed or smuggle a call above the token's scope, duplicate
//! keys (a parser differential between the scope check and the MCP server), unknown methods
//! and tools. Each gets its exact JSON-RPC error; nothing runs; the gateway keeps serving.

use serde_json::json;

use crate::common::{self, call_body, rpc_error, session_names, tmux_sessions};

#[tokio::test]
async fn unparseable_bodies_get_a_json_rpc_error() {
    let gw = common::gateway("rpc-parse");
    let mut c = common::admin(&gw).await;
    let deep_arrays = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_objects = format!("{}1{}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
    let deep_params = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{{\"name\":\"list_sessions\",\"arguments\":{}0{}}}}}",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    let cases: Vec<(&str, Vec<u8>, u16, i64, &str)> = vec![
        (
            "3 MiB body",
            json!({"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"x".repeat(3 << 20)}})
                .to_string()
                .into_bytes(),
            413,
            -32600,
            "request body is larger than 2097152 bytes",
        ),
        (
            "100k nested arrays",
            deep_arrays.into_bytes(),
            400,
            -32700,
            "recursion limit exceeded",
        ),
        (
            "50k nested objects",
            deep_objects.into_bytes(),
            400,
            -32700,
            "recursion limit exceeded",
        ),
        (
            "deeply nested tool arguments",
            deep_params.into_bytes(),
            400,
            -32700,
            "recursion limit exceeded",
        ),
        (
            "invalid UTF-8",
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\xfe\"}".to_vec(),
            400,
            -32700,
            "Parse error",
        ),
        (
            "not JSON",
            b"<xml/>".to_vec(),
            400,
            -32700,
            "Parse error: the body is not valid JSON",
        ),
        (
            "empty batch",
            b"[]".to_vec(),
            400,
            -32600,
            "Invalid Request",
        ),
        (
            "batch of non-messages",
            b"[1, \"two\", null]".to_vec(),
            400,
            -32600,
            "Invalid Request",
        ),
        (
            "method is not a string",
            br#"{"jsonrpc":"2.0","id":1,"method":42}"#.to_vec(),
            400,
            -32600,
            "Invalid Request",
        ),
        (
            "JSON-RPC 1.0",
            br#"{"jsonrpc":"1.0","id":1,"method":"tools/list"}"#.to_vec(),
            400,
            -32600,
            "Invalid Request",
        ),
        (
            "no jsonrpc member",
            br#"{"id":1,"method":"tools/list"}"#.to_vec(),
            400,
            -32600,
            "Invalid Request",
        ),
    ];
    for (what, body, status, code, message) in cases {
        let r = c.post_raw_isolated(body).await.unwrap();
        assert_eq!(r.status, status, "{what}: {}", r.body);
        let (got_code, got_message) = rpc_error(&r);
        assert_eq!(got_code, code, "{what}: {got_message}");
        assert!(got_message.contains(message), "{what}: {got_message}");
        assert!(
            r.body.len() < 1000,
            "{what}: the error echoes the input ({} bytes)",
            r.body.len()
        );
    }
    // The session and the gateway are fine, and nothing was created.
    assert!(session_names(&mut c).await.is_empty());
    assert!(tmux_sessions(&gw).is_empty());
}

#[tokio::test]
async fn batches_and_duplicate_keys_cannot_smuggle_a_call_past_the_scope_check() {
    let gw = common::gateway("rpc-smuggle");
    let reader = common::client(&gw, &gw.token("sessions:read", "1h")).await;
    let create = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_session","arguments":{"name":"smuggled","profile":"bash"}}});
    let list = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_sessions","arguments":{}}});
    let cases: Vec<(&str, String)> = vec![
        ("a batch hiding a manage call behind a read call", json!([list, create]).to_string()),
        ("a batch of many calls with one manage call last", json!((0..200).map(|_| list.clone()).chain([create.clone()]).collect::<Vec<_>>()).to_string()),
        (
            "a duplicate method key (last one wins in both parsers)",
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"name":"create_session","arguments":{"name":"smuggled","profile":"bash"}},"method":"tools/call"}"#.into(),
        ),
        (
            "a duplicate params key",
            r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"list_sessions","arguments":{}},"params":{"name":"create_session","arguments":{"name":"smuggled","profile":"bash"}}}"#.into(),
        ),
        (
            "an escaped key name",
            r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"na\u006de":"create_session","arguments":{"name":"smuggled","profile":"bash"}}}"#.into(),
        ),
        ("an unknown tool (treated as needing manage)", call_body(6, "Create_Session", json!({"name": "smuggled"}))),
    ];
    for (what, body) in cases {
        let r = reader.post_raw(body).await.unwrap();
        assert_eq!(r.status, 403, "{what}: {}", r.body);
        let challenge = r.headers["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.contains("error=\"insufficient_scope\"")
                && challenge.contains("scope=\"sessions:manage\""),
            "{what}: {challenge}"
        );
    }
    assert!(
        tmux_sessions(&gw).is_empty(),
        "a smuggled call created a session"
    );
}

#[tokio::test]
async fn unknown_methods_and_tools_are_json_rpc_errors() {
    let gw = common::gateway("rpc-unknown");
    let mut c = common::admin(&gw).await;
    for method in [
        "no/such/method",
        "tools/call/../list",
        "rpc.discover",
        "$/cancelRequest",
        "",
    ] {
        let err = c.request(method, json!({})).await.unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "{{\"code\":-32601,\"message\":{}}}",
                json!(method)
            )),
            "{method:?}: {err}"
        );
    }
    // An unknown tool, a call without a name, arguments of the wrong shape.
    let err = c
        .request("tools/call", json!({"name": "rm_rf", "arguments": {}}))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(r#"{"code":-32602,"message":"tool not found"}"#),
        "{err}"
    );
    let err = c
        .request("tools/call", json!({"arguments": {}}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("-32601"), "{err}");
    // rmcp cannot decode such a request as tools/call, and calls the method unknown.
    let err = c
        .call("create_session", json!(["not", "an", "object"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("-32601"), "{err}");
    assert!(session_names(&mut c).await.is_empty());
    assert!(tmux_sessions(&gw).is_empty());
}
