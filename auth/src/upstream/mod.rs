//! Signing in through an upstream identity provider (GitHub, any OpenID Connect issuer) while
//! sessiongate stays the authorization server MCP clients see.
//!
//! The login page of a pending `/authorize` request offers each configured provider. Choosing
//! one ([`Upstreams::begin`]) creates an [`Attempt`]: a fresh random `state`, a PKCE S256
//! verifier and (OIDC) a `nonce`, bound to the pending request and to the browser (a cookie
//! whose hash the attempt keeps). The provider sends the browser back to
//! `/login/callback/NAME`, where [`Upstreams::finish`] takes the attempt out (single use),
//! checks the browser, exchanges the code (PKCE, client secret), verifies the ID token
//! (OIDC) or reads the GitHub API, and applies the allowlist. Only then does the browser get
//! a login and go on to sessiongate's own consent page, which alone can send a code to the MCP
//! client. The upstream tokens live only inside `finish`: they are never stored, logged or
//! passed on, and no sessiongate token is ever sent upstream.
//!
//! # Layout
//! - [`config`]: the settings ([`LoginConfig`], [`ProviderConfig`], [`Allowlist`]).
//! - `allowlist`: the identity read from a provider and the allowlist decision.
//! - `http`: calls to providers (no redirects, timeouts, size cap) and the `oauth2` adapter.
//! - `github`: the GitHub REST API calls; `oidc`: discovery, keys and ID-token checks.

pub(crate) mod allowlist;
pub mod config;
mod github;
mod http;
mod oidc;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ::http::StatusCode;
use jsonwebtoken::jwk::JwkSet;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use crate::util::{ct_eq, random_token, sha256_b64};
pub(crate) use allowlist::Identity;
pub use config::{Allowlist, LoginConfig, ProviderConfig, ProviderKind, Secret};

/// How long a browser may take at the provider.
const ATTEMPT_TTL: Duration = Duration::from_secs(10 * 60);

/// Why an upstream sign-in failed. Each is shown as a page; none redirects to the MCP client.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// No provider by that name.
    #[error("there is no sign-in provider named {0:?}")]
    UnknownProvider(String),
    /// The `state` is unknown, expired or used.
    #[error(
        "this sign-in is unknown, has expired or was already completed (the state does not match); start again from your app"
    )]
    BadState,
    /// The callback came to another browser than the one that started.
    #[error("this sign-in was started in another browser; start again from your app")]
    WrongBrowser,
    /// The provider answered the authorization request with an error.
    #[error("{provider} did not sign you in: {code}{description}")]
    Denied {
        /// The provider's label.
        provider: String,
        /// The OAuth error code.
        code: String,
        /// `: description`, or nothing.
        description: String,
    },
    /// The provider could not be reached or gave an unusable answer.
    #[error("signing in with {provider} failed: {reason}")]
    Provider {
        /// The provider's label.
        provider: String,
        /// What went wrong.
        reason: String,
    },
    /// The person is not on the allowlist.
    #[error("{who} is not allowed to use this sessiongate")]
    NotAllowed {
        /// The subject.
        who: String,
    },
}

impl UpstreamError {
    /// The HTTP status of the error page.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            UpstreamError::UnknownProvider(_) => StatusCode::NOT_FOUND,
            UpstreamError::BadState | UpstreamError::Denied { .. } => StatusCode::BAD_REQUEST,
            UpstreamError::WrongBrowser | UpstreamError::NotAllowed { .. } => StatusCode::FORBIDDEN,
            UpstreamError::Provider { .. } => StatusCode::BAD_GATEWAY,
        }
    }
}

/// One sign-in in progress at a provider.
#[derive(Debug)]
pub(crate) struct Attempt {
    provider: String,
    /// The pending `/authorize` request it belongs to.
    pub(crate) req: String,
    verifier: String,
    nonce: String,
    /// SHA-256 of the browser cookie that started it.
    browser: String,
    created: Instant,
}

/// A configured provider and, for OIDC, its cached discovery document and keys.
#[derive(Debug)]
struct Provider {
    cfg: ProviderConfig,
    oidc: Mutex<Option<oidc::Cached>>,
}

/// The upstream providers and the sign-ins in progress.
#[derive(Debug)]
pub(crate) struct Upstreams {
    providers: Vec<Provider>,
    /// Attempts by SHA-256 of their `state`, so a lookup reveals nothing about other states.
    attempts: Mutex<HashMap<String, Attempt>>,
    http: reqwest::Client,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}
impl oauth2::ExtraTokenFields for IdTokenField {}

