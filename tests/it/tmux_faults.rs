//! The tmux control client when the gateway dies hard: it dies with the gateway, and a
//! gateway that starts on the same socket ends whatever client an earlier one left attached.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use sessiongate_tests::gateway::{Options, TestGateway};

use crate::mcp_tools::client;

/// The control session of a gateway with the default `claude-` prefix.
const CONTROL: &str = "=claude-+control";

/// The pids of the clients attached to the gateway's tmux server.
fn client_pids(socket: &str) -> Vec<u32> {
    let out = Command::new("tmux")
        .args(["-L", socket, "list-clients", "-F", "#{client_pid}"])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn running(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Polls `ok` for up to 10 s (a liveness deadline, not a timing assertion).
async fn eventually(mut ok: impl FnMut() -> bool) -> bool {
    for _ in 0..400 {
        if ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    ok()
}

#[tokio::test]
async fn the_control_client_dies_with_a_killed_gateway() {
    for round in 0..3 {
        let mut gw = TestGateway::start(Options::tmux(&format!("ctlkill{round}")));
        let mut c = client(&gw).await;
        c.call_ok("create_session", json!({ "name": "a", "profile": "bash" }))
            .await
            .unwrap();
        c.call_ok("list_sessions", json!({})).await.unwrap();
        assert!(
            eventually(|| !client_pids(&gw.socket).is_empty()).await,
            "the gateway's control client never attached"
        );
        let pids = client_pids(&gw.socket);
        gw.kill_process();
        assert!(
            eventually(|| pids.iter().all(|p| !running(*p))).await,
            "round {round}: tmux -C clients {pids:?} outlived the gateway killed with SIGKILL"
        );
    }
}

#[tokio::test]
async fn a_starting_gateway_ends_control_clients_left_attached() {
    let mut gw = TestGateway::start(Options::tmux("ctlstale"));
    let mut c = client(&gw).await;
    c.call_ok("create_session", json!({ "name": "a", "profile": "bash" }))
        .await
        .unwrap();
    // A client left behind attached to the control session, its input still open, as a
    // gateway killed before this fix could leave it.
    let mut stale = Command::new("tmux")
        .args(["-L", &gw.socket, "-f", "/dev/null", "-C"])
        .args(["attach-session", "-t", CONTROL])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let socket = gw.socket.clone();
    assert!(
        eventually(|| client_pids(&socket).contains(&stale.id())).await,
        "the stale client never attached"
    );
    gw.kill_process();
    let again = gw.restart_alongside();
    let mut c = client(&again).await;
    // The session survived; reading it starts the new gateway's control client.
    c.call_ok("get_session_status", json!({ "session": "a" }))
        .await
        .unwrap();
    c.call_ok("list_sessions", json!({})).await.unwrap();
    let gone = eventually(|| matches!(stale.try_wait(), Ok(Some(_)))).await;
    let _ = stale.kill();
    assert!(gone, "the stale control client is still attached");
    assert!(
        eventually(|| client_pids(&socket).len() == 1).await,
        "only the new gateway's client stays: {:?}",
        client_pids(&socket)
    );
}
