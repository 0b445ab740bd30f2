//! Signing in through an upstream identity provider, end to end against the real binary: a
//! certified OpenID Connect provider (oidc-provider on loopback) and a stand-in of GitHub's
//! endpoints. The whole flow (login page → provider → callback → consent → code → token → tool
//! call), the MCP Python SDK through it, and each refusal with its exact page and nothing
//! issued: a person not on the allowlist, a tampered ID token, a wrong nonce, a replayed state,
//! a callback in another browser, the provider's `access_denied`, an unreachable provider.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::Value;

use sessiongate_tests::gateway::{OWNER_PASSWORD, Options, TestGateway};
use sessiongate_tests::idp::{
    Browser, GITHUB_CLIENT, GitHubStandIn, GitHubUser, OidcProvider, Page, consents, issued,
};
use sessiongate_tests::mcp::McpClient;
use sessiongate_tests::oauth::{Flow, param};

/// A gateway with OAuth and the given `[login]` tables; secrets go into files in `dir`.
fn gateway(tag: &str, login: &str) -> TestGateway {
    let mut opts = Options::oauth(tag, 3600);
    opts.extra_config.push_str(login);
    TestGateway::start(opts)
}

fn secret_file(dir: &Path, name: &str, secret: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("{secret}\n")).unwrap();
    p
}

fn oidc_login(issuer: &str, secret: &Path) -> String {
    format!(
        "[login]\npassword = true\n\n[login.providers.corp]\nkind = \"oidc\"\nlabel = \"Corp SSO\"\n\
         issuer = \"{issuer}\"\nclient_id = \"sessiongate\"\nclient_secret_file = \"{}\"\n\
         scopes = [\"openid\", \"email\", \"groups\"]\n\
         allow_claims = {{ groups = [\"sessiongate-users\"] }}\n\n",
        secret.display()
    )
}

/// A provider in `mode` and a gateway signing in through it (provider name `corp`).
fn oidc_setup(tag: &str, mode: &str) -> (OidcProvider, TestGateway, tempfile::TempDir) {
    let mut idp = OidcProvider::start(mode);
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(dir.path(), "corp-secret", "sessiongate-test-secret");
    let gw = gateway(tag, &oidc_login(&idp.issuer, &secret));
    idp.register_redirect(&format!("{}/login/callback/corp", gw.base_url));
    (idp, gw, dir)
}

/// From `/authorize` to the provider's button: returns the page after following the redirects
/// from the button (the provider's login form, or an error page of sessiongate's).
async fn choose_provider(b: &mut Browser, flow: &Flow, provider: &str) -> Page {
    let page = b.go(&flow.authorize_url(&[]), None, "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Owner password"), "{}", page.body);
    assert!(page.body.contains("Sign in with"), "{}", page.body);
    let mut form = page.fields();
    form.push(("provider".into(), provider.into()));
    b.go(
        &format!("{}/authorize/upstream", flow.base),
        Some(&form),
        &flow.redirect_uri,
    )
    .await
}

/// At the OIDC provider's login form: signs in as `user`; follows everything back to
/// sessiongate (consent page, or an error page).
async fn provider_login(b: &mut Browser, flow: &Flow, page: &Page, user: &str) -> Page {
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.url.contains("/interaction/"), "{}", page.url);
    let form = vec![
        ("login".to_owned(), user.to_owned()),
        ("password".to_owned(), format!("{user}-password")),
    ];
    b.go(&page.form_action(0), Some(&form), &flow.redirect_uri)
        .await
}

/// Approves on sessiongate's consent page; returns the redirect's query parameters.
async fn approve(b: &mut Browser, flow: &Flow, consent: &Page) -> Vec<(String, String)> {
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(consent.body.contains("Allow access?"), "{}", consent.body);
    let mut form = consent.fields();
    form.push(("decision".into(), "approve".into()));
    let done = b
        .go(
            &format!("{}/authorize/consent", flow.base),
            Some(&form),
            &flow.redirect_uri,
        )
        .await;
    let to = done.location.expect("a redirect to the client");
    assert!(to.starts_with(&flow.redirect_uri), "{to}");
    let query = to.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// Asserts a refusal: the exact status and message on sessiongate's own page (not a redirect
/// to the client), no login for the browser, and nothing in the database.
async fn assert_refused(
    b: &mut Browser,
    gw: &TestGateway,
    flow: &Flow,
    page: &Page,
    status: u16,
    message: &str,
) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(page.url.starts_with(&gw.base_url), "ended at {}", page.url);
    assert!(page.location.is_none(), "redirected to {:?}", page.location);
    assert!(
        page.body.contains(message),
        "expected {message:?} in {}",
        page.body
    );
    assert!(!page.body.contains("code="), "{}", page.body);
    assert_eq!(
        b.cookie(&gw.base_url, "sessiongate_login"),
        None,
        "a login cookie was set"
    );
    assert_eq!(issued(&gw.data_dir), (0, 0, 0), "something was issued");
    // The consent page still asks to sign in.
    let again = b
        .go(&flow.authorize_url(&[]), None, &flow.redirect_uri)
        .await;
    assert!(
        again.body.contains("Sign in to sessiongate"),
        "{}",
        again.body
    );
}

