//! The notifier's switches that tools reach through [`crate::state::AppState`]: which
//! sessions are muted (`set_notifications`), and whether any channel is configured at all.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::answer::Answers;
use super::store::{Store, StoreError};

/// Mutes per session, kept in memory and (when notifications are on) in the database; and the
/// answer URLs' service, when notifications carry them.
#[derive(Debug, Default)]
pub struct NotifyControl {
    muted: Mutex<HashSet<String>>,
    store: Option<Arc<Store>>,
    /// Installed once, after the control may already be shared (so not behind `&mut`).
    answers: OnceLock<Arc<Answers>>,
    /// Bumped after every change of `muted` (answers that show mutes are kept until it moves).
    generation: AtomicU64,
}

impl NotifyControl {
    /// No channels: nothing is sent, and mutes are only remembered until the gateway stops.
    pub fn disabled() -> Self {
        NotifyControl::default()
    }

    /// Notifications on, with the mutes read from `store`.
    pub fn with_store(store: Arc<Store>) -> Result<Self, StoreError> {
        Ok(NotifyControl {
            muted: Mutex::new(store.muted()?),
            store: Some(store),
            answers: OnceLock::new(),
            generation: AtomicU64::new(0),
        })
    }

    /// The answer URLs' service, if notifications carry answer URLs.
    pub fn answers(&self) -> Option<Arc<Answers>> {
        self.answers.get().cloned()
    }

    /// Installs the answer URLs' service; `false` if one was installed already (it stays).
    pub(super) fn set_answers(&self, answers: Arc<Answers>) -> bool {
        self.answers.set(answers).is_ok()
    }

    /// Whether any channel is configured.
    pub fn enabled(&self) -> bool {
        self.store.is_some()
    }

    fn set(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.muted.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `session` is muted.
    pub fn is_muted(&self, session: &str) -> bool {
        self.set().contains(session)
    }

    /// Mutes (`enabled = false`) or unmutes a session, durably.
    pub async fn set_enabled(&self, session: &str, enabled: bool) -> Result<(), StoreError> {
        if let Some(store) = self.store.clone() {
            let s = session.to_owned();
            tokio::task::spawn_blocking(move || store.set_muted(&s, !enabled))
                .await
                .unwrap_or(Ok(()))?;
        }
        let mut set = self.set();
        if enabled {
            set.remove(session);
        } else {
            set.insert(session.to_owned());
        }
        self.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Forgets a session that no longer exists (a new one by that name starts unmuted).
    pub(crate) fn forget(&self, session: &str) {
        self.set().remove(session);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// A count that moves whenever a mute changes.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_urls_installed_after_the_control_is_shared_reach_every_holder() {
        let dir = tempfile::tempdir().unwrap();
        let control = Arc::new(NotifyControl::disabled());
        let shared = control.clone();
        let ttl = std::time::Duration::from_secs(60);
        let answers = Answers::open(dir.path(), "https://gw.example", ttl, None).unwrap();
        assert!(control.set_answers(Arc::new(answers)));
        assert!(shared.answers().is_some(), "the other holder sees them");
        let again = Answers::open(dir.path(), "https://other.example", ttl, None).unwrap();
        assert!(!control.set_answers(Arc::new(again)), "installed once");
    }
}
