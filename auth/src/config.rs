//! The authorization server's settings.

use std::path::PathBuf;
use std::time::Duration;

/// Settings of the authorization server. There is no `Default`: the issuer URL and the data
/// directory must be chosen.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Where the database (`auth.db`, with the signing keys) and the password hash live.
    pub data_dir: PathBuf,
    /// The public base URL, e.g. `https://gw.example.com` (no trailing slash). It is the
    /// issuer; the protected resource is this plus `/mcp`.
    pub public_url: String,
    /// Lifetime of access tokens.
    pub access_token_ttl: Duration,
    /// Lifetime of refresh tokens (each rotation starts a new lifetime).
    pub refresh_token_ttl: Duration,
    /// Redirect URI patterns accepted at registration besides https and loopback http.
    /// A pattern ending in `*` matches any URI with that prefix.
    pub extra_redirect_patterns: Vec<String>,
    /// Whether the public URL is https: cookies get the `__Host-` prefix and `Secure`.
    pub secure_cookies: bool,
    /// Test-only: let client ID metadata documents be fetched from loopback and private
    /// addresses and over plain http. Never set in production.
    pub allow_private_cimd_hosts: bool,
    /// How people sign in: the owner password, upstream identity providers.
    pub login: crate::upstream::LoginConfig,
    /// How long failed logins are remembered and a lockout lasts (15 minutes). Test-only
    /// knob: the attack suite shortens it to see the owner log in after a lockout.
    pub login_window: Duration,
}

impl AuthConfig {
    /// The usual lifetimes for a data directory and a public URL.
    pub fn new(data_dir: PathBuf, public_url: &str) -> Self {
        let public_url = public_url.trim_end_matches('/').to_owned();
        AuthConfig {
            data_dir,
            secure_cookies: public_url.starts_with("https://"),
            public_url,
            access_token_ttl: Duration::from_secs(60 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 60 * 60),
            extra_redirect_patterns: Vec::new(),
            allow_private_cimd_hosts: false,
            login: crate::upstream::LoginConfig::default(),
            login_window: crate::limiter::WINDOW,
        }
    }
}
