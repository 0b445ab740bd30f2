//! `GET` and `POST /answer/{token}`.
//!
//! Every refusal sends nothing: a malformed or unknown token is 404, a used or expired one
//! 410, a foreign `Origin` 403, a POST without the owner's sign-in (in `login` mode) 401. Past
//! those, the token is used up first, in the one statement that checks it (two POSTs racing
//! cannot both go on); then a prompt that changed or is gone, or an option that is not on it,
//! is 409 and the link is spent without sending anything; otherwise the audit row is written
//! and the keys are sent. A request whose body is JSON (ntfy's action buttons) gets a JSON
//! answer instead of a page.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use sessiongate_auth::owner_login::SignInRefused;
use sessiongate_backend::prompt::{self, Activity};
use sessiongate_backend::{ReadRequest, SessionName};

use super::page::{self, Gate};
use super::store::{AnswerRow, Lookup};
use super::{Answers, answer_for, unix_now, well_formed};
use crate::audit::{AuditEntry, AuditLog};
use crate::mcp::prompts::{detect_session, send_answer};
use crate::notify::event::{fingerprint, now_rfc3339, sha256_hex};
use crate::state::AppState;

/// What the answer routes share.
#[derive(Debug, Clone)]
struct Shared {
    state: AppState,
    answers: Arc<Answers>,
    audit: Option<Arc<AuditLog>>,
}

/// The answer routes, or none when notifications carry no answer URLs.
pub fn router(svc: &crate::http::server::Services) -> Router {
    let Some(answers) = svc.state.notify.answers() else {
        return Router::new();
    };
    let shared = Arc::new(Shared {
        state: svc.state.clone(),
        answers,
        audit: svc.audit.clone(),
    });
    Router::new()
        .route("/answer/{token}", get(show).post(answer))
        .with_state(shared)
        .route_layer(from_fn(crate::http::limits::request_timeout))
        .route_layer(from_fn(|req, next: Next| {
            crate::http::limits::read_body(req, |r| next.run(r))
        }))
        .route_layer(axum::middleware::from_fn_with_state(
            crate::http::routes::Route::Answer,
            crate::http::routes::tag,
        ))
}

/// A refusal or an outcome, as a page or (for JSON requests) as JSON.
struct Reply {
    status: StatusCode,
    title: &'static str,
    message: String,
    screen: Option<String>,
}

impl Reply {
    fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Reply {
            status,
            title,
            message: message.into(),
            screen: None,
        }
    }

    fn render(self, json_reply: bool) -> Response {
        if json_reply {
            let body = json!({
                "answered": self.status.is_success(),
                "message": self.message,
            });
            return (
                self.status,
                [(header::CACHE_CONTROL, "no-store")],
                axum::Json(body),
            )
                .into_response();
        }
        page::outcome(
            self.status,
            self.title,
            &self.message,
            self.screen.as_deref(),
        )
    }
}

fn unknown() -> Reply {
    Reply::new(
        StatusCode::NOT_FOUND,
        "Unknown link",
        "This answer link is not known. Nothing was sent.",
    )
}

/// The client's address, as the front checks determined it.
fn client_ip(headers_ext: &axum::http::Extensions) -> IpAddr {
    headers_ext
        .get::<sessiongate_auth::ClientIp>()
        .map(|c| c.0)
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

fn too_many(wait: u64, json_reply: bool) -> Response {
    let mut resp = Reply::new(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many requests",
        format!("Too many requests from this address; try again in {wait} s. Nothing was sent."),
    )
    .render(json_reply);
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Runs a database call off the async threads.
async fn db<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::notify::store::StoreError> + Send + 'static,
) -> Result<T, Reply> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "the answer links' database call failed");
            Err(Reply::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Cannot answer now",
                "The gateway cannot read its database. Nothing was sent.",
            ))
        }
        Err(_) => Err(Reply::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Cannot answer now",
            "Nothing was sent.",
        )),
    }
}

/// The live row behind a token, or the refusal.
async fn live_row(answers: &Arc<Answers>, token: &str) -> Result<(String, AnswerRow), Reply> {
    if !well_formed(token) {
        return Err(unknown());
    }
    let hash = sha256_hex(token);
    let a = answers.clone();
    let h = hash.clone();
    match db(move || a.store.lookup(&h, unix_now())).await? {
        Lookup::Unknown => Err(unknown()),
        Lookup::Used(_) => Err(Reply::new(
            StatusCode::GONE,
            "Already used",
            "This answer link was used already; each link answers once. Nothing was sent.",
        )),
        Lookup::Expired(_) => Err(Reply::new(
            StatusCode::GONE,
            "Link expired",
            "This answer link has expired. Nothing was sent.",
        )),
        Lookup::Live(row) => Ok((hash, row)),
    }
}

