//! The audit check on `/mcp`: a tool call whose catalogue row says `audited` (everything above
//! reading, and any unknown tool) is written to the audit log ([`crate::audit`]) before it
//! runs, and runs only once its row is committed.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

use sessiongate_auth::{ClientIp, Principal};

use crate::audit::{AuditEntry, AuditLog, Unwritable};
use crate::checks::rpc::{CalledTool, RpcItem, RpcMessage};
use crate::mcp::catalog::Tool;
use crate::notify::event::{now_rfc3339, sha256_hex};

/// The middleware on `/mcp`, behind the bearer check and the JSON-RPC guard: records every
/// tool call that changes something before the call runs, and lets the call run only once its
/// row is committed to the disk. A client that hangs up mid-call cannot leave its action
/// unrecorded, and neither can a crash of the gateway. When the row cannot be written, the
/// call is refused (503 with a JSON-RPC error that says why); reads pass without waiting.
pub async fn record(
    log: &AuditLog,
    req: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    let entries: Vec<AuditEntry> = {
        let Some(msg) = req.extensions().get::<RpcMessage>() else {
            return next(req).await;
        };
        let calls: Vec<(&RpcItem, &CalledTool)> =
            msg.tool_calls().filter(|(_, t)| changes(t)).collect();
        if calls.is_empty() {
            return next(req).await;
        }
        let (client_id, user) = match req.extensions().get::<Principal>() {
            Some(p) => (p.client_id.as_str(), p.sub.as_str()),
            None => ("-", "local"),
        };
        let address = req
            .extensions()
            .get::<ClientIp>()
            .map(|c| c.0.to_string())
            .unwrap_or_else(|| "-".into());
        let at = now_rfc3339();
        let who = Who {
            at: &at,
            client_id,
            user,
            address: &address,
        };
        calls
            .into_iter()
            .map(|(call, tool)| entry_for(call, tool, &who, log.record_text))
            .collect()
    };
    match log.record(entries).await {
        Ok(()) => next(req).await,
        Err(why) => {
            tracing::warn!(cause = %why.cause, "a changing call was refused: the audit log cannot be written");
            refused(req.extensions().get::<RpcMessage>(), &why)
        }
    }
}

/// The answer to a changing call whose row could not be written: 503 with a JSON-RPC error
/// for each request in the message.
fn refused(msg: Option<&RpcMessage>, why: &Unwritable) -> Response {
    let error = |id: Option<&Value>| {
        json!({
            "jsonrpc": "2.0",
            "id": id.cloned().unwrap_or(Value::Null),
            "error": {
                "code": -32000,
                "message": format!(
                    "refused: {why}. Calls that change something are recorded before they \
                     run, so they are refused until it can be written again; reads still work"
                ),
            },
        })
    };
    let body = match msg {
        Some(m) if m.batch => {
            let errors: Vec<Value> = m
                .items
                .iter()
                .filter_map(RpcItem::id)
                .map(|id| error(Some(id)))
                .collect();
            if errors.is_empty() {
                error(None)
            } else {
                Value::Array(errors)
            }
        }
        Some(m) => error(m.items.first().and_then(RpcItem::id)),
        None => error(None),
    };
    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
}

/// Whether a tool call changes something: its row says so, or the tool is unknown (denied by
/// default: recorded).
fn changes(tool: &CalledTool) -> bool {
    tool.entry.is_none_or(|e| e.audited())
}

/// When and by whom a message was sent.
struct Who<'a> {
    at: &'a str,
    client_id: &'a str,
    user: &'a str,
    address: &'a str,
}

