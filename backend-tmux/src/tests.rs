//! Unit tests of the tmux backend: the pure helpers, then scenarios against a real tmux
//! server on a private socket.

use std::path::Path;
use std::time::Duration;

use sessiongate_backend::policy::{LaunchProfile, SessionPolicy};
use sessiongate_backend::{ProcessStatus, ReadRequest};

use super::command::{TmuxFailure, classify, escape_arg};
use super::*;

#[test]
fn escapes_trailing_semicolons_only() {
    assert_eq!(escape_arg("a;b"), "a;b");
    assert_eq!(escape_arg("a;"), "a\\;");
    assert_eq!(escape_arg(";"), "\\;");
    assert_eq!(escape_arg("a\\;"), "a\\\\;");
}

#[test]
fn session_filters_only_for_plain_prefixes() {
    assert_eq!(
        format::session_filter("sg-", "sg-+control").as_deref(),
        Some("#{&&:#{==:#{=3:session_name},sg-},#{!=:#{session_name},sg-+control}}")
    );
    for bad in ["", "a,b", "x}", "#{", "a b"] {
        assert_eq!(format::session_filter(bad, "c+control"), None, "{bad:?}");
    }
}

#[test]
fn classifies_tmux_errors() {
    assert!(matches!(
        classify("no server running on /tmp/tmux-0/x\n"),
        TmuxFailure::NoServer
    ));
    assert!(matches!(
        classify("error connecting to /tmp/tmux-0/x (No such file or directory)"),
        TmuxFailure::NoServer
    ));
    assert!(matches!(
        classify("can't find session: =claude-x"),
        TmuxFailure::NoTarget
    ));
    assert!(matches!(
        classify("duplicate session: claude-x"),
        TmuxFailure::Duplicate
    ));
    assert!(matches!(classify("something else"), TmuxFailure::Other(_)));
    // A server that is there but fails is a server problem, never "no such session".
    for msg in ["server exited unexpectedly", "lost server"] {
        assert!(matches!(classify(msg), TmuxFailure::NoServer), "{msg}");
    }
    for msg in [
        "error connecting to /tmp/tmux-0/x (Connection refused)",
        "error connecting to /tmp/tmux-0/x (Permission denied)",
        "error connecting to /tmp/tmux-0/x (Is a directory)",
    ] {
        assert!(matches!(classify(msg), TmuxFailure::Server(_)), "{msg}");
    }
}

#[test]
fn parses_pane_lines_and_maps_names() {
    let line = "claude-a_b\t11\t1700000000\t1700000100\t4242\tbash\t0\t\t\t120\t40\t3\t7\t12\t%1\t@1\tclaude-a_b\ta.b\tshell\t/home/x y\tz";
    let p = format::parse_line(line, "claude-").unwrap();
    assert_eq!(p.info.name.as_str(), "a.b");
    assert_eq!(p.info.pid, Some(4242));
    assert_eq!(p.info.status, ProcessStatus::Running);
    assert_eq!(p.info.working_dir.unwrap(), Path::new("/home/x y\tz"));
    assert_eq!(p.cursor, Some((3, 7)));
    assert_eq!(p.history_size, 12);
    // Another prefix is never ours.
    assert!(format::parse_line(line, "other-").is_none());
    // A dead pane reports its exit status.
    let dead = "claude-x\t11\t1\t1\t1\tbash\t1\t3\t\t80\t24\t0\t0\t0\t%2\t@2\t\tx\tshell\t/";
    let p = format::parse_line(dead, "claude-").unwrap();
    assert_eq!(
        p.info.status,
        ProcessStatus::Exited {
            code: Some(3),
            signal: None
        }
    );
    // A session made by hand with the prefix is listed under its stripped name.
    let manual = "claude-hand\t11\t1\t1\t1\tbash\t0\t\t\t80\t24\t0\t0\t0\t%3\t@3\t\t\t\t/";
    assert_eq!(
        format::parse_line(manual, "claude-")
            .unwrap()
            .info
            .name
            .as_str(),
        "hand"
    );
    assert!(format::parse_line("garbage", "claude-").is_none());
}

