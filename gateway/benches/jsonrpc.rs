//! What JSON-RPC costs per tool call: decoding a `tools/call` request as rmcp does
//! (`ClientJsonRpcMessage`) and encoding a `get_logs` reply with 40 lines of text and its
//! structured content (`ServerJsonRpcMessage`).
//!
//! Run with `cargo bench -p sessiongate --bench jsonrpc`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_main};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use serde_json::json;

fn request() -> String {
    json!({
        "jsonrpc": "2.0",
        "id": 42,
        "method": "tools/call",
        "params": {
            "name": "get_logs",
            "arguments": { "session": "build-1", "lines": 40 },
            "_meta": { "progressToken": "p-42" }
        }
    })
    .to_string()
}

fn reply() -> String {
    let text: String = (0..40)
        .map(|i| format!("{i:>4} INFO compiling crate number {i} of the workspace, all good\n"))
        .collect();
    json!({
        "jsonrpc": "2.0",
        "id": 42,
        "result": {
            "content": [{ "type": "text", "text": text }],
            "structuredContent": {
                "session": "build-1",
                "text": text,
                "total_lines": 1234,
                "first_line": 1194,
                "returned_lines": 40,
                "more_above": true,
                "cursor": [0, 39]
            },
            "isError": false
        }
    })
    .to_string()
}

fn codec(c: &mut Criterion) {
    let req = request();
    let rep = reply();
    let decoded: ServerJsonRpcMessage = serde_json::from_str(&rep).expect("reply decodes");
    assert!(serde_json::from_str::<ClientJsonRpcMessage>(&req).is_ok());

    let mut g = c.benchmark_group("jsonrpc");
    g.throughput(Throughput::Bytes(req.len() as u64));
    g.bench_function("decode_tools_call_request", |b| {
        b.iter(|| serde_json::from_str::<ClientJsonRpcMessage>(black_box(&req)).is_ok())
    });
    g.throughput(Throughput::Bytes(rep.len() as u64));
    g.bench_function("encode_get_logs_reply", |b| {
        b.iter(|| serde_json::to_vec(black_box(&decoded)).map(|v| v.len()))
    });
    g.bench_function("decode_get_logs_reply", |b| {
        b.iter(|| serde_json::from_str::<ServerJsonRpcMessage>(black_box(&rep)).is_ok())
    });
    g.finish();
}

/// The benchmark group.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    codec(&mut c);
}
criterion_main!(benches);
