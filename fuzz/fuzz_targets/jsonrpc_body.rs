//! The JSON-RPC guard in front of /mcp and the scope check that reads its result: any body
//! gets a decision without a panic; an accepted body is a message or a non-empty batch; every
//! tool call that names a tool needs a scope, and so does every other method but the
//! protocol's plumbing (an independent list here, so that the table cannot drift unseen).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Methods a valid token may call without any scope.
const PLUMBING: [&str; 8] = [
    "initialize",
    "server/discover",
    "ping",
    "tools/list",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
];

/// Whether a message needs a scope: every request or notification but the plumbing (a
/// method that is no string counts as unknown); the client's answers need none.
fn needs_a_scope(m: &Value) -> bool {
    match m.get("method") {
        None => false,
        Some(Value::String(method)) => !PLUMBING.contains(&method.as_str()),
        Some(_) => true,
    }
}

fn names_a_tool(m: &Value) -> bool {
    m.get("method").and_then(Value::as_str) == Some("tools/call")
        && m.get("params").and_then(|p| p.get("name")).is_some()
}

fuzz_target!(|data: &[u8]| {
    let d = sessiongate::fuzzing::decode_body(data);
    match &d.message {
        Ok(v) => {
            let items: Vec<&Value> = match v {
                Value::Array(items) => items.iter().collect(),
                one => vec![one],
            };
            assert!(!items.is_empty());
            assert!(items.iter().all(|m| m.is_object()));
            let calls = items.iter().filter(|m| names_a_tool(m)).count();
            assert!(d.scopes.len() >= calls, "a tool call escaped the scope check");
            let scoped = items.iter().filter(|m| needs_a_scope(m)).count();
            assert_eq!(d.scopes.len(), scoped, "a method escaped the scope check");
        }
        Err((code, message)) => {
            assert!(*code == -32700 || *code == -32600);
            assert!(!message.is_empty());
        }
    }
});
