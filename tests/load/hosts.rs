//! `--hosts N`: `list_sessions` across N remote hosts (N real `sshd`s on loopback, each with
//! its own keys, port and tmux socket) plus this machine, `--sessions S` sessions on each
//! (default 10 hosts × 20 sessions), for issue #19's target: a list across hosts costs about
//! what the slowest host costs plus a few ms, not the sum of them all.
//!
//! Prints, in one run:
//! - `list_sessions` through the gateway at each `--clients` count: with the N hosts, with
//!   only one of them configured, and with the N hosts plus one that accepts the TCP
//!   connection and never answers (a hung host); p50/p90/p99, errors, and the gateway's
//!   resident memory (`VmRSS`) with the sessions, before and after the runs. These go
//!   through the gateway's caches (a list is kept until a session changes, for at most a
//!   second), as a client sees them.
//! - the same lists read from the hosts themselves without any cache, in process
//!   (`TmuxBackend::list` over each host's control-mode client, as the gateway's host router
//!   reads them): each host alone, and all of them at once as the router gathers them, so
//!   that the sum and the slowest can be set against the concurrent time.
//!
//! Nothing here is asserted: it reports.

use std::time::{Duration, Instant};

use serde_json::json;

use sessiongate_backend::SessionBackend;
use sessiongate_backend_tmux::{TmuxBackend, TmuxConfig};
use sessiongate_tests::gateway::{Options, TestGateway, unique_socket};
use sessiongate_tests::mcp::McpClient;
use sessiongate_tests::sshd::{ALIAS, ClientFaults, SilentHost, Sshd};

use crate::{Args, Sessions, Stats, row, rss_mb, tool_run};

/// Sessions per host unless `--sessions` says otherwise.
const DEFAULT_PER_HOST: usize = 20;

/// Uncached lists read per host (and across all hosts) in process.
const DIRECT_READS: usize = 30;

/// Kills the hosts' tmux servers (on this machine) when the run ends.
struct TmuxServers(Vec<String>);