fn entry_for(call: &RpcItem, tool: &CalledTool, who: &Who<'_>, record_text: bool) -> AuditEntry {
    let action = tool.name.as_deref().unwrap_or("?");
    let args = call.arguments();
    let arg = |k: &str| args.and_then(|a| a.get(k));
    let session = arg("session")
        .or_else(|| arg("name"))
        .and_then(Value::as_str)
        .map(|s| s.chars().take(128).collect());
    let text: Option<String> =
        tool.entry
            .and_then(|e| e.audit_text)
            .and_then(arg)
            .map(|v| match v {
                // A list of keys is kept as the keys, space-separated.
                Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| i.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
                other => other
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| other.to_string()),
            });
    let detail = match tool.entry.map(|e| e.tool) {
        Some(Tool::CreateSession) => Some(format!(
            "profile={} working_dir={}",
            arg("profile").and_then(Value::as_str).unwrap_or("-"),
            arg("working_dir").and_then(Value::as_str).unwrap_or("-")
        )),
        _ => None,
    };
    AuditEntry {
        at: who.at.to_owned(),
        client_id: who.client_id.to_owned(),
        user: who.user.to_owned(),
        address: who.address.to_owned(),
        action: action.chars().take(64).collect(),
        session,
        text_sha256: text.as_deref().map(sha256_hex),
        text_len: text.as_ref().map(|t| t.len() as i64),
        text: text.filter(|_| record_text),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rusqlite::Connection;

    use super::*;
    use crate::audit::{AuditQuery, PROBE_INTERVAL, database_path, read};

    fn call(name: &str, args: Value) -> Value {
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":name,"arguments":args}})
    }

    fn changes(v: &Value) -> bool {
        RpcMessage::new(v.clone())
            .tool_calls()
            .any(|(_, t)| super::changes(t))
    }

    fn entry_for(v: &Value, record_text: bool) -> AuditEntry {
        let msg = RpcMessage::new(v.clone());
        let (call, tool) = msg.tool_calls().next().expect("a tool call");
        let who = Who {
            at: "t",
            client_id: "cid",
            user: "owner",
            address: "127.0.0.1",
        };
        super::entry_for(call, tool, &who, record_text)
    }

    #[test]
    fn only_calls_that_change_something_are_recorded() {
        assert!(changes(&call("send_message", json!({}))));
        assert!(changes(&call("create_session", json!({}))));
        assert!(changes(&call("who_knows", json!({}))));
        assert!(!changes(&call("get_logs", json!({}))));
        assert!(!changes(
            &json!({"jsonrpc":"2.0","id":1,"method":"tools/list"})
        ));
    }

    #[test]
    fn text_is_hashed_and_kept_only_when_asked() {
        let c = call(
            "send_message",
            json!({"session":"s1","message":"secret plan"}),
        );
        let e = entry_for(&c, false);
        assert_eq!(e.session.as_deref(), Some("s1"));
        assert_eq!(e.text_len, Some(11));
        assert_eq!(
            e.text_sha256.as_deref(),
            Some("c894e0fb797a615a884a512483766f2a0a98c0dde0b27ef48a6dbd01e8780c05")
        );
        assert_eq!(e.text, None);
        let e = entry_for(&c, true);
        assert_eq!(e.text.as_deref(), Some("secret plan"));
        let keys = entry_for(
            &call("send_keys", json!({"session":"s1","keys":["C-c", "Enter"]})),
            true,
        );
        assert_eq!(keys.text.as_deref(), Some("C-c Enter"));
        let created = entry_for(
            &call("create_session", json!({"name":"n","profile":"shell"})),
            true,
        );
        assert_eq!(created.session.as_deref(), Some("n"));
        assert_eq!(
            created.detail.as_deref(),
            Some("profile=shell working_dir=-")
        );
    }

    fn rpc_request(msg: Value) -> Request {
        let mut req = Request::new(axum::body::Body::empty());
        req.extensions_mut().insert(RpcMessage::new(msg));
        req
    }

    fn rows(dir: &Path) -> Vec<AuditEntry> {
        read(
            dir,
            &AuditQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .expect("read")
    }

    #[tokio::test]
    async fn a_changing_call_runs_only_once_its_row_is_committed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::open(dir.path(), false).expect("open");
        // Another connection holds the write lock: the writer cannot commit yet.
        let blocker = Connection::open(database_path(dir.path())).expect("open");
        blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
        let ran = std::sync::atomic::AtomicBool::new(false);
        let req = rpc_request(call("send_message", json!({"session":"s","message":"hi"})));
        let call_runs = async |_req: Request| {
            ran.store(true, std::sync::atomic::Ordering::SeqCst);
            // What the call would do happens only with its row on the disk.
            assert_eq!(rows(dir.path()).len(), 1, "the row is committed first");
            Response::new(axum::body::Body::empty())
        };
        let answer = record(&log, req, call_runs);
        let mut answer = std::pin::pin!(answer);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(answer.as_mut().poll(&mut cx).is_pending());
        assert!(
            !ran.load(std::sync::atomic::Ordering::SeqCst),
            "the call ran before its audit row was committed"
        );
        blocker.execute_batch("ROLLBACK").expect("unlock");
        let resp = answer.await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(ran.load(std::sync::atomic::Ordering::SeqCst));
        // Reads neither wait nor leave a row.
        let read_call = rpc_request(call("get_logs", json!({"session":"s"})));
        let resp = record(&log, read_call, async |_r: Request| {
            Response::new(axum::body::Body::empty())
        })
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(rows(dir.path()).len(), 1);
    }

    #[tokio::test]
    async fn a_call_whose_row_cannot_be_written_is_refused_and_the_log_says_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::open(dir.path(), false).expect("open");
        assert_eq!(log.health(), Ok(()));
        // The writer gives up on a lock held past its busy timeout: an unwritable log.
        let blocker = Connection::open(database_path(dir.path())).expect("open");
        blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
        let req = rpc_request(call("send_keys", json!({"session":"s","keys":["Enter"]})));
        let resp = record(&log, req, async |_r: Request| -> Response {
            panic!("a call without its audit row ran")
        })
        .await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .expect("body");
        let body: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(body["id"], 1, "{body}");
        let msg = body["error"]["message"].as_str().expect("message");
        assert!(msg.contains("audit log cannot be written"), "{msg}");
        assert!(msg.contains("locked"), "{msg}");
        assert!(log.health().is_err());
        // The lock goes away: the writer's probe finds the log writable again by itself.
        blocker.execute_batch("ROLLBACK").expect("unlock");
        drop(blocker);
        for _ in 0..100 {
            if log.health().is_ok() {
                break;
            }
            tokio::time::sleep(PROBE_INTERVAL / 4).await;
        }
        assert_eq!(log.health(), Ok(()));
        assert!(rows(dir.path()).is_empty(), "the refused call left no row");
    }
}
