//! A screen cache in front of a backend: a screen is read from the backend once per
//! change, and `get_logs`/`get_session_status` of an unchanged session cost no backend call.
//! Session infos (status, foreground program, directory) are kept the same way, but for at
//! most [`INFO_MAX_AGE`]: a program can change without printing anything (a silent `exec`, a
//! script's `cd`), and such a change must still show up promptly. The list of sessions is
//! kept until a session is created, exits or ends (or [`INFO_MAX_AGE`]); the entries of
//! sessions that printed since are taken from their own infos, so that one busy session
//! does not make every list a full read of the backend.
//!
//! It only caches while the backend reports every output as an event
//! (`SessionBackend::output_events_epoch` is `Some`); a session's screens are dropped on
//! its next event. The events are drained synchronously at every read, so an event sent
//! before a read began is always seen by it. A screen read while an event for its session
//! arrived, or while the backend's epoch changed, is not kept.
//!
//! Claude Code's state is kept the same way for a backend whose reads of it run a command on
//! another machine ([`SessionBackend::claude_state_is_remote`]): until the session's next
//! event, for at most [`INFO_MAX_AGE`], and only when read at least [`CLAUDE_SETTLE`] after
//! the session's last output (Claude Code redraws and rewrites its state file around the
//! same moment; a read between the two may see the old state, and is not kept). A
//! "waiting" read before the output that ended it is therefore never answered after that
//! output; a local backend's state files are read on every call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::broadcast::{self, error::TryRecvError};

use std::sync::atomic::{AtomicU64, Ordering};

use crate::prompt::claude_state::ClaudeState;
use crate::{
    CreateSpec, Key, ReadRequest, Result, Screen, SessionBackend, SessionEvent, SessionInfo,
    SessionName,
};

/// Screens kept per session (one per distinct read request).
const PER_SESSION: usize = 4;
/// Screens larger than this are not kept.
const MAX_KEPT_BYTES: usize = 64 * 1024;
/// How long a session's info is kept at most, even without any event for it.
pub const INFO_MAX_AGE: Duration = Duration::from_secs(1);
/// A kept list with more entries than this changed is read again whole instead.
const MAX_REFRESHED: usize = 8;
/// Sessions whose last event time is remembered at most; beyond, the memory is cleared
/// (and every session counts as just touched).
const MAX_TOUCHED: usize = 4096;
/// A remote Claude Code state read sooner than this after its session's last output is not
/// kept (the state file may not have caught up with the screen yet).
pub const CLAUDE_SETTLE: Duration = Duration::from_millis(300);

/// A [`SessionBackend`] that keeps screens until their session changes.
#[derive(Debug)]
pub struct ScreenCache {
    inner: Arc<dyn SessionBackend>,
    state: Mutex<State>,
    /// Held while the list is read from the backend: callers that find it stale meanwhile
    /// wait for that read instead of each asking the backend (200 sessions cost tmux ~10 ms).
    list_read: tokio::sync::Mutex<()>,
    hits: AtomicU64,
}

/// When a screen was read: the wipe count, the session's generation and the backend epoch.
/// (For the list: the wipe count, the count of sessions created, exited or ended so far,
/// and the epoch.)
type Stamp = (u64, u64, u64);

/// A kept list and the positions of the entries whose session printed since it was read.
type ListHit = (Vec<SessionInfo>, Vec<usize>);
/// Where a new read of the list starts: the list stamp and the count of all events so far.
type ListMiss = (Option<Stamp>, u64);

/// The last list read from the backend.
#[derive(Debug)]
struct KeptList {
    stamp: Stamp,
    read_at: Instant,
    infos: Vec<SessionInfo>,
    /// Each entry's session generation when it was read ([`u64::MAX`]: it printed meanwhile).
    generations: Vec<u64>,
}

