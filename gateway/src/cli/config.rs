//! Configuration: an optional TOML file, overridden by command-line options and
//! `SESSIONGATE_*` environment variables (clap reads those).
//!
//! The file holds what does not fit on a command line: launch profiles and allowed roots.
//!
//! ```toml
//! allowed_roots = ["~/code", "/srv/projects"]
//! max_message_bytes = 262144
//!
//! redirect_uri_allowlist = ["https://my-client.example/callback"]
//! access_token_ttl_secs = 3600
//!
//! [profiles]
//! claude = ["claude"]
//! shell = ["bash", "-l"]
//! claude-yolo = { command = ["claude", "--permission-mode", "acceptEdits"], env = { FOO = "1" } }
//!
//! [login]
//! password = true                      # the owner password (default true)
//!
//! [login.providers.github]             # the name is in /login/callback/github
//! kind = "github"
//! client_id = "Ov23liExample"
//! client_secret_file = "~/.config/sessiongate/github-secret"
//! allow_users = ["octocat"]            # or allow_orgs, allow_teams, allow_emails, ...
//!
//! [login.providers.google]
//! kind = "oidc"
//! issuer = "https://accounts.google.com"
//! client_id = "1234.apps.googleusercontent.com"
//! client_secret_env = "GOOGLE_CLIENT_SECRET"
//! allow_email_domains = ["example.com"]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use sessiongate_auth::{Allowlist, LoginConfig, ProviderConfig, ProviderKind, Secret};
use sessiongate_backend::LaunchProfile;

use crate::error::Error;

/// The contents of the configuration file. Every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on.
    pub bind: Option<String>,
    /// `tmux` or `pty`.
    pub backend: Option<String>,
    /// tmux socket name.
    pub tmux_socket: Option<String>,
    /// Prefix of managed tmux session names.
    pub tmux_prefix: Option<String>,
    /// Where state is kept.
    pub data_dir: Option<PathBuf>,
    /// `none` or `oauth`.
    pub auth: Option<String>,
    /// The public base URL, when served behind a proxy or on a public name.
    pub public_url: Option<String>,
    /// Directories under which sessions may run (`~` is expanded).
    pub allowed_roots: Option<Vec<String>>,
    /// Launch profiles; replaces the built-in set when given.
    pub profiles: Option<BTreeMap<String, LaunchProfile>>,
    /// Extra profiles added to the built-in set.
    pub extra_profiles: Option<BTreeMap<String, LaunchProfile>>,
    /// The largest message a client may send, in bytes.
    pub max_message_bytes: Option<usize>,
    /// Extra browser origins allowed to call the MCP endpoint.
    pub allowed_origins: Option<Vec<String>>,
    /// Redirect URIs (or prefixes ending in `*`) that OAuth clients may register besides
    /// loopback and the ChatGPT and Claude callbacks.
    pub redirect_uri_allowlist: Option<Vec<String>>,
    /// Lifetime of access tokens, in seconds (default: [`sessiongate_auth::AuthConfig`]'s).
    pub access_token_ttl_secs: Option<u64>,
    /// Lifetime of refresh tokens, in seconds (default: [`sessiongate_auth::AuthConfig`]'s).
    pub refresh_token_ttl_secs: Option<u64>,
    /// Extra `Host` names accepted besides the public URL's host and loopback names.
    pub allowed_hosts: Option<Vec<String>>,
    /// Reverse proxies (addresses or CIDRs) whose forwarded client address is believed.
    pub trusted_proxies: Option<Vec<String>>,
    /// The header those proxies set: `x-forwarded-for` (default) or `forwarded`.
    pub forwarded_header: Option<crate::http::client_addr::ForwardedHeader>,
    /// PEM certificate chain for TLS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    pub tls_key: Option<PathBuf>,
    /// Address of the admin listener (`/healthz`, `/metrics` without authentication).
    pub admin_bind: Option<String>,
    /// Rate limits per kind of request.
    pub rate_limits: Option<crate::http::ratelimit::RateLimits>,
    /// MCP sessions (and open `subscriptions/listen` streams) one client may hold at once (default
    /// [`crate::http::server::DEFAULT_MAX_MCP_SESSIONS_PER_CLIENT`]).
    pub max_mcp_sessions_per_client: Option<usize>,
    /// MCP sessions (and open `subscriptions/listen` streams) the gateway holds at once (default
    /// [`crate::http::server::DEFAULT_MAX_MCP_SESSIONS`]).
    pub max_mcp_sessions: Option<usize>,
    /// Connections one client address may hold at once (default
    /// [`crate::http::server::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS`]; trusted proxies exempt).
    pub max_connections_per_address: Option<usize>,
    /// Keep the full text sent to sessions in the audit log, not only its hash and length.
    pub audit_record_text: Option<bool>,
    /// How people sign in: the owner password and upstream identity providers.
    pub login: Option<LoginSection>,
    /// Notifications to the owner (`[notify]`, see [`crate::notify::config`]).
    pub notify: Option<crate::notify::config::NotifySection>,
    /// Other machines reached over SSH (`[hosts.NAME]`, see [`crate::hosts`]).
    pub hosts: Option<BTreeMap<String, crate::hosts::HostSection>>,
}

