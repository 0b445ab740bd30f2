//! Running tmux: one argv per invocation, never a shell string.
//!
//! Every invocation passes `-L <socket>` so that sessiongate only ever talks to its own tmux
//! server, and `-f <config>` so that a server it starts does not read the user's
//! `~/.tmux.conf` unless the owner asked for it.

use std::borrow::Cow;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use sessiongate_backend::Error;

use crate::ssh::{SSH_FAILED, Ssh};

/// How to reach the tmux server.
#[derive(Debug, Clone)]
pub(crate) struct Tmux {
    /// Set for a tmux server on another machine: every invocation runs through `ssh`.
    pub(crate) ssh: Option<std::sync::Arc<Ssh>>,
    pub(crate) program: String,
    pub(crate) socket: String,
    pub(crate) config: Option<String>,
    /// How long a forked invocation may take before it is killed and the server is taken
    /// for hung (a stopped or wedged server never answers its clients).
    pub(crate) timeout: Duration,
}

/// What tmux said when a command failed, sorted into the cases callers act on.
#[derive(Debug)]
pub(crate) enum TmuxFailure {
    /// No tmux server runs on the socket (so no sessions exist).
    NoServer,
    /// The server is there but failed us: it did not answer in time (stopped, wedged), it
    /// exited in the middle of the command, or its socket cannot be used. With tmux's
    /// message or what was seen.
    Server(String),
    /// The target session, window or pane does not exist.
    NoTarget,
    /// `new-session` found the name taken.
    Duplicate,
    /// The control-mode client could not run the command (it ended, hung, or the command
    /// cannot be written as one line); the command should be run forked instead.
    Broken,
    /// The SSH connection to the tmux server's host failed (unreachable, refused, host key
    /// not trusted, authentication), with what was learnt.
    Ssh(String),
    /// Anything else, with tmux's message.
    Other(String),
}

