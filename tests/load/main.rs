//! The whole-stack load benchmark: concurrent MCP clients with real bearer tokens against the
//! real binary on loopback, compared with two floors measured in the same run: a trivial axum
//! JSON handler (the HTTP floor) and the bare backend operation without HTTP (a forked
//! `tmux display-message`, or a PTY screen read in process).
//!
//!   cargo run --release -p sessiongate-tests --bin load -- [--clients 1,8,64]
//!       [--sessions 10,200] [--backends tmux,pty] [--seconds 5] [--growth-calls 100000]
//!       [--fill-lines 10000] [--tools get_session_status,get_logs,send_message,list_sessions]
//!       [--remote]   (only the same reads on local tmux sessions and on sessions of a remote
//!                     host reached through a real sshd on loopback; see `remote.rs`)
//!       [--hosts 10] (only list_sessions across that many remote hosts, each a real sshd on
//!                     loopback, with --sessions per host, default 20; see `hosts.rs`)
//!
//! Prints a table of requests per second, p50/p90/p99 latencies, the ratio of each p50 to
//! both floors and the CPU time per call of the server and of the clients (utime + stime from
//! `/proc/<pid>/stat`), then the gateway's resident memory (`VmRSS` from `/proc/<pid>/status`):
//! idle, with the sessions, with every session's scrollback filled by `--fill-lines` lines,
//! and during a `--growth-calls` run of mixed calls (64 clients, at the largest session count;
//! status and logs, with a send every 50th call and a list every 100th) in five rounds, read
//! after each together with the live heap from the gateway's `/metrics` (which leaves out what
//! the allocator keeps for reuse). CI runs it once at a tiny size to keep it working; the
//! numbers are never asserted.
//!
//! `--paced` measures latency open-loop instead (see `paced.rs`): `get_session_status` offered
//! at each of `--rates` calls per second (default 1000,5000,10000,20000) over `--connections`
//! connections (default 64), the HTTP floor paced the same way in the same run, then the
//! offered rate raised by half until neither keeps up, for the highest rate each sustains.

mod client;
mod hosts;
mod notify;
mod paced;
mod remote;

use std::time::{Duration, Instant};

use serde_json::json;

use client::{Conn, LeanMcp};

use sessiongate_backend::{ReadRequest, SessionBackend, SessionName};
use sessiongate_tests::gateway::{Options, TestGateway};
use sessiongate_tests::mcp::McpClient;

/// Configuration lines that lift the per-client and per-address limits.
const LIFTED_LIMITS: &str = "max_mcp_sessions_per_client = 1000000\n\
    max_mcp_sessions = 1000000\n\
    max_connections_per_address = 100000\n\
    [rate_limits]\n\
    tool_calls_per_client = { per_minute = 0, burst = 0 }\n\
    mcp_per_address = { per_minute = 0, burst = 0 }\n";

struct Args {
    clients: Vec<usize>,
    sessions: Vec<usize>,
    backends: Vec<String>,
    seconds: f64,
    growth_calls: usize,
    fill_lines: usize,
    tools: Vec<&'static str>,
    paced: bool,
    rates: Vec<usize>,
    connections: usize,
    hosts: Option<usize>,
}

/// The growth run is made of this many equal rounds, with the memory read after each.
const GROWTH_ROUNDS: usize = 5;

/// The tools the benchmark calls, in this order.
const TOOLS: [&str; 4] = [
    "get_session_status",
    "get_logs",
    "send_message",
    "list_sessions",
];

fn parse_args() -> Args {
    let mut a = Args {
        clients: vec![1, 8, 64],
        sessions: vec![10, 200],
        backends: vec!["tmux".into(), "pty".into()],
        seconds: 5.0,
        growth_calls: 100_000,
        fill_lines: 10_000,
        tools: TOOLS.to_vec(),
        paced: false,
        rates: vec![1_000, 5_000, 10_000, 20_000],
        connections: 64,
        hosts: None,
    };
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = argv.iter().position(|a| a == "--remote") {
        argv.remove(i);
    }
    if let Some(i) = argv.iter().position(|a| a == "--paced") {
        argv.remove(i);
        a.paced = true;
    }
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
            ("--growth-calls", Some(v)) => a.growth_calls = v.parse().unwrap_or(100_000),
            ("--fill-lines", Some(v)) => a.fill_lines = v.parse().unwrap_or(10_000),
            ("--rates", Some(v)) => a.rates = list(v),
            ("--connections", Some(v)) => a.connections = v.parse().unwrap_or(64),
            ("--hosts", Some(v)) => a.hosts = Some(v.parse().unwrap_or(10)),
            ("--tools", Some(v)) => {
                a.tools = TOOLS
                    .into_iter()
                    .filter(|t| v.split(',').any(|w| w == *t))
                    .collect()
            }
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

/// The HTTP floor's server, run by `load --floor-server` in a process of its own (as the
/// gateway is, so that both pay for the same process switches): a trivial axum JSON handler
/// on loopback. Prints its address, then serves until killed.
async fn floor_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    println!("{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(|body: axum::Json<serde_json::Value>| async move {
            axum::Json(json!({ "jsonrpc": "2.0", "id": body.0["id"], "result": {} }))
        }),
    );
    let _ = axum::serve(listener, app).await;
}

