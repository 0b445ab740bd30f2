//! Helpers shared by the attack modules.

use serde_json::{Value, json};

use sessiongate_tests::authdb::{self, Counts};
use sessiongate_tests::gateway::{Options, TestGateway};
use sessiongate_tests::mcp::{McpClient, PROTOCOL_VERSION, RawResponse};

/// Rate limits off: each case here meets the defence it attacks, not a 429 (the rate limits
/// are attacked in tests/it/hardening.rs).
const NO_RATE_LIMITS: &str = "[rate_limits]\n\
    register = { per_minute = 0, burst = 0 }\n\
    authorize = { per_minute = 0, burst = 0 }\n\
    token = { per_minute = 0, burst = 0 }\n\
    oauth_per_client = { per_minute = 0, burst = 0 }\n\
    tool_calls_per_client = { per_minute = 0, burst = 0 }\n\
    mcp_per_address = { per_minute = 0, burst = 0 }\n";

/// A gateway with OAuth on loopback (tmux backend, private socket).
pub(crate) fn gateway(tag: &str) -> TestGateway {
    gateway_with(tag, "")
}

/// A gateway with OAuth and extra configuration lines (top-level keys).
pub(crate) fn gateway_with(tag: &str, extra_config: &str) -> TestGateway {
    let mut opts = Options::oauth(tag, 3600);
    opts.extra_config.push_str(extra_config);
    opts.extra_config.push_str(NO_RATE_LIMITS);
    TestGateway::start(opts)
}

/// The authorization database's row counts.
pub(crate) fn counts(gw: &TestGateway) -> Counts {
    authdb::counts(&gw.data_dir)
}

/// An MCP client that carries `token` and has initialized a session.
pub(crate) async fn client(gw: &TestGateway, token: &str) -> McpClient {
    let mut c = McpClient::new(&gw.mcp_url());
    c.headers
        .push(("authorization".into(), format!("Bearer {token}")));
    c.initialize().await.unwrap();
    c
}

/// A client with every scope, from `sessiongate token`.
pub(crate) async fn admin(gw: &TestGateway) -> McpClient {
    client(
        gw,
        &gw.token("sessions:read,sessions:write,sessions:manage", "1h"),
    )
    .await
}

/// The `initialize` request body.
pub(crate) fn initialize_body() -> String {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": { "protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": { "name": "attacker", "version": "0" } }
    })
    .to_string()
}

/// A `tools/call` body.
pub(crate) fn call_body(id: u64, tool: &str, args: Value) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": { "name": tool, "arguments": args } }).to_string()
}

/// POSTs `body` to /mcp with `headers` (no session), returning the raw answer.
pub(crate) async fn post_mcp(
    gw: &TestGateway,
    body: String,
    headers: &[(&str, &str)],
) -> RawResponse {
    McpClient::new(&gw.mcp_url())
        .post_with(body, headers)
        .await
        .unwrap()
}

/// The names of the sessions the gateway lists.
pub(crate) async fn session_names(c: &mut McpClient) -> Vec<String> {
    let list = c.call("list_sessions", json!({})).await.unwrap();
    list["structuredContent"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Every session on the gateway's private tmux server, by its tmux name.
pub(crate) fn tmux_sessions(gw: &TestGateway) -> Vec<String> {
    let out = std::process::Command::new("tmux")
        .args(["-L", &gw.socket, "list-sessions", "-F", "#{session_name}"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Asserts a 401 `invalid_token` refusal whose description contains `reason`, with the
/// discovery challenge and no MCP session.
pub(crate) fn assert_invalid_token(r: &RawResponse, reason: &str, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.body);
    let challenge = r.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer resource_metadata=")
            && challenge.contains("error=\"invalid_token\""),
        "{what}: {challenge}"
    );
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["error"], "invalid_token", "{what}");
    let desc = body["error_description"].as_str().unwrap();
    assert!(desc.contains(reason), "{what}: {desc:?} lacks {reason:?}");
    assert!(r.headers.get("mcp-session-id").is_none(), "{what}");
}

/// The query parameters of a redirect's `Location`.
pub(crate) fn location_params(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    let loc = headers["location"].to_str().unwrap();
    let q = loc.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Asserts an HTML error page: `status`, the message, no redirect, no cookie.
pub(crate) async fn assert_error_page(
    r: reqwest::Response,
    status: u16,
    message: &str,
    what: &str,
) {
    assert_eq!(r.status(), status, "{what}");
    assert!(r.headers().get("location").is_none(), "{what}: redirected");
    assert!(
        r.headers().get("set-cookie").is_none(),
        "{what}: cookie set"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains(message), "{what}: {message:?} not in {html}");
}

/// The JSON-RPC error of an answer: (code, message).
pub(crate) fn rpc_error(r: &RawResponse) -> (i64, String) {
    let msg = r
        .messages()
        .into_iter()
        .find(|m| m.get("error").is_some())
        .unwrap_or_else(|| panic!("no JSON-RPC error in {} {}", r.status, r.body));
    (
        msg["error"]["code"].as_i64().unwrap(),
        msg["error"]["message"].as_str().unwrap().to_owned(),
    )
}

/// The gateway's `host:port`.
pub(crate) fn authority(gw: &TestGateway) -> String {
    gw.base_url.trim_start_matches("http://").to_owned()
}

/// Sends `request` exactly as written (request line, headers, blank line, body) on a
/// connection of its own and returns the whole answer as text. The request should say
/// `connection: close`; the read stops at the server's close (60 s guard against a hang).
pub(crate) async fn raw_http(gw: &TestGateway, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(authority(gw)).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(60), s.read_to_end(&mut buf))
        .await
        .expect("the server neither answered nor closed")
        .unwrap();
    String::from_utf8_lossy(&buf).into_owned()
}
