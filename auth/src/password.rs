//! The owner's password: an argon2id hash in `owner-password` in the data directory, and
//! [`PasswordChecker`], which checks login attempts against it.
//!
//! Each argon2id check needs 19 MiB of working memory. Checks run one at a time on a thread of
//! their own that keeps that memory for the next check while logins keep coming, and gives it
//! back to the system once they stop ([`KEEP_MEMORY`]). Checks spread over the blocking pool's
//! threads each allocated and freed their own 19 MiB, which glibc kept in per-thread arenas:
//! the gateway stayed at hundreds of megabytes after a few dozen logins, and at gigabytes
//! after a burst. At most [`MAX_WAITING`] checks wait for the thread; more are refused as busy
//! rather than queued without bound.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version};
use tokio::sync::oneshot;

use crate::error::AuthError;
use crate::store::restrict_permissions;

/// The shortest password `sessiongate passwd` accepts.
pub(crate) const MIN_PASSWORD_LEN: usize = 12;

/// How many checks may wait while one runs; the login limits already keep this small, so a
/// full queue means a flood.
pub(crate) const MAX_WAITING: usize = 4;

/// How long the checker keeps its working memory after the last check.
pub(crate) const KEEP_MEMORY: Duration = Duration::from_secs(5);

/// The largest working memory a stored hash may ask for (its `m` parameter), in KiB blocks: a
/// hash file edited by hand must not make a login allocate without bound.
const MAX_BLOCKS: usize = 256 * 1024;

/// The address space reserved for the working memory, in KiB blocks, at the least: more than
/// glibc's largest mmap threshold (32 MiB), so that the allocation is always a mapping of its
/// own that goes back to the system when it is freed. Smaller ones raise the threshold once
/// freed, and the next one then comes from an arena that keeps it. Reserved pages that are
/// never written cost no memory.
const OWN_MAPPING_BLOCKS: usize = 33 * 1024;

fn path(dir: &Path) -> PathBuf {
    dir.join("owner-password")
}

/// Whether a password is set.
pub(crate) fn is_set(dir: &Path) -> bool {
    path(dir).exists()
}

/// Stores the hash of `password`.
pub(crate) fn set(dir: &Path, password: &str) -> Result<(), AuthError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AuthError::bad(
            "invalid_request",
            format!("the password must have at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| AuthError::Crypto(format!("hashing the password: {e}")))?
        .to_string();
    let p = path(dir);
    let tmp = dir.join("owner-password.tmp");
    let io = |source| AuthError::Io {
        context: format!("writing {}", p.display()),
        source,
    };
    std::fs::write(&tmp, hash.as_bytes()).map_err(io)?;
    restrict_permissions(&tmp)?;
    std::fs::rename(&tmp, &p).map_err(io)?;
    Ok(())
}

/// The checker was busy (or could not run): the password was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Busy;

/// One check for the checker thread.
struct Job {
    password: String,
    answer: oneshot::Sender<bool>,
}

/// Checks passwords against the stored hash, one at a time, on a thread of its own (started
/// on first use, ended when the checker is dropped).
#[derive(Debug)]
pub(crate) struct PasswordChecker {
    dir: PathBuf,
    jobs: OnceLock<Option<SyncSender<Job>>>,
}

impl PasswordChecker {
    /// A checker for the hash in the data directory `dir`.
    pub(crate) fn new(dir: &Path) -> Self {
        PasswordChecker {
            dir: dir.to_path_buf(),
            jobs: OnceLock::new(),
        }
    }

    /// Whether `password` is the owner's. No stored hash means no password matches.
    pub(crate) async fn check(&self, password: String) -> Result<bool, Busy> {
        let Some(jobs) = self.jobs.get_or_init(|| self.start()) else {
            return Err(Busy);
        };
        let (answer, answered) = oneshot::channel();
        match jobs.try_send(Job { password, answer }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Busy),
            Err(TrySendError::Disconnected(_)) => {
                tracing::error!("the password checker thread is gone");
                return Err(Busy);
            }
        }
        answered.await.map_err(|_| Busy)
    }

    fn start(&self) -> Option<SyncSender<Job>> {
        let (jobs, queue) = sync_channel(MAX_WAITING);
        let dir = self.dir.clone();
        match std::thread::Builder::new()
            .name("sessiongate-password".into())
            .spawn(move || run(&dir, &queue))
        {
            Ok(_) => Some(jobs),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the password checker thread");
                None
            }
        }
    }
}

