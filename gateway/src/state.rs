//! What every request handler shares.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use sessiongate_backend::cache::ScreenCache;
use sessiongate_backend::{SessionBackend, SessionPolicy};

/// The gateway's shared state: the backend chosen at startup and the owner's policy.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Where sessions live.
    pub backend: Arc<dyn SessionBackend>,
    /// What clients may create and send.
    pub policy: Arc<SessionPolicy>,
    /// Which sessions are muted for notifications.
    pub notify: Arc<crate::notify::control::NotifyControl>,
    /// Cancelled when the gateway begins to shut down: calls that would wait on (`wait_for`)
    /// answer at once instead of running into the shutdown deadline. [`AppState::new`] gives
    /// a token nobody cancels; the router installs the server's own.
    pub shutdown: CancellationToken,
    /// The remote hosts (creating sessions there, which are unreachable).
    pub hosts: Arc<crate::hosts::HostSet>,
    /// The kept `list_sessions` and `get_session_status` answers (see
    /// [`crate::mcp::kept_answers`]).
    pub kept: Arc<crate::mcp::kept_answers::KeptAnswers>,
}

impl AppState {
    /// Bundles the state. Reads go through a [`ScreenCache`], so an unchanged screen is
    /// read from the backend once.
    pub fn new(backend: Arc<dyn SessionBackend>, policy: Arc<SessionPolicy>) -> Self {
        let screens = Arc::new(ScreenCache::new(backend));
        let kept = Arc::new(crate::mcp::kept_answers::KeptAnswers::new(screens.clone()));
        AppState {
            backend: screens,
            kept,
            policy,
            notify: Arc::new(crate::notify::control::NotifyControl::disabled()),
            shutdown: CancellationToken::new(),
            hosts: Arc::default(),
        }
    }

    /// The same state with the remote hosts (see [`crate::hosts::HostSet::build`]).
    pub fn with_hosts(mut self, hosts: Arc<crate::hosts::HostSet>) -> Self {
        self.hosts = hosts;
        self
    }

    /// The same state with the notifier's mutes (see [`crate::notify::Notifier::control`]).
    pub fn with_notify(mut self, notify: Arc<crate::notify::control::NotifyControl>) -> Self {
        self.notify = notify;
        self
    }
}
