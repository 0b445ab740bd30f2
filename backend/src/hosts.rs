//! Routing sessions by host: one [`SessionBackend`] per machine behind one.
//!
//! A session on another machine is named `HOST:NAME` (`build:cc`); a bare name means this
//! machine, so clients that know nothing of hosts keep working. [`Hosts`] strips the host
//! before a call reaches that host's backend and qualifies every name coming back (infos,
//! events, errors), so each backend only ever sees bare names. Lists are gathered from every
//! host at once, each under its own deadline: a host that hangs costs a list no more than
//! that deadline and never holds up another host; one that fails is reported by
//! [`Hosts::list_by_host`] with its error instead of failing the whole list. A host whose
//! last list failed is tried again in the background, one attempt at a time, while every
//! list reports its last error at once: a hung host costs the list that finds it down one
//! deadline, and no list after that (the attempt takes the deadline, not a caller).
//!
//! Each host's backend sits behind its own [`ScreenCache`]: whether screens may be kept is
//! decided per host, so a remote host whose output is not watched (it is down, or its
//! control client restarts) turns off keeping screens for its own sessions only, not for
//! this machine's (the router's own [`SessionBackend::output_events_epoch`] is `None` while
//! any host's is, which turns off a cache in front of the router).
//!
//! A remote session's pid is a process id of *that* machine: it is removed from the infos
//! (set to `None`), so that nothing on the gateway's machine mistakes it for one of its own
//! processes (reading `/proc/<pid>` here would read an unrelated process).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::backend::{SessionBackend, SessionEvent};
use crate::cache::ScreenCache;
use crate::error::{Error, Result};
use crate::keys::Key;
use crate::name::{SessionName, printable_prefix};
use crate::policy::CreateSpec;
use crate::prompt::claude_state::{ClaudeState, TranscriptRead};
use crate::types::{ReadRequest, Screen, SessionInfo};

/// The name of this machine among the hosts.
pub const LOCAL: &str = "local";

/// One host's part of a merged list.
#[derive(Debug)]
pub struct HostListing {
    /// The host's name ([`LOCAL`] for this machine).
    pub host: String,
    /// Its sessions (qualified names), or why they could not be listed.
    pub sessions: Result<Vec<SessionInfo>>,
}

/// Sessions on this machine and on remote hosts, routed by the host part of their names.
#[derive(Debug)]
pub struct Hosts {
    local: Arc<dyn SessionBackend>,
    remote: BTreeMap<String, Arc<dyn SessionBackend>>,
    events: broadcast::Sender<SessionEvent>,
    /// How long one host may take to list its sessions before it is reported as unreachable.
    list_timeout: Duration,
    /// What the last list learnt of each remote host: `Some(error)` while it failed.
    status: Arc<std::sync::Mutex<BTreeMap<String, Option<String>>>>,
    /// How many lists of each remote host are being read right now (by lists, or by the
    /// background attempt at a host that is down).
    listing: Arc<std::sync::Mutex<BTreeMap<String, usize>>>,
}

impl Hosts {
    /// Routes bare names to `local` and `HOST:NAME` to `remote[HOST]`, each behind its own
    /// [`ScreenCache`] when there are other hosts. Starts one task per backend that republishes its events with
    /// qualified names (call inside a runtime).
    pub fn new(
        local: Arc<dyn SessionBackend>,
        remote: BTreeMap<String, Arc<dyn SessionBackend>>,
        list_timeout: Duration,
    ) -> Hosts {
        let cached = |b: Arc<dyn SessionBackend>| -> Arc<dyn SessionBackend> {
            Arc::new(ScreenCache::new(b))
        };
        // Without other hosts the gateway's own cache in front of this router is enough; with
        // them, each host has its own, so that one host without watched output turns off
        // caching only for its own sessions.
        let local = if remote.is_empty() {
            local
        } else {
            cached(local)
        };
        let remote: BTreeMap<String, Arc<dyn SessionBackend>> =
            remote.into_iter().map(|(h, b)| (h, cached(b))).collect();
        let events = broadcast::channel(1024).0;
        forward(local.events(), events.clone(), None);
        for (host, b) in &remote {
            forward(b.events(), events.clone(), Some(host.clone()));
        }
        let status = remote.keys().map(|h| (h.clone(), None)).collect();
        Hosts {
            local,
            remote,
            events,
            list_timeout,
            status: Arc::new(std::sync::Mutex::new(status)),
            listing: Arc::default(),
        }
    }