#[derive(Debug)]
struct State {
    events: broadcast::Receiver<SessionEvent>,
    epoch: Option<u64>,
    /// Bumped when events were lost (everything is stale).
    wipes: u64,
    next_gen: u64,
    generations: HashMap<SessionName, u64>,
    /// Bumped when a session is created, exits or ends.
    structure: u64,
    screens: HashMap<SessionName, Vec<(ReadRequest, Stamp, Screen)>>,
    infos: HashMap<SessionName, (Stamp, Instant, SessionInfo)>,
    /// Claude Code's state as last read (remote backends only).
    claude: HashMap<SessionName, (Stamp, Instant, Option<ClaudeState>)>,
    /// When each session's last event came.
    touched: HashMap<SessionName, Instant>,
    /// When events were last lost (or `touched` forgotten): every session counts as just
    /// touched then.
    wiped_at: Option<Instant>,
    /// The last list of sessions read, while it is kept.
    list: Option<KeptList>,
}

impl State {
    /// Applies every event sent so far, and the backend's current epoch.
    fn catch_up(&mut self, epoch: Option<u64>) {
        loop {
            #[allow(unreachable_patterns)]
            match self.events.try_recv() {
                Ok(SessionEvent::Output(n)) => self.touch(n),
                Ok(
                    SessionEvent::Created(n)
                    | SessionEvent::Exited(n)
                    | SessionEvent::Terminated(n),
                ) => self.reshape(n),
                // An event this cache does not know: keep nothing.
                Ok(_) => self.wipe(),
                Err(TryRecvError::Lagged(_)) => self.wipe(),
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        if epoch != self.epoch {
            self.epoch = epoch;
            self.wipe();
        }
    }

    fn touch(&mut self, name: SessionName) {
        self.next_gen += 1;
        self.screens.remove(&name);
        self.infos.remove(&name);
        self.claude.remove(&name);
        if self.touched.len() >= MAX_TOUCHED && !self.touched.contains_key(&name) {
            self.touched.clear();
            self.wiped_at = Some(Instant::now());
        }
        self.touched.insert(name.clone(), Instant::now());
        self.generations.insert(name, self.next_gen);
    }

    /// A session was created or ended: the list changes shape.
    fn reshape(&mut self, name: SessionName) {
        self.structure += 1;
        self.touch(name);
    }

    fn generation(&self, name: &SessionName) -> u64 {
        self.generations.get(name).copied().unwrap_or(0)
    }

    fn wipe(&mut self) {
        self.wipes += 1;
        self.screens.clear();
        self.infos.clear();
        self.claude.clear();
        self.wiped_at = Some(Instant::now());
        self.list = None;
        self.generations.clear();
    }

    /// When the list was read: a session created, exited or ended since makes it stale.
    fn list_stamp(&self) -> Option<Stamp> {
        Some((self.wipes, self.structure, self.epoch?))
    }

    /// Whether `name` had no event for [`CLAUDE_SETTLE`], as far as is known.
    fn settled(&self, name: &SessionName) -> bool {
        let quiet = |at: Option<&Instant>| at.is_none_or(|at| at.elapsed() >= CLAUDE_SETTLE);
        quiet(self.touched.get(name)) && quiet(self.wiped_at.as_ref())
    }

    fn stamp(&self, name: &SessionName) -> Option<Stamp> {
        let epoch = self.epoch?;
        Some((self.wipes, self.generation(name), epoch))
    }
}

impl ScreenCache {
    /// Puts a cache in front of `inner`.
    pub fn new(inner: Arc<dyn SessionBackend>) -> ScreenCache {
        let events = inner.events();
        ScreenCache {
            state: Mutex::new(State {
                events,
                epoch: None,
                wipes: 0,
                next_gen: 0,
                generations: HashMap::new(),
                structure: 0,
                screens: HashMap::new(),
                infos: HashMap::new(),
                claude: HashMap::new(),
                touched: HashMap::new(),
                wiped_at: None,
                list: None,
            }),
            inner,
            list_read: tokio::sync::Mutex::new(()),
            hits: AtomicU64::new(0),
        }
    }

    /// A stamp that changes whenever anything kept may be stale: every session event
    /// (output, created, exited, ended), every create or terminate made through this cache
    /// (counted when the call returns, before its event may arrive), and every lost event or
    /// epoch change. `None` while the backend does not report every output.
    pub fn change_stamp(&self) -> Option<(u64, u64, u64)> {
        let mut st = self.lock();
        st.catch_up(self.inner.output_events_epoch());
        Some((st.wipes, st.next_gen, st.epoch?))
    }

    /// How many reads were answered from the cache so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The kept list of sessions if it is still current, with the positions of the entries
    /// whose session printed since; otherwise the stamp and event count to read a new one at.
    fn kept_list(&self) -> std::result::Result<ListHit, ListMiss> {
        let mut st = self.lock();
        st.catch_up(self.inner.output_events_epoch());
        let stamp = st.list_stamp();
        let fresh = stamp.and_then(|s| {
            let kept = st
                .list
                .as_ref()
                .filter(|k| k.stamp == s && k.read_at.elapsed() < INFO_MAX_AGE)?;
            let changed: Vec<usize> = kept
                .infos
                .iter()
                .zip(&kept.generations)
                .enumerate()
                .filter(|(_, (info, g))| st.generation(&info.name) != **g)
                .map(|(i, _)| i)
                .collect();
            (changed.len() <= MAX_REFRESHED).then(|| (kept.infos.clone(), changed))
        });
        match fresh {
            Some(hit) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Ok(hit)
            }
            None => Err((stamp, st.next_gen)),
        }
    }

    /// The kept list with the changed entries replaced by their sessions' current infos, or
    /// `None` when one of them cannot be read (the list is then read whole).
    async fn refreshed(
        &self,
        (mut list, changed): (Vec<SessionInfo>, Vec<usize>),
    ) -> Option<Vec<SessionInfo>> {
        for i in changed {
            let name = list.get(i)?.name.clone();
            *list.get_mut(i)? = self.info(&name).await.ok()?;
        }
        Some(list)
    }

    /// Forgets `name`'s screens (its screen changes without output, e.g. on resize).
    fn invalidate(&self, name: &SessionName) {
        self.lock().touch(name.clone());
    }
}

#[async_trait]
impl SessionBackend for ScreenCache {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    async fn list(&self) -> Result<Vec<SessionInfo>> {
        if let Ok(hit) = self.kept_list()
            && let Some(list) = self.refreshed(hit).await
        {
            return Ok(list);
        }
        let _reading = self.list_read.lock().await;
        // Another caller may have read it while this one waited.
        let (before, events_before) = match self.kept_list() {
            Ok(hit) => match self.refreshed(hit).await {
                Some(list) => return Ok(list),
                None => {
                    let st = self.lock();
                    (st.list_stamp(), st.next_gen)
                }
            },
            Err(at) => at,
        };
        let read_at = Instant::now();
        let list = self.inner.list().await?;
        let mut st = self.lock();
        st.catch_up(self.inner.output_events_epoch());
        // A program that just exited may not have its exit status yet: such a list is not
        // kept (`ProcessStatus::is_pending`).
        if let Some(stamp) = before
            && !list.iter().any(|i| i.status.is_pending())
            && st.list_stamp() == Some(stamp)
        {
            // A session that printed during the read may have changed after it was read.
            let generations = list
                .iter()
                .map(|info| match st.generation(&info.name) {
                    g if g > events_before => u64::MAX,
                    g => g,
                })
                .collect();
            st.list = Some(KeptList {
                stamp,
                read_at,
                infos: list.clone(),
                generations,
            });
        }
        Ok(list)
    }

