//! Prometheus metrics: request counts and latencies per route, tool-call counts and latencies
//! per tool, refusals (authentication, rate limits), sessions by state, and the process's
//! memory, served as text at `/metrics`.
//!
//! Labels come from fixed lists (known routes, known tools), never from raw client input, so
//! a client cannot blow up the number of series. Latency is measured until the response body
//! has been sent in full, which for a streamed (SSE) tool result is when the result is out.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::header;

use sessiongate_backend::{ProcessStatus, SessionBackend};

use crate::checks::rpc::RpcMessage;
use crate::http::routes::Route;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }
}

#[derive(Debug, Default)]
struct Series {
    requests: BTreeMap<(&'static str, u16), u64>,
    request_latency: BTreeMap<&'static str, Histogram>,
    tool_calls: BTreeMap<&'static str, u64>,
    tool_latency: BTreeMap<&'static str, Histogram>,
    auth_failures: BTreeMap<&'static str, u64>,
    rate_limited: BTreeMap<&'static str, u64>,
    notifications: BTreeMap<(String, &'static str), u64>,
}

/// The gateway's metrics.
#[derive(Debug)]
pub struct Metrics {
    series: Mutex<Series>,
    started: std::time::SystemTime,
    /// Tool calls the fast lane answered: on an MCP session, and stateless.
    fast_lane: [std::sync::atomic::AtomicU64; 2],
}

impl Metrics {
    /// Empty metrics.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Metrics {
            series: Mutex::new(Series::default()),
            started: std::time::SystemTime::now(),
            fast_lane: Default::default(),
        }
    }

