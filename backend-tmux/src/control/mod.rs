//! One long-lived tmux control-mode client (`tmux -C`): commands are written to its
//! standard input one line each (arguments quoted by [`quote`]) and answered in order by
//! `%begin`/`%end` blocks on its standard output; `%output` notifications in between tell
//! which pane showed output (see [`protocol`]).
//!
//! The client is attached to sessiongate's own control session on the backend's private
//! socket. When it dies (tmux exits, the server is killed, the stream goes out of step),
//! every waiting command fails with [`TmuxFailure::Broken`] and the caller runs the command
//! as a forked `tmux` instead.

pub(crate) mod protocol;
pub(crate) mod quote;

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::ChildStdin;
use tokio::sync::{Notify, oneshot, watch};

use crate::command::{Tmux, TmuxFailure, classify};
use protocol::{Item, Parser};

/// How long one command may take before the client is taken for hung and dropped.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

type Waiter = oneshot::Sender<Result<String, String>>;

/// A notification the client passes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notice<'a> {
    /// A pane showed output (its id, `%3`).
    Output(&'a str),
    /// A format subscribed to with `refresh-client -B` has a new value for a pane.
    Subscription {
        /// The subscription's name.
        name: &'a str,
        /// The pane id.
        pane: &'a str,
        /// The new value.
        value: &'a str,
    },
}

/// A running control-mode client.
#[derive(Debug)]
pub(crate) struct Control {
    stdin: tokio::sync::Mutex<ChildStdin>,
    pending: Arc<Mutex<VecDeque<Waiter>>>,
    alive: Arc<AtomicBool>,
    /// Tells the reader task (which owns the process) to end it.
    stopping: Arc<Notify>,
    /// Becomes `true` once the client's start-up command has been answered.
    started: watch::Receiver<bool>,
}

