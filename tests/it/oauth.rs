//! The authorization server and the resource server, end to end against the real binary:
//! discovery, the whole code flow with PKCE, refresh rotation, and each refusal with its exact
//! error. The official Python SDK runs the flow too (`python_sdk_completes_the_flow`).

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use sessiongate_tests::gateway::{OWNER_PASSWORD, Options, TestGateway};
use sessiongate_tests::mcp::McpClient;
use sessiongate_tests::oauth::{Flow, http, param};

async fn init_status(gw: &TestGateway, auth: Option<&str>) -> (u16, reqwest::header::HeaderMap) {
    let mut c = McpClient::new(&gw.mcp_url());
    if let Some(a) = auth {
        c.headers.push(("authorization".into(), a.into()));
    }
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let r = c.post_raw(init.to_string()).await.unwrap();
    (r.status, r.headers)
}

async fn authed(gw: &TestGateway, token: &str) -> McpClient {
    McpClient::with_token(&gw.mcp_url(), token).await.unwrap()
}

#[tokio::test]
async fn requests_without_a_good_token_get_the_discovery_challenge() {
    let gw = TestGateway::start(Options::oauth("challenge", 3600));
    let (status, headers) = init_status(&gw, None).await;
    assert_eq!(status, 401);
    let challenge = headers["www-authenticate"].to_str().unwrap();
    let prm = format!("{}/.well-known/oauth-protected-resource/mcp", gw.base_url);
    assert!(
        challenge.contains(&format!("resource_metadata=\"{prm}\"")),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"sessions:read sessions:write sessions:manage\""));
    assert!(!challenge.contains("invalid_token"));
    // Every method, not only POST.
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let r = http().request(method, gw.mcp_url()).send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.headers().contains_key("www-authenticate"));
    }
    // A bad token says so.
    for bad in [
        "Bearer nope",
        "Bearer a.b.c",
        "Basic Zm9vOmJhcg==",
        &format!("Bearer {}", "x".repeat(5000)),
    ] {
        let (status, headers) = init_status(&gw, Some(bad)).await;
        assert_eq!(status, 401, "{bad}");
        if bad.starts_with("Bearer") {
            assert!(
                headers["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .contains("error=\"invalid_token\"")
            );
        }
    }
    // Tokens in the query string are refused even when valid.
    let token = gw.token("sessions:read", "1h");
    let r = http()
        .post(format!("{}?access_token={token}", gw.mcp_url()))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The metadata documents.
    let prm_doc: Value = http().get(&prm).send().await.unwrap().json().await.unwrap();
    assert_eq!(prm_doc["resource"], gw.mcp_url());
    assert_eq!(prm_doc["authorization_servers"][0], gw.base_url);
    let root_prm: Value = http()
        .get(format!(
            "{}/.well-known/oauth-protected-resource",
            gw.base_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(root_prm, prm_doc);
    for path in ["oauth-authorization-server", "openid-configuration"] {
        let asm: Value = http()
            .get(format!("{}/.well-known/{path}", gw.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(asm["issuer"], gw.base_url);
        assert_eq!(asm["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(asm["client_id_metadata_document_supported"], true);
        assert_eq!(asm["authorization_response_iss_parameter_supported"], true);
        assert_eq!(asm["token_endpoint"], format!("{}/token", gw.base_url));
    }
    let jwks: Value = http()
        .get(format!("{}/jwks.json", gw.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
}

#[tokio::test]
async fn scopes_are_enforced_per_tool_with_a_step_up_challenge() {
    let gw = TestGateway::start(Options::oauth("scopes", 3600));
    let mut reader = authed(&gw, &gw.token("sessions:read", "1h")).await;
    reader.call_ok("list_sessions", json!({})).await.unwrap();
    let body = json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"create_session","arguments":{"name":"x","profile":"bash"}}});
    let r = reader.post_raw(body.to_string()).await.unwrap();
    assert_eq!(r.status, 403);
    let ch = r.headers["www-authenticate"].to_str().unwrap();
    assert!(
        ch.contains("error=\"insufficient_scope\"") && ch.contains("scope=\"sessions:manage\""),
        "{ch}"
    );
    let body = json!({"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"send_message","arguments":{"session":"x","message":"hi"}}});
    let r = reader.post_raw(body.to_string()).await.unwrap();
    assert_eq!(r.status, 403);
    assert!(
        r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("scope=\"sessions:write\"")
    );
    // Nothing was created.
    let mut admin = authed(&gw, &gw.token("sessions:read,sessions:manage", "1h")).await;
    let list = admin.call("list_sessions", json!({})).await.unwrap();
    assert_eq!(list["structuredContent"]["sessions"], json!([]));
    admin
        .call_ok("create_session", json!({"name": "x", "profile": "bash"}))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_whole_code_flow_then_refresh_rotation() {
    let gw = TestGateway::start(Options::oauth("flow", 3600));
    let flow = Flow::register(&gw.base_url).await;
    let params = flow.approve(OWNER_PASSWORD, &[]).await;
    assert_eq!(param(&params, "state"), Some("st4te"));
    assert_eq!(param(&params, "iss"), Some(gw.base_url.as_str()));
    let code = param(&params, "code").unwrap().to_owned();
    let (status, body, headers) = flow
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &flow.redirect_uri),
            ("client_id", &flow.client_id),
            ("code_verifier", &flow.verifier),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["token_type"], "Bearer");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh1 = body["refresh_token"].as_str().unwrap().to_owned();
    let mut c = authed(&gw, &access).await;
    c.call_ok("list_sessions", json!({})).await.unwrap();

    // The code is single use; its replay revokes what it issued.
    let (status, body) = flow.exchange(&code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, _) = init_status(&gw, Some(&format!("Bearer {access}"))).await;
    assert_eq!(
        status, 401,
        "the access token of a replayed code must stop working"
    );
    let (status, body) = flow.refresh(&refresh1).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // A fresh grant: refresh rotates, and reusing an old refresh token revokes the family.
    let code = param(&flow.approve(OWNER_PASSWORD, &[]).await, "code")
        .unwrap()
        .to_owned();
    let (_, body) = flow.exchange(&code).await;
    let r1 = body["refresh_token"].as_str().unwrap().to_owned();
    let (status, body) = flow.refresh(&r1).await;
    assert_eq!(status, 200, "{body}");
    let a2 = body["access_token"].as_str().unwrap().to_owned();
    let r2 = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    authed(&gw, &a2)
        .await
        .call_ok("list_sessions", json!({}))
        .await
        .unwrap();
    // Narrowing on refresh is fine; widening is not.
    let (status, body, _) = flow
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r2),
            ("client_id", &flow.client_id),
            ("scope", "sessions:read admin"),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, body) = flow.refresh(&r1).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, _) = init_status(&gw, Some(&format!("Bearer {a2}"))).await;
    assert_eq!(
        status, 401,
        "reuse of a rotated refresh token revokes the family"
    );
    let (status, _) = flow.refresh(&r2).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn every_wrong_step_gets_its_exact_error() {
    let gw = TestGateway::start(Options::oauth("wrong", 3600));
    let flow = Flow::register(&gw.base_url).await;
    let c = http();
    let error_of = |location: &str| -> String {
        let q = location.split_once('?').map(|(_, q)| q).unwrap_or("");
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "error")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    // Redirected errors (client and redirect URI are good).
    for (extra, expected) in [
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge", "")], "invalid_request"),
        (vec![("scope", "sessions:read root")], "invalid_scope"),
        (
            vec![("resource", "https://other.example/mcp")],
            "invalid_target",
        ),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
    ] {
        let r = c.get(flow.authorize_url(&extra)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{extra:?}");
        let loc = r.headers()["location"].to_str().unwrap();
        assert!(loc.starts_with(&flow.redirect_uri), "{loc}");
        assert_eq!(error_of(loc), expected, "{extra:?}");
        assert!(loc.contains("state=st4te") && loc.contains("iss="), "{loc}");
    }
    // An unknown client or a foreign redirect URI: an error page, never a redirect.
    for extra in [
        vec![("client_id", "no-such-client")],
        vec![("redirect_uri", "https://evil.example/cb")],
        vec![("redirect_uri", "http://127.0.0.1:45678/other")],
    ] {
        let r = c.get(flow.authorize_url(&extra)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{extra:?}");
        assert!(r.headers().get("location").is_none());
        assert!(
            r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
    }
    // Loopback redirect URIs match on any port.
    let r = c
        .get(flow.authorize_url(&[("redirect_uri", "http://127.0.0.1:9/callback")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Wrong verifier, missing verifier, mismatched redirect URI, unknown client.
    let code = param(&flow.approve(OWNER_PASSWORD, &[]).await, "code")
        .unwrap()
        .to_owned();
    let base = |extra: &[(&'static str, String)]| {
        let mut p: Vec<(&'static str, String)> = vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.clone()),
            ("redirect_uri", flow.redirect_uri.clone()),
            ("client_id", flow.client_id.clone()),
            ("code_verifier", flow.verifier.clone()),
        ];
        for (k, v) in extra {
            p.retain(|(pk, _)| pk != k);
            if !v.is_empty() {
                p.push((k, v.clone()));
            }
        }
        p
    };
    for (extra, status, err) in [
        (
            vec![("code_verifier", format!("w{}", "y".repeat(60)))],
            400,
            "invalid_grant",
        ),
        (
            vec![("code_verifier", String::new())],
            400,
            "invalid_request",
        ),
        (
            vec![(
                "redirect_uri",
                "http://127.0.0.1:45678/elsewhere".to_owned(),
            )],
            400,
            "invalid_grant",
        ),
        (
            vec![("client_id", "ghost".to_owned())],
            401,
            "invalid_client",
        ),
        (
            vec![("grant_type", "password".to_owned())],
            400,
            "unsupported_grant_type",
        ),
    ] {
        let p = base(&extra);
        let pairs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (s, body, _) = flow.token(&pairs).await;
        assert_eq!(
            (s, body["error"].as_str().unwrap_or("")),
            (status, err),
            "{extra:?}: {body}"
        );
    }
    // The right verifier still works: failed attempts did not burn the code.
    let (s, body) = flow.exchange(&code).await;
    assert_eq!(s, 200, "{body}");

    // A consent POST without the CSRF token is refused.
    let page = c
        .get(flow.authorize_url(&[]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fields = sessiongate_tests::oauth::hidden_fields(&page);
    let req = fields.iter().find(|(k, _)| k == "req").unwrap().1.clone();
    let r = c
        .post(format!("{}/authorize/login", gw.base_url))
        .form(&[("req", req.as_str()), ("password", OWNER_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .post(format!("{}/authorize/consent", gw.base_url))
        .form(&[("req", req.as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("location").is_none());

    // Registration refuses bad redirect URIs with the RFC 7591 error.
    for uris in [
        json!(["https://evil.example/cb"]),
        json!(["http://127.0.0.1/cb#frag"]),
        json!([]),
    ] {
        let r = c
            .post(format!("{}/register", gw.base_url))
            .json(&json!({"redirect_uris": uris}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_redirect_uri", "{body}");
    }
}

#[tokio::test]
async fn expired_and_foreign_tokens_are_refused() {
    let gw = TestGateway::start(Options::oauth("expiry", 3600));
    let short = gw.token("sessions:read", "1s");
    let (status, _) = init_status(&gw, Some(&format!("Bearer {short}"))).await;
    assert_eq!(status, 200);
    // Past the expiry and the 5 s clock-skew leeway.
    tokio::time::sleep(std::time::Duration::from_millis(7_500)).await;
    let (status, headers) = init_status(&gw, Some(&format!("Bearer {short}"))).await;
    assert_eq!(status, 401);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    // A token minted for another gateway (another audience and issuer) is refused.
    let other = gw_token_for(&gw, "http://127.0.0.1:1");
    let (status, _) = init_status(&gw, Some(&format!("Bearer {other}"))).await;
    assert_eq!(status, 401);
}

fn gw_token_for(gw: &TestGateway, public_url: &str) -> String {
    let out = Command::new(sessiongate_tests::gateway::binary())
        .arg("token")
        .arg("--data-dir")
        .arg(&gw.data_dir)
        .args(["--public-url", public_url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_throttled() {
    let gw = TestGateway::start(Options::oauth("login", 3600));
    let flow = Flow::register(&gw.base_url).await;
    let c = http();
    let page = c.get(flow.authorize_url(&[])).send().await.unwrap();
    // The browser cookie: the form is accepted only from the browser that opened it.
    let mut cookies = sessiongate_tests::oauth::Cookies::default();
    cookies.keep(page.headers());
    let page = page.text().await.unwrap();
    let mut form = sessiongate_tests::oauth::hidden_fields(&page);
    form.push(("password".into(), "wrong password!".into()));
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = c
            .post(format!("{}/authorize/login", gw.base_url))
            .header("cookie", cookies.header())
            .form(&form)
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 401, 401, 401, 429]);
    // Even the right password waits out the window from this address.
    let mut good = sessiongate_tests::oauth::hidden_fields(&page);
    good.push(("password".into(), OWNER_PASSWORD.into()));
    let r = c
        .post(format!("{}/authorize/login", gw.base_url))
        .header("cookie", cookies.header())
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
}

use sessiongate_tests::clients::{dir as clients_dir, node};

#[tokio::test]
async fn python_sdk_completes_the_flow() {
    let gw = TestGateway::start(Options::oauth("python", 3));
    let url = gw.mcp_url();
    let root = gw.root.clone();
    let (report, stderr) = sessiongate_tests::clients::run_python_report(
        "python_oauth_flow.py",
        &[
            url.as_ref(),
            OWNER_PASSWORD.as_ref(),
            root.as_os_str(),
            "3".as_ref(),
        ],
    )
    .await;
    assert_eq!(report["ok"], true);
    assert!(report["tokens_issued"].as_u64().unwrap() >= 2, "{report}");
    // The SDK ends its session with DELETE and warns unless the answer is 200 or 204.
    assert!(
        !stderr.contains("Session termination failed"),
        "the SDK's DELETE was not accepted:\n{stderr}"
    );
}

#[tokio::test]
async fn typescript_sdk_completes_the_flow() {
    let gw = TestGateway::start(Options::oauth("ts", 2));
    let out = tokio::process::Command::new(node())
        .arg(clients_dir().join("ts_sdk_oauth_flow.mjs"))
        .arg(gw.mcp_url())
        .arg(OWNER_PASSWORD)
        .arg(&gw.root)
        .arg("2")
        .current_dir(clients_dir())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "TypeScript SDK flow failed:\n{stdout}\n{stderr}"
    );
    let report: Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or("")).unwrap();
    assert_eq!(report["ok"], true);
    assert!(report["tokens_issued"].as_u64().unwrap() >= 2, "{report}");
}

#[tokio::test]
async fn inspector_cli_calls_tools_with_a_bearer_token() {
    let gw = TestGateway::start(Options::oauth("inspector", 3600));
    let token = gw.token("sessions:read sessions:manage", "10m");
    let inspector = clients_dir()
        .join("node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js");
    let run = |args: Vec<String>| {
        let mut cmd = std::process::Command::new(node());
        cmd.arg(&inspector)
            .arg("--cli")
            .arg(gw.mcp_url())
            .args(["--transport", "http"])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(args)
            .current_dir(clients_dir())
            .env(
                "MCP_CATALOG_PATH",
                gw.data_dir.join("inspector-catalog.json"),
            );
        cmd.output().unwrap()
    };
    let out = run(vec!["--method".into(), "tools/list".into()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for tool in [
        "list_sessions",
        "create_session",
        "respond_to_prompt",
        "search",
        "fetch",
    ] {
        assert!(stdout.contains(tool), "{tool} missing from:\n{stdout}");
    }
    let out = run(vec![
        "--method".into(),
        "tools/call".into(),
        "--tool-name".into(),
        "create_session".into(),
        "--tool-arg".into(),
        "name=insp".into(),
        "profile=bash".into(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Created session insp"), "{stdout}");
    // Without the token the Inspector is refused.
    let out = std::process::Command::new(node())
        .arg(&inspector)
        .args([
            "--cli",
            &gw.mcp_url(),
            "--transport",
            "http",
            "--method",
            "tools/list",
        ])
        .current_dir(clients_dir())
        .env(
            "MCP_CATALOG_PATH",
            gw.data_dir.join("inspector-catalog.json"),
        )
        .output()
        .unwrap();
    assert!(
        !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains("list_sessions")
    );
}

#[tokio::test]
async fn a_person_in_chromium_logs_in_and_approves() {
    let gw = TestGateway::start(Options::oauth("chromium", 3600));
    let flow = Flow::register(&gw.base_url).await;
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts/chromium");
    std::fs::create_dir_all(&shots).unwrap();
    let out = tokio::process::Command::new(node())
        .arg(clients_dir().join("browser_login.mjs"))
        .arg(flow.authorize_url(&[]))
        .arg(OWNER_PASSWORD)
        .arg(&flow.redirect_uri)
        .arg(&shots)
        .current_dir(clients_dir())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chromium run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or("")).unwrap();
    let code = report["code"].as_str().unwrap();
    let (status, body) = flow.exchange(code).await;
    assert_eq!(status, 200, "{body}");
    for shot in ["login.png", "consent.png"] {
        assert!(
            std::fs::metadata(shots.join(shot)).unwrap().len() > 1000,
            "{shot}"
        );
    }
}
