//! The HTTP server: the axum router that mounts the MCP endpoint and the authorization server
//! behind the gateway's checks, and [`run`], which serves it until shutdown.
//!
//! A request passes, outermost first: tracing (credentials marked sensitive) → metrics →
//! client address (trusted proxies) → Host/Origin checks and security headers → per route, its
//! class ([`crate::http::routes::Route`], which the checks behind read instead of the path):
//! - `/mcp`: CORS → per-address rate limit → bearer token → body size and time caps →
//!   JSON-RPC guard → MCP-session caps → scope check → per-client tool-call rate limit →
//!   audit log → tool metrics → deadline → the fast lane for plain tool calls
//!   ([`crate::checks::fast_lane`]) → rmcp;
//! - the authorization server: body size and time caps → rate limits (per address, per
//!   client) → request timeout → the `auth` crate.
//!
//! The checks around every route and those of `/mcp` are chains ([`crate::http::chain`]):
//! [`crate::http::front`] and [`crate::checks`] fix their order.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::audit::AuditLog;
use crate::checks::McpStack;
use crate::checks::fast_lane::DirectCalls;
use crate::checks::session_caps::SessionCaps;
use crate::http::chain::Chained;
use crate::http::client_addr::TrustedProxies;
use crate::http::front::FrontStack;
use crate::http::guard::OriginPolicy;
use crate::http::limits::MAX_MCP_BODY_BYTES;
use crate::http::listen::ListenLimits;
use crate::http::metrics::{Metrics, MetricsState};
use crate::http::ratelimit::{Limiters, RateLimits};
use crate::http::routes::{Route, tag};
use crate::http::tls::TlsReloader;
use crate::mcp::SessionTools;
use crate::state::AppState;

/// How long an idle MCP session is kept. Phone clients pause for minutes between calls.
pub const MCP_SESSION_IDLE: Duration = Duration::from_secs(60 * 60);

/// MCP sessions one client may hold at once, unless configured.
pub const DEFAULT_MAX_MCP_SESSIONS_PER_CLIENT: usize = 32;
/// MCP sessions the gateway holds at once, unless configured.
pub const DEFAULT_MAX_MCP_SESSIONS: usize = 512;
/// Connections one client address may hold at once, unless configured.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 64;

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The public base URL (no trailing slash): the issuer, and the source of the allowed
    /// `Host` and `Origin`. Its path, if any, is a prefix the routes are also served under.
    pub public_url: String,
    /// Extra browser origins allowed (`https://app.example`, or `http://host:*` for any port).
    pub allowed_origins: Vec<String>,
    /// Extra `Host` names allowed besides the public URL's and loopback.
    pub allowed_hosts: Vec<String>,
    /// Reverse proxies whose forwarded client addresses are believed.
    pub trusted_proxies: TrustedProxies,
    /// Rate limits.
    pub rate_limits: RateLimits,
    /// MCP sessions one client may hold at once.
    pub max_mcp_sessions_per_client: usize,
    /// MCP sessions the gateway holds at once.
    pub max_mcp_sessions: usize,
    /// Connections one address may hold at once (trusted proxies are exempt).
    pub max_connections_per_address: usize,
    /// Whether `/metrics` is served on this router (protected by a bearer token when OAuth
    /// is on); `false` when an admin listener serves it instead.
    pub metrics_on_main: bool,
}

impl HttpConfig {
    /// The defaults for a public URL.
    pub fn new(public_url: impl Into<String>) -> Self {
        HttpConfig {
            public_url: public_url.into(),
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            trusted_proxies: TrustedProxies::default(),
            rate_limits: RateLimits::default(),
            max_mcp_sessions_per_client: DEFAULT_MAX_MCP_SESSIONS_PER_CLIENT,
            max_mcp_sessions: DEFAULT_MAX_MCP_SESSIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            metrics_on_main: true,
        }
    }

    /// The path of the public URL (`/gw` for `https://host/gw`), or empty.
    pub fn path_prefix(&self) -> String {
        self.public_url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()))
            .map(|p| p.trim_end_matches('/').to_owned())
            .unwrap_or_default()
    }

    fn origin_policy(&self) -> OriginPolicy {
        OriginPolicy::new(&self.public_url, &self.allowed_hosts, &self.allowed_origins)
    }
}

/// Everything the router is built from.
#[derive(Debug, Clone)]
pub struct Services {
    /// The backend and the policy.
    pub state: AppState,
    /// The authorization server; `None` with `--auth none`.
    pub auth: Option<Arc<sessiongate_auth::AuthServer>>,
    /// The audit log; `None` only in tests that do not want one.
    pub audit: Option<Arc<AuditLog>>,
    /// The metrics.
    pub metrics: Arc<Metrics>,
}

