//! The tmux backend: sessions live in a private tmux server, so they survive restarts of the
//! gateway and the owner can attach to them at the terminal
//! (`tmux -L <socket> attach -t <prefix><name>`).
//!
//! Operations go through one long-lived tmux control-mode client (`tmux -C`, see
//! [`control`]) when it runs, and fall back to one forked `tmux` invocation with an argv
//! list (see [`command`]) when it does not. Targets are exact (`=name`). Client text never
//! meets tmux's command, key-name or `;` parsing and never appears in a process list: one
//! line without control characters goes to the control client as the single-quoted data of
//! `set-buffer`, anything else (several lines, or the client down) reaches a forked tmux's
//! `load-buffer -` on standard input; either way `paste-buffer -p` then types it as one
//! bracketed paste, and Enter follows separately. The control client's `%output`
//! notifications become [`SessionEvent::Output`], so waiters need not poll.
//!
//! The control client dies with the gateway (parent-death signal), a new one first ends
//! clients left attached to the control session, and every forked tmux has a deadline, so a
//! stopped server is reported as a server problem rather than waited on forever.
//!
//! # Layout
//! - this file: [`TmuxBackend`] and its [`SessionBackend`] implementation;
//! - `driver`: control mode or fork, reconnecting, pane → session map, events;
//! - `control`: the control-mode client, its line protocol and argument quoting;
//! - `command`: running a forked tmux and classifying its errors;
//! - `format`: the `list-panes` format and its parser, and the name mapping;
//! - `claude_remote`: Claude Code's state file and transcript read on a remote host;
//! - `ssh`: the SSH transport for a tmux server on another host ([`SshTarget`]): every
//!   invocation becomes `ssh … HOST -- <words quoted by [`shell_quote`]>`.

mod claude_remote;
mod command;
mod control;
mod driver;
mod format;
mod ssh;

pub use ssh::{RETRY_GAP, SshTarget, shell_quote};

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use tokio::sync::broadcast;

use driver::Driver;

use sessiongate_backend::screen::page;
use sessiongate_backend::{
    CreateSpec, Error, Key, ProcessStatus, ReadRequest, Result, Screen, SessionBackend,
    SessionEvent, SessionInfo, SessionName,
};

use command::{Tmux, TmuxFailure};
use format::{NAME_OPTION, PANE_FORMAT, PROFILE_OPTION, PaneLine, parse_line, to_tmux_name};

/// The pause between two keys of one `send_keys` call.
const KEY_GAP: std::time::Duration = std::time::Duration::from_millis(15);

/// How many times a dead pane whose exit status is not known yet is re-read.
const PANE_STATUS_RETRIES: usize = 10;

/// The longest message text sent through the control client (one command line); longer
/// text goes to a forked tmux on standard input.
const CONTROL_TEXT_MAX: usize = 16 * 1024;

/// The tmux socket name (`tmux -L`) sessiongate uses unless told otherwise.
pub const DEFAULT_SOCKET: &str = "sessiongate";
/// The prefix of managed session names unless told otherwise.
pub const DEFAULT_PREFIX: &str = "claude-";

/// How the tmux backend reaches its server and names its sessions.
#[derive(Debug, Clone)]
pub struct TmuxConfig {
    /// The tmux socket name (`tmux -L`): sessiongate's own server, never the user's default.
    pub socket: String,
    /// The prefix of every managed session's tmux name; other sessions are never touched.
    pub prefix: String,
    /// Scrollback lines kept per session (tmux `history-limit`).
    pub history_limit: usize,
    /// The tmux program to run.
    pub program: String,
    /// A tmux configuration file for the server; `None` reads none (`-f /dev/null`).
    pub config_file: Option<String>,
    /// How long one forked tmux invocation may take before the server is reported as
    /// hung (a stopped server never answers; without a deadline every call would wait
    /// forever).
    pub command_timeout: std::time::Duration,
    /// The host the tmux server runs on, reached over SSH; `None` for this machine.
    pub ssh: Option<SshTarget>,
}

impl TmuxConfig {
    /// The usual settings for a socket name and prefix.
    pub fn new(socket: impl Into<String>, prefix: impl Into<String>) -> Self {
        TmuxConfig {
            socket: socket.into(),
            prefix: prefix.into(),
            history_limit: 50_000,
            program: "tmux".into(),
            config_file: None,
            command_timeout: std::time::Duration::from_secs(10),
            ssh: None,
        }
    }
}

