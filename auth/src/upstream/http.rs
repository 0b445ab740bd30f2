//! Calls to upstream providers: one reqwest client that never follows redirects, with short
//! timeouts and a cap on response sizes, and its adapter for the `oauth2` crate.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use http::header;
use serde::de::DeserializeOwned;

/// The largest response read from a provider.
const MAX_BODY: usize = 1024 * 1024;

/// Why a call to a provider failed, in words for the error page.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    /// No connection, a timeout, or a broken response.
    #[error("could not reach {url}: {reason}")]
    Unreachable {
        /// The URL (without query).
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A status other than 200.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL (without query).
        url: String,
        /// The status.
        status: u16,
    },
    /// The body was not what was expected.
    #[error("{url} sent a response that could not be read: {reason}")]
    Malformed {
        /// The URL (without query).
        url: String,
        /// What was wrong.
        reason: String,
    },
}

/// The shared client: no redirects (a provider's answer is taken as it is), no cookies.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("sessiongate/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

fn bare(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

/// Reads a response body up to [`MAX_BODY`].
async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>, CallError> {
    let url = bare(resp.url());
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(CallError::Malformed {
                        url,
                        reason: "the response is too large".into(),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(CallError::Unreachable {
                    url,
                    reason: e.to_string(),
                });
            }
        }
    }
}

/// GETs a JSON document, with an optional bearer token and extra headers.
pub(crate) async fn get_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
    accept: &str,
) -> Result<T, CallError> {
    let mut req = http.get(url).header(header::ACCEPT, accept);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.map_err(|e| CallError::Unreachable {
        url: url.split('?').next().unwrap_or(url).to_owned(),
        reason: reason(&e),
    })?;
    let status = resp.status();
    let shown = bare(resp.url());
    let body = read_capped(resp).await?;
    if status != reqwest::StatusCode::OK {
        return Err(CallError::Status {
            url: shown,
            status: status.as_u16(),
        });
    }
    serde_json::from_slice(&body).map_err(|e| CallError::Malformed {
        url: shown,
        reason: e.to_string(),
    })
}

/// A short reason for a reqwest failure (connection refused, timeout, ...).
fn reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    if e.is_connect() {
        return "connection failed".into();
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s = format!("{s}: {inner}");
        src = inner.source();
    }
    s
}

/// The future the `oauth2` adapter returns.
pub(crate) type OauthFuture =
    Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, CallError>> + Send>>;

/// Sends one request for the `oauth2` crate (the token exchange) with the shared client.
pub(crate) fn oauth_call(
    http: &reqwest::Client,
) -> impl Fn(oauth2::HttpRequest) -> OauthFuture + use<> {
    let http = http.clone();
    move |request: oauth2::HttpRequest| {
        let http = http.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = parts.uri.to_string();
            let shown = url.split('?').next().unwrap_or(&url).to_owned();
            let mut req = http.request(parts.method, &url).body(body);
            for (name, value) in &parts.headers {
                req = req.header(name, value);
            }
            let resp = req.send().await.map_err(|e| CallError::Unreachable {
                url: shown.clone(),
                reason: reason(&e),
            })?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = read_capped(resp).await?;
            let mut out = http::Response::builder().status(status);
            for (name, value) in &headers {
                out = out.header(name, value);
            }
            out.body(body).map_err(|e| CallError::Malformed {
                url: shown,
                reason: e.to_string(),
            })
        })
    }
}
