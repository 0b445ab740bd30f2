//! Notifications: telling the owner, through channels their phone already has, that a
//! session needs them.
//!
//! Three events are watched (`[notify] events`, default `waiting` and `exited`):
//! - `waiting`: a session shows a prompt, found by the same detection and settle logic as
//!   `wait_for` and `check_prompts`; one notification per distinct prompt (a fingerprint of
//!   session, question and options), none for a prompt answered before the screen settled;
//! - `finished`: an agent went idle after working at least `finished_after_secs`;
//! - `exited`: the session's program exited, with its code or signal.
//!
//! Sent event ids are kept in the data directory's database, so that a restart of the
//! gateway does not send them again; `set_notifications` mutes a session.
//!
//! # Layout
//! - [`config`]: the `[notify]` table and its checks at startup;
//! - [`event`]: the notification payload and event ids;
//! - [`store`]: the sent ids and muted sessions in SQLite;
//! - [`control`]: the mutes, reached by tools through [`crate::state::AppState`];
//! - `watch`: the task that turns backend events into notifications;
//! - [`deliver`]: a queue and a worker per channel, retries, signatures, metrics;
//! - [`format`]: the Slack and ntfy bodies;
//! - [`email`]: the email channel (SMTP);
//! - [`test_command`]: `sessiongate notify test`;
//! - [`answer`]: answer URLs, their pages and their tokens.

pub mod answer;
pub mod config;
pub mod control;
pub mod deliver;
pub mod email;
pub mod event;
pub mod format;
pub mod store;
pub mod test_command;
mod watch;

use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::http::metrics::Metrics;
use crate::state::AppState;
use config::NotifyConfig;
use control::NotifyControl;
use store::Store;

/// The notifier before its tasks run: the settings, its database tables and the control
/// that tools use.
#[derive(Debug)]
pub struct Notifier {
    config: NotifyConfig,
    store: Option<Arc<Store>>,
    control: Arc<NotifyControl>,
    metrics: Option<Arc<Metrics>>,
}

impl Notifier {
    /// Opens the notifier's tables when any channel is configured; with none, nothing is
    /// opened, watched or sent.
    pub fn open(
        config: NotifyConfig,
        data_dir: &Path,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Self, store::StoreError> {
        let (store, control) = if config.channels.is_empty() {
            (None, NotifyControl::disabled())
        } else {
            let store = Arc::new(Store::open(data_dir)?);
            let control = NotifyControl::with_store(store.clone())?;
            (Some(store), control)
        };
        Ok(Notifier {
            config,
            store,
            control: Arc::new(control),
            metrics,
        })
    }

    /// Gives waiting notifications answer URLs under `base`, the public URL, when the owner
    /// made the gateway reachable there (`--public-url`, or an https bind: `None`
    /// otherwise). `auth` is the authorization server whose login `login` mode needs.
    pub fn answer_at(
        self,
        base: Option<&str>,
        data_dir: &Path,
        auth: Option<Arc<sessiongate_auth::AuthServer>>,
    ) -> Result<Self, store::StoreError> {
        let Some(base) = base else {
            return Ok(self);
        };
        if self.store.is_none() {
            return Ok(self);
        }
        let answers = answer::Answers::open(data_dir, base, self.config.answer_ttl, auth)?;
        let off: Vec<&str> = self
            .config
            .channels
            .iter()
            .filter(|c| {
                c.answers == config::AnswerMode::Login
                    && answers.mode_for(c) == config::AnswerMode::Off
            })
            .map(|c| c.name.as_str())
            .collect();
        if !off.is_empty() {
            tracing::warn!(channels = ?off, "answers = \"login\" needs OAuth; these channels carry no answer URLs");
        }
        if !self.control.set_answers(Arc::new(answers)) {
            tracing::warn!("answer URLs were already set up; the first setup stays");
        }
        Ok(self)
    }

    /// The mutes, for [`AppState::with_notify`].
    pub fn control(&self) -> Arc<NotifyControl> {
        self.control.clone()
    }

    /// Starts the watcher and the channels' workers; they stop when `ct` is cancelled.
    pub fn spawn(self, state: AppState, ct: CancellationToken) {
        let Some(store) = self.store else {
            return;
        };
        let dispatcher = deliver::Dispatcher::start(&self.config.channels, self.metrics, &ct);
        tracing::info!(
            channels = self.config.channels.len(),
            "notifications are on"
        );
        tokio::spawn(watch::run(state, self.config, store, dispatcher, ct));
    }
}
