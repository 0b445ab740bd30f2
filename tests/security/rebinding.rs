//! DNS rebinding against /mcp: a page on a hostile site whose name was rebound to the
//! gateway's address sends the victim's requests with a foreign `Origin` and `Host`. Even with
//! a valid token (one a local tool might attach), they are refused with 403 and nothing runs.

use serde_json::json;

use crate::common::{self, call_body, initialize_body, post_mcp, session_names, tmux_sessions};

#[tokio::test]
async fn foreign_origins_and_hosts_are_refused_with_a_valid_token() {
    let gw = common::gateway("rebind");
    let token = gw.token("sessions:read,sessions:write,sessions:manage", "1h");
    let auth = format!("Bearer {token}");
    const ORIGIN: &str = "forbidden: requests from this Origin are not allowed\n";
    const HOST: &str = "forbidden: this Host is not served here\n";
    // What, the hostile headers, the refusal.
    type Case = (
        &'static str,
        Vec<(&'static str, &'static str)>,
        &'static str,
    );
    let cases: [Case; 7] = [
        (
            "foreign origin",
            vec![("origin", "https://evil.example")],
            ORIGIN,
        ),
        ("foreign host", vec![("host", "evil.example")], HOST),
        (
            "foreign host and origin",
            vec![("host", "evil.example"), ("origin", "http://evil.example")],
            HOST,
        ),
        ("null origin", vec![("origin", "null")], ORIGIN),
        (
            "loopback name as a subdomain",
            vec![("origin", "http://localhost.evil.example")],
            ORIGIN,
        ),
        (
            "loopback address as a subdomain",
            vec![("host", "127.0.0.1.evil.example")],
            HOST,
        ),
        (
            "https origin on loopback (not the public URL)",
            vec![("origin", "https://evil.example:443")],
            ORIGIN,
        ),
    ];
    for (what, extra, refusal) in cases {
        let mut headers = extra.clone();
        headers.push(("authorization", &auth));
        // The handshake is refused: no MCP session comes into being.
        let r = post_mcp(&gw, initialize_body(), &headers).await;
        assert_eq!(r.status, 403, "{what}: {}", r.body);
        assert!(r.headers.get("mcp-session-id").is_none(), "{what}");
        assert_eq!(r.body, refusal, "{what}");
        // A tool call in the same shape is refused before it runs.
        let r = post_mcp(
            &gw,
            call_body(
                2,
                "create_session",
                json!({"name": "rebound", "profile": "bash"}),
            ),
            &headers,
        )
        .await;
        assert_eq!((r.status, r.body.as_str()), (403, refusal), "{what}");
    }
    // Nothing was created, and the gateway still serves a well-behaved client.
    assert!(tmux_sessions(&gw).is_empty());
    let mut c = common::admin(&gw).await;
    assert!(session_names(&mut c).await.is_empty());
}

#[tokio::test]
async fn a_foreign_origin_cannot_use_or_end_an_existing_session() {
    let gw = common::gateway("rebind-sess");
    let mut c = common::admin(&gw).await;
    let sid = c.session_id().unwrap().to_owned();
    let mut evil = c.headers.clone();
    evil.push(("mcp-session-id".into(), sid.clone()));
    evil.push(("origin".into(), "https://evil.example".into()));
    let evil: Vec<(&str, &str)> = evil.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // A tool call riding the victim's session id.
    let r = post_mcp(
        &gw,
        call_body(
            9,
            "create_session",
            json!({"name": "ride", "profile": "bash"}),
        ),
        &evil,
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            403,
            "forbidden: requests from this Origin are not allowed\n"
        )
    );
    // Closing the victim's session.
    let r = reqwest::Client::new()
        .delete(gw.mcp_url())
        .headers(
            evil.iter()
                .map(|(k, v)| {
                    (
                        reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                        reqwest::header::HeaderValue::from_str(v).unwrap(),
                    )
                })
                .collect(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The session survives and nothing was created.
    assert!(session_names(&mut c).await.is_empty());
    assert!(tmux_sessions(&gw).is_empty());
    assert_eq!(c.session_id(), Some(sid.as_str()));
}