/// The HTTP floor, called like the gateway is (the same client, headers and JSON-RPC
/// request; the response decoded the same way). Returns the latencies and the CPU time in ms
/// of the floor server and of the clients.
async fn http_floor(clients: usize, seconds: f64, token: &str) -> (Stats, (f64, f64)) {
    let (mut server, pid, url) = start_floor_server().await;
    let cpu_before = cpu_now(pid);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let stats = run_clients(clients, |c| {
        let url = url.clone();
        let token = token.to_owned();
        async move {
            let Ok((mut conn, params)) = floor_conn(&url, &token, c).await else {
                return (Vec::new(), 1);
            };
            let mut l = Vec::new();
            let mut e = 0;
            let mut id = 0u64;
            while Instant::now() < deadline {
                id += 1;
                let t = Instant::now();
                let body = client::request_body(id, "tools/call", &params);
                match conn.send(http::Method::POST, body).await {
                    Ok(r) if r.status.is_success() && r.outcome(id).is_some() => {
                        l.push(t.elapsed())
                    }
                    _ => e += 1,
                }
            }
            (l, e)
        }
    })
    .await;
    let cpu = cpu_since(pid, cpu_before);
    let _ = server.kill().await;
    (stats, cpu)
}

/// A connection to the HTTP floor at `url` for client `c`, with the session header and the
/// call parameters the gateway's calls carry.
async fn floor_conn(url: &str, token: &str, c: usize) -> anyhow::Result<(Conn, serde_json::Value)> {
    let mut conn = Conn::open(url, token).await?;
    // The length of a real session id.
    conn.set_session(http::HeaderValue::from_static(
        "00000000-0000-0000-0000-000000000000",
    ));
    let params =
        json!({ "name": "get_session_status", "arguments": { "session": format!("s{c}") } });
    Ok((conn, params))
}

/// Starts a gateway on `backend` with OAuth and the per-client limits lifted, and returns
/// it with a token of every scope and an initialized MCP client that uses the token.
async fn start_gateway(backend: &str, tag: &str) -> (TestGateway, String, McpClient) {
    let opts = Options {
        backend: backend.to_owned(),
        ..Options::oauth(&format!("{tag}-{backend}"), 3600)
    };
    start_with(opts).await
}

/// Starts a gateway with `opts` and the per-client limits lifted, and returns it with a
/// token of every scope and an initialized MCP client that uses the token.
pub(crate) async fn start_with(mut opts: Options) -> (TestGateway, String, McpClient) {
    // The benchmark is one client hammering from one address: the limits that stop such a
    // client in production are lifted, so that the cost of the work is measured.
    opts.extra_config.push_str(LIFTED_LIMITS);
    let gw = TestGateway::start(opts);
    let token = gw.token("sessions:read sessions:write sessions:manage", "1h");
    let mut setup = McpClient::new(&gw.mcp_url());
    setup
        .headers
        .push(("authorization".into(), format!("Bearer {token}")));
    setup.initialize().await.expect("initialize");
    (gw, token, setup)
}

/// Creates bash sessions `s0` .. `s<n-1>`.
async fn create_sessions(setup: &mut McpClient, n: usize) {
    for i in 0..n {
        setup
            .call_ok(
                "create_session",
                json!({ "name": format!("s{i}"), "profile": "bash" }),
            )
            .await
            .expect("create");
    }
}

/// Starts the HTTP floor's server process (`load --floor-server`): the process, its pid and
/// its URL.
async fn start_floor_server() -> (tokio::process::Child, u32, String) {
    use tokio::io::AsyncBufReadExt;
    let exe = std::env::current_exe().expect("own path");
    let mut server = tokio::process::Command::new(exe)
        .arg("--floor-server")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the floor server");
    let pid = server.id().unwrap_or(0);
    let mut first = String::new();
    let out = server.stdout.take().expect("stdout");
    tokio::io::BufReader::new(out)
        .read_line(&mut first)
        .await
        .expect("floor address");
    (server, pid, format!("http://{}/", first.trim()))
}

