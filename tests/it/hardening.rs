//! Deployment hardening, against the real binary: TLS with a reload that drops nothing,
//! Host/Origin checks and security headers on the OAuth routes, rate limits, body caps, the
//! client address behind trusted proxies, the audit log, metrics, the owner's commands, and
//! graceful shutdown.

use std::time::Duration;

use serde_json::{Value, json};

use sessiongate_tests::gateway::{Options, TestGateway, self_signed_cert};
use sessiongate_tests::mcp::{McpClient, text_of};
use sessiongate_tests::oauth::{Flow, http, param};

fn client_trusting(cert: &std::path::Path) -> reqwest::Client {
    let pem = std::fs::read(cert).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .tls_info(true)
        .build()
        .unwrap()
}

fn peer_cert(resp: &reqwest::Response) -> Vec<u8> {
    resp.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("TLS info")
        .to_vec()
}

fn der_of(pem_path: &std::path::Path) -> Vec<u8> {
    use base64::Engine;
    let pem = std::fs::read_to_string(pem_path).unwrap();
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

async fn authed(gw: &TestGateway, token: &str) -> McpClient {
    McpClient::with_token(&gw.mcp_url(), token).await.unwrap()
}

#[tokio::test]
async fn tls_serves_mcp_and_a_sighup_reload_changes_the_certificate_without_dropping_connections() {
    let certs = tempfile::tempdir().unwrap();
    let (cert_a, key_a) = self_signed_cert(certs.path(), "first");
    let (cert_b, key_b) = self_signed_cert(certs.path(), "second");
    // The files the gateway reads; replaced in place before the reload.
    let cert = certs.path().join("live.crt");
    let key = certs.path().join("live.key");
    std::fs::copy(&cert_a, &cert).unwrap();
    std::fs::copy(&key_a, &key).unwrap();
    let mut opts = Options::oauth("tls", 3600);
    opts.extra_args = vec![
        "--tls-cert".into(),
        cert.display().to_string(),
        "--tls-key".into(),
        key.display().to_string(),
    ];
    let gw = TestGateway::start(opts);
    assert!(
        gw.base_url.starts_with("https://127.0.0.1:"),
        "{}",
        gw.base_url
    );

    // A client that trusts both certificates, keeping its connection open.
    let pem_a = std::fs::read(&cert_a).unwrap();
    let pem_b = std::fs::read(&cert_b).unwrap();
    let keep = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem_a).unwrap())
        .add_root_certificate(reqwest::Certificate::from_pem(&pem_b).unwrap())
        .tls_info(true)
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let r = keep
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            gw.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(peer_cert(&r), der_of(&cert_a));
    assert_eq!(
        r.headers()["strict-transport-security"],
        "max-age=31536000",
        "HSTS on https"
    );
    let meta: Value = r.json().await.unwrap();
    assert_eq!(meta["issuer"], gw.base_url.as_str());

    // MCP over TLS with a bearer token.
    let token = gw.token("sessions:read", "1h");
    let mut mcp = McpClient::with_http(&gw.mcp_url(), client_trusting(&cert_a));
    mcp.headers
        .push(("authorization".into(), format!("Bearer {token}")));
    mcp.initialize().await.unwrap();
    let listed = mcp.call_ok("list_sessions", json!({})).await.unwrap();
    assert!(listed.contains("Profiles:"), "{listed}");

    // A broken pair first: the reload fails and the old certificate stays.
    std::fs::write(&cert, b"not a certificate").unwrap();
    gw.signal("HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fresh = client_trusting(&cert_a);
    let r = fresh
        .get(format!("{}/healthz", gw.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        peer_cert(&r),
        der_of(&cert_a),
        "a failed reload keeps the old pair"
    );

    // Now the new pair.
    std::fs::copy(&cert_b, &cert).unwrap();
    std::fs::copy(&key_b, &key).unwrap();
    gw.signal("HUP");
    let mut seen_new = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = client_trusting(&cert_b)
            .get(format!("{}/healthz", gw.base_url))
            .send()
            .await;
        if let Ok(r) = r
            && peer_cert(&r) == der_of(&cert_b)
        {
            seen_new = true;
            break;
        }
    }
    assert!(
        seen_new,
        "new connections never saw the reloaded certificate"
    );
    // The connection opened before the reload still works, on the old certificate.
    let r = keep
        .get(format!("{}/healthz", gw.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        peer_cert(&r),
        der_of(&cert_a),
        "the old connection was kept"
    );
}

#[tokio::test]
async fn a_key_that_does_not_fit_the_certificate_is_refused_at_startup() {
    let certs = tempfile::tempdir().unwrap();
    let (cert_a, _) = self_signed_cert(certs.path(), "a");
    let (_, key_b) = self_signed_cert(certs.path(), "b");
    let data = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(sessiongate_tests::gateway::binary())
        .args(["serve", "--auth", "none", "--bind", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data.path())
        .arg("--tls-cert")
        .arg(&cert_a)
        .arg("--tls-key")
        .arg(&key_b)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TLS") && err.contains("b.key"), "{err}");
}

#[tokio::test]
async fn foreign_hosts_and_origins_are_refused_on_every_route() {
    let gw = TestGateway::start(Options::oauth("origins", 3600));
    let c = http();
    let routes = [
        ("GET", "/.well-known/oauth-authorization-server"),
        ("GET", "/.well-known/oauth-protected-resource/mcp"),
        ("POST", "/register"),
        ("POST", "/token"),
        ("POST", "/revoke"),
        ("GET", "/authorize"),
        ("POST", "/authorize/login"),
        ("POST", "/authorize/consent"),
        ("POST", "/mcp"),
        ("GET", "/metrics"),
    ];
    for (method, path) in routes {
        let url = format!("{}{path}", gw.base_url);
        let req =
            |b: reqwest::RequestBuilder| b.body("{}").header("content-type", "application/json");
        let m: reqwest::Method = method.parse().unwrap();
        for origin in [
            "https://evil.example",
            "null",
            "http://localhost.evil.example",
        ] {
            let r = req(c.request(m.clone(), &url))
                .header("origin", origin)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{method} {path} with Origin {origin}");
            assert!(r.text().await.unwrap().contains("Origin"));
        }
        for host in ["evil.example", "127.0.0.1.nip.io", "localhost.evil.example"] {
            let r = req(c.request(m.clone(), &url))
                .header("host", host)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{method} {path} with Host {host}");
            assert!(r.text().await.unwrap().contains("Host"));
        }
    }
    // Nothing was registered by the refused requests.
    let (ok, out, err) = gw.cli(&["clients", "list", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "", "{out}");
    // An allowed browser origin (loopback) gets CORS on the metadata, none on /revoke.
    let r = c
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            gw.base_url
        ))
        .header("origin", "http://localhost:6274")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let r = c
        .post(format!("{}/revoke", gw.base_url))
        .header("origin", "http://localhost:6274")
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // /healthz answers whatever the Host (load balancers use addresses), with no details.
    let r = c
        .get(format!("{}/healthz", gw.base_url))
        .header("host", "10.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok\n");
}

#[tokio::test]
async fn html_pages_carry_the_security_headers() {
    let gw = TestGateway::start(Options::oauth("headers", 3600));
    let flow = Flow::register(&gw.base_url).await;
    for url in [
        flow.authorize_url(&[]),
        format!("{}/authorize?client_id=nope", gw.base_url),
    ] {
        let r = http().get(&url).send().await.unwrap();
        let h = r.headers();
        assert!(
            h["content-type"].to_str().unwrap().starts_with("text/html"),
            "{url}"
        );
        let csp = h["content-security-policy"].to_str().unwrap();
        for part in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "style-src 'sha256-",
        ] {
            assert!(csp.contains(part), "{csp}");
        }
        assert!(
            !csp.contains("script-src"),
            "no script is ever allowed: {csp}"
        );
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["cache-control"], "no-store");
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS on http"
        );
        let body = r.text().await.unwrap();
        assert!(!body.contains("<script"), "{body}");
    }
}

