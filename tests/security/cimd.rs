//! Client ID metadata documents as an SSRF vector: a `client_id` that is a URL makes the
//! gateway fetch it. Against the real binary, internal addresses are never contacted (a
//! listener counts connections). The fetch's other guards (no redirects, a size cap, a time
//! cap, the document's own checks) are exercised against the authorization server in-process,
//! with the test-only `allow_private_cimd_hosts` override so that it may fetch from loopback.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use sessiongate_tests::oauth::http;

use crate::common::{self, assert_error_page};

/// What the document server does for a path.
#[derive(Clone, Copy)]
enum Behaviour {
    Good,
    Redirect,
    Big,
    Endless,
    Slow,
    EvilRedirectUris,
    OtherClientId,
}

/// A raw HTTP server on loopback that counts connections and misbehaves on request.
struct DocServer {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl DocServer {
    async fn start() -> DocServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                h.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = sock.read(&mut buf).await.unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]).into_owned();
                    let path = req.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let url = format!("http://{addr}{path}");
                    let behaviour = match path.as_str() {
                        "/redirect.json" => Behaviour::Redirect,
                        "/big.json" => Behaviour::Big,
                        "/endless.json" => Behaviour::Endless,
                        "/slow.json" => Behaviour::Slow,
                        "/evil.json" => Behaviour::EvilRedirectUris,
                        "/other.json" => Behaviour::OtherClientId,
                        _ => Behaviour::Good,
                    };
                    let _ = respond(&mut sock, behaviour, &url, addr).await;
                });
            }
        });
        DocServer { addr, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn respond(
    sock: &mut tokio::net::TcpStream,
    b: Behaviour,
    url: &str,
    addr: SocketAddr,
) -> std::io::Result<()> {
    let doc = |uris: &[&str], id: &str| {
        json!({"client_id": id, "client_name": "Doc", "redirect_uris": uris}).to_string()
    };
    let ok = |body: String| {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    match b {
        Behaviour::Good => {
            sock.write_all(ok(doc(&["http://127.0.0.1:7000/cb"], url)).as_bytes())
                .await
        }
        Behaviour::EvilRedirectUris => {
            sock.write_all(ok(doc(&["https://evil.example/cb"], url)).as_bytes())
                .await
        }
        Behaviour::OtherClientId => {
            sock.write_all(
                ok(doc(
                    &["http://127.0.0.1:7000/cb"],
                    "https://trusted.example/client.json",
                ))
                .as_bytes(),
            )
            .await
        }
        Behaviour::Big => {
            let mut v: serde_json::Value =
                serde_json::from_str(&doc(&["http://127.0.0.1:7000/cb"], url)).unwrap();
            v["pad"] = json!("x".repeat(6000));
            sock.write_all(ok(v.to_string()).as_bytes()).await
        }
        Behaviour::Redirect => {
            let to = format!("http://{addr}/good.json");
            sock.write_all(format!("HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes()).await
        }
        Behaviour::Endless => {
            sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n").await?;
            sock.write_all(b"1\r\n[\r\n").await?;
            let chunk = format!("400\r\n{}\r\n", " ".repeat(0x400));
            loop {
                sock.write_all(chunk.as_bytes()).await?;
            }
        }
        Behaviour::Slow => {
            sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{").await?;
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                sock.write_all(b" ").await?;
            }
        }
    }
}

fn authorize_url(base: &str, client_id: &str) -> String {
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", "http://127.0.0.1:7000/cb"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    format!("{base}/authorize?{q}")
}

#[tokio::test]
async fn internal_addresses_are_never_fetched() {
    let gw = common::gateway("cimd-ssrf");
    let docs = DocServer::start().await;
    let port = docs.addr.port();
    let before = common::counts(&gw);
    let c = http();
    for (id, reason) in [
        (
            format!("https://127.0.0.1:{port}/client.json"),
            "resolves to an internal address",
        ),
        (
            format!("https://localhost:{port}/client.json"),
            "resolves to an internal address",
        ),
        (
            format!("https://2130706433:{port}/client.json"),
            "resolves to an internal address",
        ),
        (
            format!("https://0x7f.1:{port}/client.json"),
            "resolves to an internal address",
        ),
        (
            format!("https://[::ffff:127.0.0.1]:{port}/client.json"),
            "resolves to an internal address",
        ),
        (
            format!("https://0.0.0.0:{port}/client.json"),
            "resolves to an internal address",
        ),
        (
            format!("https://[::1]:{port}/client.json"),
            "resolves to an internal address",
        ),
        (
            "https://10.0.0.1/client.json".into(),
            "resolves to an internal address",
        ),
        (
            "https://192.168.1.1/client.json".into(),
            "resolves to an internal address",
        ),
        (
            "https://169.254.169.254/latest/meta-data/".into(),
            "resolves to an internal address",
        ),
        (
            "https://100.64.0.1/client.json".into(),
            "resolves to an internal address",
        ),
        (
            "https://[fd00::1]/client.json".into(),
            "resolves to an internal address",
        ),
        (
            "https://[fe80::1]/client.json".into(),
            "resolves to an internal address",
        ),
        (
            "https://user:pw@trusted.example/client.json".into(),
            "may have no fragment and no user info",
        ),
        (
            "https://trusted.example/client.json#x".into(),
            "may have no fragment and no user info",
        ),
        (
            "https://trusted.example/".into(),
            "needs a path without dot segments",
        ),
        (
            "https://trusted.example/a/../client.json".into(),
            "needs a path without dot segments",
        ),
    ] {
        let r = c
            .get(authorize_url(&gw.base_url, &id))
            .send()
            .await
            .unwrap();
        assert_error_page(r, 400, reason, &id).await;
        // The token endpoint fetches documents too.
        let (s, body, _) = sessiongate_tests::oauth::Flow {
            base: gw.base_url.clone(),
            client_id: id.clone(),
            redirect_uri: String::new(),
            verifier: String::new(),
            challenge: String::new(),
        }
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", &id),
        ])
        .await;
        assert_eq!(
            (s, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{id}: {body}"
        );
        assert!(
            body["error_description"].as_str().unwrap().contains(reason),
            "{id}: {body}"
        );
    }
    // Plain http is not a metadata document at all: an unknown client, nothing fetched.
    let r = c
        .get(authorize_url(
            &gw.base_url,
            &format!("http://127.0.0.1:{port}/client.json"),
        ))
        .send()
        .await
        .unwrap();
    assert_error_page(r, 400, "unknown client_id", "http client id").await;
    assert_eq!(
        docs.hits(),
        0,
        "the gateway connected to an internal address"
    );
    assert_eq!(common::counts(&gw), before);
}

/// The authorization server alone, in-process, allowed to fetch documents from loopback.
async fn permissive_auth_server() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut cfg = sessiongate_auth::AuthConfig::new(dir.path().to_path_buf(), &base);
    cfg.allow_private_cimd_hosts = true;
    let auth = sessiongate_auth::AuthServer::open(cfg).unwrap();
    let app = auth.router();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    (base, dir)
}

#[tokio::test]
async fn hostile_documents_are_refused() {
    let (base, _dir) = permissive_auth_server().await;
    let docs = DocServer::start().await;
    let c = http();
    // The well-formed document is accepted: the refusals below are about the hostility.
    let good = format!("http://{}/good.json", docs.addr);
    let r = c.get(authorize_url(&base, &good)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let hits_before = docs.hits();
    for (path, reason) in [
        (
            "redirect.json",
            "the client metadata URL answered 302 Found",
        ),
        (
            "big.json",
            "the client metadata document is larger than 5120 bytes",
        ),
        (
            "endless.json",
            "the client metadata document is larger than 5120 bytes",
        ),
        ("slow.json", "reading the client metadata failed"),
        ("evil.json", "is not an allowed redirect URI"),
        (
            "other.json",
            "the document&#39;s client_id differs from its URL",
        ),
    ] {
        let id = format!("http://{}/{path}", docs.addr);
        let r = c.get(authorize_url(&base, &id)).send().await.unwrap();
        assert_error_page(r, 400, reason, path).await;
    }
    // One connection per document: the redirect was not followed.
    assert_eq!(docs.hits() - hits_before, 6);
}
