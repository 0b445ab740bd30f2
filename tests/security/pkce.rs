//! PKCE downgrade and replay: a code intercepted on its way back to the client must be
//! useless without the verifier, and the server must not fall back to `plain` or to no PKCE.

use sessiongate_tests::oauth::{Flow, http, s256};

use crate::common::{self, counts, location_params};

#[tokio::test]
async fn downgrades_are_refused_at_the_authorization_endpoint() {
    let gw = common::gateway("pkce-down");
    let flow = Flow::register(&gw.base_url).await;
    let c = http();
    let before = counts(&gw);
    for (what, extra, description) in [
        (
            "plain method",
            vec![("code_challenge_method", "plain")],
            "code_challenge_method must be S256",
        ),
        (
            "no method",
            vec![("code_challenge_method", "")],
            "code_challenge_method must be S256",
        ),
        (
            "lower-case method",
            vec![("code_challenge_method", "s256")],
            "code_challenge_method must be S256",
        ),
        (
            "no challenge",
            vec![("code_challenge", "")],
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        ),
        (
            "a plain verifier as the challenge",
            vec![(
                "code_challenge",
                "plain-verifier-plain-verifier-plain-verifier-plain",
            )],
            "code_challenge must be the base64url SHA-256 of the verifier",
        ),
        (
            "a challenge with padding",
            vec![(
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c=",
            )],
            "code_challenge must be the base64url SHA-256 of the verifier",
        ),
    ] {
        let r = c.get(flow.authorize_url(&extra)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{what}");
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with(&flow.redirect_uri)
        );
        let p = location_params(r.headers());
        let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("error"), Some("invalid_request"), "{what}");
        assert_eq!(get("error_description"), Some(description), "{what}");
        assert_eq!(get("code"), None, "{what}");
        assert_eq!(get("state"), Some("st4te"));
    }
    assert_eq!(counts(&gw), before);
}

#[tokio::test]
async fn an_intercepted_code_is_useless_without_the_verifier() {
    let gw = common::gateway("pkce-token");
    let flow = Flow::register(&gw.base_url).await;
    let code = flow.code().await;
    // A flow of the attacker's own, whose verifier they know.
    let other = Flow::register_with(&gw.base_url, &["http://127.0.0.1:45678/callback"]).await;
    let short = "a".repeat(42);
    for (what, verifier, status, error, description) in [
        (
            "no verifier",
            None,
            400,
            "invalid_request",
            "code_verifier is missing (PKCE is required)",
        ),
        (
            "the challenge as verifier (plain)",
            Some(flow.challenge.as_str()),
            400,
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        ),
        (
            "another flow's verifier",
            Some(other.verifier.as_str()),
            400,
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        ),
        (
            "a too-short verifier",
            Some(short.as_str()),
            400,
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        ),
        (
            "an empty verifier",
            Some(""),
            400,
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        ),
    ] {
        let mut p = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", flow.redirect_uri.as_str()),
            ("client_id", flow.client_id.as_str()),
        ];
        if let Some(v) = verifier {
            p.push(("code_verifier", v));
        }
        let (s, body, _) = flow.token(&p).await;
        assert_eq!(
            (
                s,
                body["error"].as_str(),
                body["error_description"].as_str()
            ),
            (status, Some(error), Some(description)),
            "{what}: {body}"
        );
        assert!(body.get("access_token").is_none());
    }
    // Sanity: the other flow's challenge really differs.
    assert_ne!(s256(&other.verifier), flow.challenge);
    let c = counts(&gw);
    assert_eq!((c.families, c.refresh_tokens), (0, 0), "a token was issued");
    // The failed attempts did not burn the code: the owner's client still gets its tokens.
    let (s, body) = flow.exchange(&code).await;
    assert_eq!(s, 200, "{body}");
}

#[tokio::test]
async fn replaying_a_redeemed_code_with_its_verifier_revokes_the_grant() {
    let gw = common::gateway("pkce-replay");
    let flow = Flow::register(&gw.base_url).await;
    let code = flow.code().await;
    let (s, body) = flow.exchange(&code).await;
    assert_eq!(s, 200);
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    // Someone who saw the code and the verifier replays both.
    let (s, body) = flow.exchange(&code).await;
    assert_eq!(
        (
            s,
            body["error"].as_str(),
            body["error_description"].as_str()
        ),
        (
            400,
            Some("invalid_grant"),
            Some("the authorization code was already used")
        )
    );
    let c = counts(&gw);
    assert_eq!((c.families, c.revoked_families), (1, 1));
    // What the first redemption issued no longer works.
    let r = common::post_mcp(
        &gw,
        common::initialize_body(),
        &[("authorization", &format!("Bearer {access}"))],
    )
    .await;
    common::assert_invalid_token(
        &r,
        "the grant was revoked",
        "access token of a replayed code",
    );
    let (s, body) = flow.refresh(&refresh).await;
    assert_eq!(
        (
            s,
            body["error"].as_str(),
            body["error_description"].as_str()
        ),
        (
            400,
            Some("invalid_grant"),
            Some("the grant was revoked; sign in again")
        )
    );
    assert_eq!(
        counts(&gw).refresh_tokens,
        1,
        "the refused refresh issued a token"
    );
}