    /// The hosts' names: [`LOCAL`] first, then the remote ones in order.
    pub fn names(&self) -> Vec<&str> {
        std::iter::once(LOCAL)
            .chain(self.remote.keys().map(String::as_str))
            .collect()
    }

    /// Whether any remote host is configured.
    pub fn has_remote(&self) -> bool {
        !self.remote.is_empty()
    }

    /// Every host's sessions, gathered at once; a host that fails or does not answer within
    /// the list deadline is listed with its error, and one that is down (its last list
    /// failed) with that error, while it is tried again in the background.
    pub async fn list_by_host(&self) -> Vec<HostListing> {
        let hosts = std::iter::once((LOCAL, &self.local))
            .chain(self.remote.iter().map(|(h, b)| (h.as_str(), b)));
        let calls = hosts.map(|(host, b)| async move {
            let Some(_attempt) = self.attempt(host, b) else {
                return (
                    HostListing {
                        host: host.to_owned(),
                        sessions: Err(self.still_down(host)),
                    },
                    false,
                );
            };
            let listing = HostListing {
                host: host.to_owned(),
                sessions: list_one(b, host, self.list_timeout).await,
            };
            (listing, true)
        });
        let listings = join_all(calls).await;
        // Only what was learnt now: a background attempt records its own outcome.
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        for (l, _) in listings
            .iter()
            .filter(|(l, asked)| *asked && l.host != LOCAL)
        {
            status.insert(
                l.host.clone(),
                l.sessions.as_ref().err().map(|e| e.to_string()),
            );
        }
        drop(status);
        listings.into_iter().map(|(l, _)| l).collect()
    }

    /// Marks a list of `host` as under way; `None` when `host` is a remote host whose last
    /// list failed: then it is tried again in the background (unless an attempt is under way
    /// already), and the list reports its last error instead of waiting for the attempt.
    fn attempt(&self, host: &str, backend: &Arc<dyn SessionBackend>) -> Option<Attempt> {
        if host == LOCAL {
            return Some(Attempt(self.listing.clone(), None));
        }
        let down = {
            let status = self.status.lock().unwrap_or_else(|e| e.into_inner());
            status.get(host).is_some_and(Option::is_some)
        };
        let attempt = {
            let mut listing = self.listing.lock().unwrap_or_else(|e| e.into_inner());
            let under_way = listing.entry(host.to_owned()).or_default();
            if down && *under_way > 0 {
                return None;
            }
            *under_way += 1;
            Attempt(self.listing.clone(), Some(host.to_owned()))
        };
        if !down {
            return Some(attempt);
        }
        let (backend, host, timeout) = (backend.clone(), host.to_owned(), self.list_timeout);
        let status = self.status.clone();
        tokio::spawn(async move {
            let outcome = list_one(&backend, &host, timeout).await;
            let mut status = status.lock().unwrap_or_else(|e| e.into_inner());
            status.insert(host, outcome.err().map(|e| e.to_string()));
            drop(status);
            drop(attempt);
        });
        None
    }

    /// The error of a host that is down and being tried again.
    fn still_down(&self, host: &str) -> Error {
        let status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        let last = status.get(host).cloned().flatten().unwrap_or_default();
        let last = last.strip_prefix("backend unavailable: ").unwrap_or(&last);
        Error::Unavailable(format!(
            "host {host} is being tried again; its last error: {last}"
        ))
    }

