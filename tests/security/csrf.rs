//! CSRF on the login and consent forms: a hostile page posts the forms on the owner's behalf
//! (their browser carries the login cookie, not the form's security token), or posts the forms
//! of a request the attacker started themselves (whose token they know) from a page on the
//! owner's machine. Every forged form is refused, no code is issued, and the real request still
//! goes through afterwards.

use sessiongate_tests::gateway::OWNER_PASSWORD;
use sessiongate_tests::oauth::{Cookies, Flow, hidden_fields, http};

use crate::common::{self, assert_error_page, counts};

/// Opens the authorization page in a new browser; returns its cookies and the form's fields.
async fn opened(flow: &Flow) -> (Cookies, Vec<(String, String)>) {
    let page = http().get(flow.authorize_url(&[])).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let mut cookies = Cookies::default();
    cookies.keep(page.headers());
    let mut fields = hidden_fields(&page.text().await.unwrap());
    let mut seen = std::collections::HashSet::new();
    fields.retain(|(k, _)| seen.insert(k.clone()));
    (cookies, fields)
}

/// Logs in through the real form; returns the browser's cookies (its login among them) and the
/// pending request's fields.
async fn logged_in(flow: &Flow) -> (Cookies, Vec<(String, String)>) {
    let (mut cookies, fields) = opened(flow).await;
    let mut form = fields.clone();
    form.push(("password".into(), OWNER_PASSWORD.into()));
    let login = http()
        .post(format!("{}/authorize/login", flow.base))
        .header("cookie", cookies.header())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    cookies.keep(login.headers());
    assert!(cookies.get("sessiongate_login").is_some());
    (cookies, fields)
}

/// POSTs a form to `path` with the given `Cookie` header and `Origin`.
async fn post(
    base: &str,
    path: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
    form: &[(String, String)],
) -> reqwest::Response {
    let mut rb = http().post(format!("{base}{path}")).form(form);
    if let Some(c) = cookie {
        rb = rb.header("cookie", c);
    }
    if let Some(o) = origin {
        rb = rb.header("origin", o);
    }
    rb.send().await.unwrap()
}

fn with(fields: &[(String, String)], extra: (&str, &str)) -> Vec<(String, String)> {
    let mut f = fields.to_vec();
    f.push((extra.0.into(), extra.1.into()));
    f
}

fn field(fields: &[(String, String)], name: &str) -> String {
    fields.iter().find(|(k, _)| k == name).unwrap().1.clone()
}

