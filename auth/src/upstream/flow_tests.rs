//! The upstream sign-in endpoints through the router, without a network: the login page's
//! buttons, the redirect to the provider with state, PKCE and the browser cookie, and the
//! callback's refusals (unknown state, another browser, a spent state, the provider's error,
//! an unknown provider, a wrong form token, the password turned off).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{Allowlist, ProviderConfig, ProviderKind, Secret};
use crate::{AuthConfig, AuthServer};

const BASE: &str = "http://127.0.0.1:8000";

fn server(dir: &std::path::Path, password: bool) -> Arc<AuthServer> {
    let mut cfg = AuthConfig::new(dir.to_path_buf(), BASE);
    cfg.login.password = password;
    cfg.login.providers = vec![ProviderConfig {
        name: "github".into(),
        label: "GitHub".into(),
        // Nothing listens there: these tests never reach the token endpoint.
        kind: ProviderKind::GitHub {
            authorize_url: "https://github.example/login/oauth/authorize".into(),
            token_url: "http://127.0.0.1:9/token".into(),
            api_url: "http://127.0.0.1:9/api".into(),
        },
        client_id: "gh-client".into(),
        client_secret: Some(Secret::new("gh-secret")),
        scopes: Vec::new(),
        allow: Allowlist {
            users: vec!["octocat".into()],
            ..Allowlist::default()
        },
    }];
    AuthServer::open(cfg).expect("open")
}

struct Resp {
    status: StatusCode,
    location: String,
    cookie: String,
    csp: String,
    body: String,
}

async fn send(s: &Arc<AuthServer>, req: Request<Body>) -> Resp {
    let r = s.router().oneshot(req).await.expect("response");
    let status = r.status();
    let h = |n| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (location, cookie) = (h(header::LOCATION), h(header::SET_COOKIE));
    let csp = h(header::CONTENT_SECURITY_POLICY);
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20)
        .await
        .expect("body");
    Resp {
        status,
        location,
        cookie,
        csp,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(uri: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::get(uri);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).expect("request")
}

/// A form post from the browser holding `cookie` (the browser cookie the login page set).
fn post(uri: &str, form: &str, cookie: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .body(Body::from(form.to_owned()))
        .expect("request")
}

/// Registers a client and opens its login page; returns the page.
async fn login_page(s: &Arc<AuthServer>) -> Resp {
    let reg = Request::post("/register")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"client_name": "t", "redirect_uris": ["http://127.0.0.1:5555/cb"], "token_endpoint_auth_method": "none"})
                .to_string(),
        ))
        .expect("request");
    let reg: Value = serde_json::from_str(&send(s, reg).await.body).expect("json");
    let client_id = reg["client_id"].as_str().expect("client_id");
    let uri = format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcb\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=xyz"
    );
    send(s, get(&uri, None)).await
}

fn field<'a>(html: &'a str, name: &str) -> &'a str {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("field")
}

