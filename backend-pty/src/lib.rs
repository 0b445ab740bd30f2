//! The raw PTY backend: each session's program runs in a pseudo-terminal owned by the
//! gateway, and a terminal emulator (`vt100`) per session turns its output into the same
//! clean screen that tmux would show. No tmux needed; the sessions end when the gateway stops.
//!
//! Output is read continuously by one tokio task per session (no polling) and fed to the
//! emulator; the emulator keeps a bounded scrollback, so memory per session is bounded and a
//! program that floods output only costs its own task's time.
//!
//! # Layout
//! - this file: [`PtyBackend`] and its [`SessionBackend`] implementation;
//! - `session`: one session: spawning, the reader and reaper tasks, writing, signals;
//! - [`render`]: the emulator (vt100 for the screen) and its lines, scrollback included;
//! - [`scrollback`]: the scrollback as text lines, bounded;
//! - [`keys`]: named keys and pastes as the bytes an xterm sends.

mod answers;
pub mod keys;
pub mod render;
pub mod scrollback;
mod session;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::broadcast;

use sessiongate_backend::screen::page;
use sessiongate_backend::{
    CreateSpec, Error, Key, ProcessStatus, ReadRequest, Result, Screen, SessionBackend,
    SessionEvent, SessionInfo, SessionName,
};

use session::{PtySession, lock};

/// The pause between two keys of one `send_keys` call.
const KEY_GAP: Duration = Duration::from_millis(15);

/// Settings of the PTY backend.
#[derive(Debug, Clone)]
pub struct PtyConfig {
    /// Scrollback lines kept per session.
    pub scrollback: usize,
    /// How long `terminate` waits after SIGTERM before it sends SIGKILL.
    pub kill_grace: Duration,
}

impl Default for PtyConfig {
    fn default() -> Self {
        PtyConfig {
            scrollback: 10_000,
            kill_grace: Duration::from_secs(3),
        }
    }
}

/// Sessions in PTYs owned by this process.
#[derive(Debug)]
pub struct PtyBackend {
    cfg: PtyConfig,
    sessions: Mutex<BTreeMap<SessionName, Arc<PtySession>>>,
    events: broadcast::Sender<SessionEvent>,
}

impl PtyBackend {
    /// An empty backend.
    pub fn new(cfg: PtyConfig) -> Self {
        PtyBackend {
            cfg,
            sessions: Mutex::new(BTreeMap::new()),
            events: broadcast::channel(1024).0,
        }
    }

    fn get(&self, name: &SessionName) -> Result<Arc<PtySession>> {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NotFound(name.to_string()))
    }

    fn info_of(&self, s: &PtySession) -> SessionInfo {
        let (status, last_output, rows, cols) = {
            let shared = lock(&s.shared);
            let (rows, cols) = shared.parser.screen().size();
            (shared.status, shared.last_output, rows.get(), cols.get())
        };
        let running = status == ProcessStatus::Running;
        SessionInfo {
            name: s.name.clone(),
            backend: "pty",
            profile: Some(s.profile.clone()),
            status,
            current_command: if running {
                s.foreground_command()
            } else {
                None
            },
            pid: Some(s.pid),
            working_dir: Some(if running {
                s.cwd()
            } else {
                s.working_dir.clone()
            }),
            created_at: Some(s.created_at),
            last_activity: last_output.or(Some(s.created_at)),
            cols,
            rows,
        }
    }

    /// Kills every session's process group (SIGHUP, as a closing terminal would, then
    /// SIGKILL) and forgets the sessions. Called on drop; safe to call twice.
    pub fn kill_all(&self) {
        let sessions: Vec<Arc<PtySession>> =
            std::mem::take(&mut *self.sessions.lock().unwrap_or_else(|p| p.into_inner()))
                .into_values()
                .collect();
        for s in &sessions {
            s.signal_group(rustix::process::Signal::HUP);
            s.signal_group(rustix::process::Signal::KILL);
        }
    }
}

impl Drop for PtyBackend {
    fn drop(&mut self) {
        self.kill_all();
    }
}

