//! What every request handler shares.

use std::sync::Arc;

use sessiongate_backend::{SessionBackend, SessionPolicy};

/// The gateway's shared state: the backend chosen at startup and the owner's policy.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Where sessions live.
    pub backend: Arc<dyn SessionBackend>,
    /// What clients may create and send.
    pub policy: Arc<SessionPolicy>,
}

impl AppState {
    /// Bundles the state.
    pub fn new(backend: Arc<dyn SessionBackend>, policy: Arc<SessionPolicy>) -> Self {
        AppState { backend, policy }
    }
}
