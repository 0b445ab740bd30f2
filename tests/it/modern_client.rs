//! A client of the 2026-07-28 MCP revision, end to end: the official MCP Python SDK's `Client`
//! (tests/clients/python_modern_flow.py) authorizes through sessiongate's OAuth server,
//! negotiates the stateless revision with `server/discover` (no `initialize`, no
//! `Mcp-Session-Id`), lists and calls tools, and is told through `subscriptions/listen` that
//! the session it created exited. The old revisions' clients are in `oauth.rs`.

use serde_json::Value;

use sessiongate_tests::clients::{dir as clients_dir, python};
use sessiongate_tests::gateway::{OWNER_PASSWORD, Options, TestGateway};

#[tokio::test]
async fn python_sdk_speaks_2026_07_28_and_listens_for_state_changes() {
    let gw = TestGateway::start(Options::oauth("modern", 3600));
    let out = tokio::process::Command::new(python())
        .arg(clients_dir().join("python_modern_flow.py"))
        .arg(gw.mcp_url())
        .arg(OWNER_PASSWORD)
        .arg(&gw.root)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the 2026-07-28 client failed:\n{stdout}\n{stderr}"
    );
    let report: Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or("")).unwrap();
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