impl Drop for TmuxServers {
    fn drop(&mut self) {
        for socket in &self.0 {
            let _ = std::process::Command::new("tmux")
                .args(["-L", socket, "kill-server"])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// One remote host of the run.
struct Host {
    name: String,
    sshd: Sshd,
    socket: String,
}

impl Host {
    /// Its `[hosts.NAME]` table.
    fn table(&self, root: &std::path::Path) -> String {
        table(
            &self.name,
            &self.sshd.ssh_config(ClientFaults::default()),
            &self.socket,
            root,
        )
    }
}

fn table(name: &str, cfg: &std::path::Path, socket: &str, root: &std::path::Path) -> String {
    format!(
        "[hosts.{name}]\nssh = \"{ALIAS}\"\nssh_config = \"{}\"\ntmux_socket = \"{socket}\"\n\
         allowed_roots = [\"{}\"]\nconnect_timeout_secs = 3\ncommand_timeout_secs = 6\n\
         extra_profiles = {{ bash = [\"bash\", \"--norc\", \"--noprofile\"] }}\n",
        cfg.display(),
        root.display()
    )
}

/// A gateway with `tables`, its token and a set-up client.
async fn gateway(tag: &str, tables: &str) -> (TestGateway, String, McpClient) {
    let mut opts = Options {
        backend: "tmux".to_owned(),
        ..Options::oauth(tag, 3600)
    };
    opts.extra_profiles = format!("\n{tables}");
    crate::start_with(opts).await
}

/// Creates `s0..s{count-1}` on this machine (`prefix` empty) or on a host (`"NAME:"`).
async fn create(setup: &mut McpClient, prefix: &str, count: usize) {
    for j in 0..count {
        setup
            .call_ok(
                "create_session",
                json!({ "name": format!("{prefix}s{j}"), "profile": "bash" }),
            )
            .await
            .expect("create");
    }
}

/// The latency of one `list_sessions` call (ms), and whether it answered.
async fn one_list(setup: &mut McpClient) -> (f64, bool) {
    let t = Instant::now();
    let ok = setup.call("list_sessions", json!({})).await.is_ok();
    (t.elapsed().as_secs_f64() * 1000.0, ok)
}

/// `list_sessions` at each client count through `gw`, one row each; returns the memory
/// before and after the runs.
async fn list_rows(args: &Args, label: &str, gw: &TestGateway, token: &str) -> (f64, f64) {
    let before = rss_mb(gw.pid());
    for &clients in &args.clients {
        let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
        let targets = Sessions { host: "", count: 1 };
        let stats = tool_run(
            &gw.mcp_url(),
            token,
            "list_sessions",
            clients,
            targets,
            deadline,
            None,
        )
        .await;
        row(
            &format!("{label}, {clients} clients: list_sessions"),
            &stats,
            (f64::NAN, f64::NAN),
            None,
        );
    }
    (before, rss_mb(gw.pid()))
}

/// Percentiles (ms) of `samples`.
fn stats_of(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let elapsed = samples.iter().sum();
    Stats {
        latencies: samples,
        elapsed,
        errors: 0,
    }
}

/// Runs the comparison (see the module docs).
pub(crate) async fn hosts_main(args: &Args, count: usize) {
    let per_host = if std::env::args().any(|a| a == "--sessions") {
        args.sessions
            .iter()
            .copied()
            .max()
            .unwrap_or(DEFAULT_PER_HOST)
    } else {
        DEFAULT_PER_HOST
    };
    let count = count.max(1);
    let root = tempfile::tempdir().expect("tempdir");
    let hosts: Vec<Host> = (0..count)
        .map(|i| Host {
            name: format!("h{i}"),
            sshd: Sshd::start_new(),
            socket: unique_socket(&format!("load-h{i}")),
        })
        .collect();
    let _servers = TmuxServers(hosts.iter().map(|h| h.socket.clone()).collect());
    let all_tables: String = hosts.iter().map(|h| h.table(root.path())).collect();
    println!(
        "{count} hosts (sshd on loopback) × {per_host} sessions, plus {per_host} on this machine\n"
    );
    println!(
        "| run | req/s | p50 ms | p90 ms | p99 ms | errors | - | - | CPU µs/call: server + clients |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut memory = Vec::new();

    // Every host, through one gateway (which also creates the sessions).
    {
        let (gw, token, mut setup) = gateway("load-hosts", &all_tables).await;
        let idle = rss_mb(gw.pid());
        create(&mut setup, "", per_host).await;
        for h in &hosts {
            create(&mut setup, &format!("{}:", h.name), per_host).await;
        }
        let (before, after) = list_rows(
            args,
            &format!("{count} hosts + local, {per_host} sessions each"),
            &gw,
            &token,
        )
        .await;
        memory.push(format!(
            "| {count} hosts + local | {} | {idle:.1} | {before:.1} | {after:.1} |",
            (count + 1) * per_host
        ));
    }

    // One of them only (the same host, sessions and socket; a gateway of its own).
    {
        let (gw, token, mut setup) = gateway("load-host1", &hosts[0].table(root.path())).await;
        let idle = rss_mb(gw.pid());
        create(&mut setup, "", per_host).await;
        let (before, after) = list_rows(
            args,
            &format!("1 host + local, {per_host} sessions each"),
            &gw,
            &token,
        )
        .await;
        memory.push(format!(
            "| 1 host + local | {} | {idle:.1} | {before:.1} | {after:.1} |",
            2 * per_host
        ));
    }

    // Every host plus one that accepts the connection and says nothing.
    {
        let silent = SilentHost::start();
        let cfg = root.path().join("ssh_config-silent");
        std::fs::write(
            &cfg,
            format!(
                "Host {ALIAS}\n  HostName 127.0.0.1\n  Port {}\n  IdentityAgent none\n  \
                 UserKnownHostsFile /dev/null\n  GlobalKnownHostsFile /dev/null\n",
                silent.port
            ),
        )
        .expect("ssh_config");
        let tables = format!(
            "{all_tables}{}",
            table("mute", &cfg, &unique_socket("load-mute"), root.path())
        );
        let (gw, token, mut setup) = gateway("load-hosts-mute", &tables).await;
        create(&mut setup, "", per_host).await;
        let (first_ms, ok) = one_list(&mut setup).await;
        println!(
            "| {count} hosts + local + 1 hung host: the first list_sessions (waits for the hung host's connect deadline, 3 s) | - | {first_ms:.2} | - | - | {} | - | - | - |",
            usize::from(!ok)
        );
        list_rows(
            args,
            &format!("{count} hosts + local + 1 hung host, {per_host} sessions each"),
            &gw,
            &token,
        )
        .await;
    }

    // The hosts' own lists, uncached, in process (no gateway runs now: its control clients
    // would be taken over).
    direct_lists(&hosts, per_host).await;

    println!(
        "\n| gateway | sessions | RSS idle MB | with sessions, before the runs | after the runs |"
    );
    println!("|---|---|---|---|---|");
    for m in memory {
        println!("{m}");
    }
}

/// Times each host's own list and all of them at once, without caches.
async fn direct_lists(hosts: &[Host], per_host: usize) {
    let backends: Vec<TmuxBackend> = hosts
        .iter()
        .map(|h| {
            let mut cfg = TmuxConfig::new(h.socket.clone(), "claude-");
            cfg.ssh = Some(h.sshd.target(&h.name, ClientFaults::default()));
            TmuxBackend::new(cfg)
        })
        .collect();
    // The first list starts each host's control-mode client; it is not counted.
    let warm = sessiongate_backend::hosts::join_all(backends.iter().map(|b| b.list())).await;
    let listed: usize = warm.iter().map(|l| l.as_ref().map_or(0, Vec::len)).sum();
    let mut per_host_p50 = Vec::new();
    for b in &backends {
        let mut samples = Vec::new();
        for _ in 0..DIRECT_READS {
            let t = Instant::now();
            let _ = b.list().await;
            samples.push(t.elapsed());
        }
        per_host_p50.push(stats_of(samples).pct(0.5));
    }
    let mut together = Vec::new();
    let busy_before = machine_busy_ms();
    for _ in 0..DIRECT_READS {
        let t = Instant::now();
        let _ = sessiongate_backend::hosts::join_all(backends.iter().map(|b| b.list())).await;
        together.push(t.elapsed());
    }
    let cpu_per_list = (machine_busy_ms() - busy_before) / DIRECT_READS as f64;
    let together = stats_of(together);
    let slowest = per_host_p50.iter().copied().fold(0.0, f64::max);
    let sum: f64 = per_host_p50.iter().sum();
    println!(
        "\nUncached lists read from the hosts in process ({} hosts, {listed} of {} sessions listed, {DIRECT_READS} reads each):\n",
        hosts.len(),
        hosts.len() * per_host
    );
    println!("| what | p50 ms | p99 ms |");
    println!("|---|---|---|");
    println!("| one host alone, the slowest host's p50 | {slowest:.2} | - |");
    println!("| one host alone, the sum of the hosts' p50s | {sum:.2} | - |");
    println!(
        "| every host at once (as the router gathers them) | {:.2} | {:.2} |",
        together.pct(0.5),
        together.pct(0.99)
    );
    println!(
        "\nCPU time of the whole machine (all processes: gateway side, ssh, sshd, tmux) per list of every host at once: {cpu_per_list:.2} ms ({} cores)",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
}

/// The busy CPU time of the whole machine so far (every core; `/proc/stat`), in ms.
fn machine_busy_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    let busy: f64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    // USER_HZ is 100 on Linux.
    busy * 10.0
}