/// The paced (open-loop) run of `--paced`, for each backend: every offered rate against the
/// floor and the gateway, then the highest rate each sustains.
async fn paced_main(args: &Args) {
    paced::header();
    let mut highest = Vec::new();
    for backend in &args.backends {
        let sessions = args.sessions.first().copied().unwrap_or(10);
        let (gw, token, mut setup) = start_gateway(backend, "paced").await;
        create_sessions(&mut setup, sessions).await;
        let (mut floor_server, floor_pid, floor_url) = start_floor_server().await;
        let mcp = gw.mcp_url();
        let floor = paced::Target::Floor(&floor_url);
        let gateway = paced::Target::Gateway(&mcp, sessions);
        let n = args.connections;
        let secs = args.seconds;
        let mut best = (0.0f64, 0.0f64);
        // The listed rates, then the last one raised by half while either still keeps up
        // (six steps at most).
        let mut rates: std::collections::VecDeque<f64> =
            args.rates.iter().map(|&r| r as f64).collect();
        let mut ramp = 0;
        while let Some(rate) = rates.pop_front() {
            let f = paced::run(floor, floor_pid, &token, rate, n, secs).await;
            let g = paced::run(gateway, gw.pid(), &token, rate, n, secs).await;
            paced::row(&format!("HTTP floor, {n} connections"), &f, None);
            paced::row(&format!("{backend}: get_session_status"), &g, Some(&f));
            if f.sustained() {
                best.0 = best.0.max(rate);
            }
            if g.sustained() {
                best.1 = best.1.max(rate);
            }
            if rates.is_empty() && ramp < 6 && (f.sustained() || g.sustained()) {
                ramp += 1;
                rates.push_back(rate * 1.5);
            }
        }
        highest.push(format!(
            "{backend}: highest rate sustained over {n} connections: HTTP floor {:.0}/s, gateway {:.0}/s",
            best.0, best.1
        ));
        let _ = floor_server.kill().await;
    }
    println!();
    for h in highest {
        println!("{h}");
    }
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

/// The CPU time (user + system) a process has used so far, in milliseconds.
fn cpu_ms(pid: u32) -> f64 {
    // Fields 14 and 15 of /proc/<pid>/stat, counted after the command name (which is in
    // parentheses and may hold spaces), in clock ticks; Linux shows user space 100 a second.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = f.get(11)?.parse().ok()?;
            let stime: f64 = f.get(12)?.parse().ok()?;
            Some((utime + stime) * 10.0)
        })
        .unwrap_or(f64::NAN)
}

/// The tmux server of `socket` and the programs of its sessions (its child processes): their
/// pids, for [`tmux_cpu_ms`]; `None` off tmux.
fn tmux_processes(socket: &str) -> Option<(u32, Vec<u32>)> {
    let out = std::process::Command::new("tmux")
        .args(["-L", socket, "display-message", "-p", "#{pid}"])
        .output()
        .ok()?;
    let server: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    let children = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let rest = s.rsplit_once(')')?.1.to_owned();
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(server)
        })
        .collect();
    Some((server, children))
}

/// The CPU time so far, in ms, of a tmux server and of its sessions' programs.
fn tmux_cpu_ms((server, children): &(u32, Vec<u32>)) -> (f64, f64) {
    let programs = children
        .iter()
        .map(|&p| cpu_ms(p))
        .filter(|t| t.is_finite())
        .sum();
    (cpu_ms(*server), programs)
}

/// The gateway's live heap in MB (`sessiongate_heap_in_use_bytes` from `/metrics`).
async fn heap_mb(base_url: &str, token: &str) -> f64 {
    let text = async {
        reqwest::Client::new()
            .get(format!("{base_url}/metrics"))
            .bearer_auth(token)
            .send()
            .await?
            .text()
            .await
    };
    text.await
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("sessiongate_heap_in_use_bytes "))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map(|b| b / 1_048_576.0)
        .unwrap_or(f64::NAN)
}

/// The CPU time so far, in ms, of the server `pid` and of this process (the load clients:
/// nothing else runs here meanwhile).
fn cpu_now(pid: u32) -> (f64, f64) {
    (cpu_ms(pid), cpu_ms(std::process::id()))
}