/// Sessions in a tmux server.
#[derive(Debug)]
pub struct TmuxBackend {
    driver: Driver,
    prefix: String,
    history_limit: usize,
    buffer_seq: AtomicU64,
    /// Where Claude Code's state files were found on a remote host, lately.
    claude_searches: claude_remote::Searches,
}

impl TmuxBackend {
    /// A backend for the given configuration. Nothing is started until the first session is
    /// created; a server that already runs on the socket is used as it is.
    pub fn new(cfg: TmuxConfig) -> Self {
        let tmux = Tmux {
            ssh: cfg.ssh.map(|t| std::sync::Arc::new(ssh::Ssh::new(t))),
            program: cfg.program,
            socket: cfg.socket,
            config: cfg.config_file,
            timeout: cfg.command_timeout,
        };
        TmuxBackend {
            driver: Driver::new(tmux, cfg.prefix.clone()),
            prefix: cfg.prefix,
            history_limit: cfg.history_limit,
            buffer_seq: AtomicU64::new(0),
            claude_searches: claude_remote::Searches::default(),
        }
    }

    /// Checks that tmux can be run at all (on its host, over SSH for a remote one), for a
    /// clear error at startup; returns tmux's version.
    pub async fn check(&self) -> Result<String> {
        let tmux = &self.driver.tmux;
        match tmux.run_plain(&[&tmux.program, "-V"]).await {
            Ok(v) => Ok(v.trim().to_owned()),
            Err(TmuxFailure::Other(why)) if tmux.host().is_none() => Err(Error::Unavailable(
                format!("{why}; install tmux or choose --backend pty"),
            )),
            Err(e) => Err(e.into_error(tmux, "")),
        }
    }

    /// Resolves a directory on the host tmux runs on (symlinks resolved there, as
    /// `cd -P` does): `None` is the home directory of the user tmux runs as. Fails with
    /// [`Error::WorkdirMissing`] when it is not an existing directory there. The directory
    /// is handed to a fixed script as its one argument, never as part of the script.
    pub async fn resolve_dir(&self, dir: Option<&str>) -> Result<std::path::PathBuf> {
        let tmux = &self.driver.tmux;
        let out = match dir {
            Some(d) => {
                tmux.run_plain(&["sh", "-c", "cd -P -- \"$1\" && pwd -P", "sh", d])
                    .await
            }
            None => tmux.run_plain(&["sh", "-c", "cd -P && pwd -P"]).await,
        };
        match out {
            Ok(path) => {
                let path = path.strip_suffix('\n').unwrap_or(&path);
                if path.is_empty() || path.contains('\n') || !path.starts_with('/') {
                    return Err(Error::WorkdirMissing(
                        sessiongate_backend::name::printable_prefix(dir.unwrap_or("~")),
                    ));
                }
                Ok(std::path::PathBuf::from(path))
            }
            Err(TmuxFailure::Other(_)) => Err(Error::WorkdirMissing(
                sessiongate_backend::name::printable_prefix(dir.unwrap_or("~")),
            )),
            Err(e) => Err(e.into_error(tmux, "")),
        }
    }

    /// The host this backend's tmux runs on: `None` for this machine.
    pub fn host(&self) -> Option<&str> {
        self.driver.tmux.host()
    }

    async fn panes(&self) -> Result<Vec<PaneLine>> {
        let mut args = vec![c("list-panes"), c("-a"), c("-F"), c(PANE_FORMAT)];
        if let Some(filter) = format::session_filter(&self.prefix, self.driver.control_session()) {
            args.extend([c("-f"), o(filter)]);
        }
        match self.driver.run(&args).await {
            Ok(out) => {
                let panes: Vec<PaneLine> = out
                    .lines()
                    .filter_map(|l| parse_line(l, &self.prefix))
                    .filter(|p| p.active)
                    .collect();
                self.driver.observe(&panes).await;
                Ok(panes)
            }
            // No server, or a server whose last session ended: no sessions.
            Err(TmuxFailure::NoServer | TmuxFailure::NoTarget) => Ok(Vec::new()),
            Err(e) => Err(e.into_error(&self.driver.tmux, "")),
        }
    }

