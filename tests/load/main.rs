//! The whole-stack load benchmark: concurrent MCP clients with real bearer tokens against the
//! real binary on loopback, compared with two floors measured in the same run: a trivial axum
//! JSON handler (the HTTP floor) and the bare backend operation without HTTP (a forked
//! `tmux display-message`, or a PTY screen read in process).
//!
//!   cargo run --release -p sessiongate-tests --bin load -- [--clients 1,8,64]
//!       [--sessions 10,200] [--backends tmux,pty] [--seconds 5]
//!
//! Prints a table of requests per second and p50/p90/p99 latencies, and the gateway's
//! resident memory. CI runs it once at a tiny size (`--clients 2 --sessions 2 --seconds 1`)
//! to keep it working; the numbers are never asserted.

use std::time::{Duration, Instant};

use serde_json::json;

use sessiongate_backend::{ReadRequest, SessionBackend, SessionName};
use sessiongate_tests::gateway::{Options, TestGateway};
use sessiongate_tests::mcp::McpClient;

struct Args {
    clients: Vec<usize>,
    sessions: Vec<usize>,
    backends: Vec<String>,
    seconds: f64,
}

fn parse_args() -> Args {
    let mut a = Args {
        clients: vec![1, 8, 64],
        sessions: vec![10, 200],
        backends: vec!["tmux".into(), "pty".into()],
        seconds: 5.0,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let list = |s: &str| {
        s.split(',')
            .filter_map(|x| x.parse().ok())
            .collect::<Vec<usize>>()
    };
    for pair in argv.chunks(2) {
        match (pair[0].as_str(), pair.get(1)) {
            ("--clients", Some(v)) => a.clients = list(v),
            ("--sessions", Some(v)) => a.sessions = list(v),
            ("--backends", Some(v)) => a.backends = v.split(',').map(str::to_owned).collect(),
            ("--seconds", Some(v)) => a.seconds = v.parse().unwrap_or(5.0),
            (other, _) => {
                eprintln!("unknown argument {other}; see the module docs");
                std::process::exit(2);
            }
        }
    }
    a
}

/// Latencies of one run.
struct Stats {
    latencies: Vec<Duration>,
    elapsed: Duration,
    errors: usize,
}

impl Stats {
    fn pct(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1000.0
    }
    fn rps(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

async fn run_clients<F, Fut>(clients: usize, make: F) -> Stats
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = (Vec<Duration>, usize)> + Send + 'static,
{
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        tasks.push(tokio::spawn(make(c)));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            latencies.extend(l);
            errors += e;
        }
    }
    latencies.sort();
    Stats {
        latencies,
        elapsed: start.elapsed(),
        errors,
    }
}

/// The HTTP floor: a trivial axum JSON handler on loopback, called like the gateway is.
async fn http_floor(clients: usize, seconds: f64) -> Stats {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(|body: axum::Json<serde_json::Value>| async move {
            axum::Json(json!({ "jsonrpc": "2.0", "id": body.0["id"], "result": {} }))
        }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let stats = run_clients(clients, |_| {
        let url = url.clone();
        async move {
            let http = reqwest::Client::new();
            let mut l = Vec::new();
            let mut e = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                match http
                    .post(&url)
                    .json(&json!({"jsonrpc":"2.0","id":1,"method":"x"}))
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        l.push(t.elapsed());
                    }
                    _ => e += 1,
                }
            }
            (l, e)
        }
    })
    .await;
    server.abort();
    stats
}

