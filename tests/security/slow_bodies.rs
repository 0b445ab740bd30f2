//! Slow and oversized bodies sent by hand over TCP. A request that may not proceed is answered
//! at once, without waiting for a body that may never come; an oversized body is cut off at
//! the limit; slow connections held open do not keep other
//! clients from being served. (Idle and request timeouts, which end a body that trickles in
//! forever, belong to the deployment hardening and are tested with it.)

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use sessiongate_tests::gateway::TestGateway;

use crate::common::{self, session_names};

/// A guard against a hang, not a timing assertion: the answers below come long before it.
const HANG: Duration = Duration::from_secs(60);

fn addr(gw: &TestGateway) -> String {
    gw.base_url.trim_start_matches("http://").to_owned()
}

/// Sends `head` (request line and headers) and `body_start`, then reads whatever answer
/// comes without sending the rest; returns the status line.
async fn answer_without_the_rest(gw: &TestGateway, head: &str, body_start: &[u8]) -> String {
    let mut s = TcpStream::connect(addr(gw)).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body_start).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(HANG, s.read(&mut buf))
        .await
        .expect("the server waited for a body it should not need")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.lines().next().unwrap_or("").to_owned()
}

fn head(gw: &TestGateway, extra: &str) -> String {
    format!(
        "POST /mcp HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\n{extra}\r\n",
        addr(gw)
    )
}

#[tokio::test]
async fn refusals_do_not_wait_for_the_body() {
    let gw = common::gateway("slow-refuse");
    // No token: 401 before the body.
    let line = answer_without_the_rest(
        &gw,
        &head(&gw, "content-length: 100000\r\n"),
        b"{\"jsonrpc\"",
    )
    .await;
    assert_eq!(line, "HTTP/1.1 401 Unauthorized");
    // With a token, a declared length over the cap: 413 without the body (after a short
    // linger that lets a client still writing read the answer).
    let token = gw.token("sessions:read", "1h");
    let line = answer_without_the_rest(
        &gw,
        &head(
            &gw,
            &format!("authorization: Bearer {token}\r\ncontent-length: 3145728\r\n"),
        ),
        b"{\"jsonrpc\"",
    )
    .await;
    assert_eq!(line, "HTTP/1.1 413 Payload Too Large");
}

#[tokio::test]
async fn a_streamed_body_is_cut_off_at_the_limit() {
    let gw = common::gateway("slow-stream");
    let token = gw.token("sessions:read", "1h");
    let mut s = TcpStream::connect(addr(&gw)).await.unwrap();
    s.write_all(
        head(
            &gw,
            &format!("authorization: Bearer {token}\r\ntransfer-encoding: chunked\r\n"),
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // Chunks of 64 KiB, up to 4 MiB, with no end: the server must answer once it has 2 MiB.
    let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
    let mut sent = 0usize;
    while sent < 4 << 20 {
        if s.write_all(chunk.as_bytes()).await.is_err() {
            break; // the server closed the connection after answering
        }
        sent += 0x10000;
    }
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(HANG, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(
        text.contains("request body is larger than 2097152 bytes"),
        "{text}"
    );
}

#[tokio::test]
async fn slow_clients_do_not_starve_the_others() {
    let gw = common::gateway("slow-starve");
    let token = gw.token("sessions:read,sessions:manage", "1h");
    // 64 connections from one address (127.0.0.2) that sent headers and a few bytes of a
    // body that never completes: that address's whole allowance of connections.
    let from_slow = || async {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        sock.connect(addr(&gw).parse().unwrap()).await.unwrap()
    };
    let mut held = Vec::new();
    for _ in 0..64 {
        let mut s = from_slow().await;
        s.write_all(
            head(
                &gw,
                &format!("authorization: Bearer {token}\r\ncontent-length: 1000\r\n"),
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        s.write_all(b"{\"jsonrpc\":\"2.0\",").await.unwrap();
        held.push(s);
    }
    // A 65th connection from that address is closed without an answer.
    let mut extra = from_slow().await;
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(HANG, extra.read_to_end(&mut buf)).await;
    assert!(
        !String::from_utf8_lossy(&buf).contains("200 OK"),
        "the connection cap per address did not hold"
    );
    // A well-behaved client elsewhere (127.0.0.1) is served meanwhile, and a tool call works.
    let mut c = common::client(&gw, &token).await;
    c.call_ok("create_session", json!({"name": "ok", "profile": "bash"}))
        .await
        .unwrap();
    assert_eq!(session_names(&mut c).await, vec!["ok"]);
    drop(held);
}
