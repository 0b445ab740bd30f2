//! Faults an operator meets, against the real binary: the gateway killed with `kill -9` in
//! the middle of changing calls, a full or read-only disk under its data directory, and
//! SIGTERM while a `wait_for` and an event stream are open.
//!
//! The disk tests mount small file systems of their own (tmpfs), which needs root; without it
//! they print why and pass.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use sessiongate_tests::gateway::{Options, TestGateway, binary, tmux_capture};
use sessiongate_tests::mcp::{McpClient, PROTOCOL_VERSION, text_of};

/// A launch profile that reads what is typed and throws it away.
const SINK_PROFILE: &str = "sink = [\"sh\", \"-c\", \"cat > /dev/null\"]\n";

fn sha256_hex(s: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `text_sha256` of every `send_message` row, read from the SQLite file itself.
fn sent_hashes(data_dir: &Path) -> HashSet<String> {
    let conn = rusqlite::Connection::open(data_dir.join("auth.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT text_sha256 FROM audit WHERE action = 'send_message'")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn send_message_body(id: u64, session: &str, message: &str) -> String {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
           "params":{"name":"send_message","arguments":{"session":session,"message":message}}})
    .to_string()
}

#[tokio::test]
async fn every_acknowledged_change_is_in_the_audit_log_after_kill_9() {
    let mut opts = Options::tmux("kill9");
    opts.extra_profiles = SINK_PROFILE.into();
    // One address sends as fast as it can.
    opts.extra_config = "[rate_limits]\nmcp_per_address = { per_minute = 0, burst = 0 }\n".into();
    let mut gw = TestGateway::start(opts);
    let mut c = McpClient::new(&gw.mcp_url());
    c.initialize().await.unwrap();
    let root = gw.root.display().to_string();
    c.call_ok(
        "create_session",
        json!({"name":"k9","working_dir":root,"profile":"sink"}),
    )
    .await
    .unwrap();
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut clients = Vec::new();
    for n in 0..8 {
        let url = gw.mcp_url();
        let acked = acked.clone();
        clients.push(tokio::spawn(async move {
            let mut c = McpClient::new(&url);
            if c.initialize().await.is_err() {
                return;
            }
            for i in 0.. {
                let text = format!("kill9 client {n} message {i}");
                match c
                    .call("send_message", json!({"session":"k9","message":text}))
                    .await
                {
                    Ok(r) if r["isError"] != json!(true) => acked.lock().unwrap().push(text),
                    // The gateway is gone.
                    _ => return,
                }
            }
        }));
    }
    // Killed while calls are in flight, once enough of them were acknowledged.
    while acked.lock().unwrap().len() < 400 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gw.kill_process();
    for c in clients {
        c.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let rows = sent_hashes(&gw.data_dir);
    let missing: Vec<&String> = acked
        .iter()
        .filter(|t| !rows.contains(&sha256_hex(t)))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged sends have no audit row after kill -9: {missing:?}",
        missing.len(),
        acked.len()
    );
}

/// A tmpfs of its own, unmounted when dropped; `None` (with the reason printed) when this
/// process may not mount one.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(options: &str) -> Option<Tmpfs> {
        let uid = Command::new("id").arg("-u").output().ok()?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            eprintln!("skipped: mounting a small file system needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap();
        if !out.status.success() {
            eprintln!(
                "skipped: mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Remounts it read-only (`ro`) or writable (`rw`).
    fn remount(&self, mode: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(self.path())
            .status()
            .unwrap();
        assert!(status.success(), "remount {mode}");
    }

    /// Fills it with one file of zeros until the disk is full; returns the file.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        loop {
            match f.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        // The last bytes that fit, a page at a time.
        while f.write(&block[..4096]).is_ok_and(|n| n > 0) {}
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

async fn healthz(gw: &TestGateway) -> (u16, String) {
    let resp = reqwest::get(format!("{}/healthz", gw.base_url))
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn a_full_disk_refuses_changing_calls_says_why_on_healthz_and_recovers_by_itself() {
    let Some(fs) = Tmpfs::mount("size=8m") else {
        return;
    };
    let mut opts = Options::tmux("diskfull");
    opts.data_dir_in = Some(fs.path().to_path_buf());
    let gw = TestGateway::start(opts);
    let mut c = McpClient::new(&gw.mcp_url());
    c.initialize().await.unwrap();
    let root = gw.root.display().to_string();
    c.call_ok(
        "create_session",
        json!({"name":"df","working_dir":root,"profile":"bash"}),
    )
    .await
    .unwrap();
    assert_eq!(healthz(&gw).await, (200, "ok\n".to_owned()));

    let filler = fs.fill();
    // A few rows may still fit into space SQLite holds already; soon a call is refused.
    let mut acked = Vec::new();
    let mut refusal = None;
    for i in 1..=50u64 {
        let text = format!("echo full-disk-{i}");
        let r = c
            .post_raw(send_message_body(100 + i, "df", &text))
            .await
            .unwrap();
        if r.status == 200 && r.messages().iter().all(|m| m.get("error").is_none()) {
            acked.push(text);
        } else {
            refusal = Some((text, r));
            break;
        }
    }
    let (refused_text, r) = refusal.expect("no changing call was refused on a full disk");
    assert_eq!(r.status, 503, "{}", r.body);
    let body: Value = serde_json::from_str(&r.body).unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("audit log cannot be written") && msg.contains("disk full"),
        "{msg}"
    );
    assert!(
        body["id"].is_u64(),
        "the refusal answers the request: {body}"
    );
    // The refused text was never typed; reads still work.
    let logs = c
        .call_ok("get_logs", json!({"session":"df"}))
        .await
        .unwrap();
    assert!(!logs.contains(&refused_text), "{logs}");
    assert!(!tmux_capture(&gw, "df").contains(&refused_text));
    let (status, body) = healthz(&gw).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("audit log cannot be written") && body.contains("disk full"),
        "{body}"
    );
    assert!(
        !body.contains(&gw.data_dir.display().to_string()),
        "no path on the public health check: {body}"
    );

    // Space is back: the gateway notices by itself, with no call made.
    std::fs::remove_file(filler).unwrap();
    let mut health = healthz(&gw).await;
    for _ in 0..200 {
        if health.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        health = healthz(&gw).await;
    }
    assert_eq!(health, (200, "ok\n".to_owned()));
    c.call_ok(
        "send_message",
        json!({"session":"df","message":"echo space-is-back"}),
    )
    .await
    .unwrap();
    acked.push("echo space-is-back".into());
    let rows = sent_hashes(&gw.data_dir);
    for text in &acked {
        assert!(rows.contains(&sha256_hex(text)), "no row for {text:?}");
    }
    assert!(!rows.contains(&sha256_hex(&refused_text)));
}

/// Runs `sessiongate serve` on `data_dir` and returns its standard error; it must fail.
fn serve_fails(data_dir: &Path) -> String {
    let out = Command::new(binary())
        .args(["serve", "--auth", "none", "--bind", "127.0.0.1:0"])
        .args(["--backend", "pty"])
        .arg("--data-dir")
        .arg(data_dir)
        .env("SESSIONGATE_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "started on {}: {}",
        data_dir.display(),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn a_data_directory_that_cannot_be_written_is_named_with_the_cause_at_startup() {
    let Some(fs) = Tmpfs::mount("size=4m") else {
        return;
    };
    // A data directory with state in it (`sessiongate token` creates the database).
    let kept = fs.path().join("kept");
    let out = Command::new(binary())
        .arg("token")
        .arg("--data-dir")
        .arg(&kept)
        .args(["--public-url", "http://127.0.0.1:8000"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(kept.join("auth.db").exists());

    fs.remount("ro");
    let err = serve_fails(&kept);
    assert!(
        err.contains(&kept.display().to_string()) && err.contains("read-only file system"),
        "{err}"
    );
    let missing = fs.path().join("missing").join("data");
    let err = serve_fails(&missing);
    assert!(
        err.contains(&missing.display().to_string()) && err.contains("read-only file system"),
        "{err}"
    );

    fs.remount("rw");
    let filler = fs.fill();
    let err = serve_fails(&kept);
    assert!(
        err.contains(&kept.display().to_string()) && err.contains("disk full"),
        "{err}"
    );
    drop(filler);
}

/// Sends `request` on a connection of its own, waits for the response's headers and hands
/// back the connection and what was read so far.
async fn open_raw(base_url: &str, request: &str) -> (tokio::net::TcpStream, Vec<u8>) {
    let addr = base_url.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the headers");
        seen.extend_from_slice(&buf[..n]);
    }
    (tcp, seen)
}

/// Reads until the server closes the connection (a minute at most).
async fn read_to_close(mut tcp: tokio::net::TcpStream, mut seen: Vec<u8>) -> String {
    let read = async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = tcp.read(&mut buf).await {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        seen
    };
    let seen = tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the connection was closed");
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn sigterm_answers_an_in_flight_wait_for_at_once_and_ends_event_streams_cleanly() {
    let mut gw = TestGateway::start(Options::tmux("sigterm-wait"));
    let mut c = McpClient::new(&gw.mcp_url());
    c.initialize().await.unwrap();
    let root = gw.root.display().to_string();
    c.call_ok(
        "create_session",
        json!({"name":"sw","working_dir":root,"profile":"bash"}),
    )
    .await
    .unwrap();
    let host = gw.base_url.trim_start_matches("http://").to_owned();
    let sid = c.session_id().unwrap().to_owned();
    let head = |method: &str, accept: &str| {
        format!(
            "{method} /mcp HTTP/1.1\r\nHost: {host}\r\nAccept: {accept}\r\n\
             Mcp-Session-Id: {sid}\r\nMcp-Protocol-Version: {PROTOCOL_VERSION}\r\n"
        )
    };
    // The standalone event stream.
    let get = format!("{}\r\n", head("GET", "text/event-stream"));
    let (get_conn, get_seen) = open_raw(&gw.base_url, &get).await;
    // A wait that would take ten minutes: bash does not exit by itself.
    let body = json!({"jsonrpc":"2.0","id":77,"method":"tools/call",
        "params":{"name":"wait_for","arguments":{"session":"sw","until":"exited","timeout_s":600}}})
    .to_string();
    let post = format!(
        "{}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        head("POST", "application/json, text/event-stream"),
        body.len()
    );
    let (wait_conn, wait_seen) = open_raw(&gw.base_url, &post).await;
    assert!(
        String::from_utf8_lossy(&wait_seen).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&wait_seen)
    );

    gw.signal("TERM");
    let wait = read_to_close(wait_conn, wait_seen).await;
    let get = read_to_close(get_conn, get_seen).await;

    // The wait got a JSON-RPC response saying why, in a stream that ended properly.
    let answer = wait
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|m| m["id"] == 77)
        .unwrap_or_else(|| panic!("no JSON-RPC response to the wait: {wait:?}"));
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(
        text_of(&answer["result"]).contains("the server is shutting down; call again"),
        "{answer}"
    );
    assert!(wait.ends_with("0\r\n\r\n"), "no last chunk: {wait:?}");
    assert!(get.starts_with("HTTP/1.1 200"), "{get:?}");
    assert!(
        get.ends_with("0\r\n\r\n"),
        "the event stream was cut off: {get:?}"
    );
    let status = tokio::task::spawn_blocking(move || gw.wait())
        .await
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
}
