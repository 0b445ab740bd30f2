//! The load clients' side of the wire: one HTTP/1.1 connection per client through hyper's
//! own connection API (no pool, no per-request client machinery), used alike for the gateway
//! and for the HTTP floor. On two shared cores the client's CPU is in every latency figure,
//! so both sides are called the same way: the same headers (bearer token, `Accept`,
//! `MCP-Protocol-Version`, `Mcp-Session-Id`), a JSON-RPC body, and the response read whole
//! and decoded as JSON: the whole body is parsed (and so checked), but only the reply's `id`
//! and whether it is an error are kept, as a client that dispatches replies would first do;
//! building a JSON tree of a 120 KB `list_sessions` answer cost the one-threaded clients 1 ms
//! per call, which on two cores the server's figures paid for too.

use axum::body::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

const SESSION: &str = "mcp-session-id";

/// One keep-alive connection to `url` with the headers every request carries.
pub(crate) struct Conn {
    send: SendRequest<Full<Bytes>>,
    path: String,
    headers: HeaderMap,
}

/// A response read whole.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Conn {
    /// Connects to `url` (`http://host:port/path`); every request sends `token` as its bearer
    /// token and asks for JSON or an event stream, as MCP clients do.
    pub(crate) async fn open(url: &str, token: &str) -> anyhow::Result<Conn> {
        let url = url::Url::parse(url)?;
        let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
        tcp.set_nodelay(true)?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(conn);
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_str(&format!("{host}:{port}"))?);
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}"))?,
        );
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        headers.insert(
            "mcp-protocol-version",
            HeaderValue::from_static(sessiongate_tests::mcp::PROTOCOL_VERSION),
        );
        Ok(Conn {
            send,
            path: url.path().to_owned(),
            headers,
        })
    }

    /// Sends a request with the connection's headers and reads the whole response.
    pub(crate) async fn send(&mut self, method: Method, body: Vec<u8>) -> anyhow::Result<Reply> {
        let mut req = Request::builder()
            .method(method)
            .uri(self.path.as_str())
            .body(Full::new(Bytes::from(body)))?;
        *req.headers_mut() = self.headers.clone();
        self.send.ready().await?;
        let resp = self.send.send_request(req).await?;
        let (parts, body) = resp.into_parts();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await?.to_bytes(),
        })
    }

    /// Sends this `Mcp-Session-Id` on every request from now on.
    pub(crate) fn set_session(&mut self, id: HeaderValue) {
        self.headers.insert(SESSION, id);
    }
}

impl Reply {
    /// Whether the body holds the JSON-RPC response with `id`, and then whether it succeeded
    /// (`Some(false)` for a JSON-RPC error or an `isError` result); an event stream is searched
    /// for it.
    pub(crate) fn outcome(&self, id: u64) -> Option<bool> {
        if let Ok(head) = serde_json::from_slice::<Head>(&self.body) {
            return (head.id == Some(id)).then(|| {
                head.error.is_none() && !head.result.and_then(|r| r.is_error).unwrap_or(false)
            });
        }
        let body = std::str::from_utf8(&self.body).ok()?;
        sessiongate_tests::mcp::messages_in(&self.headers, body)
            .into_iter()
            .find(|m| m["id"] == json!(id))
            .map(|m| m.get("error").is_none() && m["result"]["isError"] != json!(true))
    }
}

/// What a client reads of a JSON-RPC response first; everything else is parsed and skipped.
#[derive(serde::Deserialize)]
struct Head {
    id: Option<u64>,
    result: Option<ResultHead>,
    error: Option<serde::de::IgnoredAny>,
}

/// Whether a tool's result is an error.
#[derive(serde::Deserialize)]
struct ResultHead {
    #[serde(rename = "isError")]
    is_error: Option<bool>,
}

/// A JSON-RPC request body.
pub(crate) fn request_body(id: u64, method: &str, params: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))
        .unwrap_or_default()
}

/// The revision without sessions whose calls the stateless rows make.
const STATELESS_VERSION: &str = "2026-07-28";

/// An MCP session over one [`Conn`], or a client of the revision without sessions.
pub(crate) struct LeanMcp {
    conn: Conn,
    next_id: u64,
    /// Calls of the 2026-07-28 revision: no session, version and capabilities in `_meta`.
    stateless: bool,
}

impl LeanMcp {
    /// Connects and initializes a session.
    pub(crate) async fn connect(url: &str, token: &str) -> anyhow::Result<LeanMcp> {
        let mut conn = Conn::open(url, token).await?;
        let init = json!({
            "protocolVersion": sessiongate_tests::mcp::PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": { "name": "sessiongate-load", "version": "0" }
        });
        let r = conn
            .send(Method::POST, request_body(0, "initialize", &init))
            .await?;
        anyhow::ensure!(r.status == StatusCode::OK, "initialize: HTTP {}", r.status);
        let id = r
            .headers
            .get(SESSION)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no session id"))?;
        conn.set_session(id);
        let note = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
        let r = conn.send(Method::POST, serde_json::to_vec(&note)?).await?;
        anyhow::ensure!(
            r.status == StatusCode::ACCEPTED,
            "initialized: HTTP {}",
            r.status
        );
        Ok(LeanMcp {
            conn,
            next_id: 1,
            stateless: false,
        })
    }

    /// A client of the 2026-07-28 revision: no `initialize` and no session; every call
    /// carries the protocol version and client capabilities in `_meta`, and
    /// `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers.
    pub(crate) async fn stateless(url: &str, token: &str) -> anyhow::Result<LeanMcp> {
        let mut conn = Conn::open(url, token).await?;
        conn.headers.insert(
            "mcp-protocol-version",
            HeaderValue::from_static(STATELESS_VERSION),
        );
        conn.headers
            .insert("mcp-method", HeaderValue::from_static("tools/call"));
        Ok(LeanMcp {
            conn,
            next_id: 1,
            stateless: true,
        })
    }

    /// Calls a tool; `Ok(true)` when it succeeded, `Ok(false)` for an `isError` result.
    pub(crate) async fn call(&mut self, tool: &str, args: Value) -> anyhow::Result<bool> {
        let id = self.next_id;
        self.next_id += 1;
        let mut params = json!({ "name": tool, "arguments": args });
        if self.stateless {
            params["_meta"] = json!({
                "io.modelcontextprotocol/protocolVersion": STATELESS_VERSION,
                "io.modelcontextprotocol/clientCapabilities": {}
            });
            self.conn
                .headers
                .insert("mcp-name", HeaderValue::from_str(tool)?);
        }
        let r = self
            .conn
            .send(Method::POST, request_body(id, "tools/call", &params))
            .await?;
        anyhow::ensure!(r.status == StatusCode::OK, "HTTP {}", r.status);
        r.outcome(id)
            .ok_or_else(|| anyhow::anyhow!("no response to call {id}"))
    }

    /// Ends the session (DELETE); a stateless client has none.
    pub(crate) async fn close(mut self) -> anyhow::Result<()> {
        if self.stateless {
            return Ok(());
        }
        let r = self.conn.send(Method::DELETE, Vec::new()).await?;
        anyhow::ensure!(r.status.is_success(), "DELETE: HTTP {}", r.status);
        Ok(())
    }
}
