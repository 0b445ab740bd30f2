//! The command line: `sessiongate serve` and friends, and the binary's entry point.
//!
//! Every `serve` option can also come from an environment variable (`SESSIONGATE_BIND`, ...)
//! or from the configuration file; the command line wins over the environment, which wins
//! over the file.

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

use crate::config::{FileConfig, default_data_dir, expand_home};
use crate::error::Error;
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
    /// No authentication: only allowed when listening on a loopback address.
    None,
    /// OAuth 2.1 with sessiongate's own authorization server.
    Oauth,
}

/// Options of `sessiongate serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8000].
    #[arg(long, env = "SESSIONGATE_BIND")]
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
    /// Authentication of MCP clients [default: oauth]. `none` is accepted only on loopback.
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
}

impl ServeArgs {
    /// Merges these options with the configuration file.
    pub fn resolve(self) -> Result<Settings, Error> {
        let file = match &self.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
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
        Ok(Settings {
            bind: self
                .bind
                .or(file.bind)
                .unwrap_or_else(|| "127.0.0.1:8000".into()),
            backend,
            tmux_socket: self
                .tmux_socket
                .or(file.tmux_socket)
                .unwrap_or_else(|| "sessiongate".into()),
            tmux_prefix: self
                .tmux_prefix
                .or(file.tmux_prefix)
                .unwrap_or_else(|| "claude-".into()),
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

/// The binary's entry point.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
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
    if settings.auth == AuthMode::Oauth {
        return Err(Error::Refused(
            "--auth oauth is not available in this build yet; run with --auth none on a loopback \
             address"
                .into(),
        )
        .into());
    }
    std::fs::create_dir_all(&settings.data_dir).map_err(|source| Error::Io {
        context: format!(
            "creating the data directory {}",
            settings.data_dir.display()
        ),
        source,
    })?;
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
    let listener = tokio::net::TcpListener::bind(&addrs[..])
        .await
        .map_err(|source| Error::Io {
            context: format!("binding {}", settings.bind),
            source,
        })?;
    let local = listener.local_addr()?;
    let state = AppState::new(backend, Arc::new(settings.policy));
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    let http = crate::server::HttpConfig {
        public_url: public_url.clone(),
        allowed_origins: settings.allowed_origins.clone(),
    };
    // Printed on stdout (not only logged) so that scripts and tests can read the address.
    println!("sessiongate listening on http://{local} (MCP endpoint: {public_url}/mcp)");
    let ct = CancellationToken::new();
    let signal_ct = ct.clone();
    tokio::spawn(async move {
        crate::server::shutdown_signal().await;
        signal_ct.cancel();
    });
    crate::server::run(listener, state, http, ct).await?;
    Ok(())
}
