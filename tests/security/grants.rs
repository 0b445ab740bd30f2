//! Codes and refresh tokens used twice, by the wrong client, for the wrong resource, or to
//! widen the grant. Each is refused with its exact error; reuse revokes the grant; the other
//! refusals leave the grant as it was (still usable by its client).

use serde_json::Value;

use sessiongate_tests::oauth::Flow;

use crate::common::{self, assert_invalid_token, counts, initialize_body, post_mcp};

/// Parameters replaced in a token request (an empty value removes the parameter).
type Overrides = Vec<(&'static str, String)>;
/// Status, error code and description.
type Expected = (u16, &'static str, &'static str);

fn err(s: u16, body: &Value) -> (u16, &str, &str) {
    (
        s,
        body["error"].as_str().unwrap_or(""),
        body["error_description"].as_str().unwrap_or(""),
    )
}

async fn mcp_status_with(
    gw: &sessiongate_tests::gateway::TestGateway,
    bearer: &str,
) -> sessiongate_tests::mcp::RawResponse {
    post_mcp(
        gw,
        initialize_body(),
        &[("authorization", &format!("Bearer {bearer}"))],
    )
    .await
}

#[tokio::test]
async fn codes_stay_with_their_client_and_request() {
    let gw = common::gateway("grant-code");
    let victim = Flow::register(&gw.base_url).await;
    let thief = Flow::register(&gw.base_url).await;
    let code = victim.code().await;
    let attempts: Vec<(&str, Overrides, Expected)> = vec![
        (
            "another client redeems the code",
            vec![("client_id", thief.client_id.clone())],
            (
                400,
                "invalid_grant",
                "the authorization code was issued to another client",
            ),
        ),
        (
            "another resource",
            vec![("resource", "http://127.0.0.1:1/mcp".into())],
            (
                400,
                "invalid_target",
                "resource differs from the authorization request",
            ),
        ),
        (
            "no redirect_uri",
            vec![("redirect_uri", String::new())],
            (400, "invalid_request", "redirect_uri is missing"),
        ),
        (
            "a forged code",
            vec![("code", "A".repeat(43))],
            (400, "invalid_grant", "the authorization code is unknown"),
        ),
        (
            "no client at all",
            vec![("client_id", String::new())],
            (401, "invalid_client", "the request names no client"),
        ),
    ];
    for (what, overrides, expected) in attempts {
        let mut p: Vec<(&str, String)> = vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.clone()),
            ("redirect_uri", victim.redirect_uri.clone()),
            ("client_id", victim.client_id.clone()),
            ("code_verifier", victim.verifier.clone()),
        ];
        for (k, v) in overrides {
            p.retain(|(pk, _)| *pk != k);
            if !v.is_empty() {
                p.push((k, v));
            }
        }
        let pairs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (s, body, _) = victim.token(&pairs).await;
        assert_eq!(err(s, &body), expected, "{what}: {body}");
    }
    assert_eq!(counts(&gw).families, 0);
    let (s, body) = victim.exchange(&code).await;
    assert_eq!(s, 200, "the refusals burned the code: {body}");
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_the_whole_grant() {
    let gw = common::gateway("grant-refresh");
    let flow = Flow::register(&gw.base_url).await;
    let (_, r1) = flow.tokens().await;
    let (s, body) = flow.refresh(&r1).await;
    assert_eq!(s, 200);
    let a2 = body["access_token"].as_str().unwrap().to_owned();
    let r2 = body["refresh_token"].as_str().unwrap().to_owned();
    // The stolen, already rotated r1 comes back.
    let (s, body) = flow.refresh(&r1).await;
    assert_eq!(
        err(s, &body),
        (
            400,
            "invalid_grant",
            "the refresh token was already used; the grant is revoked, sign in again"
        )
    );
    assert_eq!(counts(&gw).revoked_families, 1);
    // The legitimate holder's newest tokens die with it, and stay dead.
    assert_invalid_token(
        &mcp_status_with(&gw, &a2).await,
        "the grant was revoked",
        "a2",
    );
    let (s, body) = flow.refresh(&r2).await;
    assert_eq!(
        err(s, &body),
        (400, "invalid_grant", "the grant was revoked; sign in again")
    );
    let c = counts(&gw);
    assert_eq!(
        (c.families, c.revoked_families, c.refresh_tokens),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn refresh_tokens_cannot_be_stolen_widened_or_retargeted() {
    let gw = common::gateway("grant-escalate");
    let flow = Flow::register(&gw.base_url).await;
    let thief = Flow::register(&gw.base_url).await;
    // A grant of sessions:read only.
    let params = flow
        .approve(
            sessiongate_tests::gateway::OWNER_PASSWORD,
            &[("scope", "sessions:read")],
        )
        .await;
    let code = sessiongate_tests::oauth::param(&params, "code")
        .unwrap()
        .to_owned();
    let (s, body) = flow.exchange(&code).await;
    assert_eq!((s, body["scope"].as_str()), (200, Some("sessions:read")));
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let access = body["access_token"].as_str().unwrap().to_owned();
    let before = counts(&gw);
    for (what, client, extra, expected) in [
        (
            "widen to manage",
            &flow,
            vec![("scope", "sessions:read sessions:manage")],
            (
                400,
                "invalid_scope",
                "a refresh cannot add scopes the owner did not grant",
            ),
        ),
        (
            "widen to write only",
            &flow,
            vec![("scope", "sessions:write")],
            (
                400,
                "invalid_scope",
                "a refresh cannot add scopes the owner did not grant",
            ),
        ),
        (
            "an unknown scope",
            &flow,
            vec![("scope", "sessions:read admin")],
            (
                400,
                "invalid_scope",
                "unknown scope \"admin\"; known scopes: sessions:read sessions:write sessions:manage",
            ),
        ),
        (
            "another resource",
            &flow,
            vec![("resource", "https://evil.example/mcp")],
            (400, "invalid_target", "resource differs from the grant"),
        ),
        (
            "another client",
            &thief,
            vec![],
            (
                400,
                "invalid_grant",
                "the refresh token was issued to another client",
            ),
        ),
    ] {
        let mut p = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", client.client_id.as_str()),
        ];
        p.extend(extra);
        let (s, body, _) = flow.token(&p).await;
        assert_eq!(err(s, &body), expected, "{what}: {body}");
    }
    // Tokens of the wrong kind in the wrong place.
    let (s, body) = flow.refresh(&access).await;
    assert_eq!(
        err(s, &body),
        (400, "invalid_grant", "the refresh token is unknown"),
        "access token as refresh token"
    );
    assert_invalid_token(
        &mcp_status_with(&gw, &refresh).await,
        "malformed token",
        "refresh token as bearer",
    );
    assert_invalid_token(
        &mcp_status_with(&gw, &code).await,
        "malformed token",
        "code as bearer",
    );
    // Nothing was issued or revoked: the grant still refreshes, with its original scope.
    assert_eq!(counts(&gw), before);
    let (s, body) = flow.refresh(&refresh).await;
    assert_eq!(
        (s, body["scope"].as_str()),
        (200, Some("sessions:read")),
        "{body}"
    );
    // And the read-only token cannot manage sessions.
    let token = body["access_token"].as_str().unwrap();
    let r = post_mcp(
        &gw,
        common::call_body(
            3,
            "create_session",
            serde_json::json!({"name": "x", "profile": "bash"}),
        ),
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(common::tmux_sessions(&gw).is_empty());
}
