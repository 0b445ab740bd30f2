//! Prometheus metrics: request counts and latencies per route, tool-call counts and latencies
//! per tool, refusals (authentication, rate limits), notifications, sessions by state, and the
//! process's memory, served as text at `/metrics`.
//!
//! The series are kept and written by the `prometheus-client` crate (its Prometheus text
//! encoder, format 0.0.4), which escapes label values; the choice is explained in
//! `docs/crate-decisions.md`. Labels come from fixed lists (known routes, known tools), never
//! from raw client input, so a client cannot blow up the number of series; the one configured
//! label (a notification channel's name) comes from the config file. Latency is measured until
//! the response body has been sent in full, which for a streamed (SSE) tool result is when the
//! result is out. The gauges (sessions, memory) are computed when `/metrics` is asked for.

use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::header;
use prometheus_client::encoding::{EncodeLabelSet, prometheus_text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use sessiongate_backend::{ProcessStatus, SessionBackend};

use crate::checks::rpc::RpcMessage;
use crate::http::routes::Route;
use crate::mcp::catalog::{CATALOG, Entry};

/// Upper bounds of the latency buckets, in seconds.
pub const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

/// The reasons a bearer token is refused; each has a series from the start, at 0.
const AUTH_FAILURE_REASONS: [&str; 3] = ["missing", "invalid", "insufficient_scope"];

/// The labels of `sessiongate_http_requests_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteStatus {
    route: &'static str,
    status: u16,
}

/// The label of `sessiongate_http_request_duration_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabel {
    route: &'static str,
}

/// The label of the tool-call series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ToolLabel {
    tool: &'static str,
}

/// The label of `sessiongate_auth_failures_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// The label of `sessiongate_rate_limited_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct LimitLabel {
    limit: &'static str,
}

/// The labels of `sessiongate_notifications_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct NotificationLabels {
    channel: String,
    outcome: &'static str,
}

/// The label of `sessiongate_fast_lane_calls_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabel {
    request: &'static str,
}

/// The label of `sessiongate_sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

/// A latency histogram with our buckets.
fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// A family of latency histograms.
type Latencies<S> = Family<S, Histogram, fn() -> Histogram>;

/// One tool's series, kept so that recording a call looks nothing up.
#[derive(Debug)]
struct ToolSeries {
    calls: Counter,
    latency: Histogram,
}

/// The gateway's metrics.
pub struct Metrics {
    /// Every series below, for the encoder.
    registry: Registry,
    requests: Family<RouteStatus, Counter>,
    request_latency: Latencies<RouteLabel>,
    tool_calls: Family<ToolLabel, Counter>,
    tool_latency: Latencies<ToolLabel>,
    /// One slot per catalogue entry, in catalogue order, then one for `unknown`; each is
    /// filled on the tool's first call, so a tool never called shows no series.
    tools: Box<[OnceLock<ToolSeries>]>,
    auth_failures: Family<ReasonLabel, Counter>,
    rate_limited: Family<LimitLabel, Counter>,
    notifications: Family<NotificationLabels, Counter>,
    /// Tool calls the fast lane answered: on an MCP session, and stateless.
    fast_lane: [Counter; 2],
    started: SystemTime,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Empty metrics: the counters that are always shown are at 0.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RouteStatus, Counter>::default();
        registry.register(
            "sessiongate_http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        let request_latency = Latencies::<RouteLabel>::new_with_constructor(latency_histogram);
        registry.register(
            "sessiongate_http_request_duration_seconds",
            "HTTP request latency by route, until the response body was sent",
            request_latency.clone(),
        );
        let tool_calls = Family::<ToolLabel, Counter>::default();
        registry.register(
            "sessiongate_tool_calls",
            "MCP tool calls by tool",
            tool_calls.clone(),
        );
        let tool_latency = Latencies::<ToolLabel>::new_with_constructor(latency_histogram);
        registry.register(
            "sessiongate_tool_call_duration_seconds",
            "MCP tool-call latency by tool, until the result was sent",
            tool_latency.clone(),
        );
        let auth_failures = Family::<ReasonLabel, Counter>::default();
        for reason in AUTH_FAILURE_REASONS {
            let _ = auth_failures.get_or_create(&ReasonLabel { reason });
        }
        registry.register(
            "sessiongate_auth_failures",
            "Requests to /mcp refused for their bearer token",
            auth_failures.clone(),
        );
        let rate_limited = Family::<LimitLabel, Counter>::default();
        registry.register(
            "sessiongate_rate_limited",
            "Requests refused by a rate limit",
            rate_limited.clone(),
        );
        let notifications = Family::<NotificationLabels, Counter>::default();
        registry.register(
            "sessiongate_notifications",
            "Notifications by channel and outcome",
            notifications.clone(),
        );
        let lanes = Family::<RequestLabel, Counter>::default();
        let fast_lane = ["session", "stateless"]
            .map(|request| lanes.get_or_create_owned(&RequestLabel { request }));
        registry.register(
            "sessiongate_fast_lane_calls",
            "Tool calls answered by the fast lane, by kind of request",
            lanes,
        );
        Metrics {
            registry,
            requests,
            request_latency,
            tool_calls,
            tool_latency,
            tools: (0..=CATALOG.len()).map(|_| OnceLock::new()).collect(),
            auth_failures,
            rate_limited,
            notifications,
            fast_lane,
            started: SystemTime::now(),
        }
    }

