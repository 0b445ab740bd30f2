//! The audit log's writer thread and group commit.
//!
//! The thread owns the SQLite connection. Each changing call hands it its rows together with
//! a waiter; the thread takes everything queued, writes it in one transaction, commits
//! (`synchronous = FULL`: the rows are on the disk when the commit returns) and only then
//! answers every waiter in that batch. While it commits, new calls queue up and go into the
//! next transaction, so concurrent calls share one commit instead of waiting in line.
//!
//! When a commit fails (a full disk, a read-only file system) the waiters get the reason and
//! their calls are refused; the log counts as unwritable, which `/healthz` reports, until a
//! later commit succeeds. While it is unwritable the thread also rewrites a one-row probe
//! table every [`PROBE_INTERVAL`], so that the log turns healthy again by itself once space
//! is back, even when no call comes.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, params};
use tokio::sync::oneshot;

use super::AuditEntry;

/// How often an unwritable log tries a write of its own.
pub(crate) const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Why the audit log cannot be written; a changing call is refused with this.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the audit log cannot be written: {cause}")]
pub struct Unwritable {
    /// The cause in plain words ("disk full (SQLite: database or disk is full)").
    pub cause: String,
}

/// Rows of one call and who waits for their commit.
struct Batch {
    entries: Vec<AuditEntry>,
    done: oneshot::Sender<Result<(), Unwritable>>,
}

/// The handle the rest of the gateway holds.
#[derive(Debug)]
pub(super) struct Writer {
    tx: Mutex<Option<Sender<Batch>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Why the last commit failed, until one succeeds.
    failing: Arc<Mutex<Option<Unwritable>>>,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl Writer {
    /// Starts the thread on `conn`, the database in `dir`.
    pub(super) fn start(conn: Connection, dir: PathBuf) -> std::io::Result<Writer> {
        let (tx, rx) = channel();
        let failing = Arc::new(Mutex::new(None));
        let thread = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn({
                let failing = failing.clone();
                move || write_loop(conn, &dir, &rx, &failing)
            })?;
        Ok(Writer {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            failing,
        })
    }

    /// Hands `entries` to the thread and waits until they are committed.
    pub(super) async fn write(&self, entries: Vec<AuditEntry>) -> Result<(), Unwritable> {
        let (done, committed) = oneshot::channel();
        let sent = match self.tx.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(tx) => tx.send(Batch { entries, done }).is_ok(),
            None => false,
        };
        if !sent {
            return Err(stopped());
        }
        committed.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// `Ok` while the log takes writes; otherwise why not.
    pub(super) fn health(&self) -> Result<(), Unwritable> {
        let running = self
            .thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|t| !t.is_finished());
        if !running {
            return Err(stopped());
        }
        match &*self.failing.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(why) => Err(why.clone()),
            None => Ok(()),
        }
    }

    /// Commits what is queued and stops the thread; later writes are refused.
    pub(super) fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

fn stopped() -> Unwritable {
    Unwritable {
        cause: "the audit writer has stopped".into(),
    }
}

fn write_loop(
    mut conn: Connection,
    dir: &std::path::Path,
    rx: &Receiver<Batch>,
    failing: &Mutex<Option<Unwritable>>,
) {
    loop {
        let unwritable = failing.lock().unwrap_or_else(|p| p.into_inner()).is_some();
        let first = if unwritable {
            match rx.recv_timeout(PROBE_INTERVAL) {
                Ok(b) => Some(b),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match rx.recv() {
                Ok(b) => Some(b),
                Err(_) => return,
            }
        };
        let batches: Vec<Batch> = first.into_iter().chain(rx.try_iter()).collect();
        let outcome = commit(&mut conn, &batches).map_err(|err| Unwritable {
            cause: crate::storage::describe_sqlite(dir, &err),
        });
        note(failing, &outcome, dir);
        for b in batches {
            let _ = b.done.send(outcome.clone());
        }
    }
}

/// Writes every batch's rows in one transaction, or only the probe row when there are none.
fn commit(conn: &mut Connection, batches: &[Batch]) -> rusqlite::Result<()> {
    // IMMEDIATE: the write lock is taken (waiting out the busy timeout) before anything is
    // read, so another writer of the database (the authorization server) cannot turn this
    // transaction stale.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    if batches.is_empty() {
        tx.execute(
            "INSERT OR REPLACE INTO audit_probe (id, at) VALUES (1, ?1)",
            params![crate::notify::event::now_rfc3339()],
        )?;
    }
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO audit (at, client_id, user, address, action, session, \
             text_sha256, text_len, text, detail) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for e in batches.iter().flat_map(|b| &b.entries) {
            insert.execute(params![
                e.at,
                e.client_id,
                e.user,
                e.address,
                e.action,
                e.session,
                e.text_sha256,
                e.text_len,
                e.text,
                e.detail
            ])?;
        }
    }
    tx.commit()
}

/// Records the outcome of a commit for [`Writer::health`], logging each change once.
fn note(
    failing: &Mutex<Option<Unwritable>>,
    outcome: &Result<(), Unwritable>,
    dir: &std::path::Path,
) {
    let mut failing = failing.lock().unwrap_or_else(|p| p.into_inner());
    match (outcome, failing.as_ref()) {
        (Ok(()), Some(_)) => {
            tracing::warn!(dir = %dir.display(), "the audit log can be written again; changing calls are accepted");
            *failing = None;
        }
        (Err(why), was) => {
            if was != Some(why) {
                tracing::error!(dir = %dir.display(), cause = %why.cause, "the audit log cannot be written; changing calls are refused until it can");
            }
            *failing = Some(why.clone());
        }
        (Ok(()), None) => {}
    }
}
