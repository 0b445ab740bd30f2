//! Our own metrics, rate limits and body caps against the well-kept crates that could replace
//! them (issue #20, item 6), per request on the hot path:
//!
//! - `metrics`: recording one tool call (a counter and a latency histogram, labelled by tool)
//!   with our `record_tool_calls` check, with the same recording written the way ours does it
//!   (a mutex over maps, measured as an equivalent because the maps are private), with
//!   `prometheus-client` and with `metrics` + `metrics-exporter-prometheus`;
//! - `ratelimit`: taking a token for an address or an OAuth client from our `Limiter` and from
//!   `governor`'s keyed limiter, when it is allowed and when it is refused (with the
//!   `Retry-After` seconds worked out, as both must);
//! - `body_cap`: our `read_body` against `tower_http::limit::RequestBodyLimitLayer`, for a
//!   311-byte `tools/call` and for a body one byte over the cap.
//!
//! Times are the benchmarking thread's CPU time ([`ThreadCpu`]), so that other processes on a
//! shared machine do not count. The decision and the figures are in ARCHITECTURE.md ("Our own
//! code or a crate"). Run with `cargo bench -p sessiongate --bench crate_choices` (add
//! `-- --measurement-time 2 --warm-up-time 1` on a busy machine; compare figures from the same
//! run only; `SHOW_EXPOSITION=1` prints what each metrics crate would serve at `/metrics`).

use std::future::Future;
use std::hint::black_box;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::Response;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BatchSize, Criterion, criterion_main};
use governor::{Quota, RateLimiter, clock::Clock};
use http::{Method, StatusCode, header};
use http_body_util::BodyExt;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::{counter::Counter, family::Family, histogram::Histogram};
use serde_json::json;
use tower::ServiceExt;
use tower_http::limit::RequestBodyLimitLayer;

use sessiongate::checks::rpc::RpcMessage;
use sessiongate::http::limits::{MAX_MCP_BODY_BYTES, read_body};
use sessiongate::http::metrics::{BUCKETS, Metrics, record_tool_calls};
use sessiongate::http::ratelimit::{Limiter, Rate};
use sessiongate::http::routes::Route;
use sessiongate::mcp::catalog::CATALOG;

/// Criterion's clock here: the CPU time of the benchmarking thread. On a shared 2-core machine
/// wall time also counts the time other processes took the core away, which swamped the
/// differences measured here; CPU time leaves it out.
struct ThreadCpu(WallTime);

/// The CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes one `timespec` through a pointer to a live local.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ThreadCpu {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_time()
    }
    fn end(&self, started: Duration) -> Duration {
        thread_cpu_time().saturating_sub(started)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // The same values as wall time (nanoseconds in a `Duration`), so the same units.
        self.0.formatter()
    }
}

/// Runs a future that never waits (everything it reads is in memory) to its end.
fn now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the future waited"),
    }
}

/// The tool names, from the tool catalogue.
fn tool_names() -> Vec<&'static str> {
    CATALOG.iter().map(|e| e.name).collect()
}

// ----- metrics -----------------------------------------------------------------------------

/// Our recording, as `record_tool_calls` does it (its maps are private): the tool's label
/// checked against the known tools and copied, then the counter and the histogram updated
/// under the mutex, once when the headers are out and once when the body is.
#[derive(Default)]
struct OursEquivalent {
    tools: Vec<String>,
    series: Mutex<(
        std::collections::BTreeMap<String, u64>,
        std::collections::BTreeMap<String, OurHistogram>,
    )>,
}

#[derive(Default)]
struct OurHistogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl OursEquivalent {
    fn record(&self, name: &str, secs: f64) {
        let tool = if self.tools.iter().any(|t| t == name) {
            name.to_owned()
        } else {
            "unknown".to_owned()
        };
        *self
            .series
            .lock()
            .expect("lock")
            .0
            .entry(tool.clone())
            .or_default() += 1;
        let mut s = self.series.lock().expect("lock");
        let h = s.1.entry(tool).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }
}

/// The tool label for `prometheus-client`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabel {
    tool: &'static str,
}

/// `prometheus-client`'s families, as the gateway would register them.
struct PromClient {
    tools: Vec<&'static str>,
    calls: Family<ToolLabel, Counter>,
    latency: Family<ToolLabel, Histogram, fn() -> Histogram>,
    registry: prometheus_client::registry::Registry,
}