#[tokio::test]
async fn oidc_sign_in_goes_through_consent_to_a_token_that_names_the_upstream_identity() {
    let (_idp, gw, _dir) = oidc_setup("oidc-ok", "normal");
    let flow = Flow::register(&gw.base_url).await;
    let mut b = Browser::new();
    let at_idp = choose_provider(&mut b, &flow, "corp").await;
    // The browser went to the provider with state, PKCE S256 and a nonce.
    let auth = b
        .history
        .iter()
        .find(|u| u.contains("/auth?"))
        .expect("went to the provider")
        .clone();
    let q: Vec<(String, String)> =
        form_urlencoded::parse(auth.split_once('?').unwrap().1.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    assert_eq!(param(&q, "code_challenge_method"), Some("S256"));
    assert_eq!(param(&q, "client_id"), Some("sessiongate"));
    assert!(param(&q, "state").is_some_and(|s| s.len() >= 43));
    assert!(param(&q, "nonce").is_some_and(|s| s.len() >= 43));
    assert!(param(&q, "scope").is_some_and(|s| s.split(' ').any(|x| x == "openid")));
    let consent = provider_login(&mut b, &flow, &at_idp, "alice").await;
    assert!(
        consent.body.contains("oidc:corp:alice-0001"),
        "{}",
        consent.body
    );
    let params = approve(&mut b, &flow, &consent).await;
    assert_eq!(param(&params, "state"), Some("st4te"));
    let (status, body) = flow.exchange(param(&params, "code").unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(access)["sub"], "oidc:corp:alice-0001");
    // The consent is recorded for the upstream identity.
    assert_eq!(
        consents(&gw.data_dir),
        vec![(flow.client_id.clone(), "oidc:corp:alice-0001".to_owned())]
    );
    // The token works at /mcp.
    let mut c = McpClient::new(&gw.mcp_url());
    c.headers
        .push(("authorization".into(), format!("Bearer {access}")));
    c.initialize().await.unwrap();
    c.call_ok("list_sessions", serde_json::json!({}))
        .await
        .unwrap();
    // The owner sees who approved the client, and the audit log names the same person.
    let (ok, out, err) = gw.cli(&["clients", "list", "--json"]);
    assert!(ok, "{err}");
    let listed: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(listed["client_id"], flow.client_id.as_str());
    assert!(
        listed["approved_by"][0]
            .as_str()
            .unwrap()
            .starts_with("oidc:corp:alice-0001: "),
        "{listed}"
    );
    c.call_ok(
        "create_session",
        serde_json::json!({"name":"alices","working_dir":gw.root.display().to_string(),"profile":"bash"}),
    )
    .await
    .unwrap();
    let audit = gw.audit_of(1).await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["user"], "oidc:corp:alice-0001");
    assert_eq!(audit[0]["client_id"], flow.client_id.as_str());
}

#[tokio::test]
async fn oidc_person_not_on_the_allowlist_is_refused_and_nothing_is_issued() {
    let (_idp, gw, _dir) = oidc_setup("oidc-deny", "normal");
    let flow = Flow::register(&gw.base_url).await;
    let mut b = Browser::new();
    let at_idp = choose_provider(&mut b, &flow, "corp").await;
    let page = provider_login(&mut b, &flow, &at_idp, "mallory").await;
    assert!(page.body.contains("Not allowed"), "{}", page.body);
    assert_refused(
        &mut b,
        &gw,
        &flow,
        &page,
        403,
        "oidc:corp:mallory-0002 is not allowed to use this sessiongate",
    )
    .await;
}

#[tokio::test]
async fn a_tampered_id_token_is_refused() {
    let (_idp, gw, _dir) = oidc_setup("oidc-tamper", "tamper-id-token");
    let flow = Flow::register(&gw.base_url).await;
    let mut b = Browser::new();
    let at_idp = choose_provider(&mut b, &flow, "corp").await;
    let page = provider_login(&mut b, &flow, &at_idp, "alice").await;
    assert_refused(
        &mut b,
        &gw,
        &flow,
        &page,
        502,
        "signing in with Corp SSO failed: the ID token was refused: its signature is not valid",
    )
    .await;
}