#[async_trait]
impl SessionBackend for PtyBackend {
    fn kind(&self) -> &'static str {
        "pty"
    }

    async fn list(&self) -> Result<Vec<SessionInfo>> {
        let sessions: Vec<Arc<PtySession>> = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        Ok(sessions.iter().map(|s| self.info_of(s)).collect())
    }

    async fn create(&self, spec: CreateSpec) -> Result<SessionInfo> {
        // Reserve the name first so that two concurrent creates cannot both succeed.
        if self.get(&spec.name).is_ok() {
            return Err(Error::AlreadyExists(spec.name.to_string()));
        }
        let session = PtySession::spawn(&spec, self.cfg.scrollback, self.events.clone())?;
        {
            let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            if map.contains_key(&spec.name) {
                drop(map);
                session.signal_group(rustix::process::Signal::KILL);
                return Err(Error::AlreadyExists(spec.name.to_string()));
            }
            map.insert(spec.name.clone(), session.clone());
        }
        tracing::info!(session = %spec.name, profile = %spec.profile, pid = session.pid, "pty session created");
        let _ = self.events.send(SessionEvent::Created(spec.name.clone()));
        Ok(self.info_of(&session))
    }

    async fn info(&self, name: &SessionName) -> Result<SessionInfo> {
        let s = self.get(name)?;
        Ok(self.info_of(&s))
    }

    async fn send_text(&self, name: &SessionName, text: &str, submit: bool) -> Result<()> {
        let s = self.get(name)?;
        if !text.is_empty() {
            let bracketed = lock(&s.shared).parser.screen().bracketed_paste();
            s.write(&keys::paste_bytes(text, bracketed)).await?;
        }
        if submit {
            // A separate write after the paste, so the program sees the paste end first.
            tokio::time::sleep(KEY_GAP).await;
            s.write(b"\r").await?;
        }
        Ok(())
    }

    async fn send_keys(&self, name: &SessionName, keys: &[Key]) -> Result<()> {
        let s = self.get(name)?;
        // One write per key, a moment apart: TUIs such as Claude Code's read their input in
        // chunks and take a chunk holding two keys ("Down" then "Enter") as one unknown key.
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(KEY_GAP).await;
            }
            let app_cursor = lock(&s.shared).parser.screen().application_cursor();
            s.write(&keys::key_bytes(*k, app_cursor)).await?;
        }
        Ok(())
    }

    async fn read(&self, name: &SessionName, req: ReadRequest) -> Result<Screen> {
        let s = self.get(name)?;
        let shared = lock(&s.shared);
        let cursor = {
            let (row, col) = shared.parser.screen().cursor_position();
            Some((col, row))
        };
        let wanted = req.offset.saturating_add(req.lines);
        let (lines, skipped) = render::lines(&shared.parser, wanted, req.scrollback, req.escapes);
        drop(shared);
        let mut screen = page(&lines.join("\n"), &req, cursor);
        if req.scrollback && skipped > 0 {
            screen.total_lines += skipped;
            screen.first_line += skipped;
            screen.more_above = true;
        }
        Ok(screen)
    }

    async fn resize(&self, name: &SessionName, cols: u16, rows: u16) -> Result<()> {
        if !(10..=1000).contains(&cols) || !(2..=1000).contains(&rows) {
            return Err(Error::InvalidArgument(format!(
                "size {cols}x{rows} is out of range (10..1000 columns, 2..1000 rows)"
            )));
        }
        let s = self.get(name)?;
        {
            let w = s.writer.lock().await;
            w.resize(pty_process::Size::new(rows, cols))
                .map_err(|e| Error::Unavailable(format!("resizing the PTY: {e}")))?;
        }
        let (r, c) = (
            std::num::NonZeroU16::new(rows).unwrap_or(std::num::NonZeroU16::MIN),
            std::num::NonZeroU16::new(cols).unwrap_or(std::num::NonZeroU16::MIN),
        );
        lock(&s.shared).parser.set_size(r, c);
        Ok(())
    }

    async fn terminate(&self, name: &SessionName) -> Result<()> {
        let s = self.get(name)?;
        if s.status() == ProcessStatus::Running {
            s.signal_group(rustix::process::Signal::HUP);
            s.signal_group(rustix::process::Signal::TERM);
            let mut events = self.events.subscribe();
            let deadline = tokio::time::Instant::now() + self.cfg.kill_grace;
            while s.status() == ProcessStatus::Running {
                match tokio::time::timeout_at(deadline, events.recv()).await {
                    Ok(_) => continue,
                    Err(_) => {
                        s.signal_group(rustix::process::Signal::KILL);
                        break;
                    }
                }
            }
        }
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        tracing::info!(session = %name, "pty session terminated");
        let _ = self.events.send(SessionEvent::Terminated(name.clone()));
        Ok(())
    }

    fn events(&self) -> broadcast::Receiver<SessionEvent> {
        self.events.subscribe()
    }

    /// Every chunk of output is fed to the emulator and then announced, always.
    fn output_events_epoch(&self) -> Option<u64> {
        Some(0)
    }
}

#[cfg(test)]
mod tests;