/// The `[login]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginSection {
    /// Whether the owner password is offered (default true).
    pub password: Option<bool>,
    /// Identity providers by name (`[login.providers.NAME]`).
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSection>,
}

/// One `[login.providers.NAME]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSection {
    /// `github` or `oidc`.
    pub kind: String,
    /// The button text (`Sign in with LABEL`); default: GitHub, or the name.
    pub label: Option<String>,
    /// The client id at the provider.
    pub client_id: String,
    /// A file holding the client secret (`~` is expanded; surrounding whitespace is ignored).
    pub client_secret_file: Option<String>,
    /// An environment variable holding the client secret.
    pub client_secret_env: Option<String>,
    /// OIDC: the issuer URL.
    pub issuer: Option<String>,
    /// GitHub: the authorization endpoint (GitHub Enterprise, tests).
    pub authorize_url: Option<String>,
    /// GitHub: the token endpoint.
    pub token_url: Option<String>,
    /// GitHub: the REST API base URL.
    pub api_url: Option<String>,
    /// Scopes to ask for instead of the defaults.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// GitHub logins let in.
    #[serde(default)]
    pub allow_users: Vec<String>,
    /// GitHub organizations whose members are let in.
    #[serde(default)]
    pub allow_orgs: Vec<String>,
    /// GitHub teams (`org/team-slug`) whose members are let in.
    #[serde(default)]
    pub allow_teams: Vec<String>,
    /// Verified email addresses let in.
    #[serde(default)]
    pub allow_emails: Vec<String>,
    /// Domains whose verified email addresses are let in.
    #[serde(default)]
    pub allow_email_domains: Vec<String>,
    /// Stable upstream ids let in (OIDC `sub`, GitHub numeric id).
    #[serde(default)]
    pub allow_subs: Vec<String>,
    /// OIDC claims and the values that let a person in.
    #[serde(default)]
    pub allow_claims: BTreeMap<String, Vec<String>>,
}

impl LoginSection {
    /// The sign-in settings, with client secrets read from their files or variables.
    pub fn resolve(&self) -> Result<LoginConfig, String> {
        let mut providers = Vec::new();
        for (name, p) in &self.providers {
            providers.push(p.resolve(name)?);
        }
        Ok(LoginConfig {
            password: self.password.unwrap_or(true),
            providers,
        })
    }
}

