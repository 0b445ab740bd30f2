//! One PTY session: the child process, the PTY's write half, and the terminal emulator that
//! a reader task feeds from the PTY's output.

use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;

use sessiongate_backend::{CreateSpec, Error, ProcessStatus, Result, SessionEvent, SessionName};

/// The size of one read from the PTY.
const READ_CHUNK: usize = 16 * 1024;

/// What the reader task and the request handlers share.
pub(crate) struct Shared {
    pub(crate) parser: crate::render::Emulator,
    pub(crate) status: ProcessStatus,
    pub(crate) last_output: Option<OffsetDateTime>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("status", &self.status)
            .field("last_output", &self.last_output)
            .finish_non_exhaustive()
    }
}

/// A session.
#[derive(Debug)]
pub(crate) struct PtySession {
    pub(crate) name: SessionName,
    pub(crate) profile: String,
    pub(crate) pid: u32,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) working_dir: std::path::PathBuf,
    pub(crate) shared: Arc<Mutex<Shared>>,
    pub(crate) writer: tokio::sync::Mutex<pty_process::OwnedWritePty>,
    /// A duplicate of the PTY's controlling side, for asking who is in the foreground.
    pub(crate) master: std::os::fd::OwnedFd,
}

/// Locks the shared state. A panic while it was held (there is no code that panics there)
/// leaves the emulator usable, so a poisoned lock is taken over rather than propagated.
pub(crate) fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Signals whose disposition a program must start with at its default. An ignored signal
/// stays ignored across exec: a gateway started in the background by a shell (`&`, nohup)
/// ignores SIGINT and SIGQUIT, and without this its sessions would ignore Ctrl-C too.
const DEFAULT_SIGNALS: [libc::c_int; 8] = [
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGHUP,
    libc::SIGTERM,
    libc::SIGPIPE,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
];

/// Puts [`DEFAULT_SIGNALS`] back to their default disposition (in the child, before exec).
fn default_signals() -> std::io::Result<()> {
    for sig in DEFAULT_SIGNALS {
        // SAFETY: signal(2) with SIG_DFL is async-signal-safe and installs no handler.
        #[allow(unsafe_code)]
        let previous = unsafe { libc::signal(sig, libc::SIG_DFL) };
        if previous == libc::SIG_ERR {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

impl PtySession {
    /// Spawns the spec's program in a new PTY and starts the tasks that feed the emulator and
    /// reap the child.
    pub(crate) fn spawn(
        spec: &CreateSpec,
        scrollback: usize,
        events: broadcast::Sender<SessionEvent>,
    ) -> Result<Arc<PtySession>> {
        let unavailable =
            |what: &str, e: &dyn std::fmt::Display| Error::Unavailable(format!("{what}: {e}"));
        let (pty, pts) = pty_process::open().map_err(|e| unavailable("opening a PTY", &e))?;
        pty.resize(pty_process::Size::new(spec.rows, spec.cols))
            .map_err(|e| unavailable("sizing the PTY", &e))?;
        let mut cmd = pty_process::Command::new(&spec.argv[0])
            .args(&spec.argv[1..])
            .current_dir(&spec.working_dir)
            .env("TERM", "xterm-256color")
            .env("COLUMNS", spec.cols.to_string())
            .env("LINES", spec.rows.to_string())
            .kill_on_drop(true);
        for (k, v) in &spec.env {
            cmd = cmd.env(k, v);
        }
        // SAFETY: the closure runs in the child between fork and exec; it only calls
        // signal(2), which is async-signal-safe, and touches no memory of the parent.
        #[allow(unsafe_code)]
        let cmd = unsafe { cmd.pre_exec(default_signals) };
        let mut child = cmd
            .spawn(pts)
            .map_err(|e| Error::Unavailable(format!("starting {:?}: {e}", spec.argv[0])))?;
        let pid = child.id().ok_or_else(|| {
            Error::Unavailable(format!(
                "{:?} exited before it could be watched",
                spec.argv[0]
            ))
        })?;
        let master = pty
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| unavailable("duplicating the PTY", &e))?;
        // The reader answers the program's questions to its terminal on a descriptor of its
        // own (a few bytes, written without waiting; see `answers`).
        let answer_fd = pty
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| unavailable("duplicating the PTY", &e))?;
        let (mut reader, writer) = pty.into_split();
        let shared = Arc::new(Mutex::new(Shared {
            parser: crate::render::emulator(spec.rows, spec.cols, scrollback),
            status: ProcessStatus::Running,
            last_output: None,
        }));
        let session = Arc::new(PtySession {
            name: spec.name.clone(),
            profile: spec.profile.clone(),
            pid,
            created_at: OffsetDateTime::now_utc(),
            working_dir: spec.working_dir.clone(),
            shared: shared.clone(),
            writer: tokio::sync::Mutex::new(writer),
            master,
        });

        // The reader: PTY output → emulator. It ends at EOF or EIO, when the child and every
        // process that shares its terminal are gone.
        let name = spec.name.clone();
        let reader_shared = shared.clone();
        let reader_events = events.clone();
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; READ_CHUNK];
            loop {
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let answers = {
                            let mut s = lock(&reader_shared);
                            s.last_output = Some(OffsetDateTime::now_utc());
                            crate::answers::process(&mut s.parser, &buf[..n])
                        };
                        if !answers.is_empty() {
                            // A full terminal buffer drops the answer rather than stall output.
                            let _ = rustix::io::write(&answer_fd, &answers);
                        }
                        let _ = reader_events.send(SessionEvent::Output(name.clone()));
                    }
                }
            }
        });

        // The reaper: waits for the child, records how it ended, and announces it once its
        // last output has been read.
        let name = spec.name.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            // Let the reader drain what the child wrote before it exited, for a bounded time.
            let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
            let exited = match status {
                Ok(st) => {
                    use std::os::unix::process::ExitStatusExt;
                    ProcessStatus::Exited {
                        code: st.code(),
                        signal: st.signal(),
                    }
                }
                Err(_) => ProcessStatus::Exited {
                    code: None,
                    signal: None,
                },
            };
            lock(&shared).status = exited;
            let _ = events.send(SessionEvent::Exited(name));
        });
        Ok(session)
    }

    /// The status right now.
    pub(crate) fn status(&self) -> ProcessStatus {
        lock(&self.shared).status
    }

    /// Writes bytes to the program.
    pub(crate) async fn write(&self, bytes: &[u8]) -> Result<()> {
        if self.status() != ProcessStatus::Running {
            return Err(Error::Exited(self.name.to_string()));
        }
        let mut w = self.writer.lock().await;
        w.write_all(bytes).await?;
        w.flush().await?;
        Ok(())
    }

    /// The name of the terminal's foreground process (e.g. `bash`, `vim`, `claude`).
    pub(crate) fn foreground_command(&self) -> Option<String> {
        let pgid = rustix::termios::tcgetpgrp(self.master.as_fd()).ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", pgid.as_raw_nonzero())).ok()?;
        Some(comm.trim().to_owned())
    }

    /// The foreground process's working directory, falling back to the start directory.
    pub(crate) fn cwd(&self) -> std::path::PathBuf {
        std::fs::read_link(format!("/proc/{}/cwd", self.pid))
            .unwrap_or_else(|_| self.working_dir.clone())
    }

    /// Sends `signal` to the session's process group (the child is a session leader, so its
    /// process group id is its pid).
    pub(crate) fn signal_group(&self, signal: rustix::process::Signal) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.pid as i32) {
            let _ = rustix::process::kill_process_group(pid, signal);
        }
    }
}