/// The CPU time of the server and of the clients since `before` (from [`cpu_now`]), in ms.
fn cpu_since(pid: u32, before: (f64, f64)) -> (f64, f64) {
    let now = cpu_now(pid);
    (now.0 - before.0, now.1 - before.1)
}

/// One table row; `cpu_ms` is the server's and the clients' CPU time during the run, when
/// measured.
fn row(what: &str, s: &Stats, floors: (f64, f64), cpu_ms: Option<(f64, f64)>) {
    let per_call = |ms: f64| ms * 1000.0 / s.latencies.len().max(1) as f64;
    let cpu = cpu_ms
        .map(|(server, client)| format!("{:.0} + {:.0}", per_call(server), per_call(client)))
        .unwrap_or_else(|| "-".into());
    println!(
        "| {what:<52} | {:>8.0} | {:>7.2} | {:>7.2} | {:>7.2} | {:>6} | {:>7.2} | {:>7.2} | {cpu:>9} |",
        s.rps(),
        s.pct(0.50),
        s.pct(0.90),
        s.pct(0.99),
        s.errors,
        s.pct(0.50) / floors.0,
        s.pct(0.50) / floors.1,
    );
}

/// Runs `tool` from `clients` MCP clients until `deadline`, or until `budget` calls in all
/// have been made, each client on session `s<client % sessions>`.
/// The sessions a run calls: `{host}s0` .. `{host}s<count-1>` (`host` is `""` or `"HOST:"`).
#[derive(Clone, Copy)]
struct Sessions {
    host: &'static str,
    count: usize,
}

impl Sessions {
    /// This machine's `s0` .. `s<count-1>`.
    fn local(count: usize) -> Sessions {
        Sessions { host: "", count }
    }
}

/// [`tool_run_as`] in MCP sessions.
async fn tool_run(
    url: &str,
    token: &str,
    tool: &'static str,
    clients: usize,
    sessions: Sessions,
    deadline: Instant,
    budget: Option<usize>,
) -> Stats {
    tool_run_as(url, token, tool, clients, sessions, deadline, budget, false).await
}

/// `clients` clients calling `tool` until `deadline` (or `budget` calls in all), in MCP
/// sessions or as `stateless` calls of the 2026-07-28 revision.
#[allow(clippy::too_many_arguments)]
async fn tool_run_as(
    url: &str,
    token: &str,
    tool: &'static str,
    clients: usize,
    sessions: Sessions,
    deadline: Instant,
    budget: Option<usize>,
    stateless: bool,
) -> Stats {
    let Sessions {
        host,
        count: sessions,
    } = sessions;
    let left = std::sync::Arc::new(std::sync::atomic::AtomicIsize::new(
        budget.map_or(isize::MAX, |b| b as isize),
    ));
    run_clients(clients, |c| {
        let url = url.to_owned();
        let token = token.to_owned();
        let left = left.clone();
        async move {
            let connected = if stateless {
                LeanMcp::stateless(&url, &token).await
            } else {
                LeanMcp::connect(&url, &token).await
            };
            let Ok(mut mc) = connected else {
                return (Vec::new(), 1);
            };
            let session = format!("{host}s{}", c % sessions);
            let mut l = Vec::new();
            let mut e = 0;
            let mut i = 0usize;
            while Instant::now() < deadline
                && left.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) > 0
            {
                // The growth run mixes the reads with a send every 50th call and a
                // list every 100th (both are far slower, so an even mix would take an hour).
                let t_name = match (tool, i % 100) {
                    ("mixed", 0) => "list_sessions",
                    ("mixed", n) if n % 50 == 25 => "send_message",
                    ("mixed", n) if n % 2 == 0 => "get_session_status",
                    ("mixed", _) => "get_logs",
                    (t, _) => t,
                };
                i += 1;
                let args = match t_name {
                    "get_logs" => json!({ "session": session, "lines": 40 }),
                    "send_message" => json!({ "session": session, "message": ":" }),
                    "list_sessions" => json!({}),
                    _ => json!({ "session": session }),
                };
                let t = Instant::now();
                match mc.call(t_name, args).await {
                    Ok(true) => l.push(t.elapsed()),
                    _ => e += 1,
                }
            }
            // A well-behaved client ends its MCP session; the memory figures then show
            // what calls cost, not what idle sessions hold until they expire.
            if mc.close().await.is_err() {
                e += 1;
            }
            (l, e)
        }
    })
    .await
}

