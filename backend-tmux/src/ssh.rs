//! Reaching a tmux server on another machine through the system's OpenSSH client.
//!
//! Every tmux invocation (forked commands and the control-mode client alike) becomes
//! `ssh <options> DESTINATION -- <quoted words>`. The options make it safe to run unattended:
//! `BatchMode=yes` (never a password or host-key prompt; an unknown or changed host key is
//! refused), one multiplexed master connection per host (`ControlMaster=auto`, its socket
//! under a 0700 directory of the gateway's), no agent forwarding (`-a`), no X11 (`-x`), no
//! terminal (`-T`), and a connect deadline. The owner's `~/.ssh/config`, agent and
//! `known_hosts` are used as `ssh` itself would, or the `ssh_config` file named for the host.
//!
//! The remote command is a string that the remote user's shell parses: every word goes
//! through [`shell_quote`], and the words are tmux's argv as the local backend would pass it.
//! Client input reaches those words only as validated session names, checked working
//! directories and profile argv; message text goes on standard input (`load-buffer -`).
//!
//! A host whose SSH connection failed is not tried again for [`RETRY_GAP`]: calls meanwhile
//! fail at once with the last error, so a dead host costs its callers nothing.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::process::Command;

/// How long after a failed connection the host is answered with that failure instead of a
/// new attempt.
pub const RETRY_GAP: Duration = Duration::from_secs(3);

/// The exit status `ssh` uses for its own errors (the remote command's status otherwise).
pub(crate) const SSH_FAILED: i32 = 255;

/// How to reach a remote host over SSH.
#[derive(Debug, Clone)]
pub struct SshTarget {
    /// The host's name in sessiongate (`build` in `build:cc`), used in messages.
    pub host: String,
    /// What `ssh` connects to: `user@host`, `ssh://user@host:port`, or an alias from the
    /// ssh configuration. Never starts with `-`.
    pub destination: String,
    /// An ssh configuration file passed with `-F` instead of `~/.ssh/config`.
    pub config_file: Option<PathBuf>,
    /// The directory that holds the master connections' sockets (created with mode 0700).
    pub control_dir: PathBuf,
    /// How long the master connection stays after its last use.
    pub persist: Duration,
    /// How long connecting (TCP and the server's greeting) may take.
    pub connect_timeout: Duration,
    /// The `ssh` program.
    pub program: String,
}

impl SshTarget {
    /// A target with the usual settings.
    pub fn new(
        host: impl Into<String>,
        destination: impl Into<String>,
        control_dir: PathBuf,
    ) -> Self {
        SshTarget {
            host: host.into(),
            destination: destination.into(),
            config_file: None,
            control_dir,
            persist: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(10),
            program: "ssh".into(),
        }
    }
}

/// An SSH transport: the target plus what the last connection attempt taught.
#[derive(Debug)]
pub(crate) struct Ssh {
    pub(crate) target: SshTarget,
    /// When the last SSH-level failure happened, and what it was.
    down: Mutex<Option<(Instant, String)>>,
}

impl Ssh {
    /// A transport for `target`.
    pub(crate) fn new(target: SshTarget) -> Ssh {
        Ssh {
            target,
            down: Mutex::new(None),
        }
    }

    /// The `ssh` command that runs `words` (the remote argv) on the host; an error for a
    /// destination that `ssh` would read as an option.
    pub(crate) fn command<S: AsRef<str>>(&self, words: &[S]) -> Result<Command, String> {
        let t = &self.target;
        if t.destination.is_empty() || t.destination.starts_with('-') {
            return Err(format!(
                "the ssh destination {:?} of host {} is not usable (empty, or it starts with -)",
                t.destination, t.host
            ));
        }
        ensure_private_dir(&t.control_dir);
        let mut cmd = Command::new(&t.program);
        cmd.args(["-a", "-x", "-T"]);
        if let Some(file) = &t.config_file {
            cmd.arg("-F").arg(file);
        }
        let control_path = t.control_dir.join("%C");
        for opt in [
            "BatchMode=yes".to_owned(),
            "StrictHostKeyChecking=yes".to_owned(),
            "ForwardAgent=no".to_owned(),
            "ForwardX11=no".to_owned(),
            "ClearAllForwardings=yes".to_owned(),
            "LogLevel=ERROR".to_owned(),
            "ControlMaster=auto".to_owned(),
            format!("ControlPath={}", control_path.display()),
            format!("ControlPersist={}", t.persist.as_secs().max(1)),
            format!("ConnectTimeout={}", t.connect_timeout.as_secs().max(1)),
            "ServerAliveInterval=5".to_owned(),
            "ServerAliveCountMax=2".to_owned(),
        ] {
            cmd.arg("-o").arg(opt);
        }
        cmd.arg(&t.destination).arg("--").arg(remote_command(words));
        Ok(cmd)
    }

    /// The last failure, while it is recent enough to answer with instead of trying again.
    pub(crate) fn recent_failure(&self) -> Option<String> {
        let down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        down.as_ref()
            .filter(|(at, _)| at.elapsed() < RETRY_GAP)
            .map(|(_, why)| why.clone())
    }

    /// Records the outcome of a connection: a failure (with its message) or a success.
    pub(crate) fn record(&self, failure: Option<&str>) {
        let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        match failure {
            Some(why) => *down = Some((Instant::now(), why.to_owned())),
            None => *down = None,
        }
    }

    /// Words for an SSH-level failure, from what `ssh` printed.
    pub(crate) fn explain(&self, stderr: &str) -> String {
        let t = &self.target;
        let msg: String = stderr.trim().chars().take(300).collect();
        let by_hand = match &t.config_file {
            Some(f) => format!("ssh -F {} {}", f.display(), t.destination),
            None => format!("ssh {}", t.destination),
        };
        if msg.contains("Host key verification failed") || msg.contains("HOST IDENTIFICATION") {
            format!(
                "the host key of {} is unknown or has changed, and sessiongate never accepts \
                 one by itself; check it and accept it by connecting once by hand \
                 (`{by_hand}`), then try again",
                t.destination
            )
        } else if msg.contains("Permission denied") {
            format!(
                "{} refused every key offered ({msg}); make `{by_hand}` work without a \
                 password (a key in the agent or the ssh config)",
                t.destination
            )
        } else if msg.is_empty() {
            "ssh failed without a message".to_owned()
        } else {
            msg
        }
    }
}

/// The remote command: each word quoted for a POSIX shell, joined by spaces.
pub(crate) fn remote_command<S: AsRef<str>>(words: &[S]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| shell_quote(w.as_ref())).collect();
    quoted.join(" ")
}

/// Quotes `word` so that a POSIX shell reads it back as exactly one word with exactly these
/// characters: inside single quotes nothing is special but the single quote itself, which is
/// written as `'\''` (close, an escaped quote, reopen). Line breaks, `$`, backticks, `;`, `~`,
/// globs and a leading `-` are all literal there.
pub fn shell_quote(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for ch in word.chars() {
        if ch == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(ch);
        }
    }
    out.push('\'');
    out
}

/// Creates the master-connection directory with mode 0700 (best effort: `ssh` says what is
/// wrong when it cannot use it).
fn ensure_private_dir(dir: &std::path::Path) {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if std::fs::metadata(dir).is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o077 == 0) {
        return;
    }
    let _ = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir);
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
}

#[cfg(test)]
mod tests;