impl ProviderSection {
    fn resolve(&self, name: &str) -> Result<ProviderConfig, String> {
        let what = format!("[login.providers.{name}]");
        let client_secret = read_secret(
            &what,
            "client_secret",
            &self.client_secret_file,
            &self.client_secret_env,
        )?;
        let github_only = [&self.authorize_url, &self.token_url, &self.api_url];
        let kind = match self.kind.as_str() {
            "github" => {
                if self.issuer.is_some() {
                    return Err(format!("{what}: issuer is for kind = \"oidc\""));
                }
                let ProviderKind::GitHub {
                    authorize_url,
                    token_url,
                    api_url,
                } = ProviderKind::github()
                else {
                    return Err(format!("{what}: GitHub's endpoints are missing"));
                };
                ProviderKind::GitHub {
                    authorize_url: self.authorize_url.clone().unwrap_or(authorize_url),
                    token_url: self.token_url.clone().unwrap_or(token_url),
                    api_url: self.api_url.clone().unwrap_or(api_url),
                }
            }
            "oidc" => {
                if github_only.iter().any(|u| u.is_some()) {
                    return Err(format!(
                        "{what}: authorize_url, token_url and api_url are for kind = \"github\"; \
                         an OpenID Connect provider is found through its issuer"
                    ));
                }
                ProviderKind::Oidc {
                    issuer: self
                        .issuer
                        .clone()
                        .ok_or_else(|| format!("{what}: kind = \"oidc\" needs an issuer"))?,
                }
            }
            other => {
                return Err(format!(
                    "{what}: unknown kind {other:?}; use \"github\" or \"oidc\""
                ));
            }
        };
        let label = self.label.clone().unwrap_or_else(|| match kind {
            ProviderKind::GitHub { .. } if name == "github" => "GitHub".to_owned(),
            _ => name.to_owned(),
        });
        Ok(ProviderConfig {
            name: name.to_owned(),
            label,
            kind,
            client_id: self.client_id.clone(),
            client_secret: client_secret.map(Secret::new),
            scopes: self.scopes.clone(),
            allow: Allowlist {
                users: self.allow_users.clone(),
                orgs: self.allow_orgs.clone(),
                teams: self.allow_teams.clone(),
                emails: self.allow_emails.clone(),
                email_domains: self.allow_email_domains.clone(),
                subs: self.allow_subs.clone(),
                claims: self.allow_claims.clone(),
            },
        })
    }
}

impl FileConfig {
    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let err = |reason: String| Error::Config {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        toml::from_str(&text).map_err(|e| err(e.to_string()))
    }
}

/// A secret the configuration names by `{base}_file` (a file, `~` expanded, surrounding
/// whitespace ignored) or `{base}_env` (an environment variable), never inline: `None` when
/// neither is set; an error naming the key `{what} {base}_…` when both are, when it cannot be
/// read, or when it is empty. The secret itself is never in a message.
pub fn read_secret(
    what: &str,
    base: &str,
    file: &Option<String>,
    env: &Option<String>,
) -> Result<Option<String>, String> {
    let value = match (file, env) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{what} {base}_file: set {base}_file or {base}_env, not both"
            ));
        }
        (Some(file), None) => {
            let path = expand_home(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("{what} {base}_file: reading {}: {e}", path.display()))?;
            text.trim().to_owned()
        }
        (None, Some(var)) => std::env::var(var)
            .map_err(|_| format!("{what} {base}_env: the environment variable {var} is not set"))?,
        (None, None) => return Ok(None),
    };
    if value.is_empty() {
        return Err(format!(
            "{what} {base}_{}: it is empty",
            if file.is_some() { "file" } else { "env" }
        ));
    }
    Ok(Some(value))
}

/// The default listening address as a literal, so that help texts can name it too.
macro_rules! default_bind {
    () => {
        "127.0.0.1:8000"
    };
}
pub(crate) use default_bind;

/// Where `serve` listens unless told otherwise.
pub const DEFAULT_BIND: &str = default_bind!();

