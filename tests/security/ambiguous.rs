//! Ambiguous requests, written by hand over TCP: a header that may appear once sent twice
//! (two `Authorization`, two `Host`, ...: which copy would each layer read?), an absolute-form
//! target naming a foreign authority behind an allowed `Host`, and hosts that only look like
//! loopback (`[::1].evil.example`, `[::1]:x`). Each is refused before anything runs, and a
//! well-formed request of the same shape is served.

use serde_json::json;

use crate::common::{self, authority, call_body, raw_http, session_names};

/// A POST of `body` to `target`, with `headers` (each line without its CRLF) and a correct
/// `content-length` unless `headers` brings its own.
fn post(target: &str, headers: &[String], body: &str) -> String {
    let mut req = format!("POST {target} HTTP/1.1\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if !headers.iter().any(|h| h.starts_with("content-length:")) {
        req.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    req.push_str("connection: close\r\n\r\n");
    req.push_str(body);
    req
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

#[tokio::test]
async fn ambiguous_requests_are_refused_before_anything_runs() {
    let gw = common::gateway("ambiguous");
    let mut admin = common::admin(&gw).await;
    let sid = admin.session_id().unwrap().to_owned();
    let token = gw.token("sessions:read,sessions:write,sessions:manage", "1h");
    let host = authority(&gw);
    // The headers of a good tool call, one line each.
    let good = |skip: &str| -> Vec<String> {
        [
            format!("host: {host}"),
            format!("authorization: Bearer {token}"),
            "content-type: application/json".into(),
            "accept: application/json, text/event-stream".into(),
            format!("mcp-session-id: {sid}"),
            "mcp-protocol-version: 2025-06-18".into(),
        ]
        .into_iter()
        .filter(|h| skip.is_empty() || !h.starts_with(skip))
        .collect()
    };
    let evil = call_body(
        2,
        "create_session",
        json!({"name": "evil", "profile": "bash"}),
    );
    let with = |skip: &str, extra: &[String]| {
        let mut h = good(skip);
        h.extend_from_slice(extra);
        h
    };
    // What, the request, the refusal's status line and body.
    let cases: Vec<(&str, String, &str, String)> = vec![
        (
            "a second Authorization header (a bogus one after the good one)",
            post(
                "/mcp",
                &with("", &["authorization: Bearer bogus".into()]),
                &evil,
            ),
            "HTTP/1.1 400 Bad Request",
            "bad request: more than one authorization header".into(),
        ),
        (
            "a second Authorization header (the good one second)",
            post(
                "/mcp",
                &with(
                    "authorization",
                    &[
                        "authorization: Bearer bogus".into(),
                        format!("authorization: Bearer {token}"),
                    ],
                ),
                &evil,
            ),
            "HTTP/1.1 400 Bad Request",
            "bad request: more than one authorization header".into(),
        ),
        (
            "a second Host header, foreign",
            post("/mcp", &with("", &["host: evil.example".into()]), &evil),
            "HTTP/1.1 400 Bad Request",
            "bad request: more than one host header".into(),
        ),
        (
            "a second Host header, foreign first",
            post(
                "/mcp",
                &with(
                    "host",
                    &["host: evil.example".into(), format!("host: {host}")],
                ),
                &evil,
            ),
            "HTTP/1.1 400 Bad Request",
            "bad request: more than one host header".into(),
        ),
        (
            "an absolute-form target naming a foreign authority",
            post("http://evil.example/mcp", &good(""), &evil),
            "HTTP/1.1 403 Forbidden",
            "forbidden: this Host is not served here".into(),
        ),
        (
            "an absolute-form target with user info before a loopback host",
            post(&format!("http://evil.example@{host}/mcp"), &good(""), &evil),
            "HTTP/1.1 400 Bad Request",
            "bad request: the request target's authority is not a valid host".into(),
        ),
        (
            "a loopback literal followed by a foreign name",
            post(
                "/mcp",
                &with("host", &["host: [::1].evil.example".into()]),
                &evil,
            ),
            "HTTP/1.1 400 Bad Request",
            "bad request: the Host header is not a valid host".into(),
        ),
        (
            "a loopback literal with a port that is no number",
            post("/mcp", &with("host", &["host: [::1]:x".into()]), &evil),
            "HTTP/1.1 400 Bad Request",
            "bad request: the Host header is not a valid host".into(),
        ),
        (
            "a second Origin header, foreign",
            post(
                "/mcp",
                &with(
                    "",
                    &[
                        "origin: http://127.0.0.1".into(),
                        "origin: https://evil.example".into(),
                    ],
                ),
                &evil,
            ),
            "HTTP/1.1 400 Bad Request",
            "bad request: more than one origin header".into(),
        ),
        (
            "a second Content-Type header",
            post(
                "/mcp",
                &with("", &["content-type: text/plain".into()]),
                &evil,
            ),
            "HTTP/1.1 400 Bad Request",
            "bad request: more than one content-type header".into(),
        ),
        (
            "a second Mcp-Session-Id header",
            post(
                "/mcp",
                &with(
                    "",
                    &["mcp-session-id: 00000000-0000-0000-0000-000000000000".into()],
                ),
                &evil,
            ),
            "HTTP/1.1 400 Bad Request",
            "bad request: more than one mcp-session-id header".into(),
        ),
        (
            "a second Mcp-Protocol-Version header",
            post(
                "/mcp",
                &with("", &["mcp-protocol-version: 2025-03-26".into()]),
                &evil,
            ),
            "HTTP/1.1 400 Bad Request",
            "bad request: more than one mcp-protocol-version header".into(),
        ),
        (
            // hyper refuses differing lengths itself (and folds equal ones into one, which is
            // then no longer ambiguous).
            "two different Content-Length headers",
            post(
                "/mcp",
                &with(
                    "",
                    &[
                        format!("content-length: {}", evil.len()),
                        format!("content-length: {}", evil.len() + 1),
                    ],
                ),
                &evil,
            ),
            "HTTP/1.1 400 Bad Request",
            String::new(),
        ),
    ];
    for (what, request, status, body) in cases {
        let answer = raw_http(&gw, &request).await;
        assert_eq!(status_line(&answer), status, "{what}: {answer}");
        if !body.is_empty() {
            assert!(answer.ends_with(&format!("{body}\n")), "{what}: {answer}");
        }
    }
    // The same call, unambiguous, is served (the refusals above were about the ambiguity).
    let ok = call_body(
        3,
        "create_session",
        json!({"name": "ok", "profile": "bash"}),
    );
    let answer = raw_http(&gw, &post("/mcp", &good(""), &ok)).await;
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK", "{answer}");
    let answer = raw_http(
        &gw,
        &post(
            &format!("http://{host}/mcp"),
            &good(""),
            "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}",
        ),
    )
    .await;
    assert_eq!(
        status_line(&answer),
        "HTTP/1.1 200 OK",
        "absolute form, our own authority: {answer}"
    );
    assert_eq!(session_names(&mut admin).await, vec!["ok".to_owned()]);
}
