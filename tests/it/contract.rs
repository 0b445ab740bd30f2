//! Every backend passes the same contract (`sessiongate_tests::contract`), bare and behind
//! the gateway's screen cache. The PTY runs need no tmux; CI also runs them with tmux absent
//! from PATH.

use std::sync::Arc;

use sessiongate_backend::SessionBackend;
use sessiongate_backend::cache::ScreenCache;
use sessiongate_backend_pty::{PtyBackend, PtyConfig};
use sessiongate_backend_tmux::{TmuxBackend, TmuxConfig};
use sessiongate_tests::contract;
use sessiongate_tests::gateway::unique_socket;
use sessiongate_tests::sshd::{ClientFaults, Sshd};

/// A tmux backend on a private socket whose server is killed when dropped.
struct TmuxFixture {
    backend: Arc<TmuxBackend>,
    socket: String,
}

impl Drop for TmuxFixture {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn tmux() -> TmuxFixture {
    let socket = unique_socket("contract");
    let backend = Arc::new(TmuxBackend::new(TmuxConfig::new(socket.clone(), "sg-")));
    TmuxFixture { backend, socket }
}

/// A tmux backend that reaches its server through a real `sshd` on loopback (the same
/// machine plays the remote host), on a private socket whose server is killed when dropped.
struct SshFixture {
    tmux: TmuxFixture,
    _sshd: Sshd,
}

fn tmux_over_ssh() -> SshFixture {
    let sshd = Sshd::start_new();
    let socket = unique_socket("contract-ssh");
    let mut cfg = TmuxConfig::new(socket.clone(), "sg-");
    cfg.ssh = Some(sshd.target("remote", ClientFaults::default()));
    let backend = Arc::new(TmuxBackend::new(cfg));
    SshFixture {
        tmux: TmuxFixture { backend, socket },
        _sshd: sshd,
    }
}

macro_rules! contract_tests {
    ($($scenario:ident),* $(,)?) => {
        mod pty {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let root = tempfile::tempdir().unwrap();
                    let b = PtyBackend::new(PtyConfig::default());
                    contract::$scenario(&b as &dyn SessionBackend, root.path()).await;
                }
            )*
        }
        mod tmux {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let root = tempfile::tempdir().unwrap();
                    let f = tmux();
                    contract::$scenario(f.backend.as_ref() as &dyn SessionBackend, root.path()).await;
                }
            )*
        }
        mod tmux_ssh {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let root = tempfile::tempdir().unwrap();
                    let f = tmux_over_ssh();
                    contract::$scenario(f.tmux.backend.as_ref() as &dyn SessionBackend, root.path()).await;
                }
            )*
        }
        mod pty_cached {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let root = tempfile::tempdir().unwrap();
                    let b = ScreenCache::new(Arc::new(PtyBackend::new(PtyConfig::default())));
                    contract::$scenario(&b as &dyn SessionBackend, root.path()).await;
                }
            )*
        }
        mod tmux_cached {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let root = tempfile::tempdir().unwrap();
                    let f = tmux();
                    let b = ScreenCache::new(f.backend.clone());
                    contract::$scenario(&b as &dyn SessionBackend, root.path()).await;
                }
            )*
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pty_screen_cache_serves_unchanged_screens() {
    let root = tempfile::tempdir().unwrap();
    let b = ScreenCache::new(Arc::new(PtyBackend::new(PtyConfig::default())));
    contract::screen_cache_serves_unchanged_screens(&b, root.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmux_screen_cache_serves_unchanged_screens() {
    let root = tempfile::tempdir().unwrap();
    let f = tmux();
    let b = ScreenCache::new(f.backend.clone());
    contract::screen_cache_serves_unchanged_screens(&b, root.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmux_ssh_screen_cache_serves_unchanged_screens() {
    let root = tempfile::tempdir().unwrap();
    let f = tmux_over_ssh();
    let b = ScreenCache::new(f.tmux.backend.clone());
    contract::screen_cache_serves_unchanged_screens(&b, root.path()).await;
}

contract_tests!(
    create_list_terminate,
    claude_state_is_read_where_the_session_runs,
    text_arrives_intact,
    named_keys,
    scrollback_pages,
    resize_reaches_the_program,
    cursor_position_is_reported,
    exit_status_is_kept,
    flooding_does_not_stall_others,
    hostile_names_and_paths,
    events_are_published,
);
