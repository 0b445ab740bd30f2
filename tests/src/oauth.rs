//! An OAuth client for the tests, done by hand with plain HTTP so that every step (and every
//! wrong step) can be sent on purpose: registration, PKCE, the login and consent forms, the
//! token exchange and refresh.

use base64::Engine;
use serde_json::{Value, json};

/// A registered public client and its PKCE pair.
#[derive(Debug, Clone)]
pub struct Flow {
    /// The server's base URL.
    pub base: String,
    /// The client id.
    pub client_id: String,
    /// The registered redirect URI.
    pub redirect_uri: String,
    /// The PKCE verifier.
    pub verifier: String,
    /// The S256 challenge of `verifier`.
    pub challenge: String,
}

/// A plain HTTP client that does not follow redirects.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The cookies a browser keeps from the gateway: enough of a cookie jar for the authorization
/// pages (one site, every cookie on `Path=/`), so that a test can say which browser sends what.
#[derive(Debug, Clone, Default)]
pub struct Cookies(Vec<(String, String)>);

impl Cookies {
    /// Keeps (or replaces) the cookies a response sets.
    pub fn keep(&mut self, headers: &reqwest::header::HeaderMap) {
        for sc in headers.get_all("set-cookie") {
            let Some((name, value)) = sc
                .to_str()
                .ok()
                .and_then(|sc| sc.split(';').next())
                .and_then(|kv| kv.split_once('='))
            else {
                continue;
            };
            self.0.retain(|(k, _)| k != name.trim());
            self.0.push((name.trim().to_owned(), value.to_owned()));
        }
    }

    /// The value of one cookie.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `Cookie` header this browser sends.
    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The S256 challenge of a verifier.
pub fn s256(verifier: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d)
}

/// The hidden fields of the form on an HTML page.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<input type=\"hidden\" name=\"").skip(1) {
        if let Some((name, rest)) = part.split_once("\" value=\"")
            && let Some((value, _)) = rest.split_once('"')
        {
            out.push((name.to_owned(), value.to_owned()));
        }
    }
    out
}

impl Flow {
    /// Registers a public client with a loopback redirect URI.
    pub async fn register(base: &str) -> Flow {
        let redirect_uri = "http://127.0.0.1:45678/callback".to_owned();
        let r = http()
            .post(format!("{base}/register"))
            .json(&json!({
                "client_name": "sessiongate test client",
                "redirect_uris": [redirect_uri],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
            }))
            .send()
            .await
            .expect("register");
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.expect("json");
        let verifier = format!("v{}", "x".repeat(60));
        Flow {
            base: base.to_owned(),
            client_id: body["client_id"].as_str().expect("client_id").to_owned(),
            redirect_uri,
            challenge: s256(&verifier),
            verifier,
        }
    }

    /// Registers a public client with `redirect_uris` (the first becomes the flow's URI) and a
    /// fresh PKCE pair of its own.
    pub async fn register_with(base: &str, redirect_uris: &[&str]) -> Flow {
        let r = http()
            .post(format!("{base}/register"))
            .json(&json!({
                "client_name": "sessiongate attack client",
                "redirect_uris": redirect_uris,
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
            }))
            .send()
            .await
            .expect("register");
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.expect("json");
        let verifier = format!("w{}", crate::gateway::unique_socket("v").replace('-', "_"))
            .chars()
            .chain(std::iter::repeat('z'))
            .take(64)
            .collect::<String>();
        Flow {
            base: base.to_owned(),
            client_id: body["client_id"].as_str().expect("client_id").to_owned(),
            redirect_uri: redirect_uris[0].to_owned(),
            challenge: s256(&verifier),
            verifier,
        }
    }

    /// Approves as the owner and returns the authorization code.
    pub async fn code(&self) -> String {
        param(
            &self.approve(crate::gateway::OWNER_PASSWORD, &[]).await,
            "code",
        )
        .expect("a code")
        .to_owned()
    }