/// The bare backend operation, sequentially, without HTTP.
async fn backend_floor(backend: &str, socket: &str, seconds: f64) -> Stats {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut l = Vec::new();
    let start = Instant::now();
    if backend == "tmux" {
        while Instant::now() < deadline {
            let t = Instant::now();
            let ok = tokio::process::Command::new("tmux")
                .args([
                    "-L",
                    socket,
                    "display-message",
                    "-p",
                    "-t",
                    "=claude-s0:",
                    "#{pane_pid}",
                ])
                .output()
                .await
                .is_ok_and(|o| o.status.success());
            if ok {
                l.push(t.elapsed());
            }
        }
    } else {
        let root = tempfile::tempdir().expect("tempdir");
        let b = sessiongate_backend_pty::PtyBackend::new(Default::default());
        let policy = sessiongate_tests::contract::policy(root.path());
        let spec = policy.prepare("floor", None, "bash").expect("spec");
        b.create(spec).await.expect("create");
        let name = SessionName::new("floor").expect("name");
        while Instant::now() < deadline {
            let t = Instant::now();
            if b.read(&name, ReadRequest::default()).await.is_ok() {
                l.push(t.elapsed());
            }
        }
    }
    l.sort();
    Stats {
        latencies: l,
        elapsed: start.elapsed(),
        errors: 0,
    }
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn row(what: &str, s: &Stats, floor_p50: f64) {
    println!(
        "| {what:<44} | {:>9.0} | {:>7.2} | {:>7.2} | {:>7.2} | {:>6} | {:>7.2} |",
        s.rps(),
        s.pct(0.50),
        s.pct(0.90),
        s.pct(0.99),
        s.errors,
        s.pct(0.50) / floor_p50
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = parse_args();
    println!("| run | req/s | p50 ms | p90 ms | p99 ms | errors | p50 / floor |");
    println!("|---|---|---|---|---|---|---|");
    for backend in &args.backends {
        for &sessions in &args.sessions {
            let gw = TestGateway::start(Options {
                backend: backend.clone(),
                ..Options::oauth(&format!("load-{backend}"), 3600)
            });
            let token = gw.token("sessions:read sessions:write sessions:manage", "1h");
            let pid = gw.pid();
            let idle_rss = rss_mb(pid);
            let mut setup = McpClient::new(&gw.mcp_url());
            setup
                .headers
                .push(("authorization".into(), format!("Bearer {token}")));
            setup.initialize().await.expect("initialize");
            for i in 0..sessions {
                setup
                    .call_ok(
                        "create_session",
                        json!({ "name": format!("s{i}"), "profile": "bash" }),
                    )
                    .await
                    .expect("create");
            }
            let sessions_rss = rss_mb(pid);
            let bare = backend_floor(backend, &gw.socket, args.seconds.min(2.0)).await;
            for &clients in &args.clients {
                let floor = http_floor(clients, args.seconds).await;
                let floor_p50 = floor.pct(0.5);
                row(&format!("HTTP floor, {clients} clients"), &floor, floor_p50);
                row(
                    &format!("{backend} bare backend op (no HTTP)"),
                    &bare,
                    floor_p50,
                );
                for tool in [
                    "get_session_status",
                    "get_logs",
                    "send_message",
                    "list_sessions",
                ] {
                    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
                    let url = gw.mcp_url();
                    let token = token.clone();
                    let stats = run_clients(clients, |c| {
                        let url = url.clone();
                        let token = token.clone();
                        async move {
                            let mut mc = McpClient::new(&url);
                            mc.headers
                                .push(("authorization".into(), format!("Bearer {token}")));
                            if mc.initialize().await.is_err() {
                                return (Vec::new(), 1);
                            }
                            let session = format!("s{}", c % sessions);
                            let args = match tool {
                                "get_logs" => json!({ "session": session, "lines": 40 }),
                                "send_message" => json!({ "session": session, "message": ":" }),
                                "list_sessions" => json!({}),
                                _ => json!({ "session": session }),
                            };
                            let mut l = Vec::new();
                            let mut e = 0;
                            while Instant::now() < deadline {
                                let t = Instant::now();
                                match mc.call(tool, args.clone()).await {
                                    Ok(r) if r["isError"] != json!(true) => l.push(t.elapsed()),
                                    _ => e += 1,
                                }
                            }
                            (l, e)
                        }
                    })
                    .await;
                    row(
                        &format!("{backend}, {sessions} sessions, {clients} clients: {tool}"),
                        &stats,
                        floor_p50,
                    );
                }
            }
            println!(
                "\nmemory ({backend}, {sessions} sessions): idle {idle_rss:.1} MB, with sessions {sessions_rss:.1} MB, after the run {:.1} MB\n",
                rss_mb(pid)
            );
        }
    }
}