type TokenResp = StandardTokenResponse<IdTokenField, BasicTokenType>;
type UpClient = oauth2::Client<
    BasicErrorResponse,
    TokenResp,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The endpoints and client authentication of one sign-in.
struct Endpoints {
    authorize: String,
    token: String,
    auth_type: AuthType,
}

impl Upstreams {
    /// The providers of the configuration.
    pub(crate) fn new(providers: &[ProviderConfig]) -> Upstreams {
        Upstreams {
            providers: providers
                .iter()
                .map(|cfg| Provider {
                    cfg: cfg.clone(),
                    oidc: Mutex::new(None),
                })
                .collect(),
            attempts: Mutex::new(HashMap::new()),
            http: http::client(),
        }
    }

    /// `(name, label)` of each provider, for the login page.
    pub(crate) fn buttons(&self) -> Vec<(String, String)> {
        self.providers
            .iter()
            .map(|p| (p.cfg.name.clone(), p.cfg.label.clone()))
            .collect()
    }

    /// The origins the login page's provider form may be redirected to (its CSP
    /// `form-action`), separated by spaces.
    pub(crate) fn form_origins(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        for p in &self.providers {
            let mut urls = Vec::new();
            match &p.cfg.kind {
                ProviderKind::GitHub { authorize_url, .. } => urls.push(authorize_url.clone()),
                ProviderKind::Oidc { issuer } => {
                    urls.push(issuer.clone());
                    if let Some(c) = cache(p).as_ref() {
                        urls.push(c.doc.authorization_endpoint.clone());
                    }
                }
            }
            for u in urls {
                if let Ok(url) = url::Url::parse(&u) {
                    let origin = url.origin().ascii_serialization();
                    if !out.contains(&origin) {
                        out.push(origin);
                    }
                }
            }
        }
        out.join(" ")
    }

    fn provider(&self, name: &str) -> Result<&Provider, UpstreamError> {
        self.providers
            .iter()
            .find(|p| p.cfg.name == name)
            .ok_or_else(|| UpstreamError::UnknownProvider(name.to_owned()))
    }