#[tokio::test]
async fn an_id_token_with_another_nonce_is_refused() {
    let (_idp, gw, _dir) = oidc_setup("oidc-nonce", "wrong-nonce");
    let flow = Flow::register(&gw.base_url).await;
    let mut b = Browser::new();
    let at_idp = choose_provider(&mut b, &flow, "corp").await;
    let page = provider_login(&mut b, &flow, &at_idp, "alice").await;
    assert_refused(
        &mut b,
        &gw,
        &flow,
        &page,
        502,
        "the ID token was refused: its nonce does not match this sign-in",
    )
    .await;
}

#[tokio::test]
async fn a_replayed_state_and_a_callback_in_another_browser_are_refused() {
    let (_idp, gw, _dir) = oidc_setup("oidc-replay", "normal");
    let flow = Flow::register(&gw.base_url).await;
    // Another browser receives the callback of a sign-in started elsewhere (login CSRF).
    let mut b = Browser::new();
    let at_idp = choose_provider(&mut b, &flow, "corp").await;
    let stop = format!("{}/login/callback/", gw.base_url);
    let form = vec![
        ("login".to_owned(), "alice".to_owned()),
        ("password".to_owned(), "alice-password".to_owned()),
    ];
    let to_callback = b.go(&at_idp.form_action(0), Some(&form), &stop).await;
    let callback = to_callback
        .location
        .clone()
        .expect("redirect to the callback");
    assert!(callback.starts_with(&stop), "{callback}");
    let mut other = Browser::new();
    let page = other.go(&callback, None, &flow.redirect_uri).await;
    assert_refused(
        &mut other,
        &gw,
        &flow,
        &page,
        403,
        "this sign-in was started in another browser",
    )
    .await;
    // The state was spent by that attempt: the right browser cannot use it either.
    let page = b.go(&callback, None, &flow.redirect_uri).await;
    assert_refused(
        &mut b,
        &gw,
        &flow,
        &page,
        400,
        "this sign-in is unknown, has expired or was already completed",
    )
    .await;

    // A completed sign-in's callback replayed in the same browser is refused too.
    let mut b = Browser::new();
    let at_idp = choose_provider(&mut b, &flow, "corp").await;
    let consent = provider_login(&mut b, &flow, &at_idp, "alice").await;
    assert!(consent.body.contains("Allow access?"), "{}", consent.body);
    let callback = b
        .history
        .iter()
        .find(|u| u.starts_with(&stop))
        .expect("visited the callback")
        .clone();
    let mut fresh = Browser::new();
    let page = fresh.go(&callback, None, &flow.redirect_uri).await;
    assert_eq!(page.status, 400, "{}", page.body);
    let page = b.go(&callback, None, &flow.redirect_uri).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("already completed"), "{}", page.body);
    assert!(page.location.is_none());
    // Nothing was issued by any of it (the consent was never given).
    assert_eq!(issued(&gw.data_dir), (0, 0, 0));
}

#[tokio::test]
async fn the_providers_access_denied_is_shown_and_nothing_is_issued() {
    let (_idp, gw, _dir) = oidc_setup("oidc-abort", "normal");
    let flow = Flow::register(&gw.base_url).await;
    let mut b = Browser::new();
    let at_idp = choose_provider(&mut b, &flow, "corp").await;
    let abort = at_idp.form_action(0).replace("/login", "/abort");
    let page = b.go(&abort, Some(&[]), &flow.redirect_uri).await;
    assert_refused(
        &mut b,
        &gw,
        &flow,
        &page,
        400,
        "Corp SSO did not sign you in: access_denied (End-User aborted interaction)",
    )
    .await;
}

#[tokio::test]
async fn an_unreachable_provider_gets_an_error_page() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(dir.path(), "s", "x");
    let gw = gateway(
        "oidc-down",
        &oidc_login(&format!("http://127.0.0.1:{port}"), &secret),
    );
    let flow = Flow::register(&gw.base_url).await;
    let mut b = Browser::new();
    let page = choose_provider(&mut b, &flow, "corp").await;
    assert_refused(
        &mut b,
        &gw,
        &flow,
        &page,
        502,
        &format!("signing in with Corp SSO failed: could not reach http://127.0.0.1:{port}/.well-known/openid-configuration"),
    )
    .await;
    // The owner password still works on the same request.
    let params = flow.approve(OWNER_PASSWORD, &[]).await;
    assert!(param(&params, "code").is_some());
}

