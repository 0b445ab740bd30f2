//! The HTTP server: the axum router that mounts the MCP endpoint, and [`run`], which serves a
//! bound listener until shutdown.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::mcp::SessionTools;
use crate::state::AppState;

/// The largest JSON-RPC request body accepted on `/mcp`. A message is capped well below this
/// by the session policy; JSON escaping can double its size.
pub const MAX_MCP_BODY_BYTES: usize = 2 * 1024 * 1024;

/// How long an idle MCP session is kept. Phone clients pause for minutes between calls.
pub const MCP_SESSION_IDLE: Duration = Duration::from_secs(60 * 60);

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The public base URL (no trailing slash); its host is an allowed `Host`.
    pub public_url: String,
    /// Extra browser origins allowed to call `/mcp`.
    pub allowed_origins: Vec<String>,
}

impl HttpConfig {
    /// `Host` values accepted: loopback names and the public URL's authority.
    pub fn allowed_hosts(&self) -> Vec<String> {
        let mut hosts = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        if let Some(authority) = authority_of(&self.public_url) {
            let host_only = authority
                .rsplit_once(':')
                .filter(|(h, p)| !h.ends_with(']') || p.chars().all(|c| c.is_ascii_digit()))
                .map(|(h, _)| h.to_owned());
            hosts.push(authority.clone());
            if let Some(h) = host_only {
                hosts.push(h);
            }
        }
        hosts.dedup();
        hosts
    }

    /// Browser origins accepted: loopback pages on any port, the public URL's origin and the
    /// configured extras. Any other `Origin` gets 403 (DNS-rebinding and CSRF defence).
    pub fn allowed_origins(&self) -> Vec<String> {
        let mut origins = vec![
            "http://localhost:*".to_owned(),
            "http://127.0.0.1:*".to_owned(),
            "http://[::1]:*".to_owned(),
        ];
        if let Some(authority) = authority_of(&self.public_url) {
            let scheme = if self.public_url.starts_with("https://") {
                "https"
            } else {
                "http"
            };
            origins.push(format!("{scheme}://{authority}"));
        }
        origins.extend(self.allowed_origins.iter().cloned());
        origins
    }
}

fn authority_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    (!authority.is_empty()).then(|| authority.to_ascii_lowercase())
}

/// Builds the application router. With an authorization server, `/mcp` requires its bearer
/// tokens and the authorization endpoints are mounted; without one (`--auth none`, loopback
/// only) `/mcp` is open.
pub fn router(
    state: AppState,
    http: &HttpConfig,
    auth: Option<Arc<sessiongate_auth::AuthServer>>,
    ct: CancellationToken,
) -> Router {
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(MCP_SESSION_IDLE);
    let mcp_config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(http.allowed_hosts())
        .with_allowed_origins(http.allowed_origins())
        .enforce_origin_validation()
        .with_max_request_body_bytes(MAX_MCP_BODY_BYTES)
        .with_cancellation_token(ct.child_token());
    let mcp = StreamableHttpService::new(
        move || Ok(SessionTools::new(state.clone())),
        Arc::new(sessions),
        mcp_config,
    );
    let mut mcp_routes = Router::new().nest_service("/mcp", mcp);
    if let Some(auth) = &auth {
        mcp_routes = mcp_routes.route_layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            crate::auth_layer::require_scope,
        ));
    }
    mcp_routes = mcp_routes.route_layer(axum::middleware::from_fn(crate::jsonrpc_guard::guard));
    if let Some(auth) = &auth {
        mcp_routes = mcp_routes.route_layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            crate::auth_layer::require_bearer,
        ));
    }
    let mut app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(mcp_routes);
    if let Some(auth) = &auth {
        app = app.merge(auth.router());
    }
    app.layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(
            tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer::new([
                axum::http::header::AUTHORIZATION,
                axum::http::header::COOKIE,
            ]),
        )
}

/// Serves `listener` until `ct` is cancelled, then finishes in-flight requests.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    http: HttpConfig,
    auth: Option<Arc<sessiongate_auth::AuthServer>>,
    ct: CancellationToken,
) -> std::io::Result<()> {
    let app = router(state, &http, auth, ct.clone());
    // Without TCP_NODELAY the last chunk of a streamed (SSE) reply waits for the client's
    // delayed ACK: every tool call took ~44 ms on loopback instead of well under 1 ms.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::warn!(error = %err, "could not set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { ct.cancelled().await })
    .await
}

/// Resolves when the process gets SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