    /// Runs the whole flow; returns the access and the refresh token.
    pub async fn tokens(&self) -> (String, String) {
        let code = self.code().await;
        let (status, body) = self.exchange(&code).await;
        assert_eq!(status, 200, "{body}");
        (
            body["access_token"].as_str().expect("access").to_owned(),
            body["refresh_token"].as_str().expect("refresh").to_owned(),
        )
    }

    /// The authorization URL with the usual parameters plus `extra` (which override them).
    pub fn authorize_url(&self, extra: &[(&str, &str)]) -> String {
        let mut params: Vec<(String, String)> = vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), self.client_id.clone()),
            ("redirect_uri".into(), self.redirect_uri.clone()),
            ("code_challenge".into(), self.challenge.clone()),
            ("code_challenge_method".into(), "S256".into()),
            ("state".into(), "st4te".into()),
            (
                "scope".into(),
                "sessions:read sessions:write sessions:manage".into(),
            ),
            ("resource".into(), format!("{}/mcp", self.base)),
        ];
        for (k, v) in extra {
            params.retain(|(pk, _)| pk != k);
            if !v.is_empty() {
                params.push(((*k).into(), (*v).into()));
            }
        }
        let q: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        format!("{}/authorize?{q}", self.base)
    }

    /// Goes through login and consent like a person; returns the redirect's query params.
    pub async fn approve(&self, password: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let c = http();
        let page = c
            .get(self.authorize_url(extra))
            .send()
            .await
            .expect("authorize");
        assert_eq!(page.status(), 200, "authorize page");
        // The browser cookie binds the request to this browser.
        let mut jar = Cookies::default();
        jar.keep(page.headers());
        let mut fields = hidden_fields(&page.text().await.expect("text"));
        // The login page repeats the request's fields in each of its forms.
        let mut seen = std::collections::HashSet::new();
        fields.retain(|(k, _)| seen.insert(k.clone()));
        let mut form = fields.clone();
        form.push(("password".into(), password.into()));
        let login = c
            .post(format!("{}/authorize/login", self.base))
            .header("cookie", jar.header())
            .form(&form)
            .send()
            .await
            .expect("login");
        assert_eq!(login.status(), 303, "login");
        assert!(login.headers().contains_key("set-cookie"), "login cookie");
        jar.keep(login.headers());
        let cookie = jar.header();
        let location = login.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        // The consent page's address is absolute, built from the public URL.
        assert!(
            location.starts_with(&format!("{}/authorize/consent?req=", self.base)),
            "{location}"
        );
        let consent = c
            .get(&location)
            .header("cookie", &cookie)
            .send()
            .await
            .expect("consent");
        let html = consent.text().await.expect("text");
        assert!(html.contains("Allow access?"), "{html}");
        let mut form = hidden_fields(&html);
        form.push(("decision".into(), "approve".into()));
        let done = c
            .post(format!("{}/authorize/consent", self.base))
            .header("cookie", &cookie)
            .form(&form)
            .send()
            .await
            .expect("decide");
        assert_eq!(done.status(), 303);
        let to = done.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        assert!(to.starts_with(&self.redirect_uri), "{to}");
        let query = to.split_once('?').map(|(_, q)| q).unwrap_or("");
        form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// POSTs to /token; returns the status and JSON body.
    pub async fn token(&self, params: &[(&str, &str)]) -> (u16, Value, reqwest::header::HeaderMap) {
        let r = http()
            .post(format!("{}/token", self.base))
            .form(params)
            .send()
            .await
            .expect("token");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, r.json().await.unwrap_or(Value::Null), headers)
    }

    /// Exchanges a code with the right verifier.
    pub async fn exchange(&self, code: &str) -> (u16, Value) {
        let (s, b, _) = self
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.redirect_uri),
                ("client_id", &self.client_id),
                ("code_verifier", &self.verifier),
            ])
            .await;
        (s, b)
    }

    /// Refreshes.
    pub async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        let (s, b, _) = self
            .token(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", &self.client_id),
            ])
            .await;
        (s, b)
    }
}

/// The value of a query parameter.
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
