//! The open-loop mode of the load benchmark (`load --paced`): calls are offered at a constant
//! rate across N connections, and each call's latency is measured from the moment it was
//! *scheduled* to be sent, not from when its connection got round to sending it. A closed
//! loop (every client sends its next call when the last one came back) slows down with the
//! server and so hides the queueing a real client meets ("coordinated omission"); this mode,
//! like wrk2 and HdrHistogram's corrected recording, charges that waiting to the calls that
//! waited.
//!
//! Call `k` of the run is due at `start + k / rate` and belongs to connection `k % N`; each
//! connection sends its calls in order, one at a time (HTTP/1.1), sleeping until a call is
//! due when it is early and sending at once when it is late. The HTTP floor (the trivial
//! JSON server of the closed-loop table) is paced the same way in the same run, so both
//! rows meet the same client and the same machine.
//!
//! The client's own timer is part of every figure: tokio's timers fire on a 1 ms wheel, so a
//! call is sent up to about a millisecond after it was due even when nothing queued. The
//! table shows that lateness (the median time from a call's due moment to its sending), so
//! that a reader can tell the measuring floor from the server's share.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::client::{self, Conn, LeanMcp};
use crate::{Stats, cpu_now, cpu_since};

/// What one paced run measured.
pub(crate) struct Paced {
    /// The latencies from each call's scheduled start, sorted.
    pub(crate) stats: Stats,
    /// Calls per second offered.
    pub(crate) offered: f64,
    /// The server's CPU time during the run, in ms.
    pub(crate) server_cpu_ms: f64,
    /// How late after its due moment each call was sent, sorted.
    pub(crate) late: Vec<Duration>,
}

impl Paced {
    /// Calls per second answered, counted over the scheduled duration.
    pub(crate) fn achieved(&self) -> f64 {
        self.stats.latencies.len() as f64 / self.stats.elapsed.as_secs_f64()
    }

    /// Whether the server kept up: nine in ten offered calls answered within the run, none
    /// failed, and the slowest calls still within a second of their schedule.
    pub(crate) fn sustained(&self) -> bool {
        self.stats.errors == 0
            && self.achieved() >= 0.9 * self.offered
            && self.stats.pct(0.99) < 1000.0
    }

    /// The median time from a call's due moment to its sending, in ms.
    pub(crate) fn late_p50_ms(&self) -> f64 {
        if self.late.is_empty() {
            return f64::NAN;
        }
        self.late[self.late.len() / 2].as_secs_f64() * 1000.0
    }

    /// Server CPU per answered call, in µs.
    pub(crate) fn cpu_per_call_us(&self) -> f64 {
        self.server_cpu_ms * 1000.0 / self.stats.latencies.len().max(1) as f64
    }
}

