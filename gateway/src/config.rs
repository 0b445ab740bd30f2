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
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

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
    /// Lifetime of access tokens, in seconds (default 3600).
    pub access_token_ttl_secs: Option<u64>,
    /// Lifetime of refresh tokens, in seconds (default 30 days).
    pub refresh_token_ttl_secs: Option<u64>,
    /// Extra `Host` names accepted besides the public URL's host and loopback names.
    pub allowed_hosts: Option<Vec<String>>,
    /// Reverse proxies (addresses or CIDRs) whose `X-Forwarded-For`/`Forwarded` are believed.
    pub trusted_proxies: Option<Vec<String>>,
    /// PEM certificate chain for TLS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    pub tls_key: Option<PathBuf>,
    /// Address of the admin listener (`/healthz`, `/metrics` without authentication).
    pub admin_bind: Option<String>,
    /// Rate limits per kind of request.
    pub rate_limits: Option<crate::ratelimit::RateLimits>,
    /// MCP sessions one client may hold at once (default 32).
    pub max_mcp_sessions_per_client: Option<usize>,
    /// MCP sessions the gateway holds at once (default 512).
    pub max_mcp_sessions: Option<usize>,
    /// Keep the full text sent to sessions in the audit log, not only its hash and length.
    pub audit_record_text: Option<bool>,
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