/// A private tmux server, killed when the test ends.
struct Server {
    backend: TmuxBackend,
    socket: String,
    root: tempfile::TempDir,
}

impl Server {
    fn new(tag: &str) -> Server {
        let socket = format!("sg-unit-{}-{tag}", std::process::id());
        let backend = TmuxBackend::new(TmuxConfig::new(socket.clone(), "claude-"));
        Server {
            backend,
            socket,
            root: tempfile::tempdir().unwrap(),
        }
    }

    fn policy(&self) -> SessionPolicy {
        let mut profiles = sessiongate_backend::policy::default_profiles();
        profiles.insert(
            "bash".into(),
            LaunchProfile::Argv(vec!["bash".into(), "--norc".into(), "--noprofile".into()]),
        );
        profiles.insert(
            "exit3".into(),
            LaunchProfile::Argv(vec![
                "sh".into(),
                "-c".into(),
                "echo bye; sleep 0.2; exit 3".into(),
            ]),
        );
        SessionPolicy::new(&[self.root.path().to_path_buf()], profiles).unwrap()
    }

    async fn wait_for(&self, name: &SessionName, needle: &str) -> String {
        let mut last = String::new();
        for _ in 0..200 {
            last = self
                .backend
                .read(name, ReadRequest::default())
                .await
                .unwrap()
                .text;
            if last.contains(needle) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{needle:?} never appeared; screen:\n{last}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

#[tokio::test]
async fn text_arrives_intact() {
    let s = Server::new("text");
    let spec = s.policy().prepare("t.1", None, "bash").unwrap();
    let info = s.backend.create(spec).await.unwrap();
    assert_eq!(info.name.as_str(), "t.1");
    assert_eq!(info.profile.as_deref(), Some("bash"));
    let name = info.name;
    // A leading '-', key names, a trailing ';' and shell metacharacters are all just text.
    s.backend
        .send_text(&name, "echo -n Enter C-c 'x;' $((6*7));", true)
        .await
        .unwrap();
    s.wait_for(&name, "Enter C-c x; 42").await;
    // Several lines arrive as one message and run once Enter is pressed.
    s.backend
        .send_text(&name, "echo first\necho second", true)
        .await
        .unwrap();
    let screen = s.wait_for(&name, "second\n").await;
    assert!(screen.contains("first\n"), "{screen}");
    s.backend.send_text(&name, "-", false).await.unwrap();
    s.backend.send_keys(&name, &[Key::Ctrl('c')]).await.unwrap();
    s.backend.terminate(&name).await.unwrap();
    assert!(matches!(
        s.backend.info(&name).await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test]
async fn exited_program_keeps_its_screen_and_status() {
    let s = Server::new("exit");
    let spec = s.policy().prepare("gone", None, "exit3").unwrap();
    let name = s.backend.create(spec).await.unwrap().name;
    for _ in 0..200 {
        if s.backend.info(&name).await.unwrap().status != ProcessStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let info = s.backend.info(&name).await.unwrap();
    // tmux 3.3 now and then loses the exit status of a pane (seen about once in six runs of
    // `display -p '#{pane_dead_status}'`); the session is then exited with no code.
    assert!(
        matches!(
            info.status,
            ProcessStatus::Exited {
                code: Some(3) | None,
                signal: None
            }
        ),
        "{:?}",
        info.status
    );
    s.wait_for(&name, "bye").await;
    assert!(matches!(
        s.backend.send_text(&name, "x", true).await,
        Err(Error::Exited(_))
    ));
    s.backend.terminate(&name).await.unwrap();
}

#[tokio::test]
async fn duplicate_and_unknown_sessions_are_refused() {
    let s = Server::new("dup");
    let p = s.policy();
    s.backend
        .create(p.prepare("one", None, "bash").unwrap())
        .await
        .unwrap();
    let err = s
        .backend
        .create(p.prepare("one", None, "bash").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists(_)), "{err}");
    let ghost = SessionName::new("ghost").unwrap();
    assert!(matches!(
        s.backend.read(&ghost, ReadRequest::default()).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        s.backend.terminate(&ghost).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(s.backend.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_dead_server_means_no_sessions_and_recovers() {
    let s = Server::new("dead");
    let p = s.policy();
    let name = s
        .backend
        .create(p.prepare("a", None, "bash").unwrap())
        .await
        .unwrap()
        .name;
    std::process::Command::new("tmux")
        .args(["-L", &s.socket, "kill-server"])
        .output()
        .unwrap();
    assert!(s.backend.list().await.unwrap().is_empty());
    assert!(matches!(
        s.backend.info(&name).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        s.backend.send_text(&name, "x", true).await,
        Err(Error::NotFound(_))
    ));
    s.backend
        .create(p.prepare("a", None, "bash").unwrap())
        .await
        .unwrap();
    assert_eq!(s.backend.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn other_tmux_sessions_are_never_listed_or_touched() {
    let s = Server::new("other");
    s.backend
        .create(s.policy().prepare("mine", None, "bash").unwrap())
        .await
        .unwrap();
    let out = std::process::Command::new("tmux")
        .args([
            "-L",
            &s.socket,
            "new-session",
            "-d",
            "-s",
            "users-own",
            "sleep",
            "100",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let names: Vec<String> = s
        .backend
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name.to_string())
        .collect();
    assert_eq!(names, vec!["mine"]);
    let users = SessionName::new("users-own").unwrap();
    assert!(matches!(
        s.backend.terminate(&users).await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test]
async fn pages_back_through_scrollback() {
    let s = Server::new("page");
    let name = s
        .backend
        .create(s.policy().prepare("p", None, "bash").unwrap())
        .await
        .unwrap()
        .name;
    s.backend
        .send_text(
            &name,
            // DO''NE: the typed command line must not match what is waited for.
            "for i in $(seq 1 300); do echo line$i; done; echo DO''NE",
            true,
        )
        .await
        .unwrap();
    s.wait_for(&name, "DONE").await;
    let req = ReadRequest {
        lines: 10,
        offset: 0,
        scrollback: true,
        escapes: false,
    };
    let last = s.backend.read(&name, req).await.unwrap();
    assert!(last.text.contains("line300"), "{}", last.text);
    assert!(last.more_above);
    let older = s
        .backend
        .read(&name, ReadRequest { offset: 100, ..req })
        .await
        .unwrap();
    assert_eq!(older.returned_lines, 10);
    assert!(!older.text.contains("line300"));
    assert!(older.text.contains("line2"), "{}", older.text);
    assert!(older.total_lines >= 300);
    // Resizing takes effect.
    s.backend.resize(&name, 100, 30).await.unwrap();
    let info = s.backend.info(&name).await.unwrap();
    assert_eq!((info.cols, info.rows), (100, 30));
    assert!(matches!(
        s.backend.resize(&name, 1, 1).await,
        Err(Error::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn a_paste_end_marker_in_text_cannot_submit_commands() {
    let s = Server::new("paste");
    let spec = s.policy().prepare("p", None, "bash").unwrap();
    let name = s.backend.create(spec).await.unwrap().name;
    s.backend
        .send_text(&name, "echo ready-$((1+1))", true)
        .await
        .unwrap();
    s.wait_for(&name, "ready-2").await;
    let pwned = s.root.path().join("pwned");
    // Typed, not submitted: without the fix, the marker ended the paste and the carriage
    // returns after it ran `touch`.
    for evil in [
        format!(": \x1b[201~\rtouch {}\r", pwned.display()),
        format!(": \x1b[20\x1b[201~1~\rtouch {}\r", pwned.display()),
    ] {
        s.backend.send_text(&name, &evil, false).await.unwrap();
        // Clear the line without a signal (end, kill to start).
        s.backend
            .send_keys(&name, &[Key::Ctrl('e'), Key::Ctrl('u')])
            .await
            .unwrap();
    }
    s.backend
        .send_text(&name, "echo done-$((40+2))", true)
        .await
        .unwrap();
    s.wait_for(&name, "done-42").await;
    assert!(!pwned.exists(), "text broke out of the bracketed paste");
}

/// Whether an event that `wanted` accepts arrives within `secs` seconds (a liveness
/// deadline, not a timing assertion).
async fn event_within(
    events: &mut tokio::sync::broadcast::Receiver<SessionEvent>,
    secs: u64,
    wanted: impl Fn(&SessionEvent) -> bool,
) -> bool {
    let found = tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            match events.recv().await {
                Ok(e) if wanted(&e) => return true,
                Ok(_) => continue,
                Err(_) => return false,
            }
        }
    });
    found.await.unwrap_or(false)
}

/// Runs a forked tmux command on the test server and returns its output.
fn tmux_out(socket: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("tmux")
        .args(["-L", socket])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn output_events_come_from_control_mode() {
    let s = Server::new("events");
    let name = s
        .backend
        .create(s.policy().prepare("ev", None, "bash").unwrap())
        .await
        .unwrap()
        .name;
    assert!(s.backend.driver.control_is_up());
    assert!(s.backend.output_events_epoch().is_some());
    let mut events = s.backend.events();
    s.backend
        .send_text(&name, "echo marker", true)
        .await
        .unwrap();
    let got = event_within(
        &mut events,
        10,
        |e| matches!(e, SessionEvent::Output(n) if *n == name),
    )
    .await;
    assert!(got, "no Output event for {name}");
    // The control session is never listed as a session.
    let names: Vec<String> = s
        .backend
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name.to_string())
        .collect();
    assert_eq!(names, vec!["ev".to_owned()]);
    // Terminating removes the window everywhere, the control session included.
    s.backend.terminate(&name).await.unwrap();
    let windows = tmux_out(
        &s.socket,
        &["list-windows", "-a", "-F", "#{pane_start_command}"],
    );
    assert!(!windows.contains("bash"), "left behind: {windows}");
}

#[tokio::test]
async fn a_lost_control_client_falls_back_to_forking_and_reconnects() {
    let s = Server::new("fallback");
    let name = s
        .backend
        .create(s.policy().prepare("fb", None, "bash").unwrap())
        .await
        .unwrap()
        .name;
    let first = s.backend.output_events_epoch();
    assert!(first.is_some());
    // Throw the control client out from the side.
    tmux_out(&s.socket, &["detach-client", "-s", "claude-+control"]);
    for _ in 0..200 {
        if !s.backend.driver.control_is_up() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(s.backend.output_events_epoch(), None);
    // Everything still works, by forked tmux.
    s.backend
        .send_text(&name, "echo still-here", true)
        .await
        .unwrap();
    s.wait_for(&name, "still-here\n").await;
    // A later call starts a new client (at most once a second), which hears output again.
    let mut again = None;
    for _ in 0..100 {
        s.backend.info(&name).await.unwrap();
        again = s.backend.output_events_epoch();
        if again.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "control mode never came back");
    assert_ne!(again, first, "a new client must change the epoch");
}

#[tokio::test]
async fn a_killed_server_is_not_restarted_by_reconnecting() {
    let s = Server::new("norestart");
    s.backend
        .create(s.policy().prepare("a", None, "bash").unwrap())
        .await
        .unwrap();
    assert!(s.backend.driver.control_is_up());
    tmux_out(&s.socket, &["kill-server"]);
    // Calls spread over more than the reconnect gap find no sessions and start nothing.
    for _ in 0..15 {
        assert!(s.backend.list().await.unwrap().is_empty());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = std::process::Command::new("tmux")
        .args(["-L", &s.socket, "list-sessions"])
        .output()
        .unwrap()
        .status;
    assert!(!status.success(), "a tmux server was started again");
}

#[tokio::test]
async fn a_stopped_server_is_reported_as_a_server_problem_not_a_missing_session() {
    let mut s = Server::new("stopped");
    let mut cfg = TmuxConfig::new(s.socket.clone(), "claude-");
    cfg.command_timeout = Duration::from_secs(1);
    s.backend = TmuxBackend::new(cfg);
    let p = s.policy();
    s.backend
        .create(p.prepare("a", None, "bash").unwrap())
        .await
        .unwrap();
    let pid = tmux_out(&s.socket, &["display-message", "-p", "#{pid}"]);
    let pid = pid.trim().to_owned();
    let signal = |sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
    };
    assert!(signal("-STOP").success());
    // Without a deadline this waited forever; with "no server" mapped to "not found" it
    // answered that the fresh name did not exist.
    let created = tokio::time::timeout(
        Duration::from_secs(30),
        s.backend.create(p.prepare("b", None, "bash").unwrap()),
    )
    .await;
    assert!(signal("-CONT").success());
    let err = created
        .expect("create waited on a stopped server")
        .unwrap_err();
    match &err {
        Error::Unavailable(msg) => {
            assert!(msg.contains("tmux server"), "{msg}");
            assert!(msg.contains(&s.socket), "{msg}");
            assert!(msg.contains("did not answer"), "{msg}");
        }
        other => panic!("expected a server error, got {other:?}"),
    }
    // Once it runs again, so does everything ("b" may have been made after all: the
    // server had the command when it was stopped).
    s.backend
        .create(p.prepare("c", None, "bash").unwrap())
        .await
        .unwrap();
    let names: Vec<String> = s
        .backend
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name.to_string())
        .collect();
    assert!(names.contains(&"c".to_owned()), "{names:?}");
}

#[tokio::test]
async fn stale_control_clients_are_ended_when_a_client_starts() {
    let s = Server::new("stale");
    s.backend
        .create(s.policy().prepare("a", None, "bash").unwrap())
        .await
        .unwrap();
    assert!(s.backend.driver.control_is_up());
    // A client left behind by a gateway that was killed: attached, its input still open.
    let mut stale = std::process::Command::new("tmux")
        .args(["-L", &s.socket, "-f", "/dev/null", "-C"])
        .args(["attach-session", "-t", "=claude-+control"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let clients = || {
        tmux_out(&s.socket, &["list-clients", "-F", "#{client_pid}"])
            .lines()
            .count()
    };
    for _ in 0..200 {
        if clients() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(clients(), 2, "the stale client never attached");
    // A gateway starting on the same socket ends it before attaching its own.
    let again = TmuxBackend::new(TmuxConfig::new(s.socket.clone(), "claude-"));
    // The first call finds the server (forked), the next starts the control client.
    assert_eq!(again.list().await.unwrap().len(), 1);
    assert_eq!(again.list().await.unwrap().len(), 1);
    assert!(again.driver.control_is_up());
    let mut gone = false;
    for _ in 0..200 {
        if stale.try_wait().unwrap().is_some() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = stale.kill();
    assert!(gone, "the stale control client is still running");
    // The first backend's own client was ended too: a socket has one gateway at a time.
    assert_eq!(clients(), 1, "only the new gateway's client stays attached");
}

#[tokio::test]
async fn a_silent_exit_is_an_event_without_anyone_asking() {
    let s = Server::new("silent");
    let mut profiles = sessiongate_backend::policy::default_profiles();
    profiles.insert(
        "quiet".into(),
        LaunchProfile::Argv(vec!["sleep".into(), "2".into()]),
    );
    profiles.insert(
        "bash".into(),
        LaunchProfile::Argv(vec!["bash".into(), "--norc".into(), "--noprofile".into()]),
    );
    let p = SessionPolicy::new(&[s.root.path().to_path_buf()], profiles).unwrap();
    // A first session brings the control client up; the second exits without a word.
    s.backend
        .create(p.prepare("first", None, "bash").unwrap())
        .await
        .unwrap();
    s.backend.list().await.unwrap();
    assert!(s.backend.driver.control_is_up());
    let mut events = s.backend.events();
    let name = s
        .backend
        .create(p.prepare("quiet", None, "quiet").unwrap())
        .await
        .unwrap()
        .name;
    // Nothing reads the session from here on: only the backend can say it exited.
    let exited = event_within(
        &mut events,
        15,
        |e| matches!(e, SessionEvent::Exited(n) if *n == name),
    )
    .await;
    assert!(exited, "no Exited event for {name}");
}