/// Which server a paced run calls.
#[derive(Clone, Copy)]
pub(crate) enum Target<'a> {
    /// The HTTP floor at this URL.
    Floor(&'a str),
    /// The gateway's `/mcp` at this URL, calling `get_session_status` on `s<i % sessions>`.
    Gateway(&'a str, usize),
}

/// Offers `rate` calls per second over `connections` connections for `seconds` to `target`
/// (a server whose process is `pid`), and measures each call from its scheduled start.
pub(crate) async fn run(
    target: Target<'_>,
    pid: u32,
    token: &str,
    rate: f64,
    connections: usize,
    seconds: f64,
) -> Paced {
    let total = (rate * seconds).round().max(1.0) as u64;
    let connections = connections.max(1) as u64;
    // Connections are opened (and MCP sessions initialized) before the clock starts.
    let mut lanes = Vec::new();
    for c in 0..connections {
        lanes.push(Lane::open(target, token, c as usize).await);
    }
    let cpu_before = cpu_now(pid);
    let start = Instant::now() + Duration::from_millis(20);
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut tasks = Vec::new();
    for (c, lane) in lanes.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut lane = match lane {
                Ok(lane) => lane,
                Err(_) => return (Vec::new(), Vec::new(), 1),
            };
            let mut latencies = Vec::new();
            let mut late = Vec::new();
            let mut errors = 0;
            let mut k = c as u64;
            while k < total {
                let due = start + interval.mul_f64(k as f64);
                tokio::time::sleep_until(due.into()).await;
                late.push(due.elapsed());
                if lane.call(k).await {
                    latencies.push(due.elapsed());
                } else {
                    errors += 1;
                }
                k += connections;
            }
            lane.close().await;
            (latencies, late, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut late = Vec::new();
    let mut errors = 0;
    for t in tasks {
        match t.await {
            Ok((l, lt, e)) => {
                latencies.extend(l);
                late.extend(lt);
                errors += e;
            }
            Err(_) => errors += 1,
        }
    }
    // Throughput is counted over the scheduled span: a server that fell behind finishes
    // late, and the calls it answered late are in the latencies, not in the rate.
    let elapsed = start.elapsed().max(Duration::from_secs_f64(seconds));
    let (server_cpu_ms, _) = cpu_since(pid, cpu_before);
    latencies.sort();
    late.sort();
    Paced {
        stats: Stats {
            latencies,
            elapsed,
            errors,
        },
        offered: rate,
        server_cpu_ms,
        late,
    }
}

/// One connection of a paced run.
enum Lane {
    Floor(Conn, serde_json::Value),
    Gateway(LeanMcp, serde_json::Value),
}

impl Lane {
    async fn open(target: Target<'_>, token: &str, c: usize) -> anyhow::Result<Lane> {
        Ok(match target {
            Target::Floor(url) => {
                let (conn, params) = crate::floor_conn(url, token, c).await?;
                Lane::Floor(conn, params)
            }
            Target::Gateway(url, sessions) => {
                let mc = LeanMcp::connect(url, token).await?;
                let args = json!({ "session": format!("s{}", c % sessions.max(1)) });
                Lane::Gateway(mc, args)
            }
        })
    }

    /// Makes call `id`; whether it succeeded.
    async fn call(&mut self, id: u64) -> bool {
        match self {
            Lane::Floor(conn, params) => {
                let body = client::request_body(id, "tools/call", params);
                matches!(conn.send(http::Method::POST, body).await,
                    Ok(r) if r.status.is_success() && r.outcome(id).is_some())
            }
            Lane::Gateway(mc, args) => {
                matches!(mc.call("get_session_status", args.clone()).await, Ok(true))
            }
        }
    }

    async fn close(self) {
        if let Lane::Gateway(mc, _) = self {
            let _ = mc.close().await;
        }
    }
}

/// Prints one row of the paced table.
pub(crate) fn row(what: &str, p: &Paced, floor: Option<&Paced>) {
    let s = &p.stats;
    let ratio = |q: f64| {
        floor
            .map(|f| format!("{:.2}", s.pct(q) / f.stats.pct(q)))
            .unwrap_or_else(|| "-".into())
    };
    let cpu_ratio = floor
        .map(|f| format!("{:.2}", p.cpu_per_call_us() / f.cpu_per_call_us()))
        .unwrap_or_else(|| "-".into());
    println!(
        "| {what:<40} | {:>7.0} | {:>7.0} | {:>7.3} | {:>7.3} | {:>7.3} | {:>8.3} | {:>6} | {:>5} | {:>5} | {:>6.1} | {:>5} | {:>6.3} | {} |",
        p.offered,
        p.achieved(),
        s.pct(0.50),
        s.pct(0.90),
        s.pct(0.99),
        s.pct(0.999),
        s.errors,
        ratio(0.50),
        ratio(0.99),
        p.cpu_per_call_us(),
        cpu_ratio,
        p.late_p50_ms(),
        if p.sustained() { "yes" } else { "no" },
    );
}

/// The paced table's header.
pub(crate) fn header() {
    println!(
        "| run | offered/s | answered/s | p50 ms | p90 ms | p99 ms | p99.9 ms | errors | p50 / floor | p99 / floor | server CPU µs/call | CPU / floor | sent late p50 ms | sustained |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
}
