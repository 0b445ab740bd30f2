//! A small MCP client over Streamable HTTP that speaks raw JSON-RPC.

use serde_json::{Value, json};

/// The protocol version the tests negotiate.
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// An MCP client session.
#[derive(Debug)]
pub struct McpClient {
    http: reqwest::Client,
    url: String,
    session_id: Option<String>,
    next_id: u64,
    /// Extra headers sent with every request (e.g. Authorization).
    pub headers: Vec<(String, String)>,
}

/// A raw HTTP answer.
#[derive(Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The headers, lower-case names.
    pub headers: reqwest::header::HeaderMap,
    /// The body as text.
    pub body: String,
}

impl RawResponse {
    /// The JSON-RPC messages in the body, whether it is JSON or an SSE stream.
    pub fn messages(&self) -> Vec<Value> {
        messages_in(&self.headers, &self.body)
    }
}

/// The JSON-RPC messages in a response body with `headers`: the body itself when it is JSON,
/// the `data:` lines of an SSE stream otherwise.
pub fn messages_in(headers: &reqwest::header::HeaderMap, body: &str) -> Vec<Value> {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.starts_with("text/event-stream") {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str(d.trim()).ok())
            .collect()
    } else {
        serde_json::from_str(body).into_iter().collect()
    }
}

impl McpClient {
    /// A client for `url` (the `/mcp` endpoint). Call [`McpClient::initialize`] next.
    pub fn new(url: &str) -> Self {
        McpClient {
            http: reqwest::Client::new(),
            url: url.to_owned(),
            session_id: None,
            next_id: 1,
            headers: Vec::new(),
        }
    }

    /// A client for `url` that sends its requests through `http` (e.g. one that trusts a
    /// test certificate).
    pub fn with_http(url: &str, http: reqwest::Client) -> Self {
        McpClient {
            http,
            ..McpClient::new(url)
        }
    }

    /// A client for `url` that sends `token` as its bearer token, with its session
    /// initialized.
    pub async fn with_token(url: &str, token: &str) -> anyhow::Result<Self> {
        let mut c = McpClient::new(url);
        c.headers
            .push(("authorization".into(), format!("Bearer {token}")));
        c.initialize().await?;
        Ok(c)
    }

    /// Initializes a session and sends `notifications/initialized`.
    pub async fn initialize(&mut self) -> anyhow::Result<Value> {
        let r = self
            .request(
                "initialize",
                json!({
                    "protocolVersion": PROTOCOL_VERSION,
                    "capabilities": {},
                    "clientInfo": { "name": "sessiongate-tests", "version": "0" }
                }),
            )
            .await?;
        self.notify("notifications/initialized", json!({})).await?;
        Ok(r)
    }

    /// POSTs a raw body with the usual headers.
    pub async fn post_raw(&self, body: impl Into<reqwest::Body>) -> anyhow::Result<RawResponse> {
        self.post_with(body, &[]).await
    }

    /// POSTs a raw body on a connection of its own, so that a server closing it (after
    /// refusing an oversized body, say) does not disturb this client's pooled connections.
    pub async fn post_raw_isolated(
        &self,
        body: impl Into<reqwest::Body>,
    ) -> anyhow::Result<RawResponse> {
        let solo = McpClient {
            http: reqwest::Client::new(),
            url: self.url.clone(),
            session_id: self.session_id.clone(),
            next_id: self.next_id,
            headers: self.headers.clone(),
        };
        solo.post_raw(body).await
    }