impl Tmux {
    /// Runs one or more tmux commands in a single invocation. Each command is a list of
    /// arguments; they are joined with tmux's `;` separator, and every argument that itself
    /// ends in `;` is escaped so that tmux reads it as text, not as a separator.
    pub(crate) async fn run(
        &self,
        commands: &[Vec<Cow<'_, str>>],
        stdin: Option<&[u8]>,
    ) -> Result<String, TmuxFailure> {
        let mut words: Vec<Cow<'_, str>> = Vec::new();
        for (i, c) in commands.iter().enumerate() {
            if i > 0 {
                words.push(Cow::Borrowed(";"));
            }
            words.extend(c.iter().map(|a| escape_arg(a)));
        }
        let mut cmd = self.command(&words)?;
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                TmuxFailure::Other(match &self.ssh {
                    Some(ssh) => format!(
                        "the ssh program {:?} is not installed or not on PATH",
                        ssh.target.program
                    ),
                    None => format!(
                        "the tmux program {:?} is not installed or not on PATH",
                        self.program
                    ),
                })
            } else {
                TmuxFailure::Other(format!("could not run tmux: {e}"))
            }
        })?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(data)
                .await
                .map_err(|e| TmuxFailure::Other(format!("could not write to tmux: {e}")))?;
            drop(pipe);
        }
        // kill_on_drop ends the invocation when the deadline drops it.
        let out = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(out) => out.map_err(|e| TmuxFailure::Other(format!("tmux did not finish: {e}")))?,
            Err(_) if self.ssh.is_some() => {
                let why = format!(
                    "no answer within {} s (the host or its network is down or hung), and what \
                     was asked may still happen",
                    self.timeout.as_secs()
                );
                self.note_ssh(Some(&why));
                return Err(TmuxFailure::Ssh(why));
            }
            Err(_) => {
                return Err(TmuxFailure::Server(format!(
                    "it did not answer within {} s (stopped or hung?), and what was asked may \
                     still happen if it resumes",
                    self.timeout.as_secs()
                )));
            }
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        self.check_ssh(&out.status, &stderr)?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        Err(classify(&stderr))
    }

    /// The process that runs tmux with `args` after the socket and configuration options:
    /// tmux itself (an argv, never a shell string), or `ssh` running it on the remote host.
    /// Fails at once while the host's last SSH failure is recent (see [`crate::ssh`]).
    pub(crate) fn command<S: AsRef<str>>(&self, args: &[S]) -> Result<Command, TmuxFailure> {
        let config = self.config.as_deref().unwrap_or("/dev/null");
        let mut words: Vec<&str> = vec![&self.program, "-L", &self.socket, "-f", config];
        // A login over SSH often has no UTF-8 locale (ssh sends none by default), and tmux
        // then writes every control character and non-ASCII byte of its output (the tabs of
        // `list-panes -F`, a session's UTF-8 text) as `_`; `-u` says the client takes UTF-8.
        if self.ssh.is_some() {
            words.push("-u");
        }
        words.extend(args.iter().map(|a| a.as_ref()));
        self.argv_command(&words)
    }

    /// The process that runs `argv` (tmux's own program first) locally or over SSH.
    pub(crate) fn argv_command(&self, argv: &[&str]) -> Result<Command, TmuxFailure> {
        match &self.ssh {
            None => {
                let mut cmd = Command::new(argv[0]);
                cmd.args(&argv[1..]);
                Ok(cmd)
            }
            Some(ssh) => {
                if let Some(why) = ssh.recent_failure() {
                    return Err(TmuxFailure::Ssh(why));
                }
                ssh.command(argv).map_err(TmuxFailure::Ssh)
            }
        }
    }

    /// Runs `argv` (a fixed program such as `sh` or `tmux -V`, never a client's command line)
    /// on tmux's host with the same deadline and SSH accounting as tmux commands: its
    /// standard output, or its standard error as [`TmuxFailure::Other`].
    pub(crate) async fn run_plain(&self, argv: &[&str]) -> Result<String, TmuxFailure> {
        let out = self.run_plain_bytes(argv).await?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// [`Tmux::run_plain`], with standard output as the bytes it was.
    pub(crate) async fn run_plain_bytes(&self, argv: &[&str]) -> Result<Vec<u8>, TmuxFailure> {
        let mut cmd = self.argv_command(argv)?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let out = match tokio::time::timeout(self.timeout, cmd.output()).await {
            Ok(Ok(out)) => out,
            Ok(Err(e)) => return Err(TmuxFailure::Other(format!("cannot run {:?}: {e}", argv[0]))),
            Err(_) => {
                let why = format!("no answer within {} s", self.timeout.as_secs());
                self.note_ssh(Some(&why));
                return Err(match self.ssh {
                    Some(_) => TmuxFailure::Ssh(why),
                    None => TmuxFailure::Other(why),
                });
            }
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        self.check_ssh(&out.status, &stderr)?;
        if !out.status.success() {
            return Err(TmuxFailure::Other(
                stderr.trim().chars().take(500).collect(),
            ));
        }
        Ok(out.stdout)
    }

    /// Records an SSH-level outcome seen outside [`Tmux::run`] (the control client's start).
    /// Whether `ssh` itself failed (its exit code 255, not tmux's): an error naming the host,
    /// remembered for the next calls; success is remembered too.
    fn check_ssh(
        &self,
        status: &std::process::ExitStatus,
        stderr: &str,
    ) -> Result<(), TmuxFailure> {
        if let Some(ssh) = &self.ssh {
            if status.code() == Some(SSH_FAILED) {
                let why = ssh.explain(stderr);
                ssh.record(Some(&why));
                return Err(TmuxFailure::Ssh(why));
            }
            ssh.record(None);
        }
        Ok(())
    }

    pub(crate) fn note_ssh(&self, failure: Option<&str>) {
        if let Some(ssh) = &self.ssh {
            ssh.record(failure);
        }
    }

    /// The name of the host tmux runs on, for messages: `None` for this machine.
    pub(crate) fn host(&self) -> Option<&str> {
        self.ssh.as_ref().map(|s| s.target.host.as_str())
    }
}

/// Sorts tmux's error text into the cases callers handle differently.
pub(crate) fn classify(stderr: &str) -> TmuxFailure {
    let msg = stderr.trim();
    // "server exited unexpectedly": the server was on its way out as we connected (it
    // was killed, or its last session ended).
    if msg.starts_with("no server running")
        || (msg.starts_with("error connecting to") && msg.contains("No such file"))
        || msg.contains("server exited unexpectedly")
        || msg.starts_with("lost server")
    {
        TmuxFailure::NoServer
    } else if msg.starts_with("error connecting to") || msg.starts_with("server version is too old")
    {
        TmuxFailure::Server(msg.chars().take(500).collect())
    } else if msg.starts_with("can't find")
        || msg.contains("no such session")
        || msg.starts_with("no current target")
    {
        TmuxFailure::NoTarget
    } else if msg.starts_with("duplicate session") {
        TmuxFailure::Duplicate
    } else {
        TmuxFailure::Other(msg.chars().take(500).collect())
    }
}

/// tmux splits its command line at arguments that end in `;`, and reads a final `\;` as a
/// literal `;`. Escaping the final `;` of every argument keeps text text.
pub(crate) fn escape_arg(arg: &str) -> Cow<'_, str> {
    match arg.strip_suffix(';') {
        Some(head) => Cow::Owned(format!("{head}\\;")),
        None => Cow::Borrowed(arg),
    }
}