/// The checker thread: answers jobs until every sender is gone, with one working memory that
/// it frees when no job has come for [`KEEP_MEMORY`].
fn run(dir: &Path, queue: &Receiver<Job>) {
    let mut memory = Vec::new();
    loop {
        let job = match queue.recv_timeout(KEEP_MEMORY) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                memory = Vec::new();
                match queue.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let ok = verify(dir, &job.password, &mut memory);
        // The login may have been abandoned meanwhile; then nobody waits for the answer.
        let _ = job.answer.send(ok);
    }
}

/// Checks `password` against the stored hash, with `memory` as argon2's working memory
/// (grown to the hash's size once, then reused).
fn verify(dir: &Path, password: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(stored) = std::fs::read_to_string(path(dir)) else {
        return false;
    };
    match verify_hash(stored.trim(), password.as_bytes(), memory) {
        Ok(ok) => ok,
        Err(e) => {
            tracing::error!(
                error = %e,
                "the stored owner password hash is unusable; set it again with `sessiongate passwd`"
            );
            false
        }
    }
}

fn verify_hash(stored: &str, password: &[u8], memory: &mut Vec<Block>) -> Result<bool, String> {
    let hash = PasswordHash::new(stored).map_err(|e| e.to_string())?;
    let algorithm = Algorithm::new(hash.algorithm.as_str()).map_err(|e| e.to_string())?;
    let version = match hash.version {
        Some(v) => Version::try_from(v).map_err(|e| e.to_string())?,
        None => Version::default(),
    };
    let params = Params::try_from(&hash).map_err(|e| e.to_string())?;
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return Err("the hash has no salt or no output".into());
    };
    let blocks = params.block_count();
    if blocks > MAX_BLOCKS {
        return Err(format!("the hash asks for {blocks} KiB of memory"));
    }
    if memory.len() < blocks {
        *memory = Vec::with_capacity(blocks.max(OWN_MAPPING_BLOCKS));
        memory.resize(blocks, Block::new());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt.as_ref(), &mut out, &mut memory[..blocks])
        .map_err(|e| e.to_string())?;
    Ok(crate::util::ct_eq_bytes(&out, expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};

    use super::{MAX_BLOCKS, verify_hash};

    fn hash(password: &str, m_cost: u32) -> String {
        let params = Params::new(m_cost, 1, 1, None).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(password.as_bytes())
            .unwrap()
            .to_string()
    }

    #[test]
    fn one_working_memory_serves_hashes_of_every_size() {
        let mut memory = Vec::new();
        let (small, large) = (hash("pass phrase", 64), hash("pass phrase", 1024));
        for stored in [&large, &small, &large] {
            assert_eq!(verify_hash(stored, b"pass phrase", &mut memory), Ok(true));
            assert_eq!(verify_hash(stored, b"pass phrasE", &mut memory), Ok(false));
        }
        // The memory grew once, to the largest hash, and was reused since.
        assert_eq!(memory.len(), 1024);
    }

    #[test]
    fn a_hash_asking_for_too_much_memory_is_refused_without_allocating() {
        let mut memory = Vec::new();
        let stored = hash("pass phrase", 64).replace("m=64", &format!("m={}", 4 * MAX_BLOCKS));
        assert!(verify_hash(&stored, b"pass phrase", &mut memory).is_err());
        assert!(memory.is_empty());
        assert!(verify_hash("$argon2id$nonsense", b"x", &mut memory).is_err());
    }
}