    /// Each remote host with the error of its last list (`None` when it answered), as of the
    /// last [`Hosts::list_by_host`] (which [`SessionBackend::list`] calls).
    pub fn last_status(&self) -> Vec<(String, Option<String>)> {
        let status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        status.iter().map(|(h, e)| (h.clone(), e.clone())).collect()
    }

    /// The backend of `name`'s host and the bare name.
    fn route(&self, name: &SessionName) -> Result<(&Arc<dyn SessionBackend>, SessionName, &str)> {
        match name.host() {
            None | Some(LOCAL) => Ok((&self.local, name.bare(), LOCAL)),
            Some(host) => match self.remote.get_key_value(host) {
                Some((h, b)) => Ok((b, name.bare(), h.as_str())),
                None => Err(Error::UnknownHost {
                    name: printable_prefix(name.as_str()),
                    host: host.to_owned(),
                    available: self.names().join(", "),
                }),
            },
        }
    }
}

/// A list of one host under way (see [`Hosts::attempt`]); ends when dropped, also when the
/// list is abandoned.
struct Attempt(
    Arc<std::sync::Mutex<BTreeMap<String, usize>>>,
    Option<String>,
);

impl Drop for Attempt {
    fn drop(&mut self) {
        if let Some(host) = &self.1 {
            let mut listing = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = listing.get_mut(host) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    listing.remove(host);
                }
            }
        }
    }
}

/// `host`'s sessions from its backend `b`, qualified, within `timeout`.
async fn list_one(
    b: &Arc<dyn SessionBackend>,
    host: &str,
    timeout: Duration,
) -> Result<Vec<SessionInfo>> {
    match tokio::time::timeout(timeout, b.list()).await {
        Ok(Ok(list)) => list.into_iter().map(|i| qualify_info(i, host)).collect(),
        Ok(Err(e)) => Err(qualify_error(e, host)),
        Err(_) => Err(Error::Unavailable(format!(
            "host {host} did not list its sessions within {} s",
            timeout.as_secs()
        ))),
    }
}

