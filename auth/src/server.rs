//! [`AuthServer`]: the authorization server's shared state, its router, and the bearer check
//! the gateway calls on every `/mcp` request.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use http::{HeaderMap, Uri, header};

use crate::bearer::{BearerError, MAX_TOKEN_LEN, Principal};
use crate::config::AuthConfig;
use crate::error::AuthError;
use crate::keys::{Claims, KeyRing};
use crate::limiter::LoginLimiter;
use crate::password::PasswordChecker;
use crate::scope::Scope;
use crate::store::Store;
use crate::util::{now, random_token};

/// The subject of tokens issued after a password login.
pub const OWNER_SUB: &str = "owner";

/// How long a pending authorization request (login and consent pages) stays valid.
pub(crate) const PENDING_TTL: Duration = Duration::from_secs(10 * 60);
/// How long an owner's login lasts in the browser.
pub(crate) const LOGIN_TTL: Duration = Duration::from_secs(12 * 60 * 60);
/// How long an authorization code is valid.
pub(crate) const CODE_TTL_SECS: i64 = 60;

/// An authorization request between `/authorize` and the consent decision.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) client_id: String,
    pub(crate) client_name: String,
    pub(crate) redirect_uri: String,
    pub(crate) state: Option<String>,
    pub(crate) challenge: String,
    pub(crate) scopes: Vec<Scope>,
    pub(crate) resource: String,
    /// Bound into every form of this request; compared in constant time.
    pub(crate) csrf: String,
    /// SHA-256 of the browser cookie of the browser that opened the request: its forms, and
    /// the login that approves it, must come from that browser.
    pub(crate) browser: String,
    pub(crate) created: Instant,
}

/// A browser's login, under its login cookie.
#[derive(Debug, Clone)]
pub(crate) struct Login {
    /// Who signed in (`owner`, `github:LOGIN`, ...).
    pub(crate) sub: String,
    /// SHA-256 of the browser cookie of the browser that signed in.
    pub(crate) browser: String,
    pub(crate) expires: Instant,
}

/// The authorization server. Share it as `Arc<AuthServer>`.
#[derive(Debug)]
pub struct AuthServer {
    pub(crate) cfg: AuthConfig,
    pub(crate) store: Arc<Store>,
    pub(crate) keys: RwLock<KeyRing>,
    pub(crate) pending: Mutex<HashMap<String, Pending>>,
    /// Browser logins by login cookie value.
    pub(crate) logins: Mutex<HashMap<String, Login>>,
    pub(crate) limiter: LoginLimiter,
    /// Checks owner passwords on a thread of its own, a few at a time.
    pub(crate) passwords: PasswordChecker,
    /// Grants whose tokens are refused (checked in memory on the hot path).
    pub(crate) revoked_families: RwLock<HashSet<String>>,
    /// Access tokens revoked one by one.
    pub(crate) revoked_jtis: RwLock<HashSet<String>>,
    pub(crate) cimd: crate::cimd::CimdCache,
    /// Upstream identity providers and the sign-ins in progress there.
    pub(crate) upstream: crate::upstream::Upstreams,
    /// Access tokens that passed the full check, until they expire.
    pub(crate) verified: crate::token_cache::TokenCache,
}

impl AuthServer {
    /// Opens the server's state in the data directory, creating the database and the first
    /// signing key on first start.
    pub fn open(cfg: AuthConfig) -> Result<Arc<AuthServer>, AuthError> {
        crate::upstream::config::validate_login(&cfg.login).map_err(AuthError::Config)?;
        std::fs::create_dir_all(&cfg.data_dir).map_err(|source| AuthError::Io {
            context: format!("creating {}", cfg.data_dir.display()),
            source,
        })?;
        let store = Store::open(&cfg.data_dir)?;
        let keys = KeyRing::load(&store)?;
        let horizon = cfg.access_token_ttl.as_secs() as i64 + 60;
        let revoked_families = store
            .recently_revoked_families(horizon)?
            .into_iter()
            .collect();
        let revoked_jtis = store.live_revoked_jtis()?.into_iter().collect();
        store.drop_old_keys(horizon)?;
        let pruned = store.prune_clients(30 * 24 * 60 * 60)?;
        if pruned > 0 {
            tracing::info!(pruned, "pruned clients unused for 30 days");
        }
        let limiter = LoginLimiter::new(cfg.login_window);
        Ok(Arc::new(AuthServer {
            store: Arc::new(store),
            keys: RwLock::new(keys),
            pending: Mutex::new(HashMap::new()),
            logins: Mutex::new(HashMap::new()),
            limiter,
            passwords: PasswordChecker::new(&cfg.data_dir),
            revoked_families: RwLock::new(revoked_families),
            revoked_jtis: RwLock::new(revoked_jtis),
            cimd: crate::cimd::CimdCache::default(),
            verified: crate::token_cache::TokenCache::default(),
            upstream: crate::upstream::Upstreams::new(&cfg.login.providers),
            cfg,
        }))
    }

