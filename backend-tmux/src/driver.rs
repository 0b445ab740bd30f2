//! Which way a tmux command runs: through the control-mode client while it is up, as a
//! forked `tmux` otherwise. Also (re)connects the control client, links every managed
//! session's window into the control session (a control client only hears `%output` from
//! windows of its own session), and turns `%output` into [`SessionEvent::Output`] through
//! a pane → session map.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use sessiongate_backend::{SessionEvent, SessionName};

use crate::command::{Tmux, TmuxFailure};
use crate::control::{Control, Notice};
use crate::format::{PANE_FORMAT, PaneLine, parse_line};

/// The shortest time between two attempts to start the control client.
const RECONNECT_GAP: Duration = Duration::from_secs(1);

/// What the `%output` reader and the backend share.
#[derive(Debug)]
struct Shared {
    events: broadcast::Sender<SessionEvent>,
    /// Pane id → (session, whether the pane was last seen dead).
    panes: RwLock<HashMap<String, (SessionName, bool)>>,
}

impl Shared {
    fn emit(&self, ev: SessionEvent) {
        // Nobody listening is fine.
        let _ = self.events.send(ev);
    }

    /// Records what the `pane_dead` subscription said of `pane`: a managed pane seen
    /// running that is now dead has exited (an `Exited` event, as when `list-panes` shows it).
    fn pane_died(&self, pane: &str, dead: bool) {
        let exited = {
            let mut map = self.panes.write().unwrap_or_else(|e| e.into_inner());
            match map.get_mut(pane) {
                Some((name, was_dead)) if dead && !*was_dead => {
                    *was_dead = true;
                    Some(name.clone())
                }
                _ => None,
            }
        };
        if let Some(name) = exited {
            self.emit(SessionEvent::Exited(name));
        }
    }
}

/// The name of the control client's subscription to every pane's `pane_dead`.
const DEAD_SUBSCRIPTION: &str = "sg-dead";
/// `refresh-client -B`'s argument: that subscription, for all panes of the control session
/// (every managed window is linked into it).
const DEAD_FORMAT: &str = "sg-dead:%*:#{pane_dead}";

/// Runs tmux commands for the backend.
#[derive(Debug)]
pub(crate) struct Driver {
    /// Forked invocations (and the settings the control client is started with).
    pub(crate) tmux: Tmux,
    prefix: String,
    control_session: String,
    control: RwLock<Option<Arc<Control>>>,
    /// When the control client was last started (held while starting it).
    connecting: tokio::sync::Mutex<Option<Instant>>,
    /// Whether a tmux server is known to run (the control client never starts one).
    server_seen: AtomicBool,
    /// Changes whenever output events may have been missed (see
    /// `SessionBackend::output_events_epoch`).
    epoch: AtomicU64,
    shared: Arc<Shared>,
}

impl Driver {
    /// A driver for `tmux`, managing sessions named `<prefix>...`.
    pub(crate) fn new(tmux: Tmux, prefix: String) -> Driver {
        // `+` never appears in a managed session's tmux name, so the control session is
        // never listed as a session.
        let control_session = format!("{}+control", prefix.replace(['.', ':'], "_"));
        Driver {
            tmux,
            prefix,
            control_session,
            control: RwLock::new(None),
            connecting: tokio::sync::Mutex::new(None),
            server_seen: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            shared: Arc::new(Shared {
                events: broadcast::channel(1024).0,
                panes: RwLock::default(),
            }),
        }
    }

    /// The name of the session the control client is attached to.
    pub(crate) fn control_session(&self) -> &str {
        &self.control_session
    }