    async fn create(&self, spec: CreateSpec) -> Result<SessionInfo> {
        let name = spec.name.clone();
        let out = self.inner.create(spec).await;
        self.lock().reshape(name);
        out
    }

    async fn info(&self, name: &SessionName) -> Result<SessionInfo> {
        let before = {
            let mut st = self.lock();
            st.catch_up(self.inner.output_events_epoch());
            let stamp = st.stamp(name);
            if let Some(hit) = stamp.and_then(|s| {
                st.infos
                    .get(name)
                    .filter(|(kept, at, _)| *kept == s && at.elapsed() < INFO_MAX_AGE)
                    .map(|(_, _, info)| info.clone())
            }) {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(hit);
            }
            stamp
        };
        let read_at = Instant::now();
        let info = self.inner.info(name).await?;
        let mut st = self.lock();
        st.catch_up(self.inner.output_events_epoch());
        if let Some(stamp) = before
            && !info.status.is_pending()
            && st.stamp(name) == Some(stamp)
        {
            st.infos
                .insert(name.clone(), (stamp, read_at, info.clone()));
        }
        Ok(info)
    }

    async fn send_text(&self, name: &SessionName, text: &str, submit: bool) -> Result<()> {
        self.inner.send_text(name, text, submit).await
    }

    async fn send_keys(&self, name: &SessionName, keys: &[Key]) -> Result<()> {
        self.inner.send_keys(name, keys).await
    }

