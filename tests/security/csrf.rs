//! CSRF on the login and consent forms: a hostile page posts the forms on the owner's behalf
//! (their browser carries the login cookie, not the form's security token). Every forged form
//! is refused, no code is issued, and the real request still goes through afterwards.

use sessiongate_tests::gateway::OWNER_PASSWORD;
use sessiongate_tests::oauth::{Flow, hidden_fields, http};

use crate::common::{self, assert_error_page, counts};

/// Logs in through the real form; returns the login cookie and the pending request's fields.
async fn logged_in(flow: &Flow) -> (String, Vec<(String, String)>) {
    let c = http();
    let page = c.get(flow.authorize_url(&[])).send().await.unwrap();
    let fields = hidden_fields(&page.text().await.unwrap());
    let mut form = fields.clone();
    form.push(("password".into(), OWNER_PASSWORD.into()));
    let login = c
        .post(format!("{}/authorize/login", flow.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (cookie, fields)
}

fn field(fields: &[(String, String)], name: &str) -> String {
    fields.iter().find(|(k, _)| k == name).unwrap().1.clone()
}

#[tokio::test]
async fn forged_login_forms_are_refused() {
    let gw = common::gateway("csrf-login");
    let flow = Flow::register(&gw.base_url).await;
    let c = http();
    let page_a = c
        .get(flow.authorize_url(&[]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let page_b = c
        .get(flow.authorize_url(&[]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (a, b) = (hidden_fields(&page_a), hidden_fields(&page_b));
    let login = |form: Vec<(&'static str, String)>| {
        let c = c.clone();
        let url = format!("{}/authorize/login", gw.base_url);
        async move { c.post(url).form(&form).send().await.unwrap() }
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
        .body(format!(
            "req={}&csrf={}&csrf=x&password=x",
            field(&a, "req"),
            field(&a, "csrf")
        ))
        .send()
        .await
        .unwrap();
    assert_error_page(r, 400, "the form is malformed", "repeated csrf").await;
    assert_eq!(counts(&gw), before);
    // The genuine form still works: the forgeries consumed nothing.
    let mut form = a.clone();
    form.push(("password".into(), OWNER_PASSWORD.into()));
    let r = c
        .post(format!("{}/authorize/login", gw.base_url))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn forged_consent_forms_issue_no_code() {
    let gw = common::gateway("csrf-consent");
    let flow = Flow::register(&gw.base_url).await;
    let (cookie, fields) = logged_in(&flow).await;
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