    async fn pane(&self, name: &SessionName) -> Result<PaneLine> {
        let tmux_name = self.tmux_name(name);
        let args = vec![
            c("list-panes"),
            c("-s"),
            c("-t"),
            o(format!("={tmux_name}")),
            c("-F"),
            c(PANE_FORMAT),
        ];
        // tmux marks a pane dead when its terminal closes and learns the exit status a moment
        // later, when the child is reaped; a few short re-reads bridge that gap.
        for attempt in 0..PANE_STATUS_RETRIES {
            let out = self
                .driver
                .run(&args)
                .await
                .map_err(|e| e.into_error(&self.driver.tmux, name.as_str()))?;
            let pane = out
                .lines()
                .filter_map(|l| parse_line(l, &self.prefix))
                .find(|p| p.active && p.tmux_name == tmux_name && p.info.name == *name)
                .ok_or_else(|| Error::NotFound(name.to_string()))?;
            if !pane.info.status.is_pending() || attempt + 1 == PANE_STATUS_RETRIES {
                self.driver.observe(std::slice::from_ref(&pane)).await;
                return Ok(pane);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Err(Error::NotFound(name.to_string()))
    }

    fn tmux_name(&self, name: &SessionName) -> String {
        to_tmux_name(&self.prefix, name.as_str())
    }

    /// The target of a session's active pane: `=<tmux name>:` (exact match, current window).
    fn pane_target(&self, name: &SessionName) -> String {
        format!("={}:", self.tmux_name(name))
    }

    async fn running_pane(&self, name: &SessionName) -> Result<PaneLine> {
        let pane = self.pane(name).await?;
        if pane.info.status != ProcessStatus::Running {
            return Err(Error::Exited(name.to_string()));
        }
        Ok(pane)
    }

    fn emit(&self, ev: SessionEvent) {
        self.driver.emit(ev);
    }
}

fn c(s: &'static str) -> Cow<'static, str> {
    Cow::Borrowed(s)
}

fn o(s: String) -> Cow<'static, str> {
    Cow::Owned(s)
}

#[async_trait]
impl SessionBackend for TmuxBackend {
    fn kind(&self) -> &'static str {
        "tmux"
    }

    async fn list(&self) -> Result<Vec<SessionInfo>> {
        // As for one pane (`pane`): a pane that just died may not have its exit status yet;
        // a few short re-reads bridge that, so that a list never keeps "exited, code
        // unknown" for a program whose code tmux learns a moment later.
        let mut panes = self.panes().await?;
        for _ in 1..PANE_STATUS_RETRIES {
            if !panes.iter().any(|p| p.info.status.is_pending()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            panes = self.panes().await?;
        }
        let mut v: Vec<SessionInfo> = panes.into_iter().map(|p| p.info).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }

    async fn create(&self, spec: CreateSpec) -> Result<SessionInfo> {
        let tmux_name = self.tmux_name(&spec.name);
        // The server is started with sessiongate's settings (remain-on-exit so that an exited
        // program's last screen and exit status can still be read). They are set before the
        // session exists, so even a program that exits at once is kept.
        let mut new_session = vec![
            c("new-session"),
            c("-d"),
            c("-s"),
            o(tmux_name.clone()),
            c("-x"),
            o(spec.cols.to_string()),
            c("-y"),
            o(spec.rows.to_string()),
            c("-c"),
            o(spec.working_dir.to_string_lossy().into_owned()),
        ];
        for (k, v) in &spec.env {
            new_session.push(c("-e"));
            new_session.push(o(format!("{k}={v}")));
        }
        new_session.push(c("--"));
        new_session.extend(spec.argv.iter().map(|a| o(a.clone())));
        // set-option resolves its target as a pane, so the exact-match form needs the ':'.
        let target = o(format!("={tmux_name}:"));
        let commands = vec![
            vec![c("start-server")],
            // Without this a server started by this very command would exit again before
            // new-session runs, since it has no sessions yet.
            vec![c("set-option"), c("-s"), c("exit-empty"), c("off")],
            vec![c("set-option"), c("-g"), c("remain-on-exit"), c("on")],
            vec![
                c("set-option"),
                c("-g"),
                c("history-limit"),
                o(self.history_limit.to_string()),
            ],
            new_session,
            vec![
                c("set-option"),
                c("-t"),
                target.clone(),
                c(NAME_OPTION),
                o(spec.name.to_string()),
            ],
            vec![
                c("set-option"),
                c("-t"),
                target,
                c(PROFILE_OPTION),
                o(spec.profile.clone()),
            ],
        ];
        let mut created = self.driver.tmux.run(&commands, None).await;
        if matches!(created, Err(TmuxFailure::NoServer)) {
            // A server on its way out (killed a moment ago) answers "server exited
            // unexpectedly"; once it is gone, the same command starts a new one.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            created = self.driver.tmux.run(&commands, None).await;
        }
        created.map_err(|e| e.into_create_error(&self.driver.tmux, spec.name.as_str()))?;
        self.driver.server_is_up();
        tracing::info!(session = %spec.name, profile = %spec.profile, "tmux session created");
        self.emit(SessionEvent::Created(spec.name.clone()));
        self.info(&spec.name).await
    }

    async fn info(&self, name: &SessionName) -> Result<SessionInfo> {
        Ok(self.pane(name).await?.info)
    }

    async fn send_text(&self, name: &SessionName, text: &str, submit: bool) -> Result<()> {
        self.running_pane(name).await?;
        let target = o(self.pane_target(name));
        // tmux's paste-buffer -p does not filter paste markers in the buffer: a message holding
        // ESC[201~ would end the paste and the rest would arrive as keystrokes.
        let text = sessiongate_backend::keys::strip_paste_markers(text);
        if !text.is_empty() {
            let seq = self.buffer_seq.fetch_add(1, Ordering::Relaxed);
            let buffer = o(format!("sessiongate-{}-{seq}", std::process::id()));
            // paste-buffer -p uses bracketed paste when the program asked for it, so several
            // lines arrive as one message; -d deletes the buffer afterwards.
            let paste = vec![
                c("paste-buffer"),
                c("-p"),
                c("-d"),
                c("-b"),
                buffer.clone(),
                c("-t"),
                target.clone(),
            ];
            // One line of text without control characters goes to the control client as a
            // single-quoted `set-buffer` argument (inside single quotes tmux's parser takes
            // every character literally; `--` ends the options). Anything else, or when the
            // control client is down, reaches a forked tmux on standard input. Either way the
            // text never appears on a command line of its own process.
            let set = vec![
                c("set-buffer"),
                c("-b"),
                buffer.clone(),
                c("--"),
                Cow::Borrowed(text.as_ref()),
            ];
            let on_control = if text.len() <= CONTROL_TEXT_MAX {
                self.driver.run_on_control(&set).await
            } else {
                None
            };
            let loaded = match on_control {
                Some(Ok(_)) => self.driver.run(&paste).await.map(|_| ()),
                Some(Err(e)) => Err(e),
                None => {
                    let load = vec![c("load-buffer"), c("-b"), buffer.clone(), c("-")];
                    self.driver
                        .tmux
                        .run(&[load, paste], Some(text.as_bytes()))
                        .await
                        .map(|_| ())
                }
            };
            if let Err(e) = loaded {
                let _ = self
                    .driver
                    .run(&[c("delete-buffer"), c("-b"), buffer])
                    .await;
                return Err(e.into_error(&self.driver.tmux, name.as_str()));
            }
        }
        if submit {
            // A separate command, so the program sees the paste end before the Enter.
            let enter = vec![c("send-keys"), c("-t"), target, c("Enter")];
            self.driver
                .run(&enter)
                .await
                .map_err(|e| e.into_error(&self.driver.tmux, name.as_str()))?;
        }
        Ok(())
    }

    async fn send_keys(&self, name: &SessionName, keys: &[Key]) -> Result<()> {
        self.running_pane(name).await?;
        let target = o(self.pane_target(name));
        // One tmux invocation per key, a moment apart: TUIs such as Claude Code's read their
        // input in chunks and take a chunk holding two keys ("Down" then "Enter") as one
        // unknown key.
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(KEY_GAP).await;
            }
            let cmd = match k {
                // A character is sent by its bytes in hex, so that tmux never reads it as a
                // key name or a command separator.
                Key::Char(ch) => {
                    let mut buf = [0u8; 4];
                    let mut v = vec![c("send-keys"), c("-t"), target.clone(), c("-H")];
                    v.extend(
                        ch.encode_utf8(&mut buf)
                            .bytes()
                            .map(|b| o(format!("{b:02x}"))),
                    );
                    v
                }
                other => vec![
                    c("send-keys"),
                    c("-t"),
                    target.clone(),
                    o(other.to_string()),
                ],
            };
            self.driver
                .run(&cmd)
                .await
                .map_err(|e| e.into_error(&self.driver.tmux, name.as_str()))?;
        }
        Ok(())
    }