fn octocat() -> GitHubUser {
    GitHubUser {
        login: "octocat".into(),
        id: 583231,
        emails: vec![("octocat@github.com".into(), true)],
        orgs: vec!["acme".into()],
        teams: vec![("acme".into(), "ops".into())],
    }
}

fn github_login(gh: &GitHubStandIn, dir: &Path, allow: &str) -> String {
    let secret = secret_file(dir, "gh-secret", GITHUB_CLIENT.1);
    format!(
        "[login]\n\n[login.providers.github]\n{}{allow}\n\n",
        gh.config(&secret)
    )
}

#[tokio::test]
async fn github_sign_in_through_the_stand_in_gives_a_token_for_github_login() {
    let gh = GitHubStandIn::start(octocat(), false).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(
        "gh-ok",
        &github_login(&gh, dir.path(), "allow_orgs = [\"ACME\"]"),
    );
    let flow = Flow::register(&gw.base_url).await;
    let mut b = Browser::new();
    let consent = choose_provider(&mut b, &flow, "github").await;
    assert!(consent.body.contains("github:octocat"), "{}", consent.body);
    let params = approve(&mut b, &flow, &consent).await;
    let (status, body) = flow.exchange(param(&params, "code").unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(access)["sub"], "github:octocat");
    assert!(
        !body.to_string().contains("gho_"),
        "the upstream token leaked: {body}"
    );
    assert_eq!(
        consents(&gw.data_dir),
        vec![(flow.client_id.clone(), "github:octocat".to_owned())]
    );
    // The stand-in saw its own token only, on the user and orgs calls (emails were not needed).
    let seen = gh.seen();
    assert!(seen.iter().any(|s| s == "api user"), "{seen:?}");
    assert!(seen.iter().any(|s| s == "api orgs"), "{seen:?}");
    assert!(!seen.iter().any(|s| s == "api emails"), "{seen:?}");
    assert!(
        gh.api_auth().iter().all(|a| a == "Bearer gho_standin1"),
        "{:?}",
        gh.api_auth()
    );
    // The sessiongate token is used at /mcp and never reaches the provider.
    let mut c = McpClient::new(&gw.mcp_url());
    c.headers
        .push(("authorization".into(), format!("Bearer {access}")));
    c.initialize().await.unwrap();
    c.call_ok("list_sessions", serde_json::json!({}))
        .await
        .unwrap();
    assert!(
        !gh.seen().iter().any(|s| s.contains(access)),
        "the MCP token went upstream"
    );
    let token_line = seen.iter().find(|s| s.starts_with("token ")).unwrap();
    assert!(token_line.contains("code_verifier"), "{token_line}");
}

#[tokio::test]
async fn github_user_outside_the_allowlist_and_unverified_emails_are_refused() {
    let eve = GitHubUser {
        login: "eve".into(),
        id: 7,
        // The allowed domain, but not verified: it must not count.
        emails: vec![
            ("eve@example.com".into(), false),
            ("eve@elsewhere.example".into(), true),
        ],
        orgs: vec!["other".into()],
        teams: vec![("acme".into(), "interns".into())],
    };
    let gh = GitHubStandIn::start(eve, false).await;
    let dir = tempfile::tempdir().unwrap();
    let allow = "allow_users = [\"octocat\"]\nallow_orgs = [\"acme\"]\nallow_teams = [\"acme/ops\"]\n\
                 allow_email_domains = [\"example.com\"]";
    let gw = gateway("gh-deny", &github_login(&gh, dir.path(), allow));
    let flow = Flow::register(&gw.base_url).await;
    let mut b = Browser::new();
    let page = choose_provider(&mut b, &flow, "github").await;
    for call in ["api user", "api emails", "api orgs", "api teams"] {
        assert!(
            gh.seen().iter().any(|s| s == call),
            "{call}: {:?}",
            gh.seen()
        );
    }
    assert_refused(
        &mut b,
        &gw,
        &flow,
        &page,
        403,
        "github:eve is not allowed to use this sessiongate",
    )
    .await;
}