/// The public URL of a gateway on [`DEFAULT_BIND`]: what the owner's commands that open the
/// authorization server but mint no token give it.
pub fn default_public_url() -> String {
    format!("http://{DEFAULT_BIND}")
}

/// Expands a leading `~` to the home directory.
pub fn expand_home(p: &str) -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match (p.strip_prefix('~'), home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            home.join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(p),
    }
}

/// The default data directory: `$XDG_STATE_HOME/sessiongate` or `~/.local/state/sessiongate`.
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("sessiongate");
    }
    expand_home("~/.local/state/sessiongate")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(text: &str) -> Result<LoginConfig, String> {
        let file: FileConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        file.login.unwrap_or_default().resolve()
    }

    #[test]
    fn login_providers_are_read_with_their_secrets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("gh");
        std::fs::write(&secret, "  s3cret\n").expect("write");
        let cfg = login(&format!(
            "[login]\npassword = false\n\
             [login.providers.github]\nkind = \"github\"\nclient_id = \"id\"\n\
             client_secret_file = \"{}\"\nallow_orgs = [\"acme\"]\n\
             [login.providers.corp]\nkind = \"oidc\"\nissuer = \"https://sso.example\"\n\
             client_id = \"c\"\nclient_secret_env = \"PATH\"\n\
             allow_claims = {{ groups = [\"devs\"] }}\n",
            secret.display()
        ))
        .expect("valid");
        assert!(!cfg.password);
        let gh = cfg
            .providers
            .iter()
            .find(|p| p.name == "github")
            .expect("github");
        assert_eq!(gh.label, "GitHub");
        assert_eq!(
            gh.client_secret.as_ref().map(|s| format!("{s:?}")),
            Some("Secret(..)".into())
        );
        assert!(
            matches!(&gh.kind, ProviderKind::GitHub { api_url, .. } if api_url == "https://api.github.com")
        );
        let corp = cfg
            .providers
            .iter()
            .find(|p| p.name == "corp")
            .expect("corp");
        assert_eq!(corp.label, "corp");
        assert!(corp.client_secret.is_some());
        assert_eq!(corp.allow.claims["groups"], vec!["devs".to_owned()]);
    }

    #[test]
    fn bad_login_settings_say_what_is_wrong() {
        let cases = [
            (
                "[login.providers.x]\nkind = \"saml\"\nclient_id = \"c\"\n",
                "unknown kind \"saml\"",
            ),
            (
                "[login.providers.x]\nkind = \"oidc\"\nclient_id = \"c\"\n",
                "needs an issuer",
            ),
            (
                "[login.providers.x]\nkind = \"oidc\"\nissuer = \"https://a\"\nclient_id = \"c\"\napi_url = \"https://b\"\n",
                "are for kind = \"github\"",
            ),
            (
                "[login.providers.x]\nkind = \"github\"\nclient_id = \"c\"\nclient_secret_env = \"SESSIONGATE_TEST_UNSET_VARIABLE\"\n",
                "[login.providers.x] client_secret_env: the environment variable SESSIONGATE_TEST_UNSET_VARIABLE is not set",
            ),
            (
                "[login.providers.x]\nkind = \"github\"\nclient_id = \"c\"\nclient_secret_file = \"/nonexistent/secret\"\n",
                "[login.providers.x] client_secret_file: reading /nonexistent/secret",
            ),
            (
                "[login.providers.x]\nkind = \"github\"\nclient_id = \"c\"\nclient_secret_file = \"/a\"\nclient_secret_env = \"B\"\n",
                "not both",
            ),
            (
                "[login.providers.x]\nkind = \"github\"\nclient_id = \"c\"\nallow_user = [\"a\"]\n",
                "unknown field",
            ),
        ];
        for (text, reason) in cases {
            match login(text) {
                Err(e) => assert!(e.contains(reason), "{e:?} lacks {reason:?}"),
                Ok(_) => panic!("accepted {text}"),
            }
        }
    }
}