#[tokio::test]
async fn registration_and_token_floods_get_429_with_retry_after_and_change_nothing() {
    let mut opts = Options::oauth("ratelimit", 3600);
    opts.extra_config.push_str(
        "[rate_limits]\n\
         register = { per_minute = 2, burst = 3 }\n\
         token = { per_minute = 1, burst = 2 }\n\
         authorize = { per_minute = 1, burst = 2 }\n",
    );
    let gw = TestGateway::start(opts);
    let c = http();
    let body = json!({"redirect_uris":["http://127.0.0.1:9/cb"],"client_name":"flood","token_endpoint_auth_method":"none"});
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..6 {
        let r = c
            .post(format!("{}/register", gw.base_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        last = Some(r);
    }
    assert_eq!(&statuses[..3], &[201, 201, 201], "{statuses:?}");
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
    let last = last.unwrap();
    let retry: u64 = last.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let err: Value = last.json().await.unwrap();
    assert_eq!(err["error"], "too_many_requests");
    // Exactly the three admitted registrations exist.
    let (_, out, _) = gw.cli(&["clients", "list", "--json"]);
    assert_eq!(out.lines().count(), 3, "{out}");

    // /token: two tries, then 429.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = c
            .post(format!("{}/token", gw.base_url))
            .form(&[("grant_type", "authorization_code"), ("code", "x")])
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(
        statuses,
        vec![401, 401, 429],
        "unknown client, then the limit"
    );
    // /authorize: two tries, then 429.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = c
            .get(format!("{}/authorize?client_id=x", gw.base_url))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![400, 400, 429]);
}

#[tokio::test]
async fn tool_calls_past_the_clients_rate_get_429_and_nothing_is_typed() {
    let mut opts = Options::oauth("toolrate", 3600);
    opts.extra_config.push_str(
        "[rate_limits]\n\
         tool_calls_per_client = { per_minute = 1, burst = 3 }\n",
    );
    let gw = TestGateway::start(opts);
    let token = gw.token("sessions:read sessions:write sessions:manage", "1h");
    let mut c = authed(&gw, &token).await;
    let root = gw.root.display().to_string();
    c.call_ok(
        "create_session",
        json!({"name":"rl","working_dir":root,"profile":"bash"}),
    )
    .await
    .unwrap();
    c.call_ok("get_logs", json!({"session":"rl"}))
        .await
        .unwrap();
    c.call_ok("get_logs", json!({"session":"rl"}))
        .await
        .unwrap();
    let call = json!({"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"send_message","arguments":{"session":"rl","message":"echo RATE_LIMITED_TEXT"}}});
    let r = c.post_raw(call.to_string()).await.unwrap();
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    let msg = &r.messages()[0];
    assert!(
        msg["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rate limit"),
        "{msg}"
    );
    // The refused message never reached the session or the audit log.
    let audit = gw.audit();
    assert!(
        audit.iter().all(|e| e["action"] != "send_message"),
        "{audit:?}"
    );
    let screen = sessiongate_tests::gateway::tmux_capture(&gw, "rl");
    assert!(!screen.contains("RATE_LIMITED_TEXT"), "{screen}");
}

#[tokio::test]
async fn oversized_and_slow_bodies_are_cut_off() {
    let gw = TestGateway::start(Options::oauth("bodies", 3600));
    let c = http();
    let big = "a".repeat(20 * 1024);
    let r = c
        .post(format!("{}/token", gw.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=authorization_code&code={big}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = c
        .post(format!("{}/register", gw.base_url))
        .header("content-type", "application/json")
        .body(format!("{{\"client_name\":\"{big}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    // A body that never arrives: the headers promise 100 bytes, 10 come.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = gw.base_url.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        format!(
            "POST /token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");

    // A connection that never says anything is closed.
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server kept a silent connection open");
    assert!(buf.is_empty());

    // A URL longer than 8 KiB.
    let r = c
        .get(format!(
            "{}/authorize?state={}",
            gw.base_url,
            "s".repeat(9000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 414);

    // Headers that never end: the connection is closed without an answer.
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server kept a half-sent request open");
    let text = String::from_utf8_lossy(&buf);
    assert!(!text.contains("200 OK"), "{text}");
}

#[tokio::test]
async fn the_client_address_comes_from_trusted_proxies_only() {
    let gw = TestGateway::start(Options::oauth("noproxy", 3600));
    let token = gw.token("sessions:read sessions:write sessions:manage", "1h");
    let mut c = authed(&gw, &token).await;
    c.headers.push(("x-forwarded-for".into(), "6.6.6.6".into()));
    let root = gw.root.display().to_string();
    c.call_ok(
        "create_session",
        json!({"name":"p1","working_dir":root,"profile":"bash"}),
    )
    .await
    .unwrap();
    let audit = gw.audit_of(1).await;
    assert_eq!(audit.last().unwrap()["address"], "127.0.0.1", "{audit:?}");

    let mut opts = Options::oauth("proxy", 3600);
    opts.extra_args = vec!["--trusted-proxy".into(), "127.0.0.0/8".into()];
    let gw = TestGateway::start(opts);
    let token = gw.token("sessions:read sessions:write sessions:manage", "1h");
    let mut c = authed(&gw, &token).await;
    c.headers
        .push(("x-forwarded-for".into(), "10.1.1.1, 203.0.113.7".into()));
    let root = gw.root.display().to_string();
    c.call_ok(
        "create_session",
        json!({"name":"p2","working_dir":root,"profile":"bash"}),
    )
    .await
    .unwrap();
    let audit = gw.audit_of(1).await;
    assert_eq!(audit.last().unwrap()["address"], "203.0.113.7", "{audit:?}");
}

#[tokio::test]
async fn the_audit_log_records_changes_with_a_hash_not_the_text() {
    let gw = TestGateway::start(Options::oauth("audit", 3600));
    let token = gw.token("sessions:read sessions:write sessions:manage", "1h");
    let mut c = authed(&gw, &token).await;
    let root = gw.root.display().to_string();
    c.call_ok(
        "create_session",
        json!({"name":"au","working_dir":root,"profile":"bash"}),
    )
    .await
    .unwrap();
    c.call_ok(
        "send_message",
        json!({"session":"au","message":"echo top secret"}),
    )
    .await
    .unwrap();
    c.call_ok("send_keys", json!({"session":"au","keys":["C-c"]}))
        .await
        .unwrap();
    c.call_ok("get_logs", json!({"session":"au"}))
        .await
        .unwrap();
    c.call_ok("terminate_session", json!({"session":"au"}))
        .await
        .unwrap();
    let audit = gw.audit_of(4).await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "create_session",
            "send_message",
            "send_keys",
            "terminate_session"
        ],
        "reads are not recorded"
    );
    for e in &audit {
        assert_eq!(e["user"], "owner");
        assert_eq!(e["client_id"], "sessiongate-cli");
        assert_eq!(e["session"], "au");
    }
    let sent = &audit[1];
    assert_eq!(sent["text_len"], 15);
    assert_eq!(sent["text_sha256"], sha256_hex("echo top secret").as_str());
    assert!(sent["text"].is_null(), "the text is not kept by default");
    assert!(
        audit[0]["detail"]
            .as_str()
            .unwrap()
            .contains("profile=bash"),
        "{:?}",
        audit[0]
    );
    // Neither the token nor the text is anywhere in the database file.
    let db = std::fs::read(gw.data_dir.join("auth.db")).unwrap();
    let db = String::from_utf8_lossy(&db);
    assert!(!db.contains("top secret"));
    assert!(!db.contains(&token));
    // The owner's view.
    let (ok, table, _) = gw.cli(&["audit"]);
    assert!(ok);
    assert!(
        table.contains("send_message") && table.contains("owner"),
        "{table}"
    );
}

fn sha256_hex(s: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn the_owner_lists_and_revokes_clients_and_the_running_gateway_obeys_at_once() {
    let gw = TestGateway::start(Options::oauth("clients", 3600));
    let flow = Flow::register(&gw.base_url).await;
    let params = flow
        .approve(sessiongate_tests::gateway::OWNER_PASSWORD, &[])
        .await;
    let (status, tokens) = flow.exchange(param(&params, "code").unwrap()).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let mut c = authed(&gw, &access).await;
    c.call_ok("list_sessions", json!({})).await.unwrap();

    let (ok, out, err) = gw.cli(&["clients", "list", "--json"]);
    assert!(ok, "{err}");
    let listed: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(listed["client_id"], flow.client_id.as_str());
    assert_eq!(listed["live_grants"], 1);
    assert!(
        listed["approved_by"][0]
            .as_str()
            .unwrap()
            .starts_with("owner: "),
        "{listed}"
    );
    let (ok, table, _) = gw.cli(&["clients", "list"]);
    assert!(ok && table.contains(&flow.client_id), "{table}");

    let (ok, _, err) = gw.cli(&["clients", "revoke", "no-such-client"]);
    assert!(!ok && err.contains("no client with id"), "{err}");

    let (ok, out, err) = gw.cli(&["clients", "revoke", &flow.client_id]);
    assert!(ok, "{err}");
    assert!(out.contains("was told to reload"), "{out}");
    // The running gateway refuses the access token without a restart.
    let mut refused = false;
    for _ in 0..50 {
        let r = c
            .post_raw(
                json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"list_sessions","arguments":{}}})
                    .to_string(),
            )
            .await
            .unwrap();
        if r.status == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "the revoked client's access token still works");
    let (status, body) = flow.refresh(&refresh).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    let (_, out, _) = gw.cli(&["clients", "list", "--json"]);
    assert_eq!(out.trim(), "");
}

#[tokio::test]
async fn sessions_list_reads_the_tmux_server() {
    let gw = TestGateway::start(Options::tmux("sessionslist"));
    let mut c = McpClient::new(&gw.mcp_url());
    c.initialize().await.unwrap();
    let root = gw.root.display().to_string();
    c.call_ok(
        "create_session",
        json!({"name":"listed-one","working_dir":root,"profile":"bash"}),
    )
    .await
    .unwrap();
    let out = std::process::Command::new(sessiongate_tests::gateway::binary())
        .args(["sessions", "list", "--tmux-socket", &gw.socket])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("listed-one") && text.contains("running"),
        "{text}"
    );
    let out = std::process::Command::new(sessiongate_tests::gateway::binary())
        .args([
            "sessions",
            "list",
            "--tmux-socket",
            "sessiongate-no-such-server-x",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "an absent server is an empty list");
    assert!(String::from_utf8_lossy(&out.stdout).contains("No sessions"));
}

#[tokio::test]
async fn metrics_need_a_token_unless_on_the_admin_listener() {
    let gw = TestGateway::start(Options::oauth("metrics", 3600));
    let c = http();
    let r = c
        .get(format!("{}/metrics", gw.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let token = gw.token("sessions:read", "1h");
    let mut mcp = authed(&gw, &token).await;
    mcp.call_ok("list_sessions", json!({})).await.unwrap();
    let _ = init_without_token(&gw).await;
    let text = c
        .get(format!("{}/metrics", gw.base_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "sessiongate_http_requests_total{route=\"/mcp\",status=\"200\"}",
        "sessiongate_tool_calls_total{tool=\"list_sessions\"} 1",
        "sessiongate_tool_call_duration_seconds_count{tool=\"list_sessions\"} 1",
        "sessiongate_auth_failures_total{reason=\"missing\"} 1",
        "sessiongate_sessions{state=\"running\"} 0",
        "process_resident_memory_bytes",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    let heap: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("sessiongate_heap_in_use_bytes "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no heap gauge in:\n{text}"));
    assert!(heap > 100_000, "{heap}");

    let port = sessiongate_tests::gateway::free_port();
    let mut opts = Options::oauth("admin", 3600);
    opts.extra_args = vec!["--admin-bind".into(), format!("127.0.0.1:{port}")];
    let gw = TestGateway::start(opts);
    let r = c
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("sessiongate_backend_up 1"));
    let r = c
        .get(format!("{}/metrics", gw.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "not on the public listener");
}

async fn init_without_token(gw: &TestGateway) -> u16 {
    let c = McpClient::new(&gw.mcp_url());
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    c.post_raw(init.to_string()).await.unwrap().status
}

#[tokio::test]
async fn a_client_cannot_hold_more_mcp_sessions_than_its_cap() {
    let mut opts = Options::oauth("mcpcap", 3600);
    opts.extra_config
        .push_str("max_mcp_sessions_per_client = 2\n");
    let gw = TestGateway::start(opts);
    let token = gw.token("sessions:read", "1h");
    let mut a = authed(&gw, &token).await;
    let _b = authed(&gw, &token).await;
    let mut third = McpClient::new(&gw.mcp_url());
    third
        .headers
        .push(("authorization".into(), format!("Bearer {token}")));
    let err = third.initialize().await.expect_err("third session refused");
    assert!(err.to_string().contains("MCP sessions"), "{err}");
    // The existing sessions still work; ending one frees a slot.
    a.call_ok("list_sessions", json!({})).await.unwrap();
    a.delete_session().await.unwrap();
    third.initialize().await.unwrap();
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_call_finish_and_flushes_the_audit_log() {
    let mut gw = TestGateway::start(Options::tmux("graceful"));
    let mut c = McpClient::new(&gw.mcp_url());
    c.initialize().await.unwrap();
    let root = gw.root.display().to_string();
    c.call_ok(
        "create_session",
        json!({"name":"g","working_dir":root,"profile":"bash"}),
    )
    .await
    .unwrap();
    c.call_ok("send_message", json!({"session":"g","message":"sleep 100"}))
        .await
        .unwrap();
    let url = gw.mcp_url();
    let sid = c.session_id().unwrap().to_owned();
    let waiting = tokio::spawn(async move {
        let mut w = McpClient::new(&url);
        w.set_session_id(&sid);
        w.call(
            "wait_for",
            json!({"session":"g","until":"exited","timeout_s":3}),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    gw.signal("TERM");
    let result = waiting
        .await
        .unwrap()
        .expect("the in-flight call got its answer");
    let text = text_of(&result);
    assert!(text.contains("g"), "{text}");
    let status = tokio::task::spawn_blocking(move || {
        let s = gw.wait();
        (s, gw)
    })
    .await
    .unwrap();
    assert!(status.0.success(), "exit status {:?}", status.0);
    let audit = status.1.audit();
    assert!(
        audit.iter().any(|e| e["action"] == "send_message"),
        "{audit:?}"
    );
    assert!(!status.1.data_dir.join("sessiongate.pid").exists());
}

#[tokio::test]
async fn one_client_ids_token_requests_are_limited_without_touching_others() {
    let mut opts = Options::oauth("clientrate", 3600);
    opts.extra_config.push_str(
        "[rate_limits]\n\
         oauth_per_client = { per_minute = 1, burst = 2 }\n",
    );
    let gw = TestGateway::start(opts);
    let c = http();
    let token = |id: &'static str| {
        c.post(format!("{}/token", gw.base_url))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("client_id", id),
            ])
            .send()
    };
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(token("noisy").await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 429]);
    // Another client, from the same address, is not affected.
    assert_eq!(token("quiet").await.unwrap().status(), 401);
    let r = c
        .get(format!("{}/authorize?client_id=noisy", gw.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "the same client on /authorize");
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn an_mcp_session_belongs_to_the_client_that_opened_it() {
    let gw = TestGateway::start(Options::oauth("session-owner", 3600));
    let (alice_token, _) = Flow::register(&gw.base_url).await.tokens().await;
    let (mallory_token, _) = Flow::register(&gw.base_url).await.tokens().await;
    let mut alice = authed(&gw, &alice_token).await;
    alice.call_ok("list_sessions", json!({})).await.unwrap();
    let stolen = alice.session_id().unwrap().to_owned();

    // Another OAuth client with a valid token of its own, holding Alice's session id.
    let mut mallory = McpClient::new(&gw.mcp_url());
    mallory
        .headers
        .push(("authorization".into(), format!("Bearer {mallory_token}")));
    mallory.set_session_id(&stolen);
    let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
        "params":{"name":"list_sessions","arguments":{}}});
    let r = mallory.post_raw(call.to_string()).await.unwrap();
    assert_eq!(r.status, 404, "{r:?}");
    let listen = http()
        .get(gw.mcp_url())
        .header("authorization", format!("Bearer {mallory_token}"))
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &stolen)
        .send()
        .await
        .unwrap();
    assert_eq!(listen.status(), 404);
    assert!(
        mallory.delete_session().await.is_err(),
        "DELETE must be refused"
    );

    // Alice's session is untouched and still hers.
    alice.call_ok("list_sessions", json!({})).await.unwrap();
    alice.call_ok("list_sessions", json!({})).await.unwrap();
}

/// The gateway's resident memory in MiB.
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap()
        / 1024.0
}

/// Each argon2id password check works in 19 MiB; those must not pile up. Owner logins one
/// after another, then guesses all at once from many addresses: afterwards the gateway's
/// memory comes back near where it was before the first login (it used to stay ~19 MiB
/// higher per login, and gigabytes higher after a burst).
#[tokio::test]
async fn password_checks_give_their_memory_back() {
    let mut opts = Options::oauth("password-memory", 3600);
    opts.extra_config.push_str(
        "[rate_limits]\n\
         authorize = { per_minute = 0, burst = 0 }\n\
         register = { per_minute = 0, burst = 0 }\n\
         token = { per_minute = 0, burst = 0 }\n\
         oauth_per_client = { per_minute = 0, burst = 0 }\n",
    );
    let gw = TestGateway::start(opts);
    let flow = Flow::register(&gw.base_url).await;
    let idle = rss_mib(gw.pid());
    for _ in 0..24 {
        flow.code().await;
    }
    let after_logins = rss_mib(gw.pid());
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (url, base) = (flow.authorize_url(&[]), gw.base_url.clone());
        guesses.spawn(async move {
            let from: std::net::IpAddr = format!("127.0.2.{}", i + 1).parse().unwrap();
            let c = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(from)
                .build()
                .unwrap();
            let page = c.get(url).send().await.unwrap();
            let mut cookies = sessiongate_tests::oauth::Cookies::default();
            cookies.keep(page.headers());
            let mut form = sessiongate_tests::oauth::hidden_fields(&page.text().await.unwrap());
            form.push(("password".into(), format!("guess {i}")));
            c.post(format!("{base}/authorize/login"))
                .header("cookie", cookies.header())
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let statuses = guesses.join_all().await;
    assert!(
        statuses.iter().all(|s| [401, 429].contains(s)),
        "{statuses:?}"
    );
    // Wait (without asserting how long it takes) for the memory to come back.
    let mut now = rss_mib(gw.pid());
    for _ in 0..120 {
        if now < idle + 16.0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        now = rss_mib(gw.pid());
    }
    panic!(
        "the gateway kept its memory: {idle:.1} MiB idle, {after_logins:.1} MiB after 24 logins, \
         {now:.1} MiB a minute after 40 guesses ({statuses:?})"
    );
}
