//! What the notifier remembers across restarts, in the data directory's SQLite database
//! (the same `auth.db` as the audit log): the ids of events already sent, and the muted
//! sessions.
//!
//! An event is claimed (inserted) before it is queued, so that it is sent at most once even
//! when the gateway restarts while the prompt is still on screen. A waiting prompt's row is
//! removed when the prompt is gone, so that the same question asked again later is news.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, params};

use super::event::now_rfc3339;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notify_sent (
  id TEXT PRIMARY KEY,
  session TEXT NOT NULL,
  event TEXT NOT NULL,
  at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS notify_sent_session ON notify_sent (session);
CREATE TABLE IF NOT EXISTS notify_muted (
  session TEXT PRIMARY KEY,
  at TEXT NOT NULL);
";

/// Why the notifier's table could not be used.
#[derive(Debug, thiserror::Error)]
#[error("notification state: {0}")]
pub struct StoreError(#[from] rusqlite::Error);

/// The notifier's tables.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (and creates) the tables in the data directory's database.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let conn = crate::audit::open_database(&crate::audit::database_path(data_dir), SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that event `id` is being sent; `false` when it was already.
    pub fn claim(&self, id: &str, session: &str, event: &str) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "INSERT OR IGNORE INTO notify_sent (id, session, event, at) VALUES (?1, ?2, ?3, ?4)",
            params![id, session, event, now_rfc3339()],
        )?;
        Ok(n == 1)
    }

    /// Forgets the session's waiting prompts other than `keep`: they are no longer on screen.
    pub fn forget_waiting(&self, session: &str, keep: Option<&str>) -> Result<(), StoreError> {
        self.conn().execute(
            "DELETE FROM notify_sent WHERE session = ?1 AND event = 'waiting' AND id != ?2",
            params![session, keep.unwrap_or("")],
        )?;
        Ok(())
    }

    /// Forgets everything about a session that no longer exists.
    pub fn forget_session(&self, session: &str) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM notify_sent WHERE session = ?1",
            params![session],
        )?;
        conn.execute(
            "DELETE FROM notify_muted WHERE session = ?1",
            params![session],
        )?;
        Ok(())
    }

    /// Mutes or unmutes a session.
    pub fn set_muted(&self, session: &str, muted: bool) -> Result<(), StoreError> {
        let conn = self.conn();
        if muted {
            conn.execute(
                "INSERT OR REPLACE INTO notify_muted (session, at) VALUES (?1, ?2)",
                params![session, now_rfc3339()],
            )?;
        } else {
            conn.execute(
                "DELETE FROM notify_muted WHERE session = ?1",
                params![session],
            )?;
        }
        Ok(())
    }

    /// The muted sessions.
    pub fn muted(&self) -> Result<HashSet<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT session FROM notify_muted")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_claimed_once_and_a_gone_prompt_is_forgotten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        assert!(store.claim("a", "s", "waiting").expect("claim"));
        assert!(!store.claim("a", "s", "waiting").expect("claim"));
        // Reopened, as after a restart.
        let store = Store::open(dir.path()).expect("reopen");
        assert!(!store.claim("a", "s", "waiting").expect("claim"));
        store.forget_waiting("s", Some("a")).expect("forget");
        assert!(!store.claim("a", "s", "waiting").expect("claim"));
        store.forget_waiting("s", None).expect("forget");
        assert!(store.claim("a", "s", "waiting").expect("claim"));
        store.set_muted("s", true).expect("mute");
        assert!(store.muted().expect("muted").contains("s"));
        store.forget_session("s").expect("forget");
        assert!(store.muted().expect("muted").is_empty());
        assert!(store.claim("a", "s", "waiting").expect("claim"));
    }
}