/// Runs the futures concurrently and returns their outputs in order.
pub async fn join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in set.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// Republishes `from`'s events on `to`, qualified by `host` (bare for this machine).
fn forward(
    mut from: broadcast::Receiver<SessionEvent>,
    to: broadcast::Sender<SessionEvent>,
    host: Option<String>,
) {
    tokio::spawn(async move {
        loop {
            let ev = match from.recv().await {
                Ok(ev) => ev,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let ev = match &host {
                None => Some(ev),
                Some(h) => qualify_event(ev, h),
            };
            if let Some(ev) = ev {
                // Nobody listening is fine.
                let _ = to.send(ev);
            }
        }
    });
}

fn qualify_event(ev: SessionEvent, host: &str) -> Option<SessionEvent> {
    let q = |n: SessionName| n.on_host(host).ok();
    Some(match ev {
        SessionEvent::Created(n) => SessionEvent::Created(q(n)?),
        SessionEvent::Output(n) => SessionEvent::Output(q(n)?),
        SessionEvent::Exited(n) => SessionEvent::Exited(q(n)?),
        SessionEvent::Terminated(n) => SessionEvent::Terminated(q(n)?),
    })
}

fn qualify_info(mut info: SessionInfo, host: &str) -> Result<SessionInfo> {
    if host != LOCAL {
        info.name = info.name.on_host(host)?;
        // Not a process of this machine.
        info.pid = None;
    }
    Ok(info)
}

/// Puts the host back into the names an error mentions, and the host's name into messages
/// about its machinery.
fn qualify_error(e: Error, host: &str) -> Error {
    if host == LOCAL {
        return e;
    }
    let q = |n: String| format!("{host}:{n}");
    match e {
        Error::NotFound(n) => Error::NotFound(q(n)),
        Error::AlreadyExists(n) => Error::AlreadyExists(q(n)),
        Error::Exited(n) => Error::Exited(q(n)),
        Error::Unavailable(m) if !m.contains(&format!("host {host}")) => {
            Error::Unavailable(format!("host {host}: {m}"))
        }
        other => other,
    }
}

#[async_trait]
impl SessionBackend for Hosts {
    fn kind(&self) -> &'static str {
        self.local.kind()
    }

    /// The sessions of every host that answers (see [`Hosts::list_by_host`] for the errors
    /// of the others).
    async fn list(&self) -> Result<Vec<SessionInfo>> {
        let mut all = Vec::new();
        for listing in self.list_by_host().await {
            match listing.sessions {
                Ok(s) => all.extend(s),
                // This machine failing is an error of the call, as without hosts.
                Err(e) if listing.host == LOCAL => return Err(e),
                // A remote host that fails is left out of a plain list; the tools that show
                // hosts use `list_by_host` and report its error.
                Err(_) => {}
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    async fn create(&self, mut spec: CreateSpec) -> Result<SessionInfo> {
        let (b, bare, host) = self.route(&spec.name)?;
        spec.name = bare;
        let info = b.create(spec).await.map_err(|e| qualify_error(e, host))?;
        qualify_info(info, host)
    }

    async fn info(&self, name: &SessionName) -> Result<SessionInfo> {
        let (b, bare, host) = self.route(name)?;
        let info = b.info(&bare).await.map_err(|e| qualify_error(e, host))?;
        qualify_info(info, host)
    }

    async fn send_text(&self, name: &SessionName, text: &str, submit: bool) -> Result<()> {
        let (b, bare, host) = self.route(name)?;
        b.send_text(&bare, text, submit)
            .await
            .map_err(|e| qualify_error(e, host))
    }

    async fn send_keys(&self, name: &SessionName, keys: &[Key]) -> Result<()> {
        let (b, bare, host) = self.route(name)?;
        b.send_keys(&bare, keys)
            .await
            .map_err(|e| qualify_error(e, host))
    }

    async fn read(&self, name: &SessionName, req: ReadRequest) -> Result<Screen> {
        let (b, bare, host) = self.route(name)?;
        b.read(&bare, req).await.map_err(|e| qualify_error(e, host))
    }

    async fn resize(&self, name: &SessionName, cols: u16, rows: u16) -> Result<()> {
        let (b, bare, host) = self.route(name)?;
        b.resize(&bare, cols, rows)
            .await
            .map_err(|e| qualify_error(e, host))
    }

    async fn terminate(&self, name: &SessionName) -> Result<()> {
        let (b, bare, host) = self.route(name)?;
        b.terminate(&bare).await.map_err(|e| qualify_error(e, host))
    }

    fn events(&self) -> broadcast::Receiver<SessionEvent> {
        self.events.subscribe()
    }

    async fn claude_state(&self, info: &SessionInfo) -> Option<ClaudeState> {
        let (b, bare, _) = self.route(&info.name).ok()?;
        b.claude_state(&SessionInfo {
            name: bare,
            ..info.clone()
        })
        .await
    }

    async fn claude_transcript(
        &self,
        info: &SessionInfo,
        limit: usize,
    ) -> Option<(ClaudeState, TranscriptRead)> {
        let (b, bare, _) = self.route(&info.name).ok()?;
        b.claude_transcript(
            &SessionInfo {
                name: bare,
                ..info.clone()
            },
            limit,
        )
        .await
    }

    /// Complete only while every host's events are: the sum of their epochs (which changes
    /// whenever one of them does).
    fn output_events_epoch(&self) -> Option<u64> {
        let mut sum = self.local.output_events_epoch()?;
        for b in self.remote.values() {
            sum = sum.wrapping_add(b.output_events_epoch()?);
        }
        Some(sum)
    }
}

#[cfg(test)]
mod tests;
