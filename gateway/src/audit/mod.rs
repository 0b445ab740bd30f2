//! The audit log: every tool call that changes something (sends text or keys, answers a
//! prompt, creates or terminates a session) is recorded with its time, OAuth client, user,
//! client address, session and action, and a SHA-256 and length of the text sent. The text
//! itself is kept only when the owner turns that on (`audit_record_text = true`); tokens
//! never are.
//!
//! Entries live in the `audit` table of the SQLite database (`auth.db` in the data
//! directory), which triggers make append-only: an UPDATE or DELETE is aborted. A call runs
//! only once its row is committed to the disk, and is refused when the row cannot be written
//! (fail closed); concurrent calls share commits (`writer`). [`AuditLog::close`] stops the
//! writer at shutdown. `sessiongate audit` reads the table.

mod writer;

use std::path::{Path, PathBuf};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use rusqlite::{Connection, params};
use serde::Serialize;
use serde_json::{Value, json};

use sessiongate_auth::{ClientIp, Principal};

use crate::error::Error;
use crate::checks::rpc::RpcMessage;
use crate::mcp::scopes::scope_for_tool;

pub use writer::Unwritable;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  client_id TEXT NOT NULL,
  user TEXT NOT NULL,
  address TEXT NOT NULL,
  action TEXT NOT NULL,
  session TEXT,
  text_sha256 TEXT,
  text_len INTEGER,
  text TEXT,
  detail TEXT);
CREATE TRIGGER IF NOT EXISTS audit_append_only_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_append_only_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS audit_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL);
";

/// One recorded action.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry {
    /// When, RFC 3339 UTC.
    pub at: String,
    /// The OAuth client (`-` without authentication).
    pub client_id: String,
    /// The token's subject: who approved the client.
    pub user: String,
    /// The client's address (after trusted proxies).
    pub address: String,
    /// The tool.
    pub action: String,
    /// The session it acted on, when it names one.
    pub session: Option<String>,
    /// SHA-256 (hex) of the text or keys sent.
    pub text_sha256: Option<String>,
    /// Length in bytes of the text or keys sent.
    pub text_len: Option<i64>,
    /// The text itself, only when the owner turned that on.
    pub text: Option<String>,
    /// What else identifies the action (profile and directory of a new session).
    pub detail: Option<String>,
}

/// The append-only audit log and its writer thread.
#[derive(Debug)]
pub struct AuditLog {
    writer: writer::Writer,
    record_text: bool,
}

/// The database file that holds the audit table.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("auth.db")
}

fn open(path: &Path) -> Result<Connection, Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let io = |e: rusqlite::Error| {
        Error::Refused(format!(
            "the audit log {} cannot be opened: {}",
            path.display(),
            crate::storage::describe_sqlite(dir, &e)
        ))
    };
    let conn = Connection::open(path).map_err(io)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(io)?;
    // A commit returns once the rows are on the disk: a call runs only after that.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(io)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(io)?;
    conn.execute_batch(SCHEMA).map_err(io)?;
    Ok(conn)
}