    async fn read(&self, name: &SessionName, req: ReadRequest) -> Result<Screen> {
        let pane = self.pane(name).await?;
        let mut args = vec![c("capture-pane"), c("-p"), c("-J"), c("-t")];
        args.push(o(self.pane_target(name)));
        if req.escapes {
            args.push(c("-e"));
        }
        // Capture only as much history as the page needs (plus one screen of slack for
        // trailing blank lines), not the whole scrollback.
        let wanted_history = if req.scrollback {
            (req.offset.saturating_add(req.lines)).min(pane.history_size)
        } else {
            0
        };
        if wanted_history > 0 {
            args.push(c("-S"));
            args.push(o(format!("-{wanted_history}")));
        }
        let out = self
            .driver
            .run(&args)
            .await
            .map_err(|e| e.into_error(&self.driver.tmux, name.as_str()))?;
        let mut screen = page(&out, &req, pane.cursor);
        let skipped = pane.history_size - wanted_history;
        if req.scrollback && skipped > 0 {
            screen.total_lines += skipped;
            screen.first_line += skipped;
            screen.more_above = true;
        }
        Ok(screen)
    }

    async fn resize(&self, name: &SessionName, cols: u16, rows: u16) -> Result<()> {
        if cols < 10 || rows < 2 || cols > 1000 || rows > 1000 {
            return Err(Error::InvalidArgument(format!(
                "size {cols}x{rows} is out of range (10..1000 columns, 2..1000 rows)"
            )));
        }
        self.pane(name).await?;
        let args = vec![
            c("resize-window"),
            c("-t"),
            o(self.pane_target(name)),
            c("-x"),
            o(cols.to_string()),
            c("-y"),
            o(rows.to_string()),
        ];
        self.driver
            .run(&args)
            .await
            .map_err(|e| e.into_error(&self.driver.tmux, name.as_str()))?;
        Ok(())
    }

