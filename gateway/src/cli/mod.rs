//! The command line: `sessiongate serve` and friends, and the binary's entry point.
//!
//! Every `serve` option can also come from an environment variable (`SESSIONGATE_BIND`, ...)
//! or from the configuration file; the command line wins over the environment, which wins
//! over the file.

pub mod admin;
pub mod config;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use sessiongate_backend::policy::default_profiles;
use sessiongate_backend::{SessionBackend, SessionPolicy};
use sessiongate_backend_pty::{PtyBackend, PtyConfig};
use sessiongate_backend_tmux::{TmuxBackend, TmuxConfig};

use crate::cli::admin::open_auth;
use crate::cli::config::{
    DEFAULT_BIND, FileConfig, default_bind, default_data_dir, default_public_url, expand_home,
};
use crate::error::Error;
use crate::http::authority::{Authority, Origin};
use crate::state::AppState;

/// sessiongate: drive AI coding-agent terminal sessions from any MCP client.
#[derive(Debug, Parser)]
#[command(name = "sessiongate", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the MCP server.
    Serve(ServeArgs),
    /// Set the owner's password (read from standard input when it is not a terminal).
    Passwd(PasswdArgs),
    /// Mint an access token from the local signing key, for scripts and tests.
    Token(TokenArgs),
    /// Generate a new token signing key. Tokens signed by the old key stay valid until they
    /// expire; restart the gateway to start signing with the new key.
    RotateKeys(PasswdArgs),
    /// Show the audit log: every tool call that changed something.
    Audit(crate::cli::admin::AuditArgs),
    /// List or revoke the OAuth clients.
    #[command(subcommand)]
    Clients(crate::cli::admin::ClientsCommand),
    /// List the sessions (tmux backend).
    #[command(subcommand)]
    Sessions(crate::cli::admin::SessionsCommand),
    /// Notifications: send a test through the configured channels.
    #[command(subcommand)]
    Notify(crate::notify::test_command::NotifyCommand),
    /// Other machines reached over SSH: `hosts check` connects to each.
    #[command(subcommand)]
    Hosts(crate::hosts::HostsCommand),
}

/// Options of `sessiongate passwd`.
#[derive(Debug, clap::Args)]
pub struct PasswdArgs {
    /// Directory for sessiongate's state [default: ~/.local/state/sessiongate].
    #[arg(long, env = "SESSIONGATE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Options of `sessiongate token`.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// Directory for sessiongate's state [default: ~/.local/state/sessiongate].
    #[arg(long, env = "SESSIONGATE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The gateway's public base URL (the token's issuer; its audience is this plus /mcp)
    /// [default: http://<bind>].
    #[arg(long, env = "SESSIONGATE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The address the gateway listens on, used for the default public URL.
    #[arg(long, env = "SESSIONGATE_BIND", help = concat!(
        "The address the gateway listens on, used for the default public URL [default: ",
        default_bind!(),
        "]"
    ))]
    pub bind: Option<String>,
    /// Space- or comma-separated scopes [default: sessions:read sessions:write sessions:manage].
    #[arg(long)]
    pub scope: Option<String>,
    /// Lifetime in seconds, or with a unit: 90s, 30m, 12h, 7d.
    #[arg(long, default_value = "1h")]
    pub ttl: String,
    /// The token's subject.
    #[arg(long, default_value = "owner")]
    pub sub: String,
}

/// Which session backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// Sessions live in a private tmux server and survive restarts of the gateway.
    Tmux,
    /// Sessions run in pseudo-terminals owned by the gateway; no tmux needed.
    Pty,
}

/// How MCP clients authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// No authentication: only allowed when every way in is loopback (the bind address, the
    /// public URL, allowed hosts and origins; no trusted proxies).
    None,
    /// OAuth 2.1 with sessiongate's own authorization server.
    Oauth,
}