#[tokio::test]
async fn forged_login_forms_are_refused() {
    let gw = common::gateway("csrf-login");
    let flow = Flow::register(&gw.base_url).await;
    let c = http();
    let (jar_a, a) = opened(&flow).await;
    let (jar_b, b) = opened(&flow).await;
    let login = |form: Vec<(&'static str, String)>| {
        let c = c.clone();
        let url = format!("{}/authorize/login", gw.base_url);
        let cookie = jar_a.header();
        async move {
            c.post(url)
                .header("cookie", cookie)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let before = counts(&gw);
    // Without the security token, even with the right password.
    let r = login(vec![
        ("req", field(&a, "req")),
        ("password", OWNER_PASSWORD.into()),
    ])
    .await;
    assert_error_page(r, 403, "security token is wrong", "no csrf").await;
    // With the token of another request.
    let r = login(vec![
        ("req", field(&a, "req")),
        ("csrf", field(&b, "csrf")),
        ("password", OWNER_PASSWORD.into()),
    ])
    .await;
    assert_error_page(r, 403, "security token is wrong", "other request's csrf").await;
    // A request id that was never issued, and one crafted as a path.
    for req in ["forged", "../../evil.example", ""] {
        let r = login(vec![
            ("req", req.into()),
            ("csrf", field(&a, "csrf")),
            ("password", OWNER_PASSWORD.into()),
        ])
        .await;
        assert_error_page(r, 400, "expired or is unknown", req).await;
    }
    // A repeated parameter (the second value smuggled past a naive parser).
    let r = c
        .post(format!("{}/authorize/login", gw.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", jar_a.header())
        .body(format!(
            "req={}&csrf={}&csrf=x&password=x",
            field(&a, "req"),
            field(&a, "csrf")
        ))
        .send()
        .await
        .unwrap();
    assert_error_page(r, 400, "the form is malformed", "repeated csrf").await;
    // The right fields from another browser (its own browser cookie, or none).
    let right = with(&a, ("password", OWNER_PASSWORD));
    for (cookie, what) in [(Some(jar_b.header()), "other browser"), (None, "no cookie")] {
        let r = post(
            &gw.base_url,
            "/authorize/login",
            cookie.as_deref(),
            None,
            &right,
        )
        .await;
        assert_error_page(r, 403, "started in another browser", what).await;
    }
    // The browser cookie planted twice (a sibling origin's copy under a longer path).
    let planted = format!("{}; {}", jar_a.header(), jar_b.header());
    let r = post(
        &gw.base_url,
        "/authorize/login",
        Some(&planted),
        None,
        &right,
    )
    .await;
    assert_error_page(r, 403, "started in another browser", "two browser cookies").await;
    assert_eq!(counts(&gw), before);
    // The genuine form still works: the forgeries consumed nothing.
    let r = post(
        &gw.base_url,
        "/authorize/login",
        Some(&jar_a.header()),
        None,
        &right,
    )
    .await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn forged_consent_forms_issue_no_code() {
    let gw = common::gateway("csrf-consent");
    let flow = Flow::register(&gw.base_url).await;
    let (jar, fields) = logged_in(&flow).await;
    let cookie = jar.header();
    let other = hidden_fields(
        &http()
            .get(flow.authorize_url(&[]))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let req = field(&fields, "req");
    let csrf = field(&fields, "csrf");
    let consent = |cookie: Option<String>, form: Vec<(&'static str, String)>| {
        let url = format!("{}/authorize/consent", gw.base_url);
        async move {
            let mut rb = http().post(url).form(&form);
            if let Some(c) = cookie {
                rb = rb.header("cookie", c);
            }
            rb.send().await.unwrap()
        }
    };
    let approve = |req: &str, csrf: Option<&str>| {
        let mut f = vec![("req", req.to_owned()), ("decision", "approve".to_owned())];
        if let Some(c) = csrf {
            f.push(("csrf", c.to_owned()));
        }
        f
    };
    let before = counts(&gw);
    assert_eq!(before.codes, 0);
    // The owner's cookie rides along, the token does not.
    let r = consent(Some(cookie.clone()), approve(&req, None)).await;
    assert_error_page(r, 403, "security token is wrong", "no csrf").await;
    let r = consent(
        Some(cookie.clone()),
        approve(&req, Some(&field(&other, "csrf"))),
    )
    .await;
    assert_error_page(r, 403, "security token is wrong", "other request's csrf").await;
    // No login cookie (a cross-site POST without the owner's cookie), or a forged one.
    let r = consent(None, approve(&req, Some(&csrf))).await;
    assert_error_page(r, 403, "you are not signed in", "no cookie").await;
    let r = consent(
        Some("sessiongate_login=forged".into()),
        approve(&req, Some(&csrf)),
    )
    .await;
    assert_error_page(r, 403, "you are not signed in", "forged cookie").await;
    // A GET carrying an approval changes nothing: it only shows the page.
    let r = http()
        .get(format!(
            "{}/authorize/consent?req={req}&csrf={csrf}&decision=approve",
            gw.base_url
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("location").is_none());
    assert_eq!(counts(&gw), before, "a forged consent issued something");
    // The genuine decision goes through once, and its replay is refused.
    let r = consent(Some(cookie.clone()), approve(&req, Some(&csrf))).await;
    assert_eq!(r.status(), 303);
    assert_eq!(counts(&gw).codes, 1);
    let r = consent(Some(cookie.clone()), approve(&req, Some(&csrf))).await;
    assert_error_page(
        r,
        400,
        "expired or was already answered",
        "replayed consent",
    )
    .await;
    assert_eq!(counts(&gw).codes, 1);
}

#[tokio::test]
async fn the_owners_browser_cannot_approve_a_request_someone_else_started() {
    let gw = common::gateway("csrf-other-request");
    let flow = Flow::register(&gw.base_url).await;
    let (owner, _) = logged_in(&flow).await;
    // The attacker registers a client of their own and starts its request: they know its
    // `req` and `csrf`, and hold its browser cookie.
    let evil = Flow::register_with(&gw.base_url, &["http://127.0.0.1:45679/evil"]).await;
    let (attacker, theirs) = opened(&evil).await;
    let approve = with(&theirs, ("decision", "approve"));
    let before = counts(&gw);
    // A page on the owner's machine (another loopback port: same site for cookies) makes the
    // owner's signed-in browser post them; so does anything without an Origin, and even a
    // post that claims the gateway's own origin.
    for origin in [Some("http://127.0.0.1:1"), Some(gw.base_url.as_str()), None] {
        let r = post(
            &gw.base_url,
            "/authorize/consent",
            Some(&owner.header()),
            origin,
            &approve,
        )
        .await;
        assert_eq!(r.status(), 403, "{origin:?}");
        assert!(r.headers().get("location").is_none(), "{origin:?}");
    }
    // A link to the attacker's request shows the owner's browser neither its consent page nor
    // its login page, and the owner's browser cannot sign in on it either.
    let r = http()
        .get(format!(
            "{}/authorize/consent?req={}",
            gw.base_url,
            theirs.iter().find(|(k, _)| k == "req").unwrap().1
        ))
        .header("cookie", owner.header())
        .send()
        .await
        .unwrap();
    assert_error_page(r, 403, "started in another browser", "consent page").await;
    let r = post(
        &gw.base_url,
        "/authorize/login",
        Some(&owner.header()),
        None,
        &with(&theirs, ("password", OWNER_PASSWORD)),
    )
    .await;
    assert_error_page(r, 403, "started in another browser", "login form").await;
    // The attacker's own browser is not signed in; a login cookie of the owner's copied into
    // it (next to the attacker's browser cookie) belongs to another browser.
    let r = post(
        &gw.base_url,
        "/authorize/consent",
        Some(&attacker.header()),
        None,
        &approve,
    )
    .await;
    assert_error_page(r, 403, "you are not signed in", "attacker's browser").await;
    let mixed = format!(
        "{}; sessiongate_login={}",
        attacker.header(),
        owner.get("sessiongate_login").unwrap()
    );
    let r = post(
        &gw.base_url,
        "/authorize/consent",
        Some(&mixed),
        None,
        &approve,
    )
    .await;
    assert_error_page(r, 403, "started in another browser", "owner's login copied").await;
    assert_eq!(
        counts(&gw),
        before,
        "another browser's request was approved"
    );
    // The owner's own requests still go through.
    let code = flow.code().await;
    assert_eq!(flow.exchange(&code).await.0, 200);
}

#[tokio::test]
async fn forms_posted_from_another_origin_are_refused() {
    let gw = common::gateway("csrf-origin");
    let flow = Flow::register(&gw.base_url).await;
    let (mut jar, fields) = opened(&flow).await;
    let port = gw.base_url.rsplit(':').next().unwrap();
    // Origins the gateway lets through in general (loopback), but that are not this page's.
    let foreign = [
        "http://127.0.0.1:1".to_owned(),
        format!("http://localhost:{port}"),
        format!("https://127.0.0.1:{port}"),
        format!("http://[::1]:{port}"),
    ];
    let login = with(&fields, ("password", OWNER_PASSWORD));
    for origin in &foreign {
        let r = post(
            &gw.base_url,
            "/authorize/login",
            Some(&jar.header()),
            Some(origin),
            &login,
        )
        .await;
        assert_error_page(r, 403, "sent from another site", origin).await;
    }
    let r = post(
        &gw.base_url,
        "/authorize/login",
        Some(&jar.header()),
        Some(&gw.base_url),
        &login,
    )
    .await;
    assert_eq!(r.status(), 303);
    jar.keep(r.headers());
    let approve = with(&fields, ("decision", "approve"));
    for origin in &foreign {
        let r = post(
            &gw.base_url,
            "/authorize/consent",
            Some(&jar.header()),
            Some(origin),
            &approve,
        )
        .await;
        assert_error_page(r, 403, "sent from another site", origin).await;
    }
    assert_eq!(counts(&gw).codes, 0);
    let r = post(
        &gw.base_url,
        "/authorize/consent",
        Some(&jar.header()),
        Some(&gw.base_url),
        &approve,
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(counts(&gw).codes, 1);
}