    /// Starts a sign-in for the pending request `req`: returns the provider's authorization URL.
    /// `browser` is the value of the browser's binding cookie.
    pub(crate) async fn begin(
        &self,
        name: &str,
        req: &str,
        browser: &str,
        callback: &str,
    ) -> Result<String, UpstreamError> {
        let p = self.provider(name)?;
        let ep = self.endpoints(p).await?;
        let client = oauth_client(p, &ep, callback)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = random_token(32);
        let nonce = random_token(32);
        let mut auth = client
            .authorize_url(|| CsrfToken::new(state.clone()))
            .set_pkce_challenge(challenge);
        let oidc = matches!(p.cfg.kind, ProviderKind::Oidc { .. });
        for scope in scopes(&p.cfg) {
            auth = auth.add_scope(oauth2::Scope::new(scope));
        }
        if oidc {
            auth = auth.add_extra_param("nonce", nonce.clone());
        }
        let (url, _) = auth.url();
        let attempt = Attempt {
            provider: name.to_owned(),
            req: req.to_owned(),
            verifier: verifier.secret().clone(),
            nonce,
            browser: sha256_b64(browser.as_bytes()),
            created: Instant::now(),
        };
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, a| a.created.elapsed() < ATTEMPT_TTL);
        if map.len() >= 10_000 {
            // A flood of abandoned sign-ins: forget the oldest half rather than grow or refuse.
            let mut ages: Vec<(String, Instant)> =
                map.iter().map(|(k, a)| (k.clone(), a.created)).collect();
            ages.sort_by_key(|(_, t)| *t);
            for (k, _) in ages.into_iter().take(5_000) {
                map.remove(&k);
            }
        }
        map.insert(sha256_b64(state.as_bytes()), attempt);
        Ok(url.to_string())
    }

    /// Takes the attempt a callback's `state` names (single use: it is gone afterwards, whatever
    /// the outcome) and checks that it is this provider's and this browser's.
    pub(crate) fn take_attempt(
        &self,
        name: &str,
        state: Option<&str>,
        browser: Option<&str>,
    ) -> Result<Attempt, UpstreamError> {
        let state = state.filter(|s| !s.is_empty() && s.len() <= 512);
        let Some(state) = state else {
            return Err(UpstreamError::BadState);
        };
        let attempt = self
            .attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&sha256_b64(state.as_bytes()))
            .filter(|a| a.created.elapsed() < ATTEMPT_TTL)
            .ok_or(UpstreamError::BadState)?;
        if attempt.provider != name {
            return Err(UpstreamError::BadState);
        }
        let cookie_hash = sha256_b64(browser.unwrap_or("").as_bytes());
        if !ct_eq(&cookie_hash, &attempt.browser) {
            return Err(UpstreamError::WrongBrowser);
        }
        Ok(attempt)
    }

    /// Completes a sign-in from the callback's query: the identity, once the allowlist let it in.
    pub(crate) async fn finish(
        &self,
        attempt: &Attempt,
        query: &HashMap<String, String>,
        callback: &str,
    ) -> Result<(Identity, String), UpstreamError> {
        let p = self.provider(&attempt.provider)?;
        let label = p.cfg.label.clone();
        if let Some(code) = query.get("error") {
            let description = query
                .get("error_description")
                .map(|d| format!(" ({})", truncate(d, 300)))
                .unwrap_or_default();
            return Err(UpstreamError::Denied {
                provider: label,
                code: truncate(code, 100),
                description,
            });
        }
        let fail = |reason: String| UpstreamError::Provider {
            provider: label.clone(),
            reason,
        };
        // RFC 9207: an issuer that names itself in the response must be the one we sent the
        // browser to (with the per-provider callback path, this stops mix-up attacks).
        if let (ProviderKind::Oidc { issuer }, Some(iss)) = (&p.cfg.kind, query.get("iss"))
            && iss != issuer
        {
            return Err(fail(format!(
                "the response came from the issuer {:?}, not {issuer:?}",
                truncate(iss, 200)
            )));
        }
        let code = query
            .get("code")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| fail("the provider sent back no code".into()))?;
        let ep = self.endpoints(p).await?;
        let client = oauth_client(p, &ep, callback)?;
        let call = http::oauth_call(&self.http);
        let token = client
            .exchange_code(AuthorizationCode::new(code.clone()))
            .set_pkce_verifier(PkceCodeVerifier::new(attempt.verifier.clone()))
            .set_redirect_uri(Cow::Owned(redirect_url(callback, &label)?))
            .request_async(&call)
            .await
            .map_err(|e| fail(token_error(e)))?;
        let access = token.access_token().secret();
        let who = match &p.cfg.kind {
            ProviderKind::GitHub { api_url, .. } => {
                github::identity(&self.http, &p.cfg, api_url, access)
                    .await
                    .map_err(|e| fail(e.to_string()))?
            }
            ProviderKind::Oidc { .. } => {
                let id_token = token
                    .extra_fields()
                    .id_token
                    .as_deref()
                    .ok_or_else(|| fail("the token response has no ID token".into()))?;
                self.oidc_identity(p, id_token, &attempt.nonce, access)
                    .await
                    .map_err(fail)?
            }
        };
        match allowlist::admits(&p.cfg.allow, &who) {
            Some(rule) => Ok((who, rule)),
            None => Err(UpstreamError::NotAllowed {
                who: who.describe().to_owned(),
            }),
        }
    }

    async fn oidc_identity(
        &self,
        p: &Provider,
        id_token: &str,
        nonce: &str,
        access_token: &str,
    ) -> Result<Identity, String> {
        let ProviderKind::Oidc { issuer } = &p.cfg.kind else {
            return Err("not an OpenID Connect provider".into());
        };
        let cached = self.discovery(p).await?;
        let check =
            |keys: &JwkSet| oidc::verify_id_token(id_token, keys, issuer, &p.cfg.client_id, nonce);
        let mut claims = match check(&cached.keys) {
            Err(oidc::IdTokenError::UnknownKey) => {
                // The provider may have rotated its keys: fetch them once more.
                let keys = oidc::fetch_keys(&self.http, &cached.doc.jwks_uri)
                    .await
                    .map_err(|e| e.to_string())?;
                let claims = check(&keys).map_err(|e| e.to_string())?;
                if let Some(c) = cache(p).as_mut() {
                    c.keys = keys;
                }
                claims
            }
            other => other.map_err(|e| e.to_string())?,
        };
        let needs_more = !claims.contains_key("email")
            || p.cfg.allow.claims.keys().any(|k| !claims.contains_key(k));
        if needs_more && let Some(endpoint) = &cached.doc.userinfo_endpoint {
            oidc::add_userinfo(&self.http, endpoint, access_token, &mut claims).await?;
        }
        let sub = claims
            .get("sub")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        Ok(Identity {
            subject: format!("oidc:{}:{sub}", p.cfg.name),
            verified_emails: oidc::verified_emails(&claims),
            id: sub,
            claims,
            ..Identity::default()
        })
    }

    /// The OIDC discovery document and keys, fetched when missing or stale.
    async fn discovery(&self, p: &Provider) -> Result<oidc::Cached, String> {
        let ProviderKind::Oidc { issuer } = &p.cfg.kind else {
            return Err("not an OpenID Connect provider".into());
        };
        if let Some(c) = cache(p).as_ref().filter(|c| c.fresh()) {
            return Ok(c.clone());
        }
        let fresh = oidc::discover(&self.http, issuer).await?;
        *cache(p) = Some(fresh.clone());
        Ok(fresh)
    }

    async fn endpoints(&self, p: &Provider) -> Result<Endpoints, UpstreamError> {
        match &p.cfg.kind {
            ProviderKind::GitHub {
                authorize_url,
                token_url,
                ..
            } => Ok(Endpoints {
                authorize: authorize_url.clone(),
                token: token_url.clone(),
                // GitHub takes the client credentials in the form body.
                auth_type: AuthType::RequestBody,
            }),
            ProviderKind::Oidc { .. } => {
                let c = self
                    .discovery(p)
                    .await
                    .map_err(|reason| UpstreamError::Provider {
                        provider: p.cfg.label.clone(),
                        reason,
                    })?;
                // client_secret_basic is the default (OIDC Discovery 3); post when that is all
                // the provider takes.
                let methods = c
                    .doc
                    .token_endpoint_auth_methods_supported
                    .unwrap_or_default();
                let post_only = !methods.is_empty()
                    && !methods.iter().any(|m| m == "client_secret_basic")
                    && methods.iter().any(|m| m == "client_secret_post");
                Ok(Endpoints {
                    authorize: c.doc.authorization_endpoint,
                    token: c.doc.token_endpoint,
                    auth_type: if post_only || p.cfg.client_secret.is_none() {
                        AuthType::RequestBody
                    } else {
                        AuthType::BasicAuth
                    },
                })
            }
        }
    }
}

