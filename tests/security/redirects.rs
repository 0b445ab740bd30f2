//! Open redirects and redirect-URI tricks. The authorization endpoint must never send the
//! browser (with a code or an error) anywhere but a URI the client registered: a look-alike
//! URI gets an error page, not a redirect. Registration refuses URIs that are not loopback or
//! allowlisted. Nothing is stored for a refused request.

use serde_json::{Value, json};

use sessiongate_tests::oauth::{Flow, http};

use crate::common::{self, assert_error_page, counts};

const NO_MATCH: &str = "the redirect URI does not match any URI this app registered";

#[tokio::test]
async fn unchecked_requests_never_redirect() {
    let gw = common::gateway("open-redirect");
    let flow = Flow::register(&gw.base_url).await;
    let before = counts(&gw);
    let c = http();
    // No client, an unknown client, a client id that is a URL of the attacker's: each with
    // the attacker's redirect URI and an error-provoking parameter.
    for (what, extra, message) in [
        (
            "no client_id",
            vec![
                ("client_id", ""),
                ("redirect_uri", "https://evil.example/cb"),
                ("response_type", "token"),
            ],
            "client_id is missing",
        ),
        (
            "unknown client",
            vec![
                ("client_id", "ghost"),
                ("redirect_uri", "https://evil.example/cb"),
            ],
            "unknown client_id",
        ),
        (
            "attacker's client id document on an internal name",
            vec![
                ("client_id", "https://localhost/client.json"),
                ("redirect_uri", "https://evil.example/cb"),
            ],
            "internal address",
        ),
        (
            "known client, foreign redirect, bad response_type",
            vec![
                ("redirect_uri", "https://evil.example/cb"),
                ("response_type", "token"),
            ],
            NO_MATCH,
        ),
    ] {
        let r = c.get(flow.authorize_url(&extra)).send().await.unwrap();
        assert_error_page(r, 400, message, what).await;
    }
    // The login form's next hop is ours, whatever the request id says.
    let r = c
        .post(format!("{}/authorize/login", gw.base_url))
        .form(&[("req", "//evil.example/"), ("csrf", "x"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_error_page(r, 400, "expired or is unknown", "login with a URL as req").await;
    assert_eq!(counts(&gw), before);
}

#[tokio::test]
async fn look_alike_redirect_uris_get_an_error_page() {
    let gw = common::gateway_with(
        "redirect-tricks",
        "redirect_uri_allowlist = [\"https://app.example/cb\"]\n",
    );
    let loopback = Flow::register(&gw.base_url).await; // http://127.0.0.1:45678/callback
    let hosted = Flow::register_with(&gw.base_url, &["https://app.example/cb"]).await;
    let before = counts(&gw);
    let c = http();
    for (what, flow, uri) in [
        (
            "prefix: longer path",
            &loopback,
            "http://127.0.0.1:45678/callbackevil",
        ),
        (
            "prefix: sub path",
            &loopback,
            "http://127.0.0.1:45678/callback/evil",
        ),
        (
            "case of the path",
            &loopback,
            "http://127.0.0.1:45678/CALLBACK",
        ),
        (
            "userinfo naming a foreign host",
            &loopback,
            "http://evil.example@127.0.0.1:45678/callback",
        ),
        (
            "host in userinfo position",
            &loopback,
            "http://127.0.0.1:45678@evil.example/callback",
        ),
        (
            "fragment",
            &loopback,
            "http://127.0.0.1:45678/callback#evil",
        ),
        (
            "localhost.evil.com",
            &loopback,
            "http://localhost.evil.com:45678/callback",
        ),
        (
            "127.0.0.1.nip.io",
            &loopback,
            "http://127.0.0.1.nip.io:45678/callback",
        ),
        (
            "path traversal",
            &loopback,
            "http://127.0.0.1:45678/callback/../evil",
        ),
        (
            "percent-encoded path",
            &loopback,
            "http://127.0.0.1:45678/%63allback",
        ),
        (
            "added query",
            &loopback,
            "http://127.0.0.1:45678/callback?next=https://evil.example",
        ),
        (
            "other loopback host",
            &loopback,
            "http://localhost:45678/callback",
        ),
        ("https to http downgrade", &hosted, "http://app.example/cb"),
        (
            "other port on a non-loopback URI",
            &hosted,
            "https://app.example:8443/cb",
        ),
        (
            "host case on a non-loopback URI",
            &hosted,
            "https://APP.example/cb",
        ),
        ("trailing slash", &hosted, "https://app.example/cb/"),
        (
            "traversal on a non-loopback URI",
            &hosted,
            "https://app.example/cb/../evil",
        ),
        (
            "subdomain of the registered host",
            &hosted,
            "https://app.example.evil.com/cb",
        ),
        // Loopback hosts written another way, and characters URL parsers drop: equal once
        // parsed, different as written.
        ("127.1", &loopback, "http://127.1:45678/callback"),
        (
            "loopback as one number",
            &loopback,
            "http://2130706433:45678/callback",
        ),
        ("loopback in hex", &loopback, "http://0x7f.1:45678/callback"),
        (
            "loopback with zeros",
            &loopback,
            "http://127.000.000.001:45678/callback",
        ),
        (
            "a tab in the path",
            &loopback,
            "http://127.0.0.1:45678/call\tback",
        ),
        (
            "a line break in the path",
            &loopback,
            "http://127.0.0.1:45678/callback\n",
        ),
        ("a tab in the host", &hosted, "https://app.exa\tmple/cb"),
    ] {
        let r = c
            .get(flow.authorize_url(&[("redirect_uri", uri)]))
            .send()
            .await
            .unwrap();
        assert_error_page(r, 400, NO_MATCH, what).await;
    }
    // The registered URIs themselves work (the refusals are about the tricks).
    for flow in [&loopback, &hosted] {
        let r = c.get(flow.authorize_url(&[])).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    // At the token endpoint, a code bound to one URI is not redeemed with a look-alike.
    let code = loopback.code().await;
    let (status, body, _) = loopback
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            (
                "redirect_uri",
                "http://evil.example@127.0.0.1:45678/callback",
            ),
            ("client_id", &loopback.client_id),
            ("code_verifier", &loopback.verifier),
        ])
        .await;
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["error_description"].as_str()
        ),
        (
            400,
            Some("invalid_grant"),
            Some("redirect_uri does not match the authorization request")
        ),
        "{body}"
    );
    let after = counts(&gw);
    assert_eq!((after.clients, after.families), (before.clients, 0));
}