impl TmuxFailure {
    /// Turns a failure on an operation that targets the existing session `session` into
    /// the backend error: without a server no session exists, so "not found" is the truth.
    pub(crate) fn into_error(self, tmux: &Tmux, session: &str) -> Error {
        match self {
            TmuxFailure::NoServer | TmuxFailure::NoTarget => Error::NotFound(session.to_owned()),
            other => other.into_server_error(tmux, session),
        }
    }

    /// Turns a failure to *create* `session` into the backend error. Creating starts a
    /// server when none runs, so a missing server or target here is a server problem, never
    /// "no session named ...".
    pub(crate) fn into_create_error(self, tmux: &Tmux, session: &str) -> Error {
        match self {
            TmuxFailure::NoServer | TmuxFailure::NoTarget => TmuxFailure::Server(
                "it could not be started, or it went away while the session was created".into(),
            )
            .into_server_error(tmux, session),
            other => other.into_server_error(tmux, session),
        }
    }

    fn into_server_error(self, tmux: &Tmux, session: &str) -> Error {
        match self {
            TmuxFailure::Duplicate => Error::AlreadyExists(session.to_owned()),
            TmuxFailure::Broken => Error::Unavailable("tmux: the control client ended".into()),
            TmuxFailure::Server(why) => Error::Unavailable(format!(
                "the tmux server on socket {socket:?}{on} is not working: {why}; check it with \
                 `tmux -L {socket} ls`, and if it stays stuck, `tmux -L {socket} kill-server` \
                 (this ends its sessions) lets the next call start a new one",
                socket = tmux.socket,
                on = tmux
                    .host()
                    .map(|h| format!(" on host {h}"))
                    .unwrap_or_default(),
            )),
            TmuxFailure::Ssh(why) => Error::Unavailable(format!(
                "host {} cannot be reached over SSH: {why}",
                tmux.host().unwrap_or("local")
            )),
            TmuxFailure::Other(m) => match tmux.host() {
                Some(host) => Error::Unavailable(format!("tmux on host {host}: {m}")),
                None => Error::Unavailable(format!("tmux: {m}")),
            },
            TmuxFailure::NoServer | TmuxFailure::NoTarget => Error::NotFound(session.to_owned()),
        }
    }
}