impl PromClient {
    fn new(tools: Vec<&'static str>) -> Self {
        let calls = Family::<ToolLabel, Counter>::default();
        let latency: Family<ToolLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(BUCKETS));
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register(
            "sessiongate_tool_calls",
            "MCP tool calls by tool",
            calls.clone(),
        );
        registry.register(
            "sessiongate_tool_call_duration_seconds",
            "MCP tool-call latency by tool, until the result was sent",
            latency.clone(),
        );
        PromClient {
            tools,
            calls,
            latency,
            registry,
        }
    }

    fn label(&self, name: &str) -> ToolLabel {
        ToolLabel {
            tool: self
                .tools
                .iter()
                .copied()
                .find(|t| *t == name)
                .unwrap_or("unknown"),
        }
    }

    /// Each tool's counter and histogram, looked up once.
    fn handles(&self) -> Vec<(&'static str, Counter, Histogram)> {
        self.tools
            .iter()
            .map(|t| {
                let label = ToolLabel { tool: t };
                let calls = self.calls.get_or_create_owned(&label);
                (*t, calls, self.latency.get_or_create_owned(&label))
            })
            .collect()
    }

    fn record(&self, name: &str, secs: f64) {
        let label = self.label(name);
        self.calls.get_or_create(&label).inc();
        self.latency.get_or_create(&label).observe(secs);
    }
}