    /// Subscribes to session events.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<SessionEvent> {
        self.shared.events.subscribe()
    }

    /// Publishes an event.
    pub(crate) fn emit(&self, ev: SessionEvent) {
        self.shared.emit(ev);
    }

    /// `Some(epoch)` while the control client runs (output events flow).
    pub(crate) fn output_epoch(&self) -> Option<u64> {
        let up = self
            .control
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|c| c.is_alive());
        up.then(|| self.epoch.load(Ordering::SeqCst))
    }

    /// Whether the control client runs.
    #[cfg(test)]
    pub(crate) fn control_is_up(&self) -> bool {
        self.output_epoch().is_some()
    }

    /// Notes that a tmux server runs (a forked command reached it).
    pub(crate) fn server_is_up(&self) {
        self.server_seen.store(true, Ordering::SeqCst);
    }

    /// Runs one command, through the control client when possible.
    pub(crate) async fn run(&self, args: &[Cow<'_, str>]) -> Result<String, TmuxFailure> {
        if let Some(ctl) = self.control().await {
            match ctl.run(args).await {
                Err(TmuxFailure::Broken) => {}
                Err(TmuxFailure::NoServer) => self.server_seen.store(false, Ordering::SeqCst),
                other => return other,
            }
        }
        let out = self.tmux.run(&[args.to_vec()], None).await;
        match &out {
            Ok(_) | Err(TmuxFailure::NoTarget | TmuxFailure::Duplicate) => self.server_is_up(),
            Err(TmuxFailure::NoServer) => self.server_seen.store(false, Ordering::SeqCst),
            Err(_) => {}
        }
        out
    }

    /// Runs one command only through the control client: `None` when the client is down or
    /// cannot carry the command (nothing was run then), so that the caller can take another
    /// way.
    pub(crate) async fn run_on_control(
        &self,
        args: &[Cow<'_, str>],
    ) -> Option<Result<String, TmuxFailure>> {
        let ctl = self.control().await?;
        match ctl.run(args).await {
            Err(TmuxFailure::Broken) => None,
            Err(TmuxFailure::NoServer) => {
                self.server_seen.store(false, Ordering::SeqCst);
                Some(Err(TmuxFailure::NoServer))
            }
            other => Some(other),
        }
    }

    /// Records what a `list-panes` showed: the pane map, panes that died (an `Exited`
    /// event), and windows not yet linked into the control session (linked now).
    pub(crate) async fn observe(&self, panes: &[PaneLine]) {
        let mut exited = Vec::new();
        {
            let mut map = self.shared.panes.write().unwrap_or_else(|e| e.into_inner());
            for p in panes {
                let dead = p.info.status != sessiongate_backend::ProcessStatus::Running;
                let before = map.insert(p.pane_id.clone(), (p.info.name.clone(), dead));
                if dead && before.is_some_and(|(_, was_dead)| !was_dead) {
                    exited.push(p.info.name.clone());
                }
            }
        }
        for name in exited {
            self.shared.emit(SessionEvent::Exited(name));
        }
        let ctl = self
            .control
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(ctl) = ctl.filter(|c| c.is_alive()) {
            self.link(&ctl, panes).await;
        }
    }

    /// Forgets a pane whose session ended.
    pub(crate) fn forget(&self, pane_id: &str) {
        self.shared
            .panes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(pane_id);
    }

    /// Links the windows of `panes` that are not in the control session into it.
    async fn link(&self, ctl: &Control, panes: &[PaneLine]) {
        for p in panes {
            if p.linked_sessions
                .split(',')
                .any(|s| s == self.control_session)
            {
                continue;
            }
            let target = format!("={}:", self.control_session);
            let args = ["link-window", "-d", "-s", &p.window_id, "-t", &target];
            match ctl.run(&args).await {
                // Output before the link was not heard.
                Ok(_) => {
                    self.epoch.fetch_add(1, Ordering::SeqCst);
                }
                Err(e) => tracing::debug!(?e, window = %p.window_id, "link-window failed"),
            }
        }
    }

    /// Ends every client still attached to the control session before a new one starts:
    /// the clients of a gateway that was killed (or of an earlier client of this one that
    /// was dropped as hung). Each is detached, and a client that is still there afterwards
    /// is killed by its pid, which tmux itself reports.
    async fn end_stale_clients(&self) {
        let target = format!("={}", self.control_session);
        let list = || {
            let args = ["list-clients", "-t", &target, "-F", "#{client_pid}"];
            let args: Vec<Cow<'_, str>> = args.iter().map(|a| Cow::Borrowed(*a)).collect();
            async move { self.tmux.run(&[args], None).await }
        };
        // No control session yet (or no server): nothing is attached.
        let Ok(before) = list().await else { return };
        if before.trim().is_empty() {
            return;
        }
        let detach = vec![
            Cow::Borrowed("detach-client"),
            Cow::Borrowed("-s"),
            Cow::Borrowed(target.as_str()),
        ];
        if let Err(e) = self.tmux.run(&[detach], None).await {
            tracing::debug!(?e, "detaching stale control clients failed");
        }
        // A client that did not go is stuck: tmux still lists it, so the pid is its. On
        // another host the pid is not one of this machine's: such a client is left to
        // tmux (it ends when its SSH connection does).
        if self.tmux.ssh.is_some() {
            return;
        }
        if let Ok(after) = list().await {
            for pid in after.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
        }
        let ended = before.lines().count();
        tracing::info!(clients = ended, session = %self.control_session, "ended stale tmux control clients");
    }

    /// The running control client, starting one when none runs (at most once a second,
    /// and only when a tmux server is known to run).
    async fn control(&self) -> Option<Arc<Control>> {
        if let Some(c) = self
            .control
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|c| c.is_alive())
        {
            return Some(c.clone());
        }
        // A client that ended may mean the server ended: only a forked command that reaches
        // a server again allows a new client (which would otherwise start a new server).
        {
            let mut slot = self.control.write().unwrap_or_else(|e| e.into_inner());
            if slot.as_ref().is_some_and(|c| !c.is_alive()) {
                *slot = None;
                self.server_seen.store(false, Ordering::SeqCst);
                return None;
            }
        }
        if !self.server_seen.load(Ordering::SeqCst) {
            return None;
        }
        // Someone else is starting it: use a forked tmux meanwhile.
        let mut last = self.connecting.try_lock().ok()?;
        if last.is_some_and(|t| t.elapsed() < RECONNECT_GAP) {
            return None;
        }
        *last = Some(Instant::now());
        let shared = self.shared.clone();
        let on_notice = move |notice: Notice<'_>| match notice {
            Notice::Output(pane) => {
                let name = shared
                    .panes
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(pane)
                    .map(|(n, _)| n.clone());
                if let Some(name) = name {
                    shared.emit(SessionEvent::Output(name));
                }
            }
            Notice::Subscription { name, pane, value } if name == DEAD_SUBSCRIPTION => {
                shared.pane_died(pane, value == "1");
            }
            Notice::Subscription { .. } => {}
        };
        self.end_stale_clients().await;
        let ctl = match Control::spawn(&self.tmux, &self.control_session, on_notice) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                tracing::warn!(
                    ?e,
                    "tmux control mode unavailable; forking tmux per command"
                );
                return None;
            }
        };
        if !ctl.started().await {
            tracing::warn!("tmux control client did not start; forking tmux per command");
            ctl.stop();
            return None;
        }
        let listed = ctl.run(&["list-panes", "-a", "-F", PANE_FORMAT]).await;
        let Ok(out) = listed else {
            tracing::warn!("tmux control client did not start; forking tmux per command");
            ctl.stop();
            return None;
        };
        let panes: Vec<PaneLine> = out
            .lines()
            .filter_map(|l| parse_line(l, &self.prefix))
            .filter(|p| p.active)
            .collect();
        {
            let mut map = self.shared.panes.write().unwrap_or_else(|e| e.into_inner());
            for p in &panes {
                let dead = p.info.status != sessiongate_backend::ProcessStatus::Running;
                map.insert(p.pane_id.clone(), (p.info.name.clone(), dead));
            }
        }
        self.link(&ctl, &panes).await;
        // Deaths are reported too (tmux looks at subscribed formats once a second), so an
        // exit without a last word of output is an event as well, not something to poll for.
        let subscribe = ["refresh-client", "-B", DEAD_FORMAT];
        if let Err(e) = ctl.run(&subscribe).await {
            tracing::debug!(?e, "tmux did not take the pane_dead subscription");
        }
        self.epoch.fetch_add(1, Ordering::SeqCst);
        tracing::info!(session = %self.control_session, "tmux control mode connected");
        *self.control.write().unwrap_or_else(|e| e.into_inner()) = Some(ctl.clone());
        Some(ctl)
    }
}