fn cache(p: &Provider) -> std::sync::MutexGuard<'_, Option<oidc::Cached>> {
    p.oidc.lock().unwrap_or_else(|e| e.into_inner())
}

fn scopes(p: &ProviderConfig) -> Vec<String> {
    match &p.kind {
        ProviderKind::GitHub { .. } if p.scopes.is_empty() => github::default_scopes(&p.allow),
        ProviderKind::GitHub { .. } => p.scopes.clone(),
        ProviderKind::Oidc { .. } => {
            let mut s = if p.scopes.is_empty() {
                vec!["openid".into(), "email".into(), "profile".into()]
            } else {
                p.scopes.clone()
            };
            if !s.iter().any(|x| x == "openid") {
                s.insert(0, "openid".into());
            }
            s
        }
    }
}

fn redirect_url(callback: &str, label: &str) -> Result<RedirectUrl, UpstreamError> {
    RedirectUrl::new(callback.to_owned()).map_err(|e| UpstreamError::Provider {
        provider: label.to_owned(),
        reason: format!("the callback URL is not valid: {e}"),
    })
}

fn oauth_client(p: &Provider, ep: &Endpoints, callback: &str) -> Result<UpClient, UpstreamError> {
    let fail = |what: &str, e: String| UpstreamError::Provider {
        provider: p.cfg.label.clone(),
        reason: format!("the {what} is not a valid URL: {e}"),
    };
    let mut client = oauth2::Client::new(ClientId::new(p.cfg.client_id.clone()))
        .set_auth_uri(
            AuthUrl::new(ep.authorize.clone())
                .map_err(|e| fail("authorization endpoint", e.to_string()))?,
        )
        .set_token_uri(
            TokenUrl::new(ep.token.clone()).map_err(|e| fail("token endpoint", e.to_string()))?,
        )
        .set_redirect_uri(redirect_url(callback, &p.cfg.label)?)
        .set_auth_type(ep.auth_type.clone());
    if let Some(secret) = &p.cfg.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
    }
    Ok(client)
}

/// Describes a failed token exchange without the response body (it may hold secrets).
fn token_error(e: RequestTokenError<http::CallError, BasicErrorResponse>) -> String {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let desc = r
                .error_description()
                .map(|d| format!(" ({})", truncate(d, 300)))
                .unwrap_or_default();
            format!("the token endpoint refused the code: {}{desc}", r.error())
        }
        RequestTokenError::Request(e) => e.to_string(),
        RequestTokenError::Parse(_, body) => {
            // GitHub reports errors with status 200 and an `error` field.
            match serde_json::from_slice::<BasicErrorResponse>(&body) {
                Ok(r) => format!("the token endpoint refused the code: {}", r.error()),
                Err(_) => "the token endpoint sent a response that is not a token".into(),
            }
        }
        RequestTokenError::Other(s) => format!("the token exchange failed: {s}"),
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod flow_tests;