/// `GET /answer/{token}`: shows the question; never acts.
async fn show(State(s): State<Arc<Shared>>, Path(token): Path<String>, req: Request) -> Response {
    if let Err(wait) = s.answers.limiter.check(&client_ip(req.extensions())) {
        return too_many(wait, false);
    }
    let (_, row) = match live_row(&s.answers, &token).await {
        Ok(found) => found,
        Err(reply) => return reply.render(false),
    };
    let headers = req.headers();
    let action = format!("{}/answer/{token}", s.answers.base);
    let auth = s.answers.auth.as_deref();
    let signed_in = auth.and_then(|a| a.signed_in(headers));
    let gate = match (row.mode.as_str(), auth, &signed_in) {
        ("link", _, _) => Gate::Link,
        (_, Some(_), Some(sub)) => Gate::SignedIn(sub),
        (_, Some(a), None) if a.password_login() => Gate::Password,
        _ => Gate::NoPassword,
    };
    let mut resp = page::question(StatusCode::OK, &row, &action, gate, None);
    // The password form signs in this browser: it gets its browser cookie now.
    if gate == Gate::Password
        && let Some(cookie) = auth.and_then(|a| a.browser_cookie(headers))
    {
        resp.headers_mut().append(header::SET_COOKIE, cookie);
    }
    resp
}

/// `POST /answer/{token}`: answers, if everything still holds.
async fn answer(State(s): State<Arc<Shared>>, Path(token): Path<String>, req: Request) -> Response {
    let addr = client_ip(req.extensions());
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let json_reply = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if let Err(wait) = s.answers.limiter.check(&addr) {
        return too_many(wait, json_reply);
    }
    if !own_origin(&s, headers) {
        tracing::info!(origin = ?headers.get(header::ORIGIN), "refused an answer posted from another origin");
        return Reply::new(
            StatusCode::FORBIDDEN,
            "Refused",
            "This answer was sent from another site. Nothing was sent.",
        )
        .render(json_reply);
    }
    let body = axum::body::to_bytes(body, 16 * 1024)
        .await
        .unwrap_or_else(|_| Bytes::new());
    let (hash, row) = match live_row(&s.answers, &token).await {
        Ok(found) => found,
        Err(reply) => return reply.render(json_reply),
    };
    let mut set_cookie = None;
    let user = if row.mode == "link" {
        "link".to_owned()
    } else {
        match sign_in(&s, &token, &row, addr, headers, &body, json_reply).await {
            Ok((sub, cookie)) => {
                set_cookie = cookie;
                sub
            }
            Err(resp) => return *resp,
        }
    };
    let mut resp = match act(&s, &hash, &row, &user, addr).await {
        Ok(reply) | Err(reply) => reply.render(json_reply),
    };
    if let Some(cookie) = set_cookie {
        resp.headers_mut().append(header::SET_COOKIE, cookie);
    }
    resp
}

/// A POST's `Origin`: absent (ntfy's app, scripts), or the gateway's own.
fn own_origin(s: &Shared, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    if let Some(auth) = &s.answers.auth {
        return auth.own_origin(headers);
    }
    // Without the authorization server: exactly the public URL's origin.
    let own = reqwest::Url::parse(&s.answers.base)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    origin.to_str().is_ok_and(|o| o == own)
}

/// `login` mode: the signed-in owner, or a password sign-in from the form; `Err` is the page
/// that asks again (nothing is used up).
async fn sign_in(
    s: &Shared,
    token: &str,
    row: &AnswerRow,
    addr: IpAddr,
    headers: &HeaderMap,
    body: &[u8],
    json_reply: bool,
) -> Result<(String, Option<HeaderValue>), Box<Response>> {
    let Some(auth) = s.answers.auth.as_deref() else {
        return Err(Box::new(
            Reply::new(
                StatusCode::FORBIDDEN,
                "Cannot answer",
                "This link needs a sign-in, and sign-in is off. Nothing was sent.",
            )
            .render(json_reply),
        ));
    };
    if let Some(sub) = auth.signed_in(headers) {
        return Ok((sub, None));
    }
    let password = form_urlencoded::parse(body)
        .find(|(k, _)| k == "password")
        .map(|(_, v)| v.into_owned());
    let action = format!("{}/answer/{token}", s.answers.base);
    let ask = |status: StatusCode, message: &str| {
        if json_reply {
            return Box::new(
                Reply::new(
                    status,
                    "Sign in first",
                    format!("{message} Nothing was sent."),
                )
                .render(true),
            );
        }
        let gate = if auth.password_login() {
            Gate::Password
        } else {
            Gate::NoPassword
        };
        Box::new(page::question(status, row, &action, gate, Some(message)))
    };
    let Some(password) = password else {
        return Err(ask(
            StatusCode::UNAUTHORIZED,
            "Sign in to answer: this link alone does not answer.",
        ));
    };
    match auth.sign_in_with_password(addr, headers, password).await {
        Ok(cookie) => Ok((sessiongate_auth::server::OWNER_SUB.to_owned(), Some(cookie))),
        Err(SignInRefused::TooMany(wait)) => {
            let mut resp = ask(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Too many attempts; try again in {wait} s."),
            );
            if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Err(resp)
        }
        Err(e) => Err(ask(
            StatusCode::UNAUTHORIZED,
            &format!("Not signed in: {e}."),
        )),
    }
}

