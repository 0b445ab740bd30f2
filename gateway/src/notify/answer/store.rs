//! The answer tokens in the data directory's SQLite database (`auth.db`, next to the sent
//! notifications): only each token's SHA-256 is kept, with what it answers and until when.
//!
//! A token is used at most once: [`AnswerStore::claim`] marks it used in the same statement
//! that checks it is unused and unexpired, so two requests racing for it cannot both win.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use crate::notify::store::StoreError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notify_answers (
  hash TEXT PRIMARY KEY,
  session TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  option_index INTEGER NOT NULL,
  label TEXT NOT NULL,
  channel TEXT NOT NULL,
  mode TEXT NOT NULL,
  question TEXT NOT NULL,
  context TEXT NOT NULL,
  expires INTEGER NOT NULL,
  used_at INTEGER);
CREATE INDEX IF NOT EXISTS notify_answers_expires ON notify_answers (expires);
";

/// How long rows are kept after they expire (so that a late tap says "expired", not
/// "unknown").
const KEEP_EXPIRED_SECS: i64 = 24 * 60 * 60;

/// What one answer token answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerRow {
    /// The session it answers.
    pub session: String,
    /// The fingerprint of the prompt it was made for.
    pub fingerprint: String,
    /// The option's position on that prompt (0-based, screen order).
    pub option_index: usize,
    /// The option's label.
    pub label: String,
    /// The channel it was sent through.
    pub channel: String,
    /// `login` or `link`.
    pub mode: String,
    /// The question, for the page.
    pub question: String,
    /// The context lines, for the page.
    pub context: Vec<String>,
    /// Unix seconds after which it no longer answers.
    pub expires: i64,
    /// When it was used, if it was.
    pub used_at: Option<i64>,
}

/// What a token's lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// No such token.
    Unknown,
    /// It was used already.
    Used(AnswerRow),
    /// It expired.
    Expired(AnswerRow),
    /// It may answer.
    Live(AnswerRow),
}

/// The answer tokens' table.
#[derive(Debug)]
pub struct AnswerStore {
    conn: Mutex<Connection>,
}

impl AnswerStore {
    /// Opens (and creates) the table in the data directory's database.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let conn = crate::audit::open_database(&crate::audit::database_path(data_dir), SCHEMA)?;
        Ok(AnswerStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores a token by its hash, and forgets tokens that expired long ago.
    pub fn insert(&self, hash: &str, row: &AnswerRow, now: i64) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM notify_answers WHERE expires < ?1",
            params![now - KEEP_EXPIRED_SECS],
        )?;
        conn.execute(
            "INSERT INTO notify_answers (hash, session, fingerprint, option_index, label, \
             channel, mode, question, context, expires) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                hash,
                row.session,
                row.fingerprint,
                row.option_index as i64,
                row.label,
                row.channel,
                row.mode,
                row.question,
                row.context.join("\n"),
                row.expires,
            ],
        )?;
        Ok(())
    }

    /// What the token with this hash is, at `now`.
    pub fn lookup(&self, hash: &str, now: i64) -> Result<Lookup, StoreError> {
        let row = self
            .conn()
            .query_row(
                "SELECT session, fingerprint, option_index, label, channel, mode, question, \
                 context, expires, used_at FROM notify_answers WHERE hash = ?1",
                params![hash],
                |r| {
                    let context: String = r.get(7)?;
                    Ok(AnswerRow {
                        session: r.get(0)?,
                        fingerprint: r.get(1)?,
                        option_index: r.get::<_, i64>(2)?.max(0) as usize,
                        label: r.get(3)?,
                        channel: r.get(4)?,
                        mode: r.get(5)?,
                        question: r.get(6)?,
                        context: context
                            .lines()
                            .filter(|l| !l.is_empty())
                            .map(str::to_owned)
                            .collect(),
                        expires: r.get(8)?,
                        used_at: r.get(9)?,
                    })
                },
            )
            .optional()?;
        Ok(match row {
            None => Lookup::Unknown,
            Some(r) if r.used_at.is_some() => Lookup::Used(r),
            Some(r) if r.expires <= now => Lookup::Expired(r),
            Some(r) => Lookup::Live(r),
        })
    }

    /// Marks the token used if it is unused and unexpired at `now`; `false` when another
    /// request used it first or it expired.
    pub fn claim(&self, hash: &str, now: i64) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE notify_answers SET used_at = ?2 \
             WHERE hash = ?1 AND used_at IS NULL AND expires > ?2",
            params![hash, now],
        )?;
        Ok(n == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_claimed_once_and_not_after_it_expires() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = AnswerStore::open(dir.path()).expect("open");
        let row = AnswerRow {
            session: "s".into(),
            fingerprint: "f".into(),
            option_index: 1,
            label: "no".into(),
            channel: "hook".into(),
            mode: "link".into(),
            question: "Go?".into(),
            context: vec!["rm -rf build".into()],
            expires: 100,
            used_at: None,
        };
        store.insert("h1", &row, 0).expect("insert");
        store.insert("h2", &row, 0).expect("insert");
        assert_eq!(store.lookup("nope", 0).expect("lookup"), Lookup::Unknown);
        assert_eq!(
            store.lookup("h1", 50).expect("lookup"),
            Lookup::Live(row.clone())
        );
        assert!(store.claim("h1", 50).expect("claim"));
        assert!(!store.claim("h1", 51).expect("claim again"));
        assert!(matches!(
            store.lookup("h1", 52).expect("lookup"),
            Lookup::Used(_)
        ));
        assert!(matches!(
            store.lookup("h2", 100).expect("lookup"),
            Lookup::Expired(_)
        ));
        assert!(!store.claim("h2", 100).expect("claim expired"));
    }
}
