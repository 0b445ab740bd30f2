//! Upstream identity providers for the sign-in tests: the certified OpenID Connect provider
//! (`tests/clients/oidc_provider.mjs`, the npm package oidc-provider) as a child process, a
//! local stand-in of GitHub's OAuth and REST endpoints, and a small browser (cookies per host,
//! redirects followed by hand) to walk through both sites.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{Value, json};

use crate::oauth::{hidden_fields, http, s256};

use crate::clients::{dir as clients_dir, node};

/// The OpenID Connect provider, running until dropped.
#[derive(Debug)]
pub struct OidcProvider {
    child: Child,
    stdin: Option<ChildStdin>,
    out: BufReader<std::process::ChildStdout>,
    /// `http://127.0.0.1:PORT`.
    pub issuer: String,
}

impl OidcProvider {
    /// Starts the provider in a mode (`normal`, `wrong-nonce`, `tamper-id-token`).
    pub fn start(mode: &str) -> OidcProvider {
        let mut child = Command::new(node())
            .arg(clients_dir().join("oidc_provider.mjs"))
            .args(["--mode", mode])
            .current_dir(clients_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start oidc_provider.mjs");
        let stdin = child.stdin.take();
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("read the issuer line");
        let issuer = line
            .strip_prefix("issuer ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .trim()
            .to_owned();
        OidcProvider {
            child,
            stdin,
            out,
            issuer,
        }
    }

    /// Registers sessiongate's callback URL and waits until the provider is ready.
    pub fn register_redirect(&mut self, redirect_uri: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{redirect_uri}").expect("write the redirect URI");
        stdin.flush().expect("flush");
        let mut line = String::new();
        while !line.starts_with("ready") {
            line.clear();
            let n = self.out.read_line(&mut line).expect("read ready");
            assert!(n > 0, "oidc_provider.mjs exited before it was ready");
        }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A page the browser ended on.
#[derive(Debug)]
pub struct Page {
    /// The HTTP status.
    pub status: u16,
    /// The URL it came from.
    pub url: String,
    /// The `Location` header of a redirect that was not followed.
    pub location: Option<String>,
    /// The body.
    pub body: String,
}

impl Page {
    /// The hidden form fields, each name once (a page may repeat them in several forms).
    pub fn fields(&self) -> Vec<(String, String)> {
        let mut seen = BTreeMap::new();
        for (k, v) in hidden_fields(&self.body) {
            seen.entry(k).or_insert(v);
        }
        seen.into_iter().collect()
    }

    /// The action of the form at the given position (0-based), resolved against the page's URL.
    pub fn form_action(&self, index: usize) -> String {
        let action = self
            .body
            .split("<form ")
            .nth(index + 1)
            .and_then(|f| f.split("action=\"").nth(1))
            .and_then(|a| a.split('"').next())
            .unwrap_or_else(|| panic!("no form {index} on {}", self.body));
        url::Url::parse(&self.url)
            .and_then(|u| u.join(action))
            .expect("form action")
            .to_string()
    }
}

/// A browser: a cookie jar per `host:port`, redirects followed by hand so that each step can be
/// seen, and every URL it visited.
#[derive(Debug, Default)]
pub struct Browser {
    jar: HashMap<String, BTreeMap<String, String>>,
    /// Every URL requested, in order.
    pub history: Vec<String>,
}

fn host_key(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| {
            format!(
                "{}:{}",
                u.host_str().unwrap_or(""),
                u.port_or_known_default().unwrap_or(0)
            )
        })
        .unwrap_or_default()
}

impl Browser {
    /// A browser with no cookies.
    pub fn new() -> Browser {
        Browser::default()
    }

    /// The cookies this browser holds for a URL's host.
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        self.jar.get(&host_key(url))?.get(name).cloned()
    }

    async fn send(
        &mut self,
        method: reqwest::Method,
        url: &str,
        form: Option<&[(String, String)]>,
    ) -> reqwest::Response {
        self.history.push(url.to_owned());
        let key = host_key(url);
        let mut req = http().request(method, url);
        if let Some(cookies) = self.jar.get(&key).filter(|c| !c.is_empty()) {
            let header: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header("cookie", header.join("; "));
        }
        if let Some(f) = form {
            req = req.form(f);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        let jar = self.jar.entry(key).or_default();
        for sc in resp.headers().get_all("set-cookie") {
            let sc = sc.to_str().unwrap_or("");
            let Some((name, value)) = sc.split(';').next().and_then(|kv| kv.split_once('=')) else {
                continue;
            };
            let lower = sc.to_ascii_lowercase();
            if value.is_empty()
                || lower.contains("max-age=0")
                || lower.contains("expires=thu, 01 jan 1970")
            {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.to_owned());
            }
        }
        resp
    }

    /// Requests `url` (GET, or POST with a form) and follows redirects until a page that is
    /// not a redirect, or a redirect to a URL starting with `stop_at`.
    pub async fn go(
        &mut self,
        url: &str,
        form: Option<&[(String, String)]>,
        stop_at: &str,
    ) -> Page {
        let mut url = url.to_owned();
        let mut resp = match form {
            Some(f) => self.send(reqwest::Method::POST, &url, Some(f)).await,
            None => self.send(reqwest::Method::GET, &url, None).await,
        };
        for _ in 0..20 {
            let status = resp.status().as_u16();
            let location = resp
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .map(|l| {
                    url::Url::parse(&url)
                        .and_then(|u| u.join(l))
                        .expect("location")
                        .to_string()
                });
            match location {
                Some(next)
                    if (300..400).contains(&status)
                        && (stop_at.is_empty() || !next.starts_with(stop_at)) =>
                {
                    url = next;
                    resp = self.send(reqwest::Method::GET, &url, None).await;
                }
                location => {
                    let body = resp.text().await.unwrap_or_default();
                    return Page {
                        status,
                        url,
                        location,
                        body,
                    };
                }
            }
        }
        panic!("too many redirects from {url}");
    }
}

/// Who the GitHub stand-in signs in.
#[derive(Debug, Clone)]
pub struct GitHubUser {
    /// The login.
    pub login: String,
    /// The numeric id.
    pub id: u64,
    /// `(email, verified)`.
    pub emails: Vec<(String, bool)>,
    /// Organization logins.
    pub orgs: Vec<String>,
    /// Teams as `(org, slug)`.
    pub teams: Vec<(String, String)>,
}

#[derive(Debug, Default)]
struct GhState {
    user: Option<GitHubUser>,
    deny: bool,
    /// code → (challenge, redirect_uri).
    codes: HashMap<String, (String, String)>,
    tokens: Vec<String>,
    /// Every Authorization header the API endpoints received.
    api_auth: Vec<String>,
    /// Every request line with its form or query, to check what was sent upstream.
    seen: Vec<String>,
}

/// A local stand-in of GitHub's OAuth endpoints (authorize, access_token) and the REST API
/// endpoints sessiongate reads (user, emails, orgs, teams), with GitHub's shapes.
#[derive(Debug)]
pub struct GitHubStandIn {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    state: Arc<Mutex<GhState>>,
    task: tokio::task::JoinHandle<()>,
}

/// The client id and secret the stand-in accepts.
pub const GITHUB_CLIENT: (&str, &str) = ("gh-test-client", "gh-test-secret");

impl GitHubStandIn {
    /// Starts it, signing in `user` at its authorize endpoint (or refusing with
    /// `access_denied` when `deny`).
    pub async fn start(user: GitHubUser, deny: bool) -> GitHubStandIn {
        let state = Arc::new(Mutex::new(GhState {
            user: Some(user),
            deny,
            ..GhState::default()
        }));
        let app = Router::new()
            .route("/login/oauth/authorize", get(gh_authorize))
            .route("/login/oauth/access_token", post(gh_token))
            .route("/api/user", get(gh_user))
            .route("/api/user/emails", get(gh_emails))
            .route("/api/user/orgs", get(gh_orgs))
            .route("/api/user/teams", get(gh_teams))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        GitHubStandIn { base, state, task }
    }

    /// The `[login.providers.NAME]` lines pointing at this stand-in.
    pub fn config(&self, secret_file: &std::path::Path) -> String {
        format!(
            "kind = \"github\"\nclient_id = \"{}\"\nclient_secret_file = \"{}\"\n\
             authorize_url = \"{b}/login/oauth/authorize\"\ntoken_url = \"{b}/login/oauth/access_token\"\n\
             api_url = \"{b}/api\"\n",
            GITHUB_CLIENT.0,
            secret_file.display(),
            b = self.base
        )
    }

    /// The Authorization headers its API endpoints received.
    pub fn api_auth(&self) -> Vec<String> {
        self.state.lock().expect("lock").api_auth.clone()
    }

    /// Everything it received, one line per request.
    pub fn seen(&self) -> Vec<String> {
        self.state.lock().expect("lock").seen.clone()
    }
}

impl Drop for GitHubStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Gh = State<Arc<Mutex<GhState>>>;

async fn gh_authorize(State(st): Gh, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut st = st.lock().expect("lock");
    st.seen.push(format!("authorize {q:?}"));
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("client_id") != GITHUB_CLIENT.0 || get("code_challenge_method") != "S256" {
        return (StatusCode::BAD_REQUEST, "bad authorize request").into_response();
    }
    let mut to = url::Url::parse(&get("redirect_uri")).expect("redirect_uri");
    if st.deny {
        to.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair(
                "error_description",
                "The user has denied your application access.",
            )
            .append_pair("state", &get("state"));
    } else {
        let code = format!("ghcode{}", st.codes.len() + 1);
        st.codes
            .insert(code.clone(), (get("code_challenge"), get("redirect_uri")));
        to.query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &get("state"));
    }
    Redirect::to(to.as_str()).into_response()
}

async fn gh_token(
    State(st): Gh,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let mut st = st.lock().expect("lock");
    st.seen
        .push(format!("token {:?} accept={:?}", f, headers.get("accept")));
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let refuse = |e: &str| {
        Json(json!({"error": e, "error_description": "refused by the stand-in"})).into_response()
    };
    if get("client_id") != GITHUB_CLIENT.0 || get("client_secret") != GITHUB_CLIENT.1 {
        return refuse("incorrect_client_credentials");
    }
    let Some((challenge, redirect)) = st.codes.remove(&get("code")) else {
        return refuse("bad_verification_code");
    };
    if redirect != get("redirect_uri") || s256(&get("code_verifier")) != challenge {
        return refuse("bad_verification_code");
    }
    let token = format!("gho_standin{}", st.tokens.len() + 1);
    st.tokens.push(token.clone());
    Json(json!({"access_token": token, "token_type": "bearer", "scope": "read:user,read:org,user:email"})).into_response()
}

/// The signed-in user when the request carries a token the stand-in issued.
fn gh_check(st: &mut GhState, headers: &HeaderMap, what: &str) -> Option<GitHubUser> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    st.api_auth.push(auth.clone());
    st.seen.push(format!("api {what}"));
    let token = auth.strip_prefix("Bearer ").unwrap_or("");
    match (&st.user, st.tokens.iter().any(|t| t == token)) {
        (Some(u), true) => Some(u.clone()),
        _ => None,
    }
}