impl AuditLog {
    /// Opens the audit table in the data directory's database and starts the writer.
    pub fn open(data_dir: &Path, record_text: bool) -> Result<Self, Error> {
        let path = database_path(data_dir);
        let conn = open(&path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        let writer =
            writer::Writer::start(conn, data_dir.to_path_buf()).map_err(|source| Error::Io {
                context: "starting the audit writer".into(),
                source,
            })?;
        Ok(AuditLog {
            writer,
            record_text,
        })
    }

    /// Writes entries and returns once they are committed to the disk, or why they could
    /// not be.
    pub async fn record(&self, entries: Vec<AuditEntry>) -> Result<(), Unwritable> {
        self.writer.write(entries).await
    }

    /// `Ok` while the log takes writes; otherwise why not (for `/healthz`). An unwritable
    /// log turns healthy again by itself once a write succeeds.
    pub fn health(&self) -> Result<(), Unwritable> {
        self.writer.health()
    }

    /// Commits what is queued and stops the writer. Later entries are refused.
    pub fn close(&self) {
        self.writer.close();
    }
}

/// The current time, RFC 3339 UTC.
fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A filter for [`read`].
#[derive(Debug, Default, Clone)]
pub struct AuditQuery {
    /// The newest this many entries.
    pub limit: usize,
    /// Only this session.
    pub session: Option<String>,
    /// Only this OAuth client.
    pub client_id: Option<String>,
}

/// Reads entries, oldest first, from the data directory's database.
pub fn read(data_dir: &Path, q: &AuditQuery) -> Result<Vec<AuditEntry>, Error> {
    let path = database_path(data_dir);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let conn = open(&path)?;
    let io = |e: rusqlite::Error| Error::Refused(format!("audit log {}: {e}", path.display()));
    let mut stmt = conn
        .prepare(
            "SELECT at, client_id, user, address, action, session, text_sha256, text_len, text, \
             detail FROM audit \
             WHERE (?1 IS NULL OR session = ?1) AND (?2 IS NULL OR client_id = ?2) \
             ORDER BY id DESC LIMIT ?3",
        )
        .map_err(io)?;
    let rows = stmt
        .query_map(params![q.session, q.client_id, q.limit as i64], |r| {
            Ok(AuditEntry {
                at: r.get(0)?,
                client_id: r.get(1)?,
                user: r.get(2)?,
                address: r.get(3)?,
                action: r.get(4)?,
                session: r.get(5)?,
                text_sha256: r.get(6)?,
                text_len: r.get(7)?,
                text: r.get(8)?,
                detail: r.get(9)?,
            })
        })
        .map_err(io)?;
    let mut out = rows.collect::<Result<Vec<_>, _>>().map_err(io)?;
    out.reverse();
    Ok(out)
}

/// The middleware on `/mcp`, behind the bearer check and the JSON-RPC guard: records every
/// tool call that needs more than the read scope before the call runs, and lets the call run
/// only once its row is committed to the disk. A client that hangs up mid-call cannot leave
/// its action unrecorded, and neither can a crash of the gateway. When the row cannot be
/// written, the call is refused (503 with a JSON-RPC error that says why); reads pass
/// without waiting.
pub async fn record(
    log: &AuditLog,
    req: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    let entries = {
        let calls: Vec<&Value> = match req.extensions().get::<RpcMessage>() {
            Some(RpcMessage(Value::Array(items))) => items.iter().filter(|m| changes(m)).collect(),
            Some(RpcMessage(m)) if changes(m) => vec![m],
            _ => Vec::new(),
        };
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
        calls
            .into_iter()
            .map(|call| entry_for(call, &at, client_id, user, &address, log.record_text))
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
        Some(RpcMessage(Value::Array(items))) => {
            let errors: Vec<Value> = items
                .iter()
                .filter_map(|m| m.get("id"))
                .map(|id| error(Some(id)))
                .collect();
            if errors.is_empty() {
                error(None)
            } else {
                Value::Array(errors)
            }
        }
        Some(RpcMessage(m)) => error(m.get("id")),
        None => error(None),
    };
    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
}

/// Whether a message is a tool call that needs more than `sessions:read`.
fn changes(msg: &Value) -> bool {
    msg.get("method").and_then(Value::as_str) == Some("tools/call")
        && msg
            .get("params")
            .and_then(|p| p.get("name"))
            .and_then(Value::as_str)
            .is_none_or(|name| scope_for_tool(name) != "sessions:read")
}

fn entry_for(
    call: &Value,
    at: &str,
    client_id: &str,
    user: &str,
    address: &str,
    record_text: bool,
) -> AuditEntry {
    let params = call.get("params");
    let action = params
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    let args = params.and_then(|p| p.get("arguments"));
    let arg = |k: &str| args.and_then(|a| a.get(k));
    let session = arg("session")
        .or_else(|| arg("name"))
        .and_then(Value::as_str)
        .map(|s| s.chars().take(128).collect());
    let text: Option<String> = match action {
        "send_message" => arg("message").and_then(Value::as_str).map(str::to_owned),
        "respond_to_prompt" => arg("answer").and_then(Value::as_str).map(str::to_owned),
        "send_keys" => arg("keys").map(|k| match k {
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
        }),
        _ => None,
    };
    let detail = match action {
        "create_session" => Some(format!(
            "profile={} working_dir={}",
            arg("profile").and_then(Value::as_str).unwrap_or("-"),
            arg("working_dir").and_then(Value::as_str).unwrap_or("-")
        )),
        _ => None,
    };
    AuditEntry {
        at: at.to_owned(),
        client_id: client_id.to_owned(),
        user: user.to_owned(),
        address: address.to_owned(),
        action: action.chars().take(64).collect(),
        session,
        text_sha256: text.as_deref().map(sha256_hex),
        text_len: text.as_ref().map(|t| t.len() as i64),
        text: text.filter(|_| record_text),
        detail,
    }
}

fn sha256_hex(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(name: &str, args: Value) -> Value {
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":name,"arguments":args}})
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
        let e = entry_for(&c, "t", "cid", "owner", "127.0.0.1", false);
        assert_eq!(e.session.as_deref(), Some("s1"));
        assert_eq!(e.text_len, Some(11));
        assert_eq!(
            e.text_sha256.as_deref(),
            Some("c894e0fb797a615a884a512483766f2a0a98c0dde0b27ef48a6dbd01e8780c05")
        );
        assert_eq!(e.text, None);
        let e = entry_for(&c, "t", "cid", "owner", "127.0.0.1", true);
        assert_eq!(e.text.as_deref(), Some("secret plan"));
    }

    #[tokio::test]
    async fn the_table_is_append_only_and_survives_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::open(dir.path(), false).expect("open");
        let c = call("terminate_session", json!({"session":"gone"}));
        log.record(vec![entry_for(
            &c,
            "2026-01-01T00:00:00Z",
            "cid",
            "owner",
            "::1",
            false,
        )])
        .await
        .expect("recorded");
        log.close();
        let conn = open(&database_path(dir.path())).expect("reopen");
        let err = conn
            .execute("DELETE FROM audit", [])
            .expect_err("delete refused");
        assert!(err.to_string().contains("append-only"), "{err}");
        let err = conn
            .execute("UPDATE audit SET user = 'x'", [])
            .expect_err("update refused");
        assert!(err.to_string().contains("append-only"), "{err}");
        let rows = read(
            dir.path(),
            &AuditQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .expect("read");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].action, "terminate_session");
        assert_eq!(rows[0].session.as_deref(), Some("gone"));
    }

    fn rpc_request(msg: Value) -> Request {
        let mut req = Request::new(axum::body::Body::empty());
        req.extensions_mut().insert(RpcMessage(msg));
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
            tokio::time::sleep(writer::PROBE_INTERVAL / 4).await;
        }
        assert_eq!(log.health(), Ok(()));
        assert!(rows(dir.path()).is_empty(), "the refused call left no row");
    }
}