#[tokio::test]
async fn registration_refuses_hostile_redirect_uris() {
    let gw = common::gateway("register-tricks");
    let before = counts(&gw);
    let c = http();
    for (uri, reason) in [
        ("https://evil.example/cb", "is not an allowed redirect URI"),
        (
            "http://localhost.evil.com/cb",
            "is not an allowed redirect URI",
        ),
        (
            "http://127.0.0.1.nip.io/cb",
            "is not an allowed redirect URI",
        ),
        (
            "https://chatgpt.com.evil.com/connector_platform_oauth_redirect",
            "is not an allowed redirect URI",
        ),
        (
            "https://chatgpt.com/connector/oauth/x/../../evil",
            "is not an allowed redirect URI",
        ),
        (
            "https://claude.ai/api/mcp/auth_callback/../../evil",
            "is not an allowed redirect URI",
        ),
        (
            "https://user@claude.ai/api/mcp/auth_callback",
            "carries user info",
        ),
        ("http://127.0.0.1/cb#frag", "has a fragment"),
        ("javascript:alert(1)", "is not an allowed redirect URI"),
        (
            "data:text/html,<script>alert(1)</script>",
            "a character a URI cannot hold",
        ),
        // Characters a URI cannot hold, which URL parsers drop or keep as they are.
        (
            "http://127.0.0.1:45678/c\tb",
            "a character a URI cannot hold",
        ),
        (
            "http://127.0.0.1:45678/cb\r\nLocation: https://evil.example",
            "a character a URI cannot hold",
        ),
        (
            "http://127.0.0.1:45678/c\0b",
            "a character a URI cannot hold",
        ),
        (
            "http://127.0.0.1:45678/c\x7fb",
            "a character a URI cannot hold",
        ),
        (
            "http://127.0.0.1:45678/c b",
            "a character a URI cannot hold",
        ),
        (
            "https://claude.ai/api/mcp/auth_\tcallback",
            "a character a URI cannot hold",
        ),
        // Loopback hosts written in ways that parse to 127.0.0.1.
        ("http://127.1:45678/cb", "writes its loopback host"),
        ("http://2130706433:45678/cb", "writes its loopback host"),
        ("http://0x7f.1:45678/cb", "writes its loopback host"),
        (
            "http://127.000.000.001:45678/cb",
            "writes its loopback host",
        ),
        ("file:///etc/passwd", "is not an allowed redirect URI"),
        ("com.evil.app:/cb", "is not an allowed redirect URI"),
        ("//evil.example/cb", "is not a URL"),
    ] {
        let r = c
            .post(format!("{}/register", gw.base_url))
            .json(&json!({"redirect_uris": [uri], "token_endpoint_auth_method": "none"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{uri}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_redirect_uri", "{uri}: {body}");
        let desc = body["error_description"].as_str().unwrap();
        assert!(desc.contains(reason), "{uri}: {desc}");
    }
    // One hostile URI among good ones spoils the whole registration; so do too many.
    let many: Vec<String> = (0..11)
        .map(|i| format!("http://127.0.0.1:{}/cb", 1000 + i))
        .collect();
    for (uris, reason) in [
        (
            json!(["http://127.0.0.1:1/cb", "https://evil.example/cb"]),
            "is not an allowed redirect URI",
        ),
        (json!(many), "redirect_uris must list 1 to 10 URIs"),
    ] {
        let r = c
            .post(format!("{}/register", gw.base_url))
            .json(&json!({"redirect_uris": uris}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let body: Value = r.json().await.unwrap();
        assert!(
            body["error_description"].as_str().unwrap().contains(reason),
            "{body}"
        );
    }
    assert_eq!(
        counts(&gw),
        before,
        "a refused registration stored a client"
    );
}

#[tokio::test]
async fn control_characters_in_state_and_scope_are_refused() {
    let gw = common::gateway("state-scope-chars");
    let flow = Flow::register(&gw.base_url).await;
    let before = counts(&gw);
    let c = http();
    // A state the client would get back with characters no state may hold (RFC 6749
    // Appendix A.5): an error page, nothing sent back.
    for state in [
        "a\r\nSet-Cookie: x=y",
        "a\tb",
        "a\0b",
        "a\u{7f}b",
        "caf\u{e9}",
    ] {
        let r = c
            .get(flow.authorize_url(&[("state", state)]))
            .send()
            .await
            .unwrap();
        assert_error_page(
            r,
            400,
            "state may only hold printable ASCII characters",
            &format!("{state:?}"),
        )
        .await;
    }
    // Scopes are separated by spaces only: a tab or a line break makes an unknown scope.
    for scope in [
        "sessions:read\tsessions:manage",
        "sessions:read\nsessions:manage",
        "sessions:read\u{3000}sessions:manage",
    ] {
        let r = c
            .get(flow.authorize_url(&[("scope", scope)]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{scope:?}");
        let params = common::location_params(r.headers());
        assert!(
            params.contains(&("error".into(), "invalid_scope".into())),
            "{scope:?}: {params:?}"
        );
    }
    // Printable states, spaces included, and space-separated scopes still work.
    let r = c
        .get(flow.authorize_url(&[
            ("state", "a b~!{}"),
            ("scope", "sessions:read  sessions:write"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(counts(&gw), before);
}
