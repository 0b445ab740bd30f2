//! Answering a waiting prompt from its notification, against the real binary, a real tmux
//! session with a `read`-based y/n prompt, the webhook and ntfy stand-ins and the real
//! `auth.db`:
//! - link mode: the webhook receiver answers through `answer_url`; ntfy's action button is
//!   "tapped" with exactly the request ntfy's app sends;
//! - every refusal sends no key (the screen stays as it was) and writes no audit row: a GET,
//!   a tampered, malformed, replayed or expired token, a foreign `Origin`, a token whose
//!   prompt was replaced, a token of another session, an option that is not on the prompt;
//! - login mode: a POST without the owner's sign-in, or with a wrong password, answers
//!   nothing; the page's password form, in the browser that loaded it, answers.

use std::time::Duration;

use serde_json::{Value, json};

use sessiongate_tests::gateway::{OWNER_PASSWORD, Options, TestGateway, free_port, tmux_capture};
use sessiongate_tests::mcp::McpClient;

use crate::mcp_tools::wait_for_text;
use crate::notify::Receiver;

/// A gateway reachable at a public URL it was told (`--public-url`), with the receiver's
/// channels and `settings` added to its `[notify]` table.
fn gateway(rx: &Receiver, tag: &str, oauth: bool, settings: &str) -> TestGateway {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut opts = if oauth {
        Options::oauth(tag, 3600)
    } else {
        Options::tmux(tag)
    };
    opts.extra_args = vec![
        "--bind".into(),
        format!("127.0.0.1:{port}"),
        "--public-url".into(),
        base,
    ];
    opts.extra_profiles.push_str(&rx.config("").replacen(
        "[notify]\n",
        &format!("[notify]\n{settings}"),
        1,
    ));
    TestGateway::start(opts)
}

pub(crate) async fn mcp(gw: &TestGateway, oauth: bool) -> McpClient {
    if oauth {
        let token = gw.token("sessions:read sessions:write sessions:manage", "1h");
        McpClient::with_token(&gw.mcp_url(), &token).await.unwrap()
    } else {
        let mut c = McpClient::new(&gw.mcp_url());
        c.initialize().await.unwrap();
        c
    }
}

/// Creates `session` and has it ask `question (y/n)` with `read`, echoing the answer.
pub(crate) async fn ask(c: &mut McpClient, session: &str, question: &str) {
    let _ = c
        .call(
            "create_session",
            json!({ "name": session, "profile": "bash" }),
        )
        .await
        .unwrap();
    c.call_ok(
        "send_message",
        json!({ "session": session, "message": format!("read -p '{question} (y/n) ' a; echo \"got=$a\"") }),
    )
    .await
    .unwrap();
}

/// The webhook payload of the prompt `question` in `session`, once it arrived.
pub(crate) async fn hook_for(rx: &Receiver, session: &str, question: &str) -> Value {
    let q = format!("{question} (y/n)");
    let hooks = rx
        .until("/hook", &format!("the webhook for {q}"), |g| {
            g.iter()
                .any(|r| r["body"]["session"] == session && r["body"]["question"] == q)
        })
        .await;
    hooks
        .into_iter()
        .find(|r| r["body"]["session"] == session && r["body"]["question"] == q)
        .unwrap()
}

/// The answer URL of `label` in a webhook payload.
pub(crate) fn url_of(hook: &Value, label: &str) -> String {
    hook["body"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["label"] == label)
        .and_then(|o| o["answer_url"].as_str())
        .unwrap_or_else(|| panic!("no answer_url for {label} in {hook}"))
        .to_owned()
}

/// Rows of the audit log written for answers from notifications.
pub(crate) fn answer_rows(gw: &TestGateway) -> Vec<Value> {
    gw.audit()
        .into_iter()
        .filter(|e| {
            e["client_id"]
                .as_str()
                .is_some_and(|c| c.starts_with("notification:"))
        })
        .collect()
}