fn query(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_provider_redirect_is_bound_and_every_bad_callback_gets_a_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), true);
    let page = login_page(&s).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Owner password"));
    assert!(
        page.body
            .contains("value=\"github\">Sign in with GitHub</button>")
    );
    let (req, csrf) = (field(&page.body, "req"), field(&page.body, "csrf"));
    let browser = page.cookie.split(';').next().expect("browser cookie");

    // A wrong form token, an unknown provider.
    let r = send(
        &s,
        post(
            "/authorize/upstream",
            &format!("req={req}&csrf=nope&provider=github"),
            browser,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &s,
        post(
            "/authorize/upstream",
            &format!("req={req}&csrf={csrf}&provider=gitlab"),
            browser,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.body
            .contains("there is no sign-in provider named &quot;gitlab&quot;"),
        "{}",
        r.body
    );

    // The right form from another browser, or posted by a page of another origin (another
    // port of this machine is the same site for cookies, not the same origin).
    let form = format!("req={req}&csrf={csrf}&provider=github");
    let other = format!("sessiongate_browser={}", "A".repeat(43));
    let r = send(&s, post("/authorize/upstream", &form, &other)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("started in another browser"), "{}", r.body);
    for origin in ["http://127.0.0.1:1", "http://localhost:8000", "null"] {
        let mut foreign = post("/authorize/upstream", &form, browser);
        foreign
            .headers_mut()
            .insert(header::ORIGIN, header::HeaderValue::from_static(origin));
        let r = send(&s, foreign).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{origin}");
        assert!(r.body.contains("sent from another site"), "{}", r.body);
    }

    // To the provider: state, PKCE S256, the callback, and the browser cookie.
    let go = send(
        &s,
        post(
            "/authorize/upstream",
            &format!("req={req}&csrf={csrf}&provider=github"),
            browser,
        ),
    )
    .await;
    assert_eq!(go.status, StatusCode::SEE_OTHER, "{}", go.body);
    assert!(
        go.location
            .starts_with("https://github.example/login/oauth/authorize?"),
        "{}",
        go.location
    );
    assert_eq!(query(&go.location, "code_challenge_method"), "S256");
    assert_eq!(query(&go.location, "code_challenge").len(), 43);
    assert_eq!(
        query(&go.location, "redirect_uri"),
        format!("{BASE}/login/callback/github")
    );
    assert_eq!(query(&go.location, "scope"), "read:user");
    assert_eq!(query(&go.location, "nonce"), "", "GitHub gets no nonce");
    let state = query(&go.location, "state");
    assert!(state.len() >= 43);
    assert!(
        go.cookie.starts_with("sessiongate_upstream="),
        "{}",
        go.cookie
    );
    assert!(
        go.cookie.contains("HttpOnly; SameSite=Lax"),
        "{}",
        go.cookie
    );
    let cookie = go.cookie.split(';').next().expect("cookie").to_owned();

    // An unknown state; the right state for another provider's callback path.
    let r = send(
        &s,
        get("/login/callback/github?code=c&state=forged", Some(&cookie)),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("the state does not match"), "{}", r.body);
    // The right state in another browser: refused, and the state is spent.
    let cb = format!(
        "/login/callback/github?error=access_denied&error_description=no+thanks&state={state}"
    );
    let r = send(&s, get(&cb, None)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("started in another browser"), "{}", r.body);
    let r = send(&s, get(&cb, Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.location.is_empty());

    // The provider's error, with the right state and browser: a page, no redirect, no login.
    let go = send(
        &s,
        post(
            "/authorize/upstream",
            &format!("req={req}&csrf={csrf}&provider=github"),
            browser,
        ),
    )
    .await;
    let state = query(&go.location, "state");
    // This request carried no cookie, so the browser got a new one.
    let cookie = go.cookie.split(';').next().expect("cookie").to_owned();
    let cb = format!(
        "/login/callback/github?error=access_denied&error_description=no+thanks&state={state}"
    );
    let r = send(&s, get(&cb, Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body
            .contains("GitHub did not sign you in: access_denied (no thanks)"),
        "{}",
        r.body
    );
    assert!(r.location.is_empty() && r.cookie.is_empty());

    // The provider's token endpoint is down: a 502 page.
    let go = send(
        &s,
        post(
            "/authorize/upstream",
            &format!("req={req}&csrf={csrf}&provider=github"),
            browser,
        ),
    )
    .await;
    let state = query(&go.location, "state");
    let cookie = go.cookie.split(';').next().expect("cookie").to_owned();
    let r = send(
        &s,
        get(
            &format!("/login/callback/github?code=abc&state={state}"),
            Some(&cookie),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert!(
        r.body
            .contains("signing in with GitHub failed: could not reach http://127.0.0.1:9/token"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn with_the_password_off_only_the_providers_are_offered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), false);
    let page = login_page(&s).await;
    assert!(!page.body.contains("Owner password"), "{}", page.body);
    assert!(page.body.contains("Sign in with GitHub"));
    // The provider form's answer redirects to the provider: the CSP form-action allows it.
    assert!(
        page.csp
            .contains("form-action 'self' https://github.example;"),
        "{}",
        page.csp
    );
    let (req, csrf) = (field(&page.body, "req"), field(&page.body, "csrf"));
    let browser = page.cookie.split(';').next().expect("browser cookie");
    let r = send(
        &s,
        post(
            "/authorize/login",
            &format!("req={req}&csrf={csrf}&password=x"),
            browser,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.body.contains("owner password is turned off"),
        "{}",
        r.body
    );
}