/// Options of `sessiongate serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SESSIONGATE_BIND", help = concat!("Address to listen on [default: ", default_bind!(), "]"))]
    pub bind: Option<String>,
    /// Session backend [default: tmux].
    #[arg(long, env = "SESSIONGATE_BACKEND", value_enum)]
    pub backend: Option<BackendKind>,
    /// tmux socket name (tmux -L): sessiongate's own tmux server [default: sessiongate].
    /// Attach to a session with `tmux -L <socket> attach -t <prefix><name>`.
    #[arg(long, env = "SESSIONGATE_TMUX_SOCKET")]
    pub tmux_socket: Option<String>,
    /// Prefix of the tmux session names sessiongate manages [default: claude-].
    #[arg(long, env = "SESSIONGATE_TMUX_PREFIX")]
    pub tmux_prefix: Option<String>,
    /// Directory for sessiongate's state (database, keys) [default: ~/.local/state/sessiongate].
    #[arg(long, env = "SESSIONGATE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file (profiles, allowed roots, ...).
    #[arg(long, env = "SESSIONGATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Authentication of MCP clients [default: oauth]. `none` is accepted only on loopback
    /// (bind address and public URL), without trusted proxies.
    #[arg(long, env = "SESSIONGATE_AUTH", value_enum)]
    pub auth: Option<AuthMode>,
    /// Public base URL (e.g. https://gw.example.com) when reached through a proxy or tunnel.
    #[arg(long, env = "SESSIONGATE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// A directory under which sessions may run; repeat for several [default: your home].
    #[arg(
        long = "allowed-root",
        env = "SESSIONGATE_ALLOWED_ROOTS",
        value_delimiter = ','
    )]
    pub allowed_roots: Vec<String>,
    /// Log filter, e.g. `info` or `sessiongate=debug` [default: info].
    #[arg(long, env = "SESSIONGATE_LOG")]
    pub log: Option<String>,
    /// PEM certificate chain: serve HTTPS with rustls (reloaded on SIGHUP).
    #[arg(long, env = "SESSIONGATE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "SESSIONGATE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// A reverse proxy (address or CIDR) whose X-Forwarded-For / Forwarded headers are
    /// believed for the client address; repeat for several. No proxy is trusted by default.
    #[arg(
        long = "trusted-proxy",
        env = "SESSIONGATE_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// Address of a separate admin listener serving /healthz and /metrics without
    /// authentication (e.g. 127.0.0.1:9100). Without it, /metrics needs a bearer token.
    #[arg(long, env = "SESSIONGATE_ADMIN_BIND")]
    pub admin_bind: Option<String>,
}

/// The settings `serve` runs with, after merging the file, the environment and the flags.
#[derive(Debug)]
pub struct Settings {
    /// Address to listen on.
    pub bind: String,
    /// The backend.
    pub backend: BackendKind,
    /// tmux socket name.
    pub tmux_socket: String,
    /// tmux session-name prefix.
    pub tmux_prefix: String,
    /// State directory.
    pub data_dir: PathBuf,
    /// Client authentication.
    pub auth: AuthMode,
    /// Public base URL.
    pub public_url: Option<String>,
    /// The session policy (roots, profiles, limits).
    pub policy: SessionPolicy,
    /// Extra allowed browser origins.
    pub allowed_origins: Vec<String>,
    /// Extra redirect URIs OAuth clients may register.
    pub redirect_uri_allowlist: Vec<String>,
    /// Access-token lifetime.
    pub access_token_ttl: Option<std::time::Duration>,
    /// Refresh-token lifetime.
    pub refresh_token_ttl: Option<std::time::Duration>,
    /// Extra allowed `Host` names.
    pub allowed_hosts: Vec<String>,
    /// Trusted reverse proxies.
    pub trusted_proxies: crate::http::client_addr::TrustedProxies,
    /// TLS certificate and key files.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The admin listener's address.
    pub admin_bind: Option<String>,
    /// Rate limits.
    pub rate_limits: crate::http::ratelimit::RateLimits,
    /// MCP sessions per client.
    pub max_mcp_sessions_per_client: Option<usize>,
    /// MCP sessions overall.
    pub max_mcp_sessions: Option<usize>,
    /// Connections per client address.
    pub max_connections_per_address: Option<usize>,
    /// Whether the audit log keeps the full text.
    pub audit_record_text: bool,
    /// How people sign in (`[login]` in the config file).
    pub login: sessiongate_auth::LoginConfig,
    /// Notifications (`[notify]` in the config file).
    pub notify: crate::notify::config::NotifyConfig,
    /// Other machines reached over SSH (`[hosts.NAME]` in the config file).
    pub hosts: std::collections::BTreeMap<String, crate::hosts::HostSection>,
}