    /// POSTs a raw body with the usual headers plus `extra`.
    pub async fn post_with(
        &self,
        body: impl Into<reqwest::Body>,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<RawResponse> {
        let mut req = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", PROTOCOL_VERSION)
            .body(body);
        if let Some(id) = &self.session_id {
            req = req.header("mcp-session-id", id);
        }
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await?;
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }

    /// Sends a request and returns its `result`, or an error with the JSON-RPC error.
    pub async fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let resp = self.post_raw(body.to_string()).await?;
        if let Some(sid) = resp.headers.get("mcp-session-id") {
            self.session_id = Some(sid.to_str()?.to_owned());
        }
        anyhow::ensure!(
            resp.status == 200,
            "HTTP {} for {method}: {}",
            resp.status,
            resp.body
        );
        let msg = resp
            .messages()
            .into_iter()
            .find(|m| m.get("id") == Some(&json!(id)))
            .ok_or_else(|| anyhow::anyhow!("no response to {method} in {}", resp.body))?;
        if let Some(err) = msg.get("error") {
            anyhow::bail!("JSON-RPC error for {method}: {err}");
        }
        Ok(msg["result"].clone())
    }

    /// Sends a notification.
    pub async fn notify(&self, method: &str, params: Value) -> anyhow::Result<()> {
        let body = json!({ "jsonrpc": "2.0", "method": method, "params": params });
        let resp = self.post_raw(body.to_string()).await?;
        anyhow::ensure!(resp.status == 202, "HTTP {} for {method}", resp.status);
        Ok(())
    }

    /// Calls a tool and returns the whole `CallToolResult`.
    pub async fn call(&mut self, tool: &str, args: Value) -> anyhow::Result<Value> {
        self.request("tools/call", json!({ "name": tool, "arguments": args }))
            .await
    }

    /// Calls a tool that must succeed and returns its text.
    pub async fn call_ok(&mut self, tool: &str, args: Value) -> anyhow::Result<String> {
        let r = self.call(tool, args).await?;
        anyhow::ensure!(r["isError"] != json!(true), "{tool} failed: {r}");
        Ok(text_of(&r))
    }

    /// Calls a tool that must fail and returns its error text.
    pub async fn call_err(&mut self, tool: &str, args: Value) -> anyhow::Result<String> {
        let r = self.call(tool, args).await?;
        anyhow::ensure!(
            r["isError"] == json!(true),
            "{tool} should have failed: {r}"
        );
        Ok(text_of(&r))
    }

    /// Opens the standalone SSE stream (GET) and collects the JSON-RPC messages that arrive
    /// on it until `until` returns true for one of them or `deadline` passes.
    pub async fn listen(
        &self,
        deadline: std::time::Duration,
        until: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Vec<Value>> {
        let mut req = self
            .http
            .get(&self.url)
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", PROTOCOL_VERSION);
        if let Some(id) = &self.session_id {
            req = req.header("mcp-session-id", id);
        }
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let mut resp = req.send().await?;
        anyhow::ensure!(resp.status() == 200, "GET stream: HTTP {}", resp.status());
        let mut buf = String::new();
        let mut seen = Vec::new();
        let end = tokio::time::Instant::now() + deadline;
        while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(end, resp.chunk()).await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(pos) = buf.find("\n\n") {
                let event: String = buf.drain(..pos + 2).collect();
                for data in event.lines().filter_map(|l| l.strip_prefix("data:")) {
                    if let Ok(v) = serde_json::from_str::<Value>(data.trim()) {
                        let done = until(&v);
                        seen.push(v);
                        if done {
                            return Ok(seen);
                        }
                    }
                }
            }
        }
        Ok(seen)
    }

    /// The session id the server assigned.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// Joins an existing MCP session (another client's id).
    pub fn set_session_id(&mut self, id: &str) {
        self.session_id = Some(id.to_owned());
    }

    /// Ends the MCP session (DELETE) and forgets its id.
    pub async fn delete_session(&mut self) -> anyhow::Result<()> {
        let Some(id) = self.session_id.take() else {
            anyhow::bail!("no session to delete");
        };
        let mut req = self.http.delete(&self.url).header("mcp-session-id", id);
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let status = req.send().await?.status();
        anyhow::ensure!(status.is_success(), "DELETE /mcp: HTTP {status}");
        Ok(())
    }
}

/// The concatenated text content of a tool result.
pub fn text_of(result: &Value) -> String {
    result["content"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}