/// Asserts that nothing reached `session`: its screen is what it was, still asking.
async fn untouched(gw: &TestGateway, session: &str, before: &str) {
    // Give a key that was sent wrongly the time to show.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let now = tmux_capture(gw, session);
    assert_eq!(now, before, "the screen of {session} changed");
    let last = now.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
    assert!(
        last.trim_end().ends_with("(y/n)"),
        "{session} no longer waits:\n{now}"
    );
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Sets a column of the answer tokens of `session` in the gateway's database.
fn update_tokens(gw: &TestGateway, session: &str, set: &str) {
    let db = rusqlite::Connection::open(gw.data_dir.join("auth.db")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let n = db
        .execute(
            &format!("UPDATE notify_answers SET {set} WHERE session = ?1"),
            [session],
        )
        .unwrap();
    assert!(n > 0, "no tokens of {session}");
}

/// Link mode: the webhook receiver answers through `answer_url`, ntfy's button answers, and
/// each refusal sends nothing and writes no audit row.
#[tokio::test]
async fn link_mode_answers_once_and_refuses_everything_else() {
    let rx = Receiver::start_with(&[("AUTO_ANSWER", "yes")]);
    let gw = gateway(&rx, "answer-link", false, "answers = \"link\"\n");
    let mut c = mcp(&gw, false).await;
    let http = http();

    // The webhook receiver answers a prompt through its answer_url, as a service would.
    ask(&mut c, "auto", "Run the auto deploy?").await;
    let hook = hook_for(&rx, "auto", "Run the auto deploy?").await;
    assert_eq!(hook["body"]["answers"], "link", "{hook}");
    assert_eq!(hook["errors"], json!([]), "{hook}");
    let auto = rx
        .until("auto_answer", "the receiver's answer", |g| !g.is_empty())
        .await;
    assert_eq!(auto[0]["status"], 200, "{auto:?}");
    wait_for_text(&mut c, "auto", "got=y").await;
    let rows = answer_rows(&gw);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["client_id"], "notification:hook");
    assert_eq!(rows[0]["session"], "auto");
    assert_eq!(rows[0]["action"], "respond_to_prompt");
    assert!(
        rows[0]["detail"].as_str().unwrap().contains("\"yes\""),
        "{rows:?}"
    );

    // ntfy: up to three http buttons that POST to the answer URLs, in screen order.
    ask(&mut c, "phone", "Push to main?").await;
    let hook = hook_for(&rx, "phone", "Push to main?").await;
    let msgs = rx
        .until("/", "the ntfy message with actions", |g| {
            g.iter().any(|r| {
                r["body"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("Push to main?"))
            })
        })
        .await;
    let msg = msgs
        .iter()
        .find(|r| {
            r["body"]["message"]
                .as_str()
                .unwrap()
                .contains("Push to main?")
        })
        .unwrap();
    assert_eq!(msg["errors"], json!([]), "{msg}");
    let actions = msg["body"]["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2, "{msg}");
    assert_eq!(actions[0]["action"], "http");
    assert_eq!(actions[0]["label"], "yes");
    assert_eq!(actions[0]["method"], "POST");
    assert_eq!(actions[1]["label"], "no");
    let hook_yes = url_of(&hook, "yes");
    let tap = &actions[0];
    let tap_url = tap["url"].as_str().unwrap();
    assert!(tap_url.contains("/answer/"), "{tap}");
    assert_ne!(tap_url, hook_yes, "each channel has tokens of its own");
    let before = tmux_capture(&gw, "phone");

    // GET never acts: the page shows the question and the option.
    let page = http.get(tap_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let text = page.text().await.unwrap();
    assert!(text.contains("Push to main? (y/n)"), "{text}");
    assert!(text.contains("method=\"post\""), "{text}");
    untouched(&gw, "phone", &before).await;

    // A tampered token (one digit changed), and a malformed one: 404.
    let mut tampered = tap_url.to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == '0' { '1' } else { '0' });
    let r = http.post(&tampered).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .post(format!("{}/answer/not-a-token", gw.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A foreign Origin: 403.
    let r = http
        .post(tap_url)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    untouched(&gw, "phone", &before).await;
    assert_eq!(answer_rows(&gw).len(), 1);

    // The tap, exactly as ntfy's app sends it: the action's method, headers and body.
    let mut req = http
        .post(tap_url)
        .body(tap["body"].as_str().unwrap().to_owned());
    for (k, v) in tap["headers"].as_object().unwrap() {
        req = req.header(k, v.as_str().unwrap());
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["answered"], true, "{answer}");
    wait_for_text(&mut c, "phone", "got=y").await;
    let rows = answer_rows(&gw);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1]["client_id"], "notification:phone");

    // Replayed: 410, nothing sent (the next prompt is on screen and stays unanswered).
    ask(&mut c, "phone", "Tag the release?").await;
    let replaced = hook_for(&rx, "phone", "Tag the release?").await;
    let before = tmux_capture(&gw, "phone");
    let r = http.post(tap_url).send().await.unwrap();
    assert_eq!(r.status(), 410);
    // A token whose prompt was replaced by another (the first prompt's "no"): 409.
    let r = http.post(url_of(&hook, "no")).send().await.unwrap();
    assert_eq!(r.status(), 409);
    let page = r.text().await.unwrap();
    assert!(page.contains("another question"), "{page}");
    untouched(&gw, "phone", &before).await;
    assert_eq!(answer_rows(&gw).len(), 2);

    // A token of another session: `one` was answered elsewhere, `two` asks the same
    // question; `one`'s token does not answer `two`.
    ask(&mut c, "one", "Same question?").await;
    ask(&mut c, "two", "Same question?").await;
    let one = hook_for(&rx, "one", "Same question?").await;
    hook_for(&rx, "two", "Same question?").await;
    c.call_ok(
        "respond_to_prompt",
        json!({ "session": "one", "answer": "no" }),
    )
    .await
    .unwrap();
    wait_for_text(&mut c, "one", "got=n").await;
    let before_two = tmux_capture(&gw, "two");
    let r = http.post(url_of(&one, "yes")).send().await.unwrap();
    assert_eq!(r.status(), 409);
    untouched(&gw, "two", &before_two).await;

    // An option that is not on the prompt (the stored option moved out of range): 409.
    update_tokens(&gw, "phone", "option_index = 7");
    let r = http.post(url_of(&replaced, "yes")).send().await.unwrap();
    assert_eq!(r.status(), 409);
    untouched(&gw, "phone", &before).await;
    // An expired token: 410.
    update_tokens(&gw, "two", "expires = 0");
    let r = http
        .post(url_of(&hook_for(&rx, "two", "Same question?").await, "yes"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    untouched(&gw, "two", &before_two).await;
    assert_eq!(answer_rows(&gw).len(), 2, "{:?}", answer_rows(&gw));
}

/// The `Set-Cookie` values of a response, as one `Cookie` header.
fn cookies(resp: &reqwest::Response, jar: &mut Vec<String>) {
    for v in resp.headers().get_all("set-cookie") {
        let pair = v.to_str().unwrap().split(';').next().unwrap().to_owned();
        let name = pair.split('=').next().unwrap().to_owned();
        jar.retain(|c| !c.starts_with(&format!("{name}=")));
        jar.push(pair);
    }
}

/// Login mode (the default): the link alone answers nothing; ntfy's buttons open the page;
/// the page's password form, posted by the browser that loaded it, answers.
#[tokio::test]
async fn login_mode_needs_the_owners_sign_in() {
    let rx = Receiver::start_with(&[]);
    let gw = gateway(&rx, "answer-login", true, "");
    let mut c = mcp(&gw, true).await;
    let http = http();
    ask(&mut c, "s", "Drop the table?").await;
    let hook = hook_for(&rx, "s", "Drop the table?").await;
    assert_eq!(hook["body"]["answers"], "login", "{hook}");
    let msgs = rx
        .until("/", "the ntfy message", |g| {
            g.iter().any(|r| r["body"]["actions"].is_array())
        })
        .await;
    let actions = msgs
        .iter()
        .find(|r| r["body"]["actions"].is_array())
        .unwrap()["body"]["actions"]
        .clone();
    assert_eq!(actions[0]["action"], "view", "{actions}");
    let url = url_of(&hook, "yes");
    let before = tmux_capture(&gw, "s");

    // POST without sign-in: 401, the page asks for the password; nothing sent.
    let r = http.post(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("type=\"password\""));
    // The ntfy-style JSON POST: 401 JSON.
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["answered"], false);
    // The right password from a browser that never loaded the page (no browser cookie).
    let r = http
        .post(&url)
        .form(&[("password", OWNER_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    untouched(&gw, "s", &before).await;

    // The browser loads the page (and gets its browser cookie), then a wrong password.
    let mut jar = Vec::new();
    let page = http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    cookies(&page, &mut jar);
    assert!(!jar.is_empty(), "the page sets a browser cookie");
    let origin = gw.base_url.clone();
    let r = http
        .post(&url)
        .header("cookie", jar.join("; "))
        .header("origin", &origin)
        .form(&[("password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    untouched(&gw, "s", &before).await;
    assert!(answer_rows(&gw).is_empty());

    // The right password in that browser answers, and signs it in for a while.
    let r = http
        .post(&url)
        .header("cookie", jar.join("; "))
        .header("origin", &origin)
        .form(&[("password", OWNER_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    cookies(&r, &mut jar);
    wait_for_text(&mut c, "s", "got=y").await;
    let rows = answer_rows(&gw);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["user"], "owner");

    // Signed in, the next prompt's page answers with the button alone.
    ask(&mut c, "s", "Drop another table?").await;
    let hook = hook_for(&rx, "s", "Drop another table?").await;
    let url = url_of(&hook, "no");
    let page = http
        .get(&url)
        .header("cookie", jar.join("; "))
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("Signed in as"));
    let r = http
        .post(&url)
        .header("cookie", jar.join("; "))
        .header("origin", &origin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_for_text(&mut c, "s", "got=n").await;
}