impl ServeArgs {
    /// Merges these options with the configuration file.
    pub fn resolve(self) -> Result<Settings, Error> {
        let file = match &self.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        let config_error = |reason| Error::Config {
            path: self
                .config
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            reason,
        };
        let login = match &file.login {
            Some(l) => l.resolve().map_err(config_error)?,
            None => sessiongate_auth::LoginConfig::default(),
        };
        let notify = match &file.notify {
            Some(n) => n.resolve().map_err(config_error)?,
            None => crate::notify::config::NotifyConfig::disabled(),
        };
        let roots: Vec<PathBuf> = if !self.allowed_roots.is_empty() {
            self.allowed_roots.iter().map(|r| expand_home(r)).collect()
        } else if let Some(r) = &file.allowed_roots {
            r.iter().map(|r| expand_home(r)).collect()
        } else {
            vec![expand_home("~")]
        };
        let mut profiles = file.profiles.unwrap_or_else(default_profiles);
        profiles.extend(file.extra_profiles.unwrap_or_default());
        let mut policy = SessionPolicy::new(&roots, profiles)?;
        if let Some(m) = file.max_message_bytes {
            policy.max_message_bytes = m;
        }
        let backend = match (self.backend, file.backend.as_deref()) {
            (Some(b), _) => b,
            (None, Some(s)) => BackendKind::from_str(s, true)
                .map_err(|_| Error::Refused(format!("unknown backend {s:?} in the config file")))?,
            (None, None) => BackendKind::Tmux,
        };
        let auth = match (self.auth, file.auth.as_deref()) {
            (Some(a), _) => a,
            (None, Some(s)) => AuthMode::from_str(s, true).map_err(|_| {
                Error::Refused(format!("unknown auth mode {s:?} in the config file"))
            })?,
            (None, None) => AuthMode::Oauth,
        };
        let trusted = if !self.trusted_proxies.is_empty() {
            self.trusted_proxies.clone()
        } else {
            file.trusted_proxies.clone().unwrap_or_default()
        };
        let tls = match (
            self.tls_cert.clone().or(file.tls_cert.clone()),
            self.tls_key.clone().or(file.tls_key.clone()),
        ) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(Error::Refused(
                    "TLS needs both a certificate and a key (--tls-cert and --tls-key)".into(),
                ));
            }
        };
        let hosts = file.hosts.clone().unwrap_or_default();
        for name in hosts.keys() {
            crate::hosts::check_host_name(name).map_err(config_error)?;
        }
        Ok(Settings {
            hosts,
            allowed_hosts: file.allowed_hosts.clone().unwrap_or_default(),
            trusted_proxies: crate::http::client_addr::TrustedProxies::parse(&trusted)?
                .with_header(file.forwarded_header.unwrap_or_default()),
            tls,
            admin_bind: self.admin_bind.clone().or(file.admin_bind.clone()),
            rate_limits: file.rate_limits.unwrap_or_default(),
            max_mcp_sessions_per_client: file.max_mcp_sessions_per_client,
            max_mcp_sessions: file.max_mcp_sessions,
            max_connections_per_address: file.max_connections_per_address,
            audit_record_text: file.audit_record_text.unwrap_or(false),
            bind: self
                .bind
                .or(file.bind)
                .unwrap_or_else(|| DEFAULT_BIND.into()),
            backend,
            tmux_socket: self
                .tmux_socket
                .or(file.tmux_socket)
                .unwrap_or_else(|| sessiongate_backend_tmux::DEFAULT_SOCKET.into()),
            tmux_prefix: self
                .tmux_prefix
                .or(file.tmux_prefix)
                .unwrap_or_else(|| sessiongate_backend_tmux::DEFAULT_PREFIX.into()),
            data_dir: self
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(default_data_dir),
            auth,
            public_url: self
                .public_url
                .or(file.public_url)
                .map(|u| u.trim_end_matches('/').to_owned()),
            policy,
            allowed_origins: file.allowed_origins.unwrap_or_default(),
            redirect_uri_allowlist: file.redirect_uri_allowlist.unwrap_or_default(),
            access_token_ttl: file
                .access_token_ttl_secs
                .map(std::time::Duration::from_secs),
            refresh_token_ttl: file
                .refresh_token_ttl_secs
                .map(std::time::Duration::from_secs),
            login,
            notify,
        })
    }
}

