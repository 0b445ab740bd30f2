//! Unit tests of the authorization server through its router (no gateway): client ID
//! metadata documents (served by a local server through the test-only address override),
//! forged and foreign tokens, revocation, key rotation, persistence.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, Uri, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{AuthConfig, AuthServer, BearerError, Scope};

fn server(dir: &std::path::Path, allow_private: bool) -> Arc<AuthServer> {
    let mut cfg = AuthConfig::new(dir.to_path_buf(), "http://127.0.0.1:8000");
    cfg.allow_private_cimd_hosts = allow_private;
    AuthServer::open(cfg).unwrap()
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    h
}

fn mcp_uri() -> Uri {
    "/mcp".parse().unwrap()
}

/// Serves `body` at `/client.json` on a loopback port; returns the document's URL.
async fn serve_document(body: impl Fn(&str) -> (u16, String) + Send + Sync + 'static) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/client.json", listener.local_addr().unwrap());
    let u = url.clone();
    let body = Arc::new(body);
    let app = axum::Router::new().route(
        "/client.json",
        axum::routing::get(move || {
            let (status, text) = body(&u);
            async move {
                let mut r = axum::response::Response::new(Body::from(text));
                *r.status_mut() = StatusCode::from_u16(status).unwrap();
                if status == 302 {
                    r.headers_mut().insert(
                        header::LOCATION,
                        HeaderValue::from_static("http://127.0.0.1:1/x"),
                    );
                }
                r
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn authorize_status(
    s: &Arc<AuthServer>,
    client_id: &str,
    redirect: &str,
) -> (StatusCode, String) {
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let resp = s
        .router()
        .oneshot(
            Request::get(format!("/authorize?{q}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn client_metadata_documents_are_fetched_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), true);
    let good = serve_document(|url| {
        (200, json!({"client_id": url, "client_name": "Doc Client", "redirect_uris": ["http://127.0.0.1:7000/cb"]}).to_string())
    })
    .await;
    let (status, body) = authorize_status(&s, &good, "http://127.0.0.1:7000/cb").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Doc Client"), "{body}");
    let (status, _) = authorize_status(&s, &good, "http://127.0.0.1:7000/other").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    for (what, doc) in [
        ("mismatched id", serve_document(|_| (200, json!({"client_id": "https://x.example/c", "redirect_uris": ["http://127.0.0.1:7000/cb"]}).to_string())).await),
        ("oversized", serve_document(|url| (200, json!({"client_id": url, "redirect_uris": ["http://127.0.0.1:7000/cb"], "pad": "x".repeat(6000)}).to_string())).await),
        ("redirect", serve_document(|_| (302, String::new())).await),
        ("secret auth", serve_document(|url| (200, json!({"client_id": url, "redirect_uris": ["http://127.0.0.1:7000/cb"], "token_endpoint_auth_method": "client_secret_basic"}).to_string())).await),
        ("foreign redirect", serve_document(|url| (200, json!({"client_id": url, "redirect_uris": ["https://evil.example/cb"]}).to_string())).await),
        ("not json", serve_document(|_| (200, "<html>".into())).await),
        ("control character in a redirect URI", serve_document(|url| (200, json!({"client_id": url, "redirect_uris": ["http://127.0.0.1:7000/c\tb"]}).to_string())).await),
        ("loopback written as a number", serve_document(|url| (200, json!({"client_id": url, "redirect_uris": ["http://2130706433:7000/cb"]}).to_string())).await),
    ] {
        let (status, body) = authorize_status(&s, &doc, "http://127.0.0.1:7000/cb").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert!(body.contains("client metadata could not be used"), "{what}: {body}");
    }

    // An id with a line break names the same document once parsed (URL parsers drop it), so a
    // document could claim it; such an id is refused as written, before any fetch.
    let broken = serve_document(|url| {
        (200, json!({"client_id": url.replace("client.json", "client\n.json"), "client_name": "Doc Client", "redirect_uris": ["http://127.0.0.1:7000/cb"]}).to_string())
    })
    .await;
    let id = broken.replace("client.json", "client\n.json");
    let (status, body) = authorize_status(&s, &id, "http://127.0.0.1:7000/cb").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("only the characters a URI can hold"),
        "{body}"
    );

    // A name that reorders or hides its text is shown without the invisible characters.
    let spoof = serve_document(|url| {
        (200, json!({"client_id": url, "client_name": "Doc\u{202e}tneilC\u{200b} \n\t Two", "redirect_uris": ["http://127.0.0.1:7000/cb"]}).to_string())
    })
    .await;
    let (status, body) = authorize_status(&s, &spoof, "http://127.0.0.1:7000/cb").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("<strong>DoctneilC Two</strong>"), "{body}");

    // Without the test-only override, loopback and private hosts are never fetched.
    let strict = server(tempfile::tempdir().unwrap().path(), false);
    for id in [
        good.clone(),
        good.replace("http://", "https://"),
        "https://10.0.0.1/c.json".into(),
        "https://169.254.169.254/latest".into(),
        "https://[::1]/c.json".into(),
        "https://[::ffff:127.0.0.1]/c.json".into(),
        "https://[fd00::1]/c.json".into(),
    ] {
        let (status, body) = authorize_status(&strict, &id, "http://127.0.0.1:7000/cb").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{id}");
        assert!(!body.contains("Doc Client"));
        // Refused for what the address is, not because it could not be resolved (a plain
        // http id is no metadata document at all without the override).
        assert!(
            id.starts_with("http://") || body.contains("internal address"),
            "{id}: {body}"
        );
    }
}

fn forge(header: Value, claims: Value, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(sig)
    )
}

fn claims(s: &AuthServer) -> Value {
    let now = crate::util::now();
    json!({"iss": s.issuer(), "aud": s.resource(), "sub": "owner", "client_id": "c", "scope": "sessions:read sessions:write sessions:manage", "exp": now + 600, "iat": now, "nbf": now, "jti": "j"})
}

#[tokio::test]
async fn forged_and_foreign_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), false);
    let good = s
        .mint_token("owner", &[Scope::SessionsRead], Duration::from_secs(60))
        .unwrap();
    assert!(s.verify_bearer(&bearer(&good), &mcp_uri()).is_ok());
    // A second Authorization header, bogus or good, makes the request ambiguous.
    for second in ["Bearer bogus".to_owned(), format!("Bearer {good}")] {
        let mut h = bearer(&good);
        h.append(
            header::AUTHORIZATION,
            HeaderValue::from_str(&second).unwrap(),
        );
        match s.verify_bearer(&h, &mcp_uri()) {
            Err(BearerError::Invalid { reason, .. }) => {
                assert_eq!(reason, "more than one Authorization header");
            }
            other => panic!("{second}: {other:?}"),
        }
    }
    let kid = jsonwebtoken::decode_header(&good).unwrap().kid.unwrap();

    // alg: none.
    let none = forge(
        json!({"alg": "none", "typ": "JWT", "kid": kid}),
        claims(&s),
        b"",
    );
    // HS256 signed with the public key as the secret.
    let jwks = serde_json::to_value(s.keys.read().unwrap().jwks()).unwrap();
    let public = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some(kid.clone()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &claims(&s),
        &jsonwebtoken::EncodingKey::from_secret(&public),
    )
    .unwrap();
    // Signed by another server's key (same kid).
    let other = server(tempfile::tempdir().unwrap().path(), false);
    let other_token = other
        .mint_token("owner", &[Scope::SessionsRead], Duration::from_secs(60))
        .unwrap();
    let mut parts: Vec<&str> = other_token.split('.').collect();
    let mut h: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    h["kid"] = json!(kid);
    let h = URL_SAFE_NO_PAD.encode(h.to_string());
    parts[0] = &h;
    let wrong_key = parts.join(".");
    // A tampered payload (scope widened) on a good signature.
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(claims(&s).to_string());
    let tampered = parts.join(".");
    for (what, t) in [
        ("none", none),
        ("hs256", hs),
        ("wrong key", wrong_key),
        ("tampered", tampered),
        ("garbage", "x.y.z".into()),
    ] {
        match s.verify_bearer(&bearer(&t), &mcp_uri()) {
            Err(BearerError::Invalid { .. }) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn revocation_and_key_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), false);
    let t = s
        .mint_token("owner", &[Scope::SessionsRead], Duration::from_secs(600))
        .unwrap();
    assert!(s.verify_bearer(&bearer(&t), &mcp_uri()).is_ok());
    // Rotation: the old token still verifies, the JWKS lists both keys, new tokens use the new key.
    s.rotate_keys().unwrap();
    assert!(s.verify_bearer(&bearer(&t), &mcp_uri()).is_ok());
    assert_eq!(s.keys.read().unwrap().jwks().keys.len(), 2);
    let t2 = s
        .mint_token("owner", &[Scope::SessionsRead], Duration::from_secs(600))
        .unwrap();
    assert_ne!(
        jsonwebtoken::decode_header(&t).unwrap().kid,
        jsonwebtoken::decode_header(&t2).unwrap().kid
    );
    // Register a client, then revoke its access token through /revoke (RFC 7009).
    let reg = s
        .router()
        .oneshot(
            Request::post("/register")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json!({"redirect_uris": ["http://127.0.0.1:1/cb"], "token_endpoint_auth_method": "none"}).to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let reg: Value = serde_json::from_slice(
        &axum::body::to_bytes(reg.into_body(), 1 << 16)
            .await
            .unwrap(),
    )
    .unwrap();
    let client_id = reg["client_id"].as_str().unwrap();
    let token = s
        .issue_access_token(
            "owner",
            client_id,
            &[Scope::SessionsRead],
            &s.resource(),
            None,
            Duration::from_secs(600),
        )
        .unwrap();
    assert!(s.verify_bearer(&bearer(&token), &mcp_uri()).is_ok());
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("token", token.as_str()), ("client_id", client_id)])
        .finish();
    let resp = s
        .router()
        .oneshot(
            Request::post("/revoke")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(matches!(
        s.verify_bearer(&bearer(&token), &mcp_uri()),
        Err(BearerError::Invalid { .. })
    ));
    // Revocation and keys survive a restart; so does the client.
    drop(s);
    let s = server(dir.path(), false);
    assert!(matches!(
        s.verify_bearer(&bearer(&token), &mcp_uri()),
        Err(BearerError::Invalid { .. })
    ));
    assert!(s.verify_bearer(&bearer(&t2), &mcp_uri()).is_ok());
    assert!(s.store.client(client_id).unwrap().is_some());
}

#[tokio::test]
async fn passwords_are_hashed_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), false);
    let generated = s.ensure_password().unwrap().unwrap();
    assert!(generated.len() >= 20);
    assert!(
        s.ensure_password().unwrap().is_none(),
        "a set password is never replaced"
    );
    let stored = std::fs::read_to_string(dir.path().join("owner-password")).unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!stored.contains(&generated));
    assert_eq!(s.passwords.check(generated).await, Ok(true));
    assert_eq!(s.passwords.check("wrong".into()).await, Ok(false));
    assert!(s.set_password("short").is_err());
    s.set_password("a much longer password").unwrap();
    assert_eq!(
        s.passwords.check("a much longer password".into()).await,
        Ok(true)
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("owner-password"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let mode = std::fs::metadata(dir.path().join("auth.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