/// Uses the token, checks the prompt on screen, writes the audit row and sends the keys.
async fn act(
    s: &Shared,
    hash: &str,
    row: &AnswerRow,
    user: &str,
    addr: IpAddr,
) -> Result<Reply, Reply> {
    let a = s.answers.clone();
    let h = hash.to_owned();
    if !db(move || a.store.claim(&h, unix_now())).await? {
        return Err(Reply::new(
            StatusCode::GONE,
            "Already used",
            "This answer link was used already or has just expired. Nothing was sent.",
        ));
    }
    let gone = |why: &str| {
        Reply::new(
            StatusCode::CONFLICT,
            "Not answered",
            format!("{why} Nothing was sent; open your app to see the session."),
        )
    };
    let state = &s.state;
    let name = SessionName::new(&row.session).map_err(|_| unknown())?;
    let info = match state.backend.info(&name).await {
        Ok(info) => info,
        Err(_) => return Err(gone("The session is gone.")),
    };
    let detection = detect_session(state, &info).await;
    let Some(p) = detection
        .as_ref()
        .filter(|d| d.activity == Activity::WaitingForInput)
        .and_then(|d| d.prompt.as_ref())
    else {
        return Err(gone("The session no longer shows this question."));
    };
    if fingerprint(name.as_str(), p) != row.fingerprint {
        return Err(gone(
            "The session now shows another question than the one this link answers.",
        ));
    }
    let Some(answer) = p
        .options
        .get(row.option_index)
        .filter(|o| o.label == row.label)
        .and_then(|_| answer_for(p, row.option_index))
    else {
        return Err(gone("This option is not one of the question's options."));
    };
    // The same plan `respond_to_prompt` makes must choose exactly this option.
    match prompt::plan_answer(p, &answer) {
        Ok(plan)
            if plan
                .chosen
                .as_deref()
                .unwrap_or_default()
                .eq_ignore_ascii_case(&row.label) => {}
        _ => return Err(gone("This option cannot be chosen by a link.")),
    }
    if let Some(audit) = &s.audit {
        let entry = AuditEntry {
            at: now_rfc3339(),
            client_id: format!("notification:{}", row.channel),
            user: user.to_owned(),
            address: addr.to_string(),
            action: "respond_to_prompt".to_owned(),
            session: Some(row.session.clone()),
            text_sha256: None,
            text_len: None,
            text: None,
            detail: Some(format!(
                "answer link {} ({} mode), option {} {:?}",
                &hash[..16],
                row.mode,
                row.option_index + 1,
                row.label
            )),
        };
        if let Err(e) = audit.record(vec![entry]).await {
            tracing::error!(error = %e, "an answer could not be audited; not sent");
            return Err(Reply::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Cannot answer now",
                "The audit log cannot be written. Nothing was sent.",
            ));
        }
    }
    tracing::info!(session = %row.session, channel = %row.channel, option = %row.label, "answered from a notification");
    let result = send_answer(state, &name, p, &answer).await;
    let text: String = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    if result.is_error == Some(true) {
        return Err(Reply::new(
            StatusCode::BAD_GATEWAY,
            "Not answered",
            format!("Sending the answer failed: {text}"),
        ));
    }
    let screen = state
        .backend
        .read(&name, ReadRequest::visible())
        .await
        .map(|s| s.text)
        .ok();
    let mut reply = Reply::new(
        StatusCode::OK,
        "Answered",
        format!("Answered \u{201c}{}\u{201d} in {}.", row.label, row.session),
    );
    reply.screen = screen.map(|s| {
        let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(6)..].join("\n")
    });
    Ok(reply)
}