/// Resolves `bind` and says whether every address it names is a loopback address.
pub fn resolve_bind(bind: &str) -> Result<(Vec<SocketAddr>, bool), Error> {
    let addrs: Vec<SocketAddr> = bind
        .to_socket_addrs()
        .map_err(|e| Error::Refused(format!("cannot resolve --bind {bind:?}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(Error::Refused(format!("--bind {bind:?} names no address")));
    }
    let loopback = addrs.iter().all(|a| a.ip().is_loopback());
    Ok((addrs, loopback))
}

/// With `--auth none`, refuses every setting that lets anything but loopback traffic in: a
/// public URL, `allowed_hosts` or `allowed_origins` that are not loopback (a proxy or tunnel
/// forwards strangers under such names; a page of such an origin runs in the owner's
/// browser), and trusted proxies (requests come through a proxy). Binding a loopback address
/// alone does not make a gateway private: a tunnel on the same machine connects from
/// loopback.
fn refuse_open_gateway(settings: &Settings) -> Result<(), Error> {
    let refuse = |what: String| {
        Err(Error::Refused(format!(
            "refusing to serve without authentication: {what}, so requests from other machines \
             would reach the gateway through a proxy, a tunnel or a browser; --auth none is only \
             allowed when every way in is loopback. Use --auth oauth"
        )))
    };
    if let Some(url) = &settings.public_url
        && !Origin::of_url(url).is_some_and(|o| o.authority.is_loopback())
    {
        return refuse(format!("the public URL {url} is not a loopback address"));
    }
    if let Some(host) = settings
        .allowed_hosts
        .iter()
        .find(|h| !Authority::parse_configured(h).is_some_and(|a| a.is_loopback()))
    {
        return refuse(format!(
            "allowed_hosts names {host:?}, which is not loopback"
        ));
    }
    if let Some(origin) = settings.allowed_origins.iter().find(|o| {
        let o = o.trim().trim_end_matches('/');
        let o = o.strip_suffix(":*").unwrap_or(o);
        !Origin::parse(o).is_some_and(|o| o.authority.is_loopback())
    }) {
        return refuse(format!(
            "allowed_origins names {origin:?}, which is not loopback"
        ));
    }
    if !settings.trusted_proxies.is_empty() {
        return refuse("trusted proxies are configured".into());
    }
    Ok(())
}

/// The binary's entry point.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Passwd(args) => passwd(args),
        Command::Token(args) => token(args),
        Command::RotateKeys(args) => {
            let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
            let auth = open_auth(&data_dir, &default_public_url())?;
            auth.rotate_keys()?;
            eprintln!("A new signing key was generated in {}.", data_dir.display());
            Ok(())
        }
        Command::Audit(args) => crate::cli::admin::audit(args),
        Command::Clients(cmd) => crate::cli::admin::clients(cmd),
        Command::Sessions(cmd) => crate::cli::admin::sessions(cmd),
        Command::Notify(cmd) => crate::notify::test_command::run(cmd),
        Command::Hosts(cmd) => crate::hosts::run(cmd),
        Command::Serve(args) => {
            let log = args.log.clone().unwrap_or_else(|| "info".into());
            init_tracing(&log);
            let settings = args.resolve()?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            rt.block_on(serve(settings))
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let (addrs, loopback) = resolve_bind(&settings.bind)?;
    if settings.auth == AuthMode::None && !loopback {
        return Err(Error::Refused(format!(
            "refusing to serve without authentication on {}: --auth none is only allowed on a \
             loopback address such as 127.0.0.1; use --auth oauth to serve on other addresses",
            settings.bind
        ))
        .into());
    }
    if let Some(url) = &settings.public_url
        && Origin::of_url(url).is_none()
    {
        return Err(Error::Refused(format!(
            "--public-url {url:?} is not an http or https URL with a valid host, e.g. \
             https://gw.example.com"
        ))
        .into());
    }
    if settings.auth == AuthMode::None {
        refuse_open_gateway(&settings)?;
    }
    if settings.auth == AuthMode::Oauth && !loopback && settings.public_url.is_none() {
        return Err(Error::Refused(format!(
            "--public-url is required when listening on {}: it is the OAuth issuer and the \
             address clients reach, e.g. --public-url https://gw.example.com",
            settings.bind
        ))
        .into());
    }
    // Before any database opens: a data directory that is read-only, full or cannot be
    // created is refused with its path and the reason in plain words.
    crate::storage::check_writable(&settings.data_dir)?;
    let backend: Arc<dyn SessionBackend> = match settings.backend {
        BackendKind::Tmux => {
            let mut cfg = TmuxConfig::new(&settings.tmux_socket, &settings.tmux_prefix);
            cfg.history_limit = 50_000;
            let tmux = TmuxBackend::new(cfg);
            let version = tmux.check().await?;
            tracing::info!(%version, socket = %settings.tmux_socket, "tmux backend");
            Arc::new(tmux)
        }
        BackendKind::Pty => {
            tracing::info!("PTY backend: sessions end when the gateway stops");
            Arc::new(PtyBackend::new(PtyConfig::default()))
        }
    };
    let tls = match &settings.tls {
        Some((cert, key)) => Some(Arc::new(crate::http::tls::TlsReloader::load(cert, key)?)),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&addrs[..])
        .await
        .map_err(|source| Error::Io {
            context: format!("binding {}", settings.bind),
            source,
        })?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    // Every name goes through the host router (`HOST:NAME`); a remote host that is down
    // is only logged: `serve` starts anyway.
    let (backend, hosts) = crate::hosts::HostSet::build(
        backend,
        &settings.hosts,
        &settings.data_dir,
        &settings.tmux_prefix,
    )
    .map_err(Error::Refused)?;
    crate::hosts::check_in_background(&hosts);
    let state = AppState::new(backend, Arc::new(settings.policy)).with_hosts(Arc::new(hosts));
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{local}"));
    let auth = match settings.auth {
        AuthMode::None => None,
        AuthMode::Oauth => {
            let mut cfg = sessiongate_auth::AuthConfig::new(settings.data_dir.clone(), &public_url);
            cfg.extra_redirect_patterns = settings.redirect_uri_allowlist.clone();
            if let Some(t) = settings.access_token_ttl {
                cfg.access_token_ttl = t;
            }
            if let Some(t) = settings.refresh_token_ttl {
                cfg.refresh_token_ttl = t;
            }
            cfg.login = settings.login.clone();
            let auth = sessiongate_auth::AuthServer::open(cfg)
                .context("opening the authorization server's state")?;
            // With the password turned off, only identity providers sign people in.
            if settings.login.password
                && let Some(password) = auth.ensure_password()?
            {
                // Shown once, on the terminal that started the gateway; only its hash is kept.
                println!(
                    "No owner password was set, so one was generated: {password}\n\
                     It is shown only this once; change it with `sessiongate passwd`."
                );
            }
            println!("Connect ChatGPT or Claude to {public_url}/mcp; sign in on its login page.");
            Some(auth)
        }
    };
    let audit = Arc::new(crate::audit::AuditLog::open(
        &settings.data_dir,
        settings.audit_record_text,
    )?);
    let metrics = Arc::new(crate::http::metrics::Metrics::new().with_kept_answers(&state.kept));
    let notifier = crate::notify::Notifier::open(
        settings.notify.clone(),
        &settings.data_dir,
        Some(metrics.clone()),
    )
    .context("opening the notifier's state")?
    .answer_at(
        settings
            .public_url
            .as_deref()
            .or((tls.is_some()).then_some(public_url.as_str())),
        &settings.data_dir,
        auth.clone(),
    )
    .context("opening the notifier's answer links")?;
    let state = state.with_notify(notifier.control());
    let mut http = crate::http::server::HttpConfig::new(public_url.clone());
    http.allowed_origins = settings.allowed_origins.clone();
    http.allowed_hosts = settings.allowed_hosts.clone();
    http.trusted_proxies = settings.trusted_proxies.clone();
    http.rate_limits = settings.rate_limits;
    if let Some(n) = settings.max_mcp_sessions_per_client {
        http.max_mcp_sessions_per_client = n;
    }
    if let Some(n) = settings.max_mcp_sessions {
        http.max_mcp_sessions = n;
    }
    if let Some(n) = settings.max_connections_per_address {
        http.max_connections_per_address = n;
    }
    http.metrics_on_main = settings.admin_bind.is_none();
    let services = crate::http::server::Services {
        state,
        auth: auth.clone(),
        audit: Some(audit.clone()),
        metrics,
    };
    let ct = CancellationToken::new();
    notifier.spawn(services.state.clone(), ct.child_token());
    if let Some(admin) = &settings.admin_bind {
        let admin_listener = tokio::net::TcpListener::bind(admin)
            .await
            .map_err(|source| Error::Io {
                context: format!("binding the admin address {admin}"),
                source,
            })?;
        println!(
            "sessiongate admin (healthz, metrics) on http://{}",
            admin_listener.local_addr()?
        );
        let app = crate::http::server::admin_router(&services);
        let ct = ct.clone();
        tokio::spawn(async move {
            let limits = crate::http::listen::ListenLimits::standard();
            let exempt = crate::http::client_addr::TrustedProxies::default();
            if let Err(err) =
                crate::http::listen::serve(admin_listener, app, None, limits, exempt, ct).await
            {
                tracing::error!(error = %err, "the admin listener failed");
            }
        });
    }
    // The SIGHUP handler goes in before the pid file announces us: SIGHUP's default action
    // would end the process.
    tokio::spawn(reload_on_sighup(tls.clone(), auth.clone()));
    let pid_path = crate::cli::admin::pid_file(&settings.data_dir);
    if let Err(err) = std::fs::write(&pid_path, format!("{}\n", std::process::id())) {
        tracing::warn!(error = %err, "could not write the pid file");
    }
    // Printed on stdout (not only logged) so that scripts and tests can read the address.
    println!("sessiongate listening on {scheme}://{local} (MCP endpoint: {public_url}/mcp)");
    let signal_ct = ct.clone();
    tokio::spawn(async move {
        crate::http::server::shutdown_signal().await;
        signal_ct.cancel();
    });
    let served = crate::http::server::run(listener, services, http, tls, ct).await;
    // In-flight calls are done (or past the deadline): commit the audit log, release the pid.
    let flush = tokio::task::spawn_blocking(move || audit.close());
    let _ = flush.await;
    let _ = std::fs::remove_file(&pid_path);
    tracing::info!("sessiongate stopped");
    served?;
    Ok(())
}

/// On SIGHUP: reads the TLS certificate and key again, and the revocations the owner made
/// from the command line (`sessiongate clients revoke`). The revocations are also read every
/// 30 seconds, for a revocation whose SIGHUP could not be delivered.
async fn reload_on_sighup(
    tls: Option<Arc<crate::http::tls::TlsReloader>>,
    auth: Option<Arc<sessiongate_auth::AuthServer>>,
) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reloads need a restart");
        return;
    };
    let mut every = tokio::time::interval(std::time::Duration::from_secs(30));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let signalled = tokio::select! {
            s = hup.recv() => match s {
                Some(()) => true,
                None => return,
            },
            _ = every.tick() => false,
        };
        if signalled {
            tracing::info!("SIGHUP: reloading");
        }
        if let Some(tls) = tls.as_ref().filter(|_| signalled) {
            match tls.reload() {
                Ok(()) => tracing::info!("TLS certificate reloaded"),
                Err(err) => {
                    tracing::error!(error = %err, "TLS reload failed; keeping the old certificate")
                }
            }
        }
        if let Some(auth) = &auth {
            let auth = auth.clone();
            match tokio::task::spawn_blocking(move || auth.reload_revocations()).await {
                Ok(Ok(())) => tracing::debug!("revocations reloaded"),
                Ok(Err(err)) => tracing::error!(error = %err, "reloading revocations failed"),
                Err(err) => tracing::error!(error = %err, "reloading revocations failed"),
            }
        }
    }
}