fn bad_credentials() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"message": "Bad credentials"})),
    )
        .into_response()
}

async fn gh_user(State(st): Gh, headers: HeaderMap) -> Response {
    let mut st = st.lock().expect("lock");
    match gh_check(&mut st, &headers, "user") {
        Some(u) => Json(json!({"login": u.login, "id": u.id, "type": "User", "email": null}))
            .into_response(),
        None => bad_credentials(),
    }
}

async fn gh_emails(State(st): Gh, headers: HeaderMap) -> Response {
    let mut st = st.lock().expect("lock");
    match gh_check(&mut st, &headers, "emails") {
        Some(u) => Json(Value::Array(
            u.emails
                .iter()
                .enumerate()
                .map(|(i, (e, v))| json!({"email": e, "verified": v, "primary": i == 0, "visibility": null}))
                .collect(),
        ))
        .into_response(),
        None => bad_credentials(),
    }
}

async fn gh_orgs(State(st): Gh, headers: HeaderMap) -> Response {
    let mut st = st.lock().expect("lock");
    match gh_check(&mut st, &headers, "orgs") {
        Some(u) => Json(Value::Array(
            u.orgs
                .iter()
                .map(|o| json!({"login": o, "id": 1}))
                .collect(),
        ))
        .into_response(),
        None => bad_credentials(),
    }
}

async fn gh_teams(State(st): Gh, headers: HeaderMap) -> Response {
    let mut st = st.lock().expect("lock");
    match gh_check(&mut st, &headers, "teams") {
        Some(u) => Json(Value::Array(
            u.teams
                .iter()
                .map(|(org, slug)| json!({"slug": slug, "name": slug, "organization": {"login": org, "id": 1}}))
                .collect(),
        ))
        .into_response(),
        None => bad_credentials(),
    }
}

/// Counts rows of the gateway's database: `(codes, consents, grants)`, to show that nothing
/// was issued after a refusal.
pub fn issued(data_dir: &std::path::Path) -> (i64, i64, i64) {
    let db = rusqlite::Connection::open(data_dir.join("auth.db")).expect("open auth.db");
    let count = |t: &str| -> i64 {
        db.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .expect("count")
    };
    (count("codes"), count("consents"), count("families"))
}

/// The subjects recorded in the consents table (who approved which client).
pub fn consents(data_dir: &std::path::Path) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(data_dir.join("auth.db")).expect("open auth.db");
    let mut stmt = db
        .prepare("SELECT client_id, sub FROM consents ORDER BY granted_at")
        .expect("prepare");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}