#[tokio::test]
async fn github_access_denied_and_an_unreachable_token_endpoint_get_error_pages() {
    let gh = GitHubStandIn::start(octocat(), true).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(
        "gh-error",
        &github_login(&gh, dir.path(), "allow_users = [\"octocat\"]"),
    );
    let flow = Flow::register(&gw.base_url).await;
    let mut b = Browser::new();
    let page = choose_provider(&mut b, &flow, "github").await;
    assert_refused(
        &mut b,
        &gw,
        &flow,
        &page,
        400,
        "GitHub did not sign you in: access_denied (The user has denied your application access.)",
    )
    .await;

    let gh = GitHubStandIn::start(octocat(), false).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let secret = secret_file(dir.path(), "gh-secret-2", GITHUB_CLIENT.1);
    let login = format!(
        "[login]\npassword = false\n\n[login.providers.github]\n{}allow_users = [\"octocat\"]\n\n",
        gh.config(&secret)
    )
    .replace(
        &format!("{}/login/oauth/access_token", gh.base),
        &format!("http://127.0.0.1:{port}/login/oauth/access_token"),
    );
    let gw = gateway("gh-down", &login);
    let flow = Flow::register(&gw.base_url).await;
    let mut b = Browser::new();
    let page = b.go(&flow.authorize_url(&[]), None, "").await;
    // The password is turned off: only the provider is offered, and the password form is refused.
    assert!(!page.body.contains("Owner password"), "{}", page.body);
    let mut form = page.fields();
    form.push(("password".into(), OWNER_PASSWORD.into()));
    let r = b
        .go(
            &format!("{}/authorize/login", gw.base_url),
            Some(&form),
            &flow.redirect_uri,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let mut form = page.fields();
    form.push(("provider".into(), "github".into()));
    let page = b
        .go(
            &format!("{}/authorize/upstream", gw.base_url),
            Some(&form),
            &flow.redirect_uri,
        )
        .await;
    assert_refused(
        &mut b,
        &gw,
        &flow,
        &page,
        502,
        &format!("signing in with GitHub failed: could not reach http://127.0.0.1:{port}/login/oauth/access_token"),
    )
    .await;
}

#[tokio::test]
async fn python_sdk_signs_in_through_the_oidc_provider_and_calls_tools() {
    let (_idp, gw, _dir) = oidc_setup("oidc-python", "normal");
    let url = gw.mcp_url();
    let root = gw.root.clone();
    let (report, _) = sessiongate_tests::clients::run_python_report(
        "python_idp_flow.py",
        &[
            url.as_ref(),
            "corp".as_ref(),
            "alice".as_ref(),
            "alice-password".as_ref(),
            root.as_os_str(),
        ],
    )
    .await;
    assert_eq!(report["ok"], true);
    assert_eq!(report["sub"], "oidc:corp:alice-0001");
    assert_eq!(consents(&gw.data_dir).len(), 1);
}

#[test]
fn settings_that_would_let_nobody_in_stop_the_gateway_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(dir.path(), "s", "x");
    let cases = [
        (
            format!(
                "[login.providers.github]\nkind = \"github\"\nclient_id = \"c\"\nclient_secret_file = \"{}\"\n",
                secret.display()
            ),
            "identity provider \"github\": the allowlist is empty, so nobody could sign in",
        ),
        (
            "[login]\npassword = false\n".to_owned(),
            "the owner password is turned off and no identity provider is configured",
        ),
        (
            "[login.providers.corp]\nkind = \"oidc\"\nissuer = \"https://sso.example\"\nclient_id = \"c\"\n\
             client_secret_env = \"SESSIONGATE_TEST_UNSET_VARIABLE\"\nallow_subs = [\"1\"]\n"
                .to_owned(),
            "client_secret_env: the environment variable SESSIONGATE_TEST_UNSET_VARIABLE is not set",
        ),
    ];
    for (config, reason) in cases {
        let path = dir.path().join("config.toml");
        std::fs::write(&path, &config).unwrap();
        let out = std::process::Command::new(sessiongate_tests::gateway::binary())
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--backend",
                "pty",
                "--data-dir",
            ])
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "started with {config}");
        assert!(stderr.contains(reason), "{stderr}");
    }
}

#[tokio::test]
async fn a_person_in_chromium_signs_in_through_the_oidc_provider() {
    let (_idp, gw, _dir) = oidc_setup("oidc-chromium", "normal");
    let flow = Flow::register(&gw.base_url).await;
    let clients = sessiongate_tests::clients::dir();
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts/chromium");
    std::fs::create_dir_all(&shots).unwrap();
    let out = tokio::process::Command::new(sessiongate_tests::clients::node())
        .arg(clients.join("browser_idp.mjs"))
        .arg(flow.authorize_url(&[]))
        .args(["corp", "alice", "alice-password"])
        .arg(&flow.redirect_uri)
        .arg(&shots)
        .current_dir(&clients)
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
    assert_eq!(report["signedInAs"], "oidc:corp:alice-0001");
    assert_eq!(report["cspViolations"], serde_json::json!([]));
    let (status, body) = flow.exchange(report["code"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["sub"],
        "oidc:corp:alice-0001"
    );
}