    /// The issuer: the public URL.
    pub fn issuer(&self) -> &str {
        &self.cfg.public_url
    }

    /// The protected resource: the MCP endpoint's URL, the tokens' audience.
    pub fn resource(&self) -> String {
        format!("{}/mcp", self.cfg.public_url)
    }

    /// The protected-resource metadata URL, named in every 401 challenge: the well-known
    /// path inserted between the host and the resource's path (RFC 9728 §3.1), so
    /// `https://host/gw/mcp` has its metadata at
    /// `https://host/.well-known/oauth-protected-resource/gw/mcp`.
    pub fn resource_metadata_url(&self) -> String {
        let (origin, path) = self.origin_and_path();
        format!("{origin}/.well-known/oauth-protected-resource{path}/mcp")
    }

    /// The public URL split into its origin and its path prefix (empty or `/gw`).
    pub fn origin_and_path(&self) -> (&str, &str) {
        let url = self.cfg.public_url.as_str();
        let after_scheme = url.find("://").map_or(0, |i| i + 3);
        match url[after_scheme..].find('/') {
            Some(i) => url.split_at(after_scheme + i),
            None => (url, ""),
        }
    }

    /// Checks the bearer token of a request to the protected resource. Reads no database: keys
    /// and revocations are in memory.
    pub fn verify_bearer(&self, headers: &HeaderMap, uri: &Uri) -> Result<Principal, BearerError> {
        // The challenge's URL is built only for a refusal, not on every accepted call.
        let invalid = |reason: &str| BearerError::Invalid {
            reason: reason.to_owned(),
            resource_metadata: self.resource_metadata_url(),
        };
        if let Some(q) = uri.query()
            && form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "access_token")
        {
            return Err(invalid(
                "tokens in the query string are refused; use the Authorization header",
            ));
        }
        let mut values = headers.get_all(header::AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            return Err(BearerError::Missing {
                resource_metadata: self.resource_metadata_url(),
            });
        };
        // Two credentials are ambiguous (which one would a later reader take?): neither counts.
        if values.next().is_some() {
            return Err(invalid("more than one Authorization header"));
        }
        if value.len() > MAX_TOKEN_LEN {
            return Err(invalid("the Authorization header is too long"));
        }
        let value = value
            .to_str()
            .map_err(|_| invalid("the Authorization header is not text"))?;
        let token = match value.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
            _ => return Err(invalid("expected the Bearer scheme")),
        };
        let claims = match self.verified.get(token) {
            Some(claims) => claims,
            None => {
                let claims = self
                    .keys
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .verify(token, self.issuer(), &self.resource())
                    .map_err(|r| invalid(&r))?;
                self.verified.insert(token, claims)
            }
        };
        if self
            .revoked_jtis
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&claims.jti)
        {
            return Err(invalid("the token was revoked"));
        }
        if let Some(fid) = &claims.fid
            && self
                .revoked_families
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .contains(fid)
        {
            return Err(invalid("the grant was revoked"));
        }
        let scopes = Scope::parse_list(&claims.scope).map_err(|e| invalid(&e))?;
        Ok(Principal {
            sub: claims.sub.clone(),
            client_id: claims.client_id.clone(),
            scopes,
            jti: claims.jti.clone(),
        })
    }

    /// The 403 refusal for a call above the token's scopes.
    pub fn insufficient_scope(&self, needed: Scope) -> BearerError {
        BearerError::InsufficientScope {
            needed,
            resource_metadata: self.resource_metadata_url(),
        }
    }

    /// Mints an access token from the local key, for scripts and tests
    /// (`sessiongate token`). It belongs to no grant and is revocable by its id.
    pub fn mint_token(
        &self,
        sub: &str,
        scopes: &[Scope],
        ttl: Duration,
    ) -> Result<String, AuthError> {
        self.issue_access_token(sub, "sessiongate-cli", scopes, &self.resource(), None, ttl)
    }

    pub(crate) fn issue_access_token(
        &self,
        sub: &str,
        client_id: &str,
        scopes: &[Scope],
        resource: &str,
        family: Option<&str>,
        ttl: Duration,
    ) -> Result<String, AuthError> {
        let iat = now();
        let claims = Claims {
            iss: self.issuer().to_owned(),
            aud: resource.to_owned(),
            sub: sub.to_owned(),
            client_id: client_id.to_owned(),
            scope: Scope::join(scopes),
            exp: iat + ttl.as_secs() as i64,
            iat,
            nbf: iat,
            jti: random_token(16),
            fid: family.map(str::to_owned),
        };
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .sign(&claims)
    }

    /// Generates a new signing key; tokens signed by the old one stay valid until they expire.
    pub fn rotate_keys(&self) -> Result<(), AuthError> {
        crate::keys::generate(&self.store)?;
        let ring = KeyRing::load(&self.store)?;
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = ring;
        self.verified.clear();
        Ok(())
    }

    /// Sets the owner's password (argon2id hash in the data directory).
    pub fn set_password(&self, password: &str) -> Result<(), AuthError> {
        crate::password::set(&self.cfg.data_dir, password)
    }

    /// Generates, stores and returns a strong password when none is set; `None` when one is.
    pub fn ensure_password(&self) -> Result<Option<String>, AuthError> {
        if crate::password::is_set(&self.cfg.data_dir) {
            return Ok(None);
        }
        let password = random_token(18);
        self.set_password(&password)?;
        Ok(Some(password))
    }

    /// Revokes a grant: its refresh tokens and its access tokens stop working at once.
    pub(crate) fn revoke_family(&self, family_id: &str) -> Result<(), AuthError> {
        self.store.revoke_family(family_id)?;
        self.revoked_families
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(family_id.to_owned());
        Ok(())
    }

    /// The login behind this login cookie value, if it is still valid.
    pub(crate) fn logged_in(&self, cookie: Option<&str>) -> Option<Login> {
        let cookie = cookie?;
        let mut logins = self.logins.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        logins.retain(|_, l| l.expires > now);
        logins.get(cookie).cloned()
    }

    pub(crate) fn remember_pending(&self, p: Pending) -> String {
        let id = random_token(18);
        let mut map = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, v| v.created.elapsed() < PENDING_TTL);
        if map.len() > 10_000 {
            // A flood of abandoned requests: forget the oldest half rather than grow.
            let mut ages: Vec<(String, Instant)> =
                map.iter().map(|(k, v)| (k.clone(), v.created)).collect();
            ages.sort_by_key(|(_, t)| *t);
            for (k, _) in ages.into_iter().take(5_000) {
                map.remove(&k);
            }
        }
        map.insert(id.clone(), p);
        id
    }

    pub(crate) fn pending(&self, id: &str) -> Option<Pending> {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .filter(|p| p.created.elapsed() < PENDING_TTL)
            .cloned()
    }

    pub(crate) fn take_pending(&self, id: &str) -> Option<Pending> {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
            .filter(|p| p.created.elapsed() < PENDING_TTL)
    }
}

/// Runs a database call on the blocking thread pool.
pub(crate) async fn db<T: Send + 'static>(
    server: &Arc<AuthServer>,
    f: impl FnOnce(&Store) -> Result<T, AuthError> + Send + 'static,
) -> Result<T, AuthError> {
    let store = server.store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| AuthError::Crypto(format!("database task failed: {e}")))?
}