    /// Counts a tool call the fast lane answered (`stateless`: one that opened no session).
    pub fn fast_lane_call(&self, stateless: bool) {
        self.fast_lane[usize::from(stateless)].inc();
    }

    /// Counts a refused bearer token, by reason (`missing`, `invalid`, `insufficient_scope`).
    pub fn auth_failure(&self, reason: &'static str) {
        self.auth_failures
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// Counts a request refused by a rate limit.
    pub fn rate_limited(&self, limit: &'static str) {
        self.rate_limited.get_or_create(&LimitLabel { limit }).inc();
    }

    /// Counts a notification's delivery by channel (a configured name) and outcome (`sent`,
    /// `rejected`, `failed`, `dropped`).
    pub fn notification(&self, channel: &str, outcome: &'static str) {
        let labels = NotificationLabels {
            channel: channel.to_owned(),
            outcome,
        };
        self.notifications.get_or_create(&labels).inc();
    }

    /// Counts a request by route and status.
    fn request(&self, route: &'static str, status: u16) {
        self.requests
            .get_or_create(&RouteStatus { route, status })
            .inc();
    }

    /// Records a request's latency by route.
    fn request_latency(&self, route: &'static str, secs: f64) {
        self.request_latency
            .get_or_create(&RouteLabel { route })
            .observe(secs);
    }

    /// The series of the tool in catalogue row `entry` (`None`: a tool the catalogue does not
    /// know, counted as `unknown`), created on its first call.
    fn tool(&self, entry: Option<&'static Entry>) -> &ToolSeries {
        let (slot, tool) = match entry.and_then(|e| {
            CATALOG
                .iter()
                .position(|c| c.tool == e.tool)
                .map(|i| (i, e.name))
        }) {
            Some(found) => found,
            None => (CATALOG.len(), "unknown"),
        };
        self.tools[slot].get_or_init(|| {
            let label = ToolLabel { tool };
            ToolSeries {
                calls: self.tool_calls.get_or_create_owned(&label),
                latency: self.tool_latency.get_or_create_owned(&label),
            }
        })
    }

    /// The counters and histograms in the Prometheus text format.
    fn encode_series(&self, out: &mut String) {
        if prometheus_text::encode(out, &self.registry).is_err() {
            tracing::error!("metrics could not be encoded");
        }
    }

    /// The same metrics with the kept answers of `cache` counted by tool: built, and handed
    /// out again without being built.
    pub fn with_kept_answers(mut self, cache: &crate::mcp::kept_answers::KeptAnswers) -> Self {
        let (built, reused) = cache.counters();
        self.registry.register(
            "sessiongate_kept_answers_built",
            "list_sessions and get_session_status answers built and kept while nothing they show changes",
            built,
        );
        self.registry.register(
            "sessiongate_kept_answers_reused",
            "list_sessions and get_session_status answers handed out again without being built",
            reused,
        );
        self
    }

    /// The Prometheus text exposition, with the sessions counted now.
    pub async fn render(&self, backend: &dyn SessionBackend) -> String {
        let sessions = backend.list().await;
        let mut out = String::new();
        self.encode_series(&mut out);
        // The gauges, computed now: a registry of their own, made for this page.
        let mut now = Registry::default();
        let backend_up = Gauge::<i64>::default();
        match sessions {
            Ok(list) => {
                let running = list
                    .iter()
                    .filter(|s| matches!(s.status, ProcessStatus::Running))
                    .count();
                let by_state = Family::<StateLabel, Gauge>::default();
                for (state, n) in [("running", running), ("exited", list.len() - running)] {
                    by_state
                        .get_or_create(&StateLabel { state })
                        .set(to_i64(n as u64));
                }
                now.register(
                    "sessiongate_sessions",
                    "Terminal sessions by state",
                    by_state,
                );
                backend_up.set(1);
            }
            Err(_) => {
                backend_up.set(0);
            }
        }
        now.register(
            "sessiongate_backend_up",
            "Whether the session backend answered when the sessions were counted",
            backend_up,
        );
        if let Some(rss) = resident_bytes() {
            now.register(
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                gauge(rss),
            );
        }
        if let Some(heap) = heap_in_use_bytes() {
            now.register(
                "sessiongate_heap_in_use_bytes",
                "Heap memory allocated and not yet freed",
                gauge(heap),
            );
        }
        if let Ok(d) = self.started.duration_since(std::time::UNIX_EPOCH) {
            now.register(
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds",
                gauge(d.as_secs()),
            );
        }
        if prometheus_text::encode(&mut out, &now).is_err() {
            tracing::error!("metrics could not be encoded");
        }
        out
    }
}

/// `n` as a gauge's value (saturating: no count here comes near `i64::MAX`).
fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A gauge set to `n`.
fn gauge(n: u64) -> Gauge {
    let g = Gauge::default();
    g.set(to_i64(n));
    g
}

/// The process's resident set size, from `/proc/self/statm`.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// The bytes the allocator has handed out and not got back: the live heap, without what
/// glibc keeps for reuse (which `process_resident_memory_bytes` includes). A leak shows here as
/// steady growth; an allocator settling into its working set does not.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn heap_in_use_bytes() -> Option<u64> {
    // SAFETY: `mallinfo2` takes no arguments, has no preconditions and returns a plain struct
    // by value; glibc locks each arena while it sums it up.
    #[allow(unsafe_code)]
    let info = unsafe { libc::mallinfo2() };
    // Bytes in use from the arenas plus bytes in chunks that were mmapped on their own.
    Some((info.uordblks + info.hblkhd) as u64)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap_in_use_bytes() -> Option<u64> {
    None
}

/// Calls `done` with the elapsed time once the response body has been sent (or dropped).
fn on_body_end(resp: Response, done: impl FnOnce(f64) + Send + Unpin + 'static) -> Response {
    let (parts, body) = resp.into_parts();
    let body = TimedBody {
        inner: body,
        done: Some(done),
        started: Instant::now(),
    };
    Response::from_parts(parts, Body::new(body))
}

/// A response body that reports when it is dropped, and passes on its length (hyper then
/// sends `Content-Length` instead of chunks).
struct TimedBody<F: FnOnce(f64)> {
    inner: Body,
    done: Option<F>,
    started: Instant,
}

impl<F: FnOnce(f64)> Drop for TimedBody<F> {
    fn drop(&mut self) {
        if let Some(f) = self.done.take() {
            f(self.started.elapsed().as_secs_f64());
        }
    }
}

impl<F: FnOnce(f64) + Unpin> http_body::Body for TimedBody<F> {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// First of the checks around every route: counts every request by route and status, and
/// its latency.
pub async fn record_http(
    metrics: &Arc<Metrics>,
    req: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    let metrics = metrics.clone();
    let started = Instant::now();
    let resp = next(req).await;
    // The route the router tagged the response with; "other" for a request that reached no
    // route (an unknown path, or one refused before routing).
    let route = resp
        .extensions()
        .get::<Route>()
        .map_or("other", |r| r.label());
    metrics.request(route, resp.status().as_u16());
    let elapsed_to_headers = started.elapsed().as_secs_f64();
    on_body_end(resp, move |body_secs| {
        metrics.request_latency(route, elapsed_to_headers + body_secs);
    })
}

/// Behind the JSON-RPC guard on `/mcp`: counts tool calls by tool, and their latency.
pub async fn record_tool_calls(
    metrics: &Arc<Metrics>,
    req: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    // Labels come from the tool catalogue: a name it does not know is "unknown".
    let tool = req
        .extensions()
        .get::<RpcMessage>()
        .and_then(RpcMessage::single)
        .and_then(|m| m.tool.as_ref())
        .filter(|t| t.name.is_some())
        .map(|t| t.entry);
    let Some(entry) = tool else {
        return next(req).await;
    };
    let metrics = metrics.clone();
    let started = Instant::now();
    let resp = next(req).await;
    let to_headers = started.elapsed().as_secs_f64();
    metrics.tool(entry).calls.inc();
    on_body_end(resp, move |body_secs| {
        metrics.tool(entry).latency.observe(to_headers + body_secs);
    })
}

/// `GET /metrics`.
pub async fn serve_metrics(State(state): State<MetricsState>) -> Response {
    let text = state.metrics.render(state.backend.as_ref()).await;
    (
        [
            (header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}

/// What `/metrics` needs.
#[derive(Debug, Clone)]
pub struct MetricsState {
    /// The counters.
    pub metrics: Arc<Metrics>,
    /// Counted for the sessions gauge.
    pub backend: Arc<dyn SessionBackend>,
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
