//! The JSON-RPC guard in front of /mcp and the scope check that reads its result: any body
//! gets a decision without a panic; an accepted body is a message or a non-empty batch; every
//! tool call that names a tool needs a scope.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

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
            assert_eq!(d.scopes.len(), calls, "a tool call escaped the scope check");
        }
        Err((code, message)) => {
            assert!(*code == -32700 || *code == -32600);
            assert!(!message.is_empty());
        }
    }
});