    async fn terminate(&self, name: &SessionName) -> Result<()> {
        // Look the session up first so that only a session whose recorded name matches is
        // ever killed.
        let pane = self.pane(name).await?;
        // The window is also linked into the control session: kill-window removes it from
        // every session (and ends the session when it was its only window).
        let window = vec![c("kill-window"), c("-t"), o(pane.window_id.clone())];
        match self.driver.run(&window).await {
            Ok(_) | Err(TmuxFailure::NoTarget) => {}
            Err(e) => return Err(e.into_error(&self.driver.tmux, name.as_str())),
        }
        let args = vec![
            c("kill-session"),
            c("-t"),
            o(format!("={}", self.tmux_name(name))),
        ];
        match self.driver.run(&args).await {
            // Already gone with its only window.
            Ok(_) | Err(TmuxFailure::NoTarget | TmuxFailure::NoServer) => {}
            Err(e) => return Err(e.into_error(&self.driver.tmux, name.as_str())),
        }
        self.driver.forget(&pane.pane_id);
        tracing::info!(session = %name, "tmux session terminated");
        self.emit(SessionEvent::Terminated(name.clone()));
        Ok(())
    }

    fn events(&self) -> broadcast::Receiver<SessionEvent> {
        self.driver.subscribe()
    }

    fn output_events_epoch(&self) -> Option<u64> {
        self.driver.output_epoch()
    }

    /// On a remote host, read there by a fixed script over the SSH connection.
    async fn claude_state(
        &self,
        info: &SessionInfo,
    ) -> Option<sessiongate_backend::prompt::claude_state::ClaudeState> {
        if self.host().is_none() {
            return sessiongate_backend::backend::local_claude_state(info);
        }
        let pane = self.pane(&info.name).await.ok()?.info;
        let command = pane.current_command.as_deref();
        claude_remote::state(&self.driver.tmux, &self.claude_searches, pane.pid?, command)
            .await
            .map(|(s, _)| s)
    }

    /// True for a remote host: every read is a command run there.
    fn claude_state_is_remote(&self) -> bool {
        self.host().is_some()
    }

    /// On a remote host, read there by fixed scripts over the SSH connection.
    async fn claude_transcript(
        &self,
        info: &SessionInfo,
        limit: usize,
    ) -> Option<(
        sessiongate_backend::prompt::claude_state::ClaudeState,
        sessiongate_backend::prompt::claude_state::TranscriptRead,
    )> {
        if self.host().is_none() {
            return sessiongate_backend::backend::local_claude_transcript(info, limit).await;
        }
        let pane = self.pane(&info.name).await.ok()?.info;
        let command = pane.current_command.as_deref();
        let (claude, home) =
            claude_remote::state(&self.driver.tmux, &self.claude_searches, pane.pid?, command)
                .await?;
        let items = claude_remote::transcript(&self.driver.tmux, &claude, &home, limit).await?;
        Some((claude, items))
    }
}

#[cfg(test)]
mod tests;