    async fn read(&self, name: &SessionName, req: ReadRequest) -> Result<Screen> {
        let before = {
            let mut st = self.lock();
            st.catch_up(self.inner.output_events_epoch());
            let stamp = st.stamp(name);
            if let Some(hit) = stamp.and_then(|s| {
                st.screens
                    .get(name)?
                    .iter()
                    .find(|(r, kept, _)| *r == req && *kept == s)
                    .map(|(_, _, screen)| screen.clone())
            }) {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(hit);
            }
            stamp
        };
        let screen = self.inner.read(name, req).await?;
        let mut st = self.lock();
        st.catch_up(self.inner.output_events_epoch());
        if let Some(stamp) = before
            && st.stamp(name) == Some(stamp)
            && screen.text.len() <= MAX_KEPT_BYTES
        {
            let kept = st.screens.entry(name.clone()).or_default();
            kept.retain(|(r, _, _)| *r != req);
            if kept.len() >= PER_SESSION {
                kept.remove(0);
            }
            kept.push((req, stamp, screen.clone()));
        }
        Ok(screen)
    }

    async fn resize(&self, name: &SessionName, cols: u16, rows: u16) -> Result<()> {
        let out = self.inner.resize(name, cols, rows).await;
        self.invalidate(name);
        out
    }

    async fn terminate(&self, name: &SessionName) -> Result<()> {
        let out = self.inner.terminate(name).await;
        self.lock().reshape(name.clone());
        out
    }

    fn events(&self) -> broadcast::Receiver<SessionEvent> {
        self.inner.events()
    }

    fn output_events_epoch(&self) -> Option<u64> {
        self.inner.output_events_epoch()
    }

    async fn claude_state(&self, info: &SessionInfo) -> Option<ClaudeState> {
        if !self.inner.claude_state_is_remote() {
            return self.inner.claude_state(info).await;
        }
        let name = &info.name;
        let before = {
            let mut st = self.lock();
            st.catch_up(self.inner.output_events_epoch());
            let stamp = st.stamp(name);
            if let Some(hit) = stamp.and_then(|s| {
                st.claude
                    .get(name)
                    .filter(|(kept, at, _)| *kept == s && at.elapsed() < INFO_MAX_AGE)
                    .map(|(_, _, state)| state.clone())
            }) {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return hit;
            }
            stamp.filter(|_| st.settled(name))
        };
        let read_at = Instant::now();
        let state = self.inner.claude_state(info).await;
        let mut st = self.lock();
        st.catch_up(self.inner.output_events_epoch());
        if let Some(stamp) = before
            && st.stamp(name) == Some(stamp)
        {
            st.claude
                .insert(name.clone(), (stamp, read_at, state.clone()));
        }
        state
    }

    async fn claude_transcript(
        &self,
        info: &SessionInfo,
        limit: usize,
    ) -> Option<(ClaudeState, crate::prompt::claude_state::TranscriptRead)> {
        self.inner.claude_transcript(info, limit).await
    }
}

#[cfg(test)]
mod tests;
