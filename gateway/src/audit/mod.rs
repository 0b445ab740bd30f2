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

#[cfg(test)]
pub(crate) use writer::PROBE_INTERVAL;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::error::Error;

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
    pub(crate) record_text: bool,
}

/// The database file that holds the audit table.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("auth.db")
}

/// A connection to the data directory's database (`path`), as every table the gateway keeps
/// there uses it: WAL, `synchronous = FULL` (a commit returns once the rows are on the disk),
/// a 5 s busy timeout, and `schema` created if missing.
pub(crate) fn open_database(path: &Path, schema: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(schema)?;
    Ok(conn)
}

fn open(path: &Path) -> Result<Connection, Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    open_database(path, SCHEMA).map_err(|e| {
        Error::Refused(format!(
            "the audit log {} cannot be opened: {}",
            path.display(),
            crate::storage::describe_sqlite(dir, &e)
        ))
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_table_is_append_only_and_survives_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::open(dir.path(), false).expect("open");
        log.record(vec![AuditEntry {
            at: "2026-01-01T00:00:00Z".into(),
            client_id: "cid".into(),
            user: "owner".into(),
            address: "::1".into(),
            action: "terminate_session".into(),
            session: Some("gone".into()),
            text_sha256: None,
            text_len: None,
            text: None,
            detail: None,
        }])
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
}
