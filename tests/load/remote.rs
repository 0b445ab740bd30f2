//! `--remote`: the same reads (`get_session_status`, `get_logs`) on local tmux sessions and
//! on sessions of a remote host, one gateway serving both, so that the table shows what the
//! SSH transport costs per call (issue #19's target: the remote p50 within 2x of the local
//! one at 1 and 8 clients). The "remote" host is a real `sshd` on loopback with throwaway
//! keys (`sessiongate_tests::sshd`) and tmux on this machine behind it; the control-mode
//! client runs over the SSH master connection, so steady-state calls fork nothing.
//!
//! Then `get_session_status` on one session each side that runs a stand-in for Claude Code
//! (`sessiongate_tests::fake_claude`, waiting on a question): its state file is read on that
//! session's machine, over SSH for the remote one.

use std::time::{Duration, Instant};

use serde_json::json;

use sessiongate_tests::gateway::{Options, unique_socket};
use sessiongate_tests::sshd::{ALIAS, ClientFaults, Sshd};

use crate::{Args, Sessions, row, tool_run};

/// Runs the comparison for each `--sessions` count and `--clients` count.
pub(crate) async fn remote_main(args: &Args) {
    let sshd = Sshd::start_new();
    let socket = unique_socket("load-remote");
    let root = tempfile::tempdir().expect("tempdir");
    let cfg = sshd.ssh_config(ClientFaults::default());
    let home = tempfile::tempdir().expect("tempdir");
    let fake_cc = sessiongate_tests::fake_claude::profile(root.path(), home.path());
    let mut opts = Options {
        backend: "tmux".to_owned(),
        ..Options::oauth("load-remote", 3600)
    };
    opts.extra_profiles = format!(
        "fake-cc = {fake_cc}\n[hosts.remote]\nssh = \"{ALIAS}\"\nssh_config = \"{}\"\ntmux_socket = \"{socket}\"\n\
         allowed_roots = [\"{}\"]\nextra_profiles = {{ bash = [\"bash\", \"--norc\", \"--noprofile\"], fake-cc = {fake_cc} }}\n",
        cfg.display(),
        root.path().display()
    );
    let (gw, token, mut setup) = crate::start_with(opts).await;
    println!(
        "| run | req/s | p50 ms | p90 ms | p99 ms | errors | p50 / local p50 | - | CPU µs/call: server + clients |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let most = args.sessions.iter().copied().max().unwrap_or(1);
    for i in 0..most {
        for name in [format!("s{i}"), format!("remote:s{i}")] {
            setup
                .call_ok("create_session", json!({ "name": name, "profile": "bash" }))
                .await
                .expect("create");
        }
    }
    // The stand-ins are `ccs0` and `remote:ccs0` (see `Sessions`).
    for name in ["ccs0", "remote:ccs0"] {
        setup
            .call_ok(
                "create_session",
                json!({ "name": name, "profile": "fake-cc" }),
            )
            .await
            .expect("create");
        let mut rule = String::new();
        for _ in 0..100 {
            rule = setup
                .call("get_session_status", json!({ "session": name }))
                .await
                .map(|r| r["structuredContent"]["detection"]["rule"].to_string())
                .unwrap_or_default();
            if rule.contains("state-file") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(rule.contains("state-file"), "{name}: {rule}");
    }
    let url = gw.mcp_url();
    for &sessions in &args.sessions {
        for &clients in &args.clients {
            for tool in ["get_session_status", "get_logs"] {
                let run = |host: &'static str| {
                    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
                    let targets = Sessions {
                        host,
                        count: sessions,
                    };
                    tool_run(&url, &token, tool, clients, targets, deadline, None)
                };
                let local = run("").await;
                let remote = run("remote:").await;
                let floors = (local.pct(0.5), f64::NAN);
                row(
                    &format!("local tmux, {sessions} sessions, {clients} clients: {tool}"),
                    &local,
                    floors,
                    None,
                );
                row(
                    &format!("remote over ssh, {sessions} sessions, {clients} clients: {tool}"),
                    &remote,
                    floors,
                    None,
                );
            }
        }
    }
    for &clients in &args.clients {
        let run = |host: &'static str| {
            let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
            let targets = Sessions { host, count: 1 };
            tool_run(
                &url,
                &token,
                "get_session_status",
                clients,
                targets,
                deadline,
                None,
            )
        };
        let local = run("cc").await;
        let remote = run("remote:cc").await;
        let floors = (local.pct(0.5), f64::NAN);
        row(
            &format!("local tmux, Claude Code stand-in, {clients} clients: get_session_status"),
            &local,
            floors,
            None,
        );
        row(
            &format!(
                "remote over ssh, Claude Code stand-in, {clients} clients: get_session_status"
            ),
            &remote,
            floors,
            None,
        );
    }
    drop(gw);
    let _ = std::process::Command::new("tmux")
        .args(["-L", &socket, "kill-server"])
        .status();
}