/// Builds the application router. `shutdown` is cancelled when the gateway stops accepting:
/// the long-lived event streams of `/mcp` end then and `wait_for` answers at once, so that
/// only real work is waited for.
/// `ct` is cancelled once in-flight requests are done; it stops rmcp's sessions.
pub fn router(
    svc: &Services,
    http: &HttpConfig,
    shutdown: CancellationToken,
    ct: CancellationToken,
) -> Router {
    let manager = Arc::new({
        let mut m = LocalSessionManager::default();
        m.session_config.keep_alive = Some(MCP_SESSION_IDLE);
        m
    });
    let policy = Arc::new(http.origin_policy());
    let limiters = Arc::new(Limiters::new(&http.rate_limits, Some(svc.metrics.clone())));
    let caps = Arc::new(SessionCaps::new(
        http.max_mcp_sessions_per_client,
        http.max_mcp_sessions,
        manager.clone(),
    ));
    // rmcp checks Host and Origin itself too; our guard has already applied the same policy.
    let mcp_config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(policy.rmcp_hosts())
        .with_allowed_origins(policy.rmcp_origins())
        .enforce_origin_validation()
        .with_max_request_body_bytes(MAX_MCP_BODY_BYTES)
        // Requests that open no session (the 2026-07-28 revision's, and stateless ones) get
        // their answer as one JSON response when it is the only message; sessions keep
        // their event streams (the fast lane answers their plain calls as JSON).
        .with_json_response(true)
        .with_cancellation_token(ct.child_token());
    // The tools learn of the shutdown from the same token that ends the event streams.
    let state = AppState {
        shutdown: shutdown.clone(),
        ..svc.state.clone()
    };
    let direct = Arc::new(DirectCalls::new(
        SessionTools::new(state.clone()),
        manager.clone(),
        MCP_SESSION_IDLE,
        Some(svc.metrics.clone()),
    ));
    let mcp = StreamableHttpService::new(
        move || Ok(SessionTools::new(state.clone())),
        manager,
        mcp_config,
    );

    // One chain of checks, one boxed future per request (see `crate::http::chain`); CORS in front.
    let stack = ServiceBuilder::new()
        .layer(mcp_cors(&policy))
        .service(Chained(Arc::new(McpStack {
            limiters: limiters.clone(),
            bearer: svc
                .auth
                .as_ref()
                .map(|auth| crate::checks::auth::BearerState {
                    auth: auth.clone(),
                    metrics: Some(svc.metrics.clone()),
                }),
            auth: svc.auth.clone(),
            caps,
            audit: svc.audit.clone(),
            metrics: svc.metrics.clone(),
            shutdown,
            direct,
            rmcp: mcp,
        })));
    // Every route is mounted with its class (`tag`): the checks read it, not the path.
    let stack = ServiceBuilder::new()
        .layer(from_fn_with_state(Route::Mcp, tag))
        .service(stack);
    // The paths `nest_service("/mcp", ..)` would match; rmcp does not look at the path.
    let mut app = Router::new()
        .route_service("/mcp", stack.clone())
        .route_service("/mcp/", stack.clone())
        .route_service("/mcp/{*rest}", stack)
        .route(
            "/healthz",
            get(crate::http::health::healthz)
                .with_state(svc.audit.clone())
                .layer(from_fn_with_state(Route::Healthz, tag)),
        );
    if http.metrics_on_main {
        app = app.merge(metrics_router(svc));
    }
    app = app.merge(crate::notify::answer::routes::router(svc));
    if let Some(auth) = &svc.auth {
        for r in auth.routes() {
            // Innermost first: the request's time cap, the route's rate limit, the body cap,
            // and outermost the route's class, which the other three read.
            let service = r
                .service
                .layer(from_fn(crate::http::limits::request_timeout))
                .layer(from_fn_with_state(
                    limiters.clone(),
                    crate::http::ratelimit::limit_auth_routes,
                ))
                .layer(from_fn(|req, next: Next| {
                    crate::http::limits::read_body(req, |r| next.run(r))
                }))
                .layer(from_fn_with_state(Route::Auth(r.endpoint), tag));
            app = app.route(&r.path, service);
        }
    }
    let prefix = http.path_prefix();
    if !prefix.is_empty() {
        // Served both under the prefix (a proxy that passes the path on) and at the root (a
        // proxy that strips it).
        app = app.clone().nest(&prefix, app);
    }
    // Around the whole router: credentials marked sensitive before the trace sees them,
    // then the checks of every route as one chain (see `crate::http::chain`).
    let everything = ServiceBuilder::new()
        .layer(
            tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer::new([
                axum::http::header::AUTHORIZATION,
                axum::http::header::COOKIE,
            ]),
        )
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .service(Chained(Arc::new(FrontStack {
            metrics: svc.metrics.clone(),
            proxies: Arc::new(http.trusted_proxies.clone()),
            policy,
            app,
        })));
    Router::new().fallback_service(everything)
}

