//! A real OpenSSH server for a test: Debian's `sshd`, started on a loopback port as the
//! current user with a throwaway host key, a user key made with `ssh-keygen`, its own
//! `known_hosts` and an `ssh_config` file that tests pass with `-F`, so the owner's real
//! `~/.ssh` is never read or written. tmux on this machine plays the remote host (each test
//! uses its own tmux socket).
//!
//! Also [`SilentHost`]: a TCP listener that accepts connections and never says a word, the
//! way a wedged host or a black-holing firewall behaves.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sessiongate_backend_tmux::SshTarget;

use crate::gateway::free_port;

/// The `sshd` program.
const SSHD: &str = "/usr/sbin/sshd";

/// The `Host` alias the generated `ssh_config` files define.
pub const ALIAS: &str = "sg-remote";

/// A running `sshd` on `127.0.0.1:port`, killed when dropped.
#[derive(Debug)]
pub struct Sshd {
    dir: tempfile::TempDir,
    /// The port it listens on (the same after [`Sshd::stop`] and [`Sshd::start`]).
    pub port: u16,
    child: Option<Child>,
}

/// Which faults an `ssh_config` file written by [`Sshd::ssh_config`] has.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientFaults {
    /// Its `known_hosts` is empty: the server's host key is unknown.
    pub unknown_host_key: bool,
    /// It offers a key the server does not accept.
    pub wrong_key: bool,
}

impl Sshd {
    /// Makes the keys and configuration files and starts the server.
    pub fn start_new() -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install Debian's openssh-server (CI's system-packages step does)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("user_key"));
        keygen(&d.join("other_key"));
        std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).expect("authorized_keys");
        let host_pub = std::fs::read_to_string(d.join("host_key.pub")).expect("host key");
        let port = free_port();
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {host_pub}"),
        )
        .expect("known_hosts");
        std::fs::write(d.join("empty_known_hosts"), "").expect("known_hosts");
        let config = format!(
            "ListenAddress 127.0.0.1:{port}\n\
             HostKey {d}/host_key\n\
             PidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\n\
             StrictModes no\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             UsePAM no\n\
             PermitRootLogin prohibit-password\n\
             AllowAgentForwarding no\n\
             AllowTcpForwarding no\n\
             X11Forwarding no\n\
             SetEnv HOME={d}/home\n\
             LogLevel VERBOSE\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).expect("sshd_config");
        // The "remote" user's own HOME: its shell reads no startup files of this machine's
        // (root's here runs `pyenv rehash`, whose lock, left by a shell the fault tests kill,
        // stalled every later login for a minute).
        std::fs::create_dir_all(d.join("home")).expect("home");
        // Debian's sshd, started as root, insists on its privilege-separation directory
        // (systemd makes it at boot; containers often lack it).
        if current_user() == "root" {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let mut s = Sshd {
            dir,
            port,
            child: None,
        };
        s.start();
        s
    }

    /// Starts the server again (after [`Sshd::stop`]) on the same port with the same keys.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "sshd already runs");
        let d = self.dir.path();
        // Its log goes to a file (VERBOSE: one line per command run, see
        // `commands_started`; readiness probes alone make it complain).
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("sshd.log"))
            .expect("sshd.log");
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sshd");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "sshd did not listen on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server and every connection it serves (the master connections die with
    /// them), as a host that goes down would: the listener and all its descendants, found
    /// by their parent pids and killed by pid.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let doomed = descendants(child.id());
            let _ = child.kill();
            for pid in doomed {
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .arg(pid.to_string())
                    .status();
            }
            let _ = child.wait();
        }
    }

    /// How many commands (SSH sessions: each forked `ssh` invocation and each control-mode
    /// client, multiplexed or not) this server has started so far, from its log.
    pub fn commands_started(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("sshd.log"))
            .map(|log| log.matches("Starting session: command").count())
            .unwrap_or(0)
    }

    /// The folder holding the keys and configuration files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes an `ssh_config` file that reaches this server as [`ALIAS`] (with the given
    /// faults) and returns its path.
    pub fn ssh_config(&self, faults: ClientFaults) -> PathBuf {
        let d = self.dir.path();
        let name = format!(
            "ssh_config{}{}",
            if faults.unknown_host_key {
                "-unknown"
            } else {
                ""
            },
            if faults.wrong_key { "-wrongkey" } else { "" }
        );
        let known = if faults.unknown_host_key {
            "empty_known_hosts"
        } else {
            "known_hosts"
        };
        let key = if faults.wrong_key {
            "other_key"
        } else {
            "user_key"
        };
        let text = format!(
            "Host {ALIAS}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  \
             IdentityFile {d}/{key}\n  IdentitiesOnly yes\n  IdentityAgent none\n  \
             UserKnownHostsFile {d}/{known}\n  GlobalKnownHostsFile /dev/null\n  \
             CheckHostIP no\n",
            port = self.port,
            user = current_user(),
            d = d.display(),
        );
        let path = d.join(name);
        std::fs::write(&path, text).expect("ssh_config");
        path
    }

    /// An [`SshTarget`] for this server as host `host`, with its master connections under
    /// this server's folder and short deadlines.
    pub fn target(&self, host: &str, faults: ClientFaults) -> SshTarget {
        let mut t = SshTarget::new(host, ALIAS, self.dir.path().join("masters"));
        t.config_file = Some(self.ssh_config(faults));
        t.connect_timeout = Duration::from_secs(3);
        t.persist = Duration::from_secs(30);
        t
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Master connections of this server's clients end with their connections.
        self.stop();
    }
}

/// A TCP listener on loopback that accepts every connection and never sends a byte.
#[derive(Debug)]
pub struct SilentHost {
    /// Its port.
    pub port: u16,
}

impl SilentHost {
    /// Starts the listener on a thread of its own (it lives as long as the test process).
    pub fn start() -> SilentHost {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming().flatten() {
                held.push(conn);
            }
        });
        SilentHost { port }
    }
}

/// Every process below `root` (children, their children, ...), from `/proc`.
fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // The fields after the command name (which may hold spaces) start after ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

/// Makes an ed25519 key pair without a passphrase at `path` (and `path.pub`).
fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "sessiongate-test",
            "-f",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen")
        .success();
    assert!(ok, "ssh-keygen failed");
}

/// The current user's login name.
fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