/// How long after a prompt is drawn `wait_for` reports it, in ms (median of three): a shell
/// draws Claude Code's recorded trust dialog (`backend/rules/fixtures`) after a 2 s pause,
/// while `wait_for(until = waiting_for_input)` waits; the pause is subtracted.
async fn prompt_latency(mc: &mut McpClient) -> f64 {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../backend/rules/fixtures/claude-code/trust-dialog.txt");
    let _ = mc
        .call(
            "create_session",
            json!({ "name": "prompt", "profile": "bash" }),
        )
        .await;
    let mut samples = Vec::new();
    for _ in 0..3 {
        let cmd = format!(
            "clear; sleep 2; echo 'Claude Code v0 (a recorded screen)'; cat '{}'",
            fixture.display()
        );
        let _ = mc
            .call(
                "send_message",
                json!({ "session": "prompt", "message": "clear" }),
            )
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if mc
            .call(
                "send_message",
                json!({ "session": "prompt", "message": cmd }),
            )
            .await
            .is_err()
        {
            continue;
        }
        let sent = Instant::now();
        let r = mc
            .call(
                "wait_for",
                json!({ "session": "prompt", "until": "waiting_for_input", "timeout_s": 20 }),
            )
            .await;
        let took = sent.elapsed().as_secs_f64() * 1000.0 - 2000.0;
        if r.is_ok_and(|r| r.to_string().contains("\"condition_met\":true")) {
            samples.push(took);
        }
        // Leave the dialog's screen for the next round.
        let _ = mc
            .call("send_keys", json!({ "session": "prompt", "keys": ["C-c"] }))
            .await;
    }
    let _ = mc
        .call("terminate_session", json!({ "session": "prompt" }))
        .await;
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Fills every session's scrollback with `lines` lines and waits until each has printed them.
async fn fill_scrollback(mc: &mut McpClient, sessions: usize, lines: usize) {
    for i in 0..sessions {
        let cmd = format!(
            "seq -f 'scrollback filler line %g with some words to make it longer' 1 {lines}; echo FILL''ED"
        );
        let _ = mc
            .call(
                "send_message",
                json!({ "session": format!("s{i}"), "message": cmd }),
            )
            .await;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for i in 0..sessions {
        while Instant::now() < deadline {
            let r = mc
                .call(
                    "get_logs",
                    json!({ "session": format!("s{i}"), "lines": 5 }),
                )
                .await;
            if r.is_ok_and(|r| r.to_string().contains("FILLED")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

// The clients share one thread: on two cores, a client runtime with a thread per core takes
// CPU from the server it measures, and pays for waking its own threads on every reply (a
// real client is on another machine). The floor is called from the same runtime.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("--floor-server") {
        return floor_server().await;
    }
    let args = parse_args();
    println!(
        "gateway binary: {} (set SESSIONGATE_BIN to a release build for real figures)\n",
        sessiongate_tests::gateway::binary().display()
    );
    if args.paced {
        return paced_main(&args).await;
    }
    if std::env::args().any(|a| a == "--remote") {
        return remote::remote_main(&args).await;
    }
    if let Some(n) = args.hosts {
        return hosts::hosts_main(&args, n).await;
    }
    println!(
        "| run | req/s | p50 ms | p90 ms | p99 ms | errors | p50 / HTTP floor | p50 / bare op | CPU µs/call: server + clients |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut memory = Vec::new();
    let mut prompts = Vec::new();
    let mut tmux_cpu = Vec::new();
    for backend in &args.backends {
        for &sessions in &args.sessions {
            let (gw, token, mut setup) = start_gateway(backend, "load").await;
            let pid = gw.pid();
            let idle_rss = rss_mb(pid);
            create_sessions(&mut setup, sessions).await;
            let sessions_rss = rss_mb(pid);
            let bare = backend_floor(backend, &gw.socket, args.seconds.min(2.0)).await;
            let url = gw.mcp_url();
            for &clients in &args.clients {
                let (floor, floor_cpu) = http_floor(clients, args.seconds, &token).await;
                let floors = (floor.pct(0.5), bare.pct(0.5));
                row(
                    &format!("HTTP floor, {clients} clients"),
                    &floor,
                    floors,
                    Some(floor_cpu),
                );
                row(
                    &format!("{backend} bare backend op (no HTTP)"),
                    &bare,
                    floors,
                    None,
                );
                // Each tool in a session, then as stateless 2026-07-28 calls.
                for (&tool, stateless) in args.tools.iter().flat_map(|t| [(t, false), (t, true)]) {
                    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
                    let cpu_before = cpu_now(pid);
                    let tmux = tmux_processes(&gw.socket).filter(|_| backend == "tmux");
                    let tmux_before = tmux.as_ref().map(tmux_cpu_ms);
                    let stats = tool_run_as(
                        &url,
                        &token,
                        tool,
                        clients,
                        Sessions::local(sessions),
                        deadline,
                        None,
                        stateless,
                    )
                    .await;
                    let mode = if stateless { " (stateless)" } else { "" };
                    let what =
                        format!("{backend}, {sessions} sessions, {clients} clients: {tool}{mode}");
                    row(&what, &stats, floors, Some(cpu_since(pid, cpu_before)));
                    // The tmux server's CPU (and its sessions' programs') is in neither column.
                    if let (Some(t), Some(before)) = (&tmux, tmux_before) {
                        let now = tmux_cpu_ms(t);
                        let calls = stats.latencies.len().max(1) as f64;
                        tmux_cpu.push(format!(
                            "{what}: tmux server {:.0} µs/call, its sessions' programs {:.0} µs/call",
                            (now.0 - before.0) * 1000.0 / calls,
                            (now.1 - before.1) * 1000.0 / calls
                        ));
                    }
                }
            }
            let after_runs_rss = rss_mb(pid);
            let prompt_ms = prompt_latency(&mut setup).await;
            prompts.push(format!(
                "{backend}, {sessions} sessions: waiting-for-input prompt reported {prompt_ms:.0} ms after it was drawn"
            ));
            if Some(&sessions) == args.sessions.iter().max() {
                let hook_ms = notify::prompt_to_webhook(backend).await;
                prompts.push(format!(
                    "{backend}: a prompt's webhook notification received {hook_ms:.0} ms after it was drawn (a gateway of its own with one channel)"
                ));
            }
            fill_scrollback(&mut setup, sessions, args.fill_lines).await;
            let filled_rss = rss_mb(pid);
            // The growth run: many calls, then memory again (at the largest session count).
            let mut growth = String::from("-");
            if Some(&sessions) == args.sessions.iter().max() && args.growth_calls > 0 {
                // Five rounds of a fifth each, RSS after every round: a leak grows with every
                // round, an allocator settling into its working set does not.
                let before = rss_mb(pid);
                let heap_before = heap_mb(&gw.base_url, &token).await;
                let cpu_before = cpu_now(pid);
                let mut all = Stats {
                    latencies: Vec::new(),
                    elapsed: Duration::ZERO,
                    errors: 0,
                };
                let mut after_rounds = Vec::new();
                for _ in 0..GROWTH_ROUNDS {
                    let deadline = Instant::now() + Duration::from_secs(600);
                    let round = tool_run(
                        &url,
                        &token,
                        "mixed",
                        64,
                        Sessions::local(sessions),
                        deadline,
                        Some(args.growth_calls.div_ceil(GROWTH_ROUNDS)),
                    )
                    .await;
                    all.latencies.extend(round.latencies);
                    all.elapsed += round.elapsed;
                    all.errors += round.errors;
                    after_rounds.push(format!(
                        "{:.1} ({:.1})",
                        rss_mb(pid),
                        heap_mb(&gw.base_url, &token).await
                    ));
                }
                all.latencies.sort();
                let bare_floors = (f64::NAN, f64::NAN);
                row(
                    &format!(
                        "{backend}, {sessions} sessions, 64 clients: {} mixed calls",
                        all.latencies.len()
                    ),
                    &all,
                    bare_floors,
                    Some(cpu_since(pid, cpu_before)),
                );
                growth = format!(
                    "{before:.1} ({heap_before:.1}) → {}",
                    after_rounds.join(" → ")
                );
            }
            memory.push(format!(
                "| {backend} | {sessions} | {idle_rss:.1} | {sessions_rss:.1} | {after_runs_rss:.1} | {filled_rss:.1} (+{:.2} MB/session) | {growth} |",
                (filled_rss - after_runs_rss) / sessions.max(1) as f64
            ));
        }
    }
    println!(
        "\n| backend | sessions | RSS idle MB | with sessions | after the runs | scrollbacks filled ({} lines) | growth run, RSS (live heap): before → after each fifth |",
        args.fill_lines
    );
    println!("|---|---|---|---|---|---|---|");
    for m in memory {
        println!("{m}");
    }
    println!();
    for p in prompts {
        println!("{p}");
    }
    for t in tmux_cpu {
        println!("{t}");
    }
}