/// The `metrics` facade's recording with our label list; the recorder is
/// `metrics-exporter-prometheus`'s, installed globally.
fn metrics_facade_record(tools: &[&'static str], name: &str, secs: f64) {
    let tool = tools
        .iter()
        .copied()
        .find(|t| *t == name)
        .unwrap_or("unknown");
    metrics::counter!("sessiongate_tool_calls_total", "tool" => tool).increment(1);
    metrics::histogram!("sessiongate_tool_call_duration_seconds", "tool" => tool).record(secs);
}

/// The `metrics` facade's handles of each tool, looked up once.
fn metrics_facade_handles(
    tools: &[&'static str],
) -> Vec<(&'static str, metrics::Counter, metrics::Histogram)> {
    tools
        .iter()
        .map(|&tool| {
            (
                tool,
                metrics::counter!("sessiongate_tool_calls_total", "tool" => tool),
                metrics::histogram!("sessiongate_tool_call_duration_seconds", "tool" => tool),
            )
        })
        .collect()
}

fn tools_call(name: &str) -> RpcMessage {
    RpcMessage::new(json!({
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": { "name": name, "arguments": { "session": "build-1", "lines": 40 } }
    }))
}

fn metrics_benches(c: &mut Criterion<ThreadCpu>) {
    let statics = tool_names();
    let names: Vec<String> = statics.iter().map(|n| (*n).to_owned()).collect();
    let ours = Arc::new(Metrics::new());
    let ours_eq = OursEquivalent {
        tools: names.clone(),
        ..Default::default()
    };
    let prom = PromClient::new(statics.clone());
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&BUCKETS)
        .expect("buckets")
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("the only recorder");
    // Tool calls rotate through the tools, as a client's would.
    let mut i = 0usize;
    let mut next_tool = move || {
        i = (i + 1) % statics.len();
        statics[i]
    };
    let secs = 0.0042;

    let mut g = c.benchmark_group("metrics");
    g.bench_function("ours_record_tool_calls_check", |b| {
        b.iter_batched(
            || {
                let mut req = Request::new(Body::empty());
                req.extensions_mut().insert(tools_call(next_tool()));
                req
            },
            |req| {
                let resp = now(record_tool_calls(&ours, req, async |_| {
                    Response::new(Body::empty())
                }));
                // The latency is recorded when the body is dropped.
                drop(black_box(resp));
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("no_check_same_request", |b| {
        b.iter_batched(
            || {
                let mut req = Request::new(Body::empty());
                req.extensions_mut().insert(tools_call(next_tool()));
                req
            },
            |req| {
                let next = async |_: Request| Response::new(Body::empty());
                drop(black_box(now(next(req))));
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("ours_recording_equivalent", |b| {
        b.iter(|| ours_eq.record(black_box(next_tool()), black_box(secs)))
    });
    g.bench_function("prometheus_client", |b| {
        b.iter(|| prom.record(black_box(next_tool()), black_box(secs)))
    });
    let handles = prom.handles();
    g.bench_function("prometheus_client_handles_kept", |b| {
        b.iter(|| {
            let name = black_box(next_tool());
            if let Some((_, calls, latency)) = handles.iter().find(|h| h.0 == name) {
                calls.inc();
                latency.observe(black_box(secs));
            }
        })
    });
    let statics = tool_names();
    g.bench_function("metrics_exporter_prometheus", |b| {
        // Its histograms keep every sample until the next scrape or upkeep, which aggregates
        // them; that work is paid per sample, so one upkeep per 1024 samples is counted here.
        b.iter_custom(|iters| {
            let started = thread_cpu_time();
            for n in 0..iters {
                metrics_facade_record(&statics, black_box(next_tool()), black_box(secs));
                if n % 1024 == 1023 {
                    handle.run_upkeep();
                }
            }
            thread_cpu_time() - started
        })
    });
    g.bench_function("metrics_exporter_prometheus_without_upkeep", |b| {
        b.iter(|| metrics_facade_record(&statics, black_box(next_tool()), black_box(secs)))
    });
    let handles = metrics_facade_handles(&statics);
    g.bench_function("metrics_exporter_prometheus_handles_kept", |b| {
        b.iter_custom(|iters| {
            let started = thread_cpu_time();
            for n in 0..iters {
                let name = black_box(next_tool());
                if let Some((_, calls, latency)) = handles.iter().find(|h| h.0 == name) {
                    calls.increment(1);
                    latency.record(black_box(secs));
                }
                if n % 1024 == 1023 {
                    handle.run_upkeep();
                }
            }
            thread_cpu_time() - started
        })
    });
    handle.run_upkeep();
    g.finish();

    // What each would serve at /metrics, for the comparison in ARCHITECTURE.md.
    if std::env::var_os("SHOW_EXPOSITION").is_some() {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &prom.registry).expect("encode");
        eprintln!("--- prometheus-client (OpenMetrics)\n{text}");
        text.clear();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &prom.registry)
            .expect("encode");
        eprintln!("--- prometheus-client (Prometheus text 0.0.4)\n{text}");
        eprintln!("--- metrics-exporter-prometheus\n{}", handle.render());
    }
}

// ----- rate limits -------------------------------------------------------------------------

/// Governor's keyed limiter with a rate and burst like ours.
fn governor_limiter<K: std::hash::Hash + Eq + Clone>(
    rate: Rate,
) -> governor::DefaultKeyedRateLimiter<K> {
    let per_minute = NonZeroU32::new(rate.per_minute).expect("not off");
    let burst = NonZeroU32::new(rate.burst.max(1)).expect("at least one");
    RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst))
}

/// Governor's answer in our terms: `Ok`, or the whole seconds until the next token.
fn governor_check<K: std::hash::Hash + Eq + Clone>(
    l: &governor::DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), u64> {
    l.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(l.clock().now());
        wait.as_secs_f64().ceil().max(1.0) as u64
    })
}

fn ratelimit_benches(c: &mut Criterion<ThreadCpu>) {
    let open = Rate::new(u32::MAX, 1_000_000);
    let shut = Rate::new(1, 1);
    let ip: IpAddr = "203.0.113.9".parse().expect("ip");
    let addrs: Vec<IpAddr> = (0..1000u32)
        .map(|n| IpAddr::from((0xc633_6400u32 + n).to_be_bytes()))
        .collect();
    let client = "c-3f9a1e0b7d2c4f58a6b1e9d07c35f2a4".to_owned();

    let mut g = c.benchmark_group("ratelimit");
    let ours = Limiter::new(open);
    let gov = governor_limiter(open);
    g.bench_function("ours_address_allowed", |b| {
        b.iter(|| ours.check(black_box(&ip)))
    });
    g.bench_function("governor_address_allowed", |b| {
        b.iter(|| governor_check(&gov, black_box(&ip)))
    });

    let ours = Limiter::new(open);
    let gov = governor_limiter(open);
    let mut i = 0usize;
    g.bench_function("ours_1000_addresses_allowed", |b| {
        b.iter(|| {
            i = (i + 1) % addrs.len();
            ours.check(black_box(&addrs[i]))
        })
    });
    g.bench_function("governor_1000_addresses_allowed", |b| {
        b.iter(|| {
            i = (i + 1) % addrs.len();
            governor_check(&gov, black_box(&addrs[i]))
        })
    });

    let ours = Limiter::new(shut);
    let gov = governor_limiter(shut);
    assert_eq!(ours.check(&ip), Ok(()));
    assert_eq!(governor_check(&gov, &ip), Ok(()));
    assert!(ours.check(&ip).is_err() && governor_check(&gov, &ip).is_err());
    g.bench_function("ours_address_refused", |b| {
        b.iter(|| ours.check(black_box(&ip)))
    });
    g.bench_function("governor_address_refused", |b| {
        b.iter(|| governor_check(&gov, black_box(&ip)))
    });

    let ours = Limiter::new(open);
    let gov = governor_limiter(open);
    g.bench_function("ours_client_id_allowed", |b| {
        b.iter(|| ours.check(black_box(&client)))
    });
    g.bench_function("governor_client_id_allowed", |b| {
        b.iter(|| governor_check(&gov, black_box(&client)))
    });
    g.finish();
}

// ----- body caps ---------------------------------------------------------------------------

fn post(body: Bytes, declared: bool) -> Request {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/mcp")
        .header(header::CONTENT_TYPE, "application/json");
    if declared {
        req = req.header(header::CONTENT_LENGTH, body.len());
    }
    // Routes are tagged where they are mounted; the cap is the route's.
    let mut req = req.body(Body::from(body)).expect("request");
    req.extensions_mut().insert(Route::Mcp);
    req
}

/// What the handler behind does with the body in both cases: reads it into memory.
async fn handler<B>(req: Request<B>) -> Response
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    match req.into_body().collect().await {
        Ok(body) => {
            black_box(body.to_bytes());
            Response::new(Body::empty())
        }
        Err(_) => {
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            resp
        }
    }
}

fn body_cap_benches(c: &mut Criterion<ThreadCpu>) {
    // `read_body` starts a timer, so it needs a runtime's context (it never waits here).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let _ctx = rt.enter();
    let small = Bytes::from(
        json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_logs",
            "arguments":{"session":"build-1","lines":40},"_meta":{"progressToken":"p-7"}},
            "pad":"x".repeat(150)})
        .to_string(),
    );
    let big = Bytes::from(vec![b' '; MAX_MCP_BODY_BYTES + 1]);
    let tower_svc = tower::ServiceBuilder::new()
        .layer(RequestBodyLimitLayer::new(MAX_MCP_BODY_BYTES))
        .service_fn(|req: Request<tower_http::body::Limited<Body>>| async move {
            Ok::<_, std::convert::Infallible>(handler(req).await)
        });
    assert_eq!(
        now(read_body(post(big.clone(), true), handler)).status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let refused = now(tower_svc.oneshot(post(big.clone(), true))).expect("infallible");
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let mut g = c.benchmark_group("body_cap");
    g.bench_function(format!("no_cap_{}_bytes", small.len()), |b| {
        b.iter(|| now(handler(post(small.clone(), true))).status())
    });
    g.bench_function(format!("ours_read_body_{}_bytes", small.len()), |b| {
        b.iter(|| now(read_body(post(small.clone(), true), handler)).status())
    });
    g.bench_function(format!("tower_http_limit_{}_bytes", small.len()), |b| {
        b.iter(|| {
            now(tower_svc.oneshot(post(small.clone(), true)))
                .expect("infallible")
                .status()
        })
    });
    g.bench_function("ours_read_body_over_cap_declared", |b| {
        b.iter(|| now(read_body(post(big.clone(), true), handler)).status())
    });
    g.bench_function("tower_http_limit_over_cap_declared", |b| {
        b.iter(|| {
            now(tower_svc.oneshot(post(big.clone(), true)))
                .expect("infallible")
                .status()
        })
    });
    g.bench_function("ours_read_body_over_cap_chunked", |b| {
        b.iter(|| now(read_body(post(big.clone(), false), handler)).status())
    });
    g.bench_function("tower_http_limit_over_cap_chunked", |b| {
        b.iter(|| {
            now(tower_svc.oneshot(post(big.clone(), false)))
                .expect("infallible")
                .status()
        })
    });
    g.finish();
}

/// The benchmark groups.
fn benches() {
    let mut c = Criterion::default()
        .with_measurement(ThreadCpu(WallTime))
        .configure_from_args();
    metrics_benches(&mut c);
    ratelimit_benches(&mut c);
    body_cap_benches(&mut c);
}
criterion_main!(benches);