    /// Counts a tool call the fast lane answered (`stateless`: one that opened no session).
    pub fn fast_lane_call(&self, stateless: bool) {
        self.fast_lane[usize::from(stateless)].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn series(&self) -> std::sync::MutexGuard<'_, Series> {
        self.series.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a refused bearer token, by reason (`missing`, `invalid`, `insufficient_scope`).
    pub fn auth_failure(&self, reason: &'static str) {
        *self.series().auth_failures.entry(reason).or_default() += 1;
    }

    /// Counts a request refused by a rate limit.
    pub fn rate_limited(&self, limit: &'static str) {
        *self.series().rate_limited.entry(limit).or_default() += 1;
    }

    /// Counts a notification's delivery by channel (a configured name) and outcome (`sent`,
    /// `rejected`, `failed`, `dropped`).
    pub fn notification(&self, channel: &str, outcome: &'static str) {
        *self
            .series()
            .notifications
            .entry((channel.to_owned(), outcome))
            .or_default() += 1;
    }

    /// The Prometheus text exposition, with the sessions counted now.
    pub async fn render(&self, backend: &dyn SessionBackend) -> String {
        let sessions = backend.list().await;
        let mut out = String::new();
        let s = self.series();
        let _ = writeln!(
            out,
            "# HELP sessiongate_http_requests_total HTTP requests by route and status.\n\
             # TYPE sessiongate_http_requests_total counter"
        );
        for ((route, status), n) in &s.requests {
            let _ = writeln!(
                out,
                "sessiongate_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        write_histograms(
            &mut out,
            "sessiongate_http_request_duration_seconds",
            "HTTP request latency by route, until the response body was sent.",
            "route",
            s.request_latency.iter().map(|(k, h)| (k.to_string(), h)),
        );
        let _ = writeln!(
            out,
            "# HELP sessiongate_tool_calls_total MCP tool calls by tool.\n\
             # TYPE sessiongate_tool_calls_total counter"
        );
        for (tool, n) in &s.tool_calls {
            let _ = writeln!(out, "sessiongate_tool_calls_total{{tool=\"{tool}\"}} {n}");
        }
        write_histograms(
            &mut out,
            "sessiongate_tool_call_duration_seconds",
            "MCP tool-call latency by tool, until the result was sent.",
            "tool",
            s.tool_latency.iter().map(|(k, h)| ((*k).to_owned(), h)),
        );
        let _ = writeln!(
            out,
            "# HELP sessiongate_auth_failures_total Requests to /mcp refused for their bearer token.\n\
             # TYPE sessiongate_auth_failures_total counter"
        );
        for reason in ["missing", "invalid", "insufficient_scope"] {
            let n = s.auth_failures.get(reason).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "sessiongate_auth_failures_total{{reason=\"{reason}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP sessiongate_rate_limited_total Requests refused by a rate limit.\n\
             # TYPE sessiongate_rate_limited_total counter"
        );
        for (limit, n) in &s.rate_limited {
            let _ = writeln!(
                out,
                "sessiongate_rate_limited_total{{limit=\"{limit}\"}} {n}"
            );
        }
        if !s.notifications.is_empty() {
            let _ = writeln!(
                out,
                "# HELP sessiongate_notifications_total Notifications by channel and outcome.\n\
                 # TYPE sessiongate_notifications_total counter"
            );
            for ((channel, outcome), n) in &s.notifications {
                let _ = writeln!(
                    out,
                    "sessiongate_notifications_total{{channel=\"{channel}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        drop(s);
        let lane = |i: usize| self.fast_lane[i].load(std::sync::atomic::Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP sessiongate_fast_lane_calls_total Tool calls answered by the fast lane, by kind of request.\n\
             # TYPE sessiongate_fast_lane_calls_total counter\n\
             sessiongate_fast_lane_calls_total{{request=\"session\"}} {}\n\
             sessiongate_fast_lane_calls_total{{request=\"stateless\"}} {}",
            lane(0),
            lane(1)
        );
        let _ = writeln!(
            out,
            "# HELP sessiongate_sessions Terminal sessions by state.\n\
             # TYPE sessiongate_sessions gauge"
        );
        match sessions {
            Ok(list) => {
                let running = list
                    .iter()
                    .filter(|s| matches!(s.status, ProcessStatus::Running))
                    .count();
                let _ = writeln!(
                    out,
                    "sessiongate_sessions{{state=\"running\"}} {running}\n\
                     sessiongate_sessions{{state=\"exited\"}} {}",
                    list.len() - running
                );
                let _ = writeln!(out, "sessiongate_backend_up 1");
            }
            Err(_) => {
                let _ = writeln!(out, "sessiongate_backend_up 0");
            }
        }
        if let Some(rss) = resident_bytes() {
            let _ = writeln!(
                out,
                "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}"
            );
        }
        if let Some(heap) = heap_in_use_bytes() {
            let _ = writeln!(
                out,
                "# HELP sessiongate_heap_in_use_bytes Heap memory allocated and not yet freed.\n\
                 # TYPE sessiongate_heap_in_use_bytes gauge\nsessiongate_heap_in_use_bytes {heap}"
            );
        }
        if let Ok(d) = self.started.duration_since(std::time::UNIX_EPOCH) {
            let _ = writeln!(
                out,
                "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {}",
                d.as_secs()
            );
        }
        out
    }
}

fn write_histograms<'a>(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    items: impl Iterator<Item = (String, &'a Histogram)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (key, h) in items {
        for (le, n) in BUCKETS.iter().zip(h.counts) {
            let _ = writeln!(out, "{name}_bucket{{{label}=\"{key}\",le=\"{le}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{label}=\"{key}\",le=\"+Inf\"}} {}\n\
             {name}_sum{{{label}=\"{key}\"}} {}\n{name}_count{{{label}=\"{key}\"}} {}",
            h.count, h.sum, h.count
        );
    }
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
    let status = resp.status().as_u16();
    *metrics
        .series()
        .requests
        .entry((route, status))
        .or_default() += 1;
    let elapsed_to_headers = started.elapsed().as_secs_f64();
    on_body_end(resp, move |body_secs| {
        metrics
            .series()
            .request_latency
            .entry(route)
            .or_default()
            .observe(elapsed_to_headers + body_secs);
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
        .map(|t| t.entry.map_or("unknown", |e| e.name));
    let Some(tool) = tool else {
        return next(req).await;
    };
    let metrics = metrics.clone();
    let started = Instant::now();
    let resp = next(req).await;
    let to_headers = started.elapsed().as_secs_f64();
    *metrics.series().tool_calls.entry(tool).or_default() += 1;
    on_body_end(resp, move |body_secs| {
        metrics
            .series()
            .tool_latency
            .entry(tool)
            .or_default()
            .observe(to_headers + body_secs);
    })
}

/// `GET /metrics`.
pub async fn serve_metrics(State(state): State<MetricsState>) -> Response {
    let text = state.metrics.render(state.backend.as_ref()).await;
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
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
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let mut h = Histogram::default();
        h.observe(0.0004);
        h.observe(0.02);
        h.observe(100.0);
        assert_eq!(h.counts[0], 1);
        assert_eq!(h.counts[5], 2);
        assert_eq!(h.counts[BUCKETS.len() - 1], 2);
        assert_eq!(h.count, 3);
    }
}