/// `/metrics` for the main router: behind a bearer token when OAuth is on.
fn metrics_router(svc: &Services) -> Router {
    let r = Router::new()
        .route("/metrics", get(crate::http::metrics::serve_metrics))
        .with_state(MetricsState {
            metrics: svc.metrics.clone(),
            backend: svc.state.backend.clone(),
        });
    let r = match &svc.auth {
        Some(auth) => r.route_layer(from_fn_with_state(
            crate::checks::auth::BearerState {
                auth: auth.clone(),
                metrics: None,
            },
            |State(bearer): State<crate::checks::auth::BearerState>, req, next: Next| async move {
                crate::checks::auth::require_bearer(&bearer, req, |r| next.run(r)).await
            },
        )),
        None => r,
    };
    r.route_layer(from_fn_with_state(Route::Metrics, tag))
}

/// The admin router (`--admin-bind`): `/healthz` and `/metrics`, no authentication; bind it
/// to an address only the operator reaches.
pub fn admin_router(svc: &Services) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(crate::http::health::healthz).with_state(svc.audit.clone()),
        )
        .route("/metrics", get(crate::http::metrics::serve_metrics))
        .with_state(MetricsState {
            metrics: svc.metrics.clone(),
            backend: svc.state.backend.clone(),
        })
}

/// CORS on `/mcp` for browser-based MCP clients, for the allowed origins only.
fn mcp_cors(policy: &Arc<OriginPolicy>) -> CorsLayer {
    let policy = policy.clone();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin.to_str().is_ok_and(|o| policy.origin_allowed(o))
        }))
        .allow_methods([
            http::Method::GET,
            http::Method::POST,
            http::Method::DELETE,
            http::Method::OPTIONS,
        ])
        .allow_headers([
            http::header::AUTHORIZATION,
            http::header::CONTENT_TYPE,
            http::header::ACCEPT,
            http::HeaderName::from_static("mcp-protocol-version"),
            http::HeaderName::from_static("mcp-session-id"),
            http::HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            http::header::WWW_AUTHENTICATE,
            http::HeaderName::from_static("mcp-session-id"),
            http::HeaderName::from_static("mcp-protocol-version"),
        ])
}

/// Serves `listener` until `ct` is cancelled, then finishes in-flight requests within the
/// shutdown deadline.
pub async fn run(
    listener: TcpListener,
    svc: Services,
    http: HttpConfig,
    tls: Option<Arc<TlsReloader>>,
    ct: CancellationToken,
) -> std::io::Result<()> {
    let sessions_ct = CancellationToken::new();
    let app = router(&svc, &http, ct.clone(), sessions_ct.clone());
    let exempt = http.trusted_proxies.clone();
    let limits = ListenLimits {
        max_connections_per_ip: http.max_connections_per_address,
        ..ListenLimits::standard()
    };
    let served = crate::http::listen::serve(listener, app, tls, limits, exempt, ct).await;
    sessions_ct.cancel();
    served
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

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http::{Request, header};
    use tower::ServiceExt;

    use super::*;

    /// Routes carry their class where they are mounted: under a path prefix, `/gw/mcp` is
    /// still `/mcp` in the metrics and gets `/mcp`'s body cap; a path no route serves is
    /// `other`.
    #[tokio::test]
    async fn routes_keep_their_class_under_a_path_prefix() {
        let root = tempfile::tempdir().expect("tempdir");
        let backend = Arc::new(sessiongate_backend_pty::PtyBackend::new(Default::default()));
        let policy =
            sessiongate_backend::SessionPolicy::new(&[root.path().to_owned()], Default::default())
                .expect("policy");
        let svc = Services {
            state: AppState::new(backend, Arc::new(policy)),
            auth: None,
            audit: None,
            metrics: Arc::new(Metrics::new()),
        };
        let http = HttpConfig::new("http://127.0.0.1:8000/gw");
        let app = router(
            &svc,
            &http,
            CancellationToken::new(),
            CancellationToken::new(),
        );
        let post =
            |path: &str, body: Vec<u8>| {
                let mut req = Request::post(path)
                    .header(header::HOST, "127.0.0.1:8000")
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::ACCEPT, "application/json, text/event-stream")
                    .body(Body::from(body))
                    .expect("request");
                req.extensions_mut().insert(axum::extract::ConnectInfo(
                    std::net::SocketAddr::from(([127, 0, 0, 1], 40000)),
                ));
                req
            };
        // Over the auth routes' 16 KiB, under /mcp's 2 MiB: refused as malformed JSON, not
        // as too large.
        let big = [b"x".repeat(100 * 1024)].concat();
        let resp = app
            .clone()
            .oneshot(post("/gw/mcp", big))
            .await
            .expect("infallible");
        assert_eq!(resp.status(), 400);
        let resp = app
            .clone()
            .oneshot(post("/gw/nowhere", b"{}".to_vec()))
            .await
            .expect("infallible");
        assert_eq!(resp.status(), 404);
        let text = svc.metrics.render(svc.state.backend.as_ref()).await;
        for needle in [
            "sessiongate_http_requests_total{route=\"/mcp\",status=\"400\"} 1",
            "sessiongate_http_requests_total{route=\"other\",status=\"404\"} 1",
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
    }
}
