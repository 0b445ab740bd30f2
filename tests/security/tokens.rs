//! Token substitution: tokens that are not exactly what this gateway issued for its own /mcp.
//! Most are signed with the gateway's own key (read from its database), so that the refusal
//! can only come from the claim under test; a correctly forged token is accepted first, to
//! prove the forgery itself is sound.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use sessiongate_tests::authdb;
use sessiongate_tests::gateway::TestGateway;
use sessiongate_tests::mcp::RawResponse;

use crate::common::{self, assert_invalid_token, call_body, post_mcp, tmux_sessions};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims(gw: &TestGateway) -> Value {
    let now = now();
    json!({
        "iss": gw.base_url, "aud": gw.mcp_url(), "sub": "owner", "client_id": "forged",
        "scope": "sessions:read sessions:write sessions:manage",
        "exp": now + 600, "iat": now, "nbf": now, "jti": format!("j{now}"),
    })
}

fn with(mut v: Value, changes: Value) -> Value {
    for (k, val) in changes.as_object().unwrap() {
        if val.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = val.clone();
        }
    }
    v
}

/// Sends a session-creating tool call with `authorization`.
async fn attempt(gw: &TestGateway, authorization: &str, uri_suffix: &str) -> RawResponse {
    let c = sessiongate_tests::mcp::McpClient::new(&format!("{}{uri_suffix}", gw.mcp_url()));
    c.post_with(
        call_body(
            1,
            "create_session",
            json!({"name": "forged", "profile": "bash"}),
        ),
        &[("authorization", authorization)],
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn substituted_tokens_are_refused() {
    let gw = common::gateway("tokens");
    let dir = gw.data_dir.clone();
    let eddsa = json!({"alg": "EdDSA", "typ": "at+jwt"});
    let sign = |c: &Value| authdb::sign_with_gateway_key(&dir, &eddsa, c);
    let kid = authdb::active_kid(&dir);
    // The forgery is sound: exactly the right claims, the right key, accepted.
    let good = sign(&claims(&gw));
    let r = post_mcp(
        &gw,
        common::initialize_body(),
        &[("authorization", &format!("Bearer {good}"))],
    )
    .await;
    assert_eq!(r.status, 200, "a correct token must pass: {}", r.body);

    let now = now();
    let mut cases: Vec<(&str, String, &str)> = vec![
        (
            "another audience",
            sign(&with(claims(&gw), json!({"aud": "http://127.0.0.1:1/mcp"}))),
            "InvalidAudience",
        ),
        (
            "the issuer as audience",
            sign(&with(claims(&gw), json!({"aud": gw.base_url}))),
            "InvalidAudience",
        ),
        (
            "another issuer",
            sign(&with(claims(&gw), json!({"iss": "https://evil.example"}))),
            "InvalidIssuer",
        ),
        (
            "expired",
            sign(&with(
                claims(&gw),
                json!({"exp": now - 60, "iat": now - 120, "nbf": now - 120}),
            )),
            "ExpiredSignature",
        ),
        (
            "not yet valid",
            sign(&with(claims(&gw), json!({"nbf": now + 600}))),
            "ImmatureSignature",
        ),
        (
            "issued in the future",
            sign(&with(claims(&gw), json!({"iat": now + 600}))),
            "issued in the future",
        ),
        (
            "no expiry",
            sign(&with(claims(&gw), json!({"exp": null}))),
            "missing field `exp`",
        ),
        (
            "no audience",
            sign(&with(claims(&gw), json!({"aud": null}))),
            "missing field `aud`",
        ),
        (
            "no nbf",
            sign(&with(claims(&gw), json!({"nbf": null}))),
            "missing field `nbf`",
        ),
        (
            "an unknown scope",
            sign(&with(claims(&gw), json!({"scope": "sessions:read admin"}))),
            "unknown scope \"admin\"",
        ),
        (
            "alg none",
            authdb::unsigned(
                &json!({"alg": "none", "typ": "JWT", "kid": kid}),
                &claims(&gw),
            ),
            "malformed token",
        ),
        (
            "HS256 keyed with the public key",
            authdb::sign_hs256(
                &json!({"alg": "HS256", "typ": "JWT", "kid": kid}),
                &claims(&gw),
                &authdb::public_key(&dir),
            ),
            "algorithm HS256 is not accepted",
        ),
        (
            "an unknown key id",
            authdb::sign_with_gateway_key(
                &dir,
                &json!({"alg": "EdDSA", "kid": "attacker"}),
                &claims(&gw),
            ),
            "the token was signed by an unknown key",
        ),
        (
            "no key id",
            authdb::sign_with_gateway_key(
                &dir,
                &json!({"alg": "EdDSA", "kid": null}),
                &claims(&gw),
            ),
            "the token names no key",
        ),
        (
            "embedded attacker key (jwk header)",
            attacker_signed(&gw, &kid, true),
            "InvalidSignature",
        ),
        (
            "another gateway's key under our key id",
            attacker_signed(&gw, &kid, false),
            "InvalidSignature",
        ),
        ("tampered payload", tampered(&good, &gw), "InvalidSignature"),
        (
            "signature stripped",
            good.rsplit_once('.').unwrap().0.to_owned() + ".",
            "InvalidSignature",
        ),
        ("not a JWT", "x.y.z".into(), "malformed token"),
    ];
    // A token minted by `sessiongate token` for another gateway (same key, other URLs).
    let out = std::process::Command::new(sessiongate_tests::gateway::binary())
        .arg("token")
        .arg("--data-dir")
        .arg(&gw.data_dir)
        .args(["--public-url", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    cases.push((
        "minted for another gateway",
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        "InvalidIssuer",
    ));
    for (what, token, reason) in &cases {
        let r = attempt(&gw, &format!("Bearer {token}"), "").await;
        assert_invalid_token(&r, reason, what);
    }
    // Transport-level substitutions.
    let huge = format!("Bearer {}", "A".repeat(5000));
    let r = attempt(&gw, &huge, "").await;
    assert_invalid_token(&r, "the Authorization header is too long", "huge token");
    let r = attempt(&gw, &format!("Basic {good}"), "").await;
    assert_invalid_token(&r, "expected the Bearer scheme", "Basic scheme");
    let r = attempt(
        &gw,
        &format!("Bearer {good}"),
        &format!("?access_token={good}"),
    )
    .await;
    assert_invalid_token(
        &r,
        "tokens in the query string are refused",
        "token in the query string",
    );
    let r = common::post_mcp(&gw, call_body(1, "list_sessions", json!({})), &[]).await;
    assert_eq!(r.status, 401);
    assert!(
        tmux_sessions(&gw).is_empty(),
        "a refused token created a session"
    );
}

/// A token signed by an attacker's own Ed25519 key, naming our key id; with `embed`, the
/// header also carries the attacker's public key as a `jwk` (CVE-2018-0114 style).
fn attacker_signed(gw: &TestGateway, kid: &str, embed: bool) -> String {
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
    let mut header = json!({"alg": "EdDSA", "kid": kid});
    if embed {
        header["jwk"] = json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())});
    }
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims(gw).to_string())
    );
    let sig = pair.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

/// A good token whose payload was swapped for another (a different subject and client).
fn tampered(good: &str, gw: &TestGateway) -> String {
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD
        .encode(with(claims(gw), json!({"sub": "admin", "client_id": "other"})).to_string());
    parts.join(".")
}