impl Control {
    /// Starts a client attached to `session` (created if missing), calling `on_notice` for
    /// every `%output` and `%subscription-changed` notification.
    pub(crate) fn spawn(
        tmux: &Tmux,
        session: &str,
        on_notice: impl Fn(Notice<'_>) + Send + 'static,
    ) -> Result<Control, TmuxFailure> {
        // The control session's own pane runs a program that waits quietly.
        let args = [
            "-C",
            "new-session",
            "-A",
            "-s",
            session,
            "-x",
            "80",
            "-y",
            "24",
            "--",
            "cat",
        ];
        let mut cmd = tmux.command(&args)?;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let parent = rustix::process::getpid();
        // SAFETY: the closure runs in the child between fork and exec and makes only two
        // system calls (prctl and getppid), both async-signal-safe; it touches no memory of
        // the parent besides the copied pid.
        #[allow(unsafe_code)]
        unsafe {
            cmd.pre_exec(move || die_with_parent(parent))
        };
        let mut child = cmd
            .spawn()
            .map_err(|e| TmuxFailure::Other(format!("could not start tmux -C: {e}")))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(TmuxFailure::Other("tmux -C has no pipes".into()));
        };
        let pending: Arc<Mutex<VecDeque<Waiter>>> = Arc::default();
        let alive = Arc::new(AtomicBool::new(true));
        let stopping = Arc::new(Notify::new());
        let (p, a, stop) = (pending.clone(), alive.clone(), stopping.clone());
        let (started_tx, started) = watch::channel(false);
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout);
            let mut parser = Parser::default();
            let mut line = Vec::new();
            loop {
                line.clear();
                tokio::select! {
                    read = reader.read_until(b'\n', &mut line) => match read {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    },
                    _ = stop.notified() => break,
                }
                let text = line.strip_suffix(b"\n").unwrap_or(&line);
                match parser.feed(text) {
                    Item::Reply { ours: true, result } => {
                        let waiter = p.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                        match waiter {
                            Some(w) => {
                                let _ = w.send(result);
                            }
                            None => {
                                tracing::warn!("tmux control mode answered an unasked command");
                                break;
                            }
                        }
                    }
                    Item::Output { pane, .. } => on_notice(Notice::Output(&pane)),
                    Item::Subscription { name, pane, value } => on_notice(Notice::Subscription {
                        name: &name,
                        pane: &pane,
                        value: &value,
                    }),
                    // The start-up command (creating or attaching the session) is answered
                    // with flags 0, before anything written to standard input.
                    Item::Reply {
                        ours: false,
                        result,
                    } if !*started_tx.borrow() => match result {
                        Ok(_) => {
                            started_tx.send_replace(true);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "tmux control mode could not start");
                            break;
                        }
                    },
                    Item::Reply { ours: false, .. } | Item::Other => {}
                    Item::Exit => break,
                    Item::Garbled => {
                        tracing::warn!("tmux control mode stream out of step; dropping it");
                        break;
                    }
                }
            }
            a.store(false, Ordering::SeqCst);
            // Dropping the waiters fails every command still waiting.
            p.lock().unwrap_or_else(|e| e.into_inner()).clear();
            let _ = child.start_kill();
            let _ = child.wait().await;
            tracing::info!("tmux control-mode client ended");
        });
        Ok(Control {
            stdin: tokio::sync::Mutex::new(stdin),
            pending,
            alive,
            stopping,
            started,
        })
    }

    /// Waits until the client's start-up command has been answered, so that its session
    /// exists. tmux reads a control client's standard input as soon as the client connects:
    /// a command written before this may run first, and one that names the session (such as
    /// `link-window` into it) then fails. `false` when the client ended or did not start
    /// within the command timeout.
    pub(crate) async fn started(&self) -> bool {
        let mut started = self.started.clone();
        matches!(
            tokio::time::timeout(COMMAND_TIMEOUT, started.wait_for(|s| *s)).await,
            Ok(Ok(_))
        )
    }

    /// Whether the client still runs.
    pub(crate) fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    /// Runs one tmux command. [`TmuxFailure::Broken`] means the client cannot run it (dead,
    /// hung, or an argument that a command line cannot carry): run it forked instead.
    pub(crate) async fn run<S: AsRef<str>>(&self, args: &[S]) -> Result<String, TmuxFailure> {
        if !self.is_alive() {
            return Err(TmuxFailure::Broken);
        }
        let line = quote::command_line(args).ok_or(TmuxFailure::Broken)?;
        let (tx, rx) = oneshot::channel();
        {
            // The waiter is queued and the line written under one lock, so replies (which
            // come in the order the lines were written) meet their waiters.
            let mut stdin = self.stdin.lock().await;
            self.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_back(tx);
            if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
                self.stop();
                return Err(TmuxFailure::Broken);
            }
        }
        // The client may have ended between the check above and the queueing.
        if !self.is_alive() {
            return Err(TmuxFailure::Broken);
        }
        match tokio::time::timeout(COMMAND_TIMEOUT, rx).await {
            Ok(Ok(Ok(out))) => Ok(out),
            Ok(Ok(Err(msg))) => Err(classify(&msg)),
            Ok(Err(_)) => Err(TmuxFailure::Broken),
            Err(_) => {
                tracing::warn!("tmux control mode did not answer; dropping it");
                self.stop();
                Err(TmuxFailure::Broken)
            }
        }
    }

    /// Ends the client.
    pub(crate) fn stop(&self) {
        self.alive.store(false, Ordering::SeqCst);
        // notify_one keeps the permit if the reader is not waiting right now.
        self.stopping.notify_one();
    }
}

/// Makes the calling process (a forked child about to exec tmux) receive SIGKILL when the
/// gateway dies, even by `kill -9`, when nothing else would end it: a control client whose
/// gateway is gone stays attached to the control session otherwise. Fails when the gateway
/// ended between the fork and this call.
///
/// Linux sends the signal when the *thread* that forked the child ends; clients are started
/// from the runtime's worker threads, which live as long as the gateway, and a client ended
/// early is replaced by the driver anyway.
fn die_with_parent(parent: rustix::process::Pid) -> std::io::Result<()> {
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
    if rustix::process::getppid() != Some(parent) {
        return Err(std::io::Error::other(
            "the gateway ended before tmux -C started",
        ));
    }
    Ok(())
}

impl Drop for Control {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests;