fn passwd(args: PasswdArgs) -> anyhow::Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let read = |prompt: &str| -> anyhow::Result<String> {
            eprint!("{prompt}");
            std::io::stderr().flush()?;
            let fd = std::io::stdin();
            let old = rustix::termios::tcgetattr(&fd)?;
            let mut quiet = old.clone();
            quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
            rustix::termios::tcsetattr(&fd, rustix::termios::OptionalActions::Now, &quiet)?;
            let mut line = String::new();
            let res = fd.lock().read_line(&mut line);
            rustix::termios::tcsetattr(&fd, rustix::termios::OptionalActions::Now, &old)?;
            eprintln!();
            res?;
            Ok(line.trim_end_matches(['\n', '\r']).to_owned())
        };
        let a = read("New owner password: ")?;
        let b = read("Repeat it: ")?;
        anyhow::ensure!(a == b, "the two passwords differ; nothing was changed");
        a
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    let cfg = sessiongate_auth::AuthConfig::new(data_dir.clone(), &default_public_url());
    let auth = sessiongate_auth::AuthServer::open(cfg)?;
    auth.set_password(&password)?;
    eprintln!(
        "The owner password was changed (hash in {}).",
        data_dir.display()
    );
    Ok(())
}

/// Parses `90`, `90s`, `30m`, `12h`, `7d`.
fn parse_ttl(s: &str) -> anyhow::Result<std::time::Duration> {
    let (num, mult) = match s.chars().last() {
        Some('s') => (&s[..s.len() - 1], 1),
        Some('m') => (&s[..s.len() - 1], 60),
        Some('h') => (&s[..s.len() - 1], 3600),
        Some('d') => (&s[..s.len() - 1], 86400),
        _ => (s, 1),
    };
    let n: u64 = num
        .parse()
        .with_context(|| format!("--ttl {s:?} is not a duration like 90s, 30m, 12h or 7d"))?;
    anyhow::ensure!(
        n > 0 && n * mult <= 366 * 86400,
        "--ttl must be between 1s and 366d"
    );
    Ok(std::time::Duration::from_secs(n * mult))
}

fn token(args: TokenArgs) -> anyhow::Result<()> {
    let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
    let public_url = match args.public_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => format!("http://{}", args.bind.as_deref().unwrap_or(DEFAULT_BIND)),
    };
    let scopes = match &args.scope {
        Some(s) => {
            sessiongate_auth::Scope::parse_list(&s.replace(',', " ")).map_err(anyhow::Error::msg)?
        }
        None => sessiongate_auth::Scope::ALL.to_vec(),
    };
    anyhow::ensure!(!scopes.is_empty(), "--scope names no scope");
    let ttl = parse_ttl(&args.ttl)?;
    let auth = open_auth(&data_dir, &public_url)?;
    println!("{}", auth.mint_token(&args.sub, &scopes, ttl)?);
    Ok(())
}
