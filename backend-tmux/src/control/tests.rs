//! The control-mode client against a real tmux server on a private socket: quoting that
//! survives tmux's parser, replies matched to commands, `%output` heard, a dead client seen.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

struct Server {
    tmux: Tmux,
    dir: tempfile::TempDir,
}

impl Server {
    fn new(tag: &str) -> Server {
        Server {
            tmux: Tmux {
                ssh: None,
                program: "tmux".into(),
                socket: format!("sg-ctl-{}-{tag}", std::process::id()),
                config: None,
                timeout: std::time::Duration::from_secs(10),
            },
            dir: tempfile::tempdir().unwrap(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.tmux.socket, "kill-server"])
            .output();
    }
}

/// Arguments that tmux's parser would split, expand or reject if they were not quoted.
const HOSTILE: &[&str] = &[
    "plain",
    "a;b",
    "ends;",
    "\\;",
    "it's",
    "''",
    "\"double\"",
    "#{session_name}",
    "#[fg=red]#(id)",
    "$HOME ~root ${X}",
    "back\\slash\\",
    "{ brace }",
    "%if 1",
    "\ttab\t",
    "é ü 日本",
    "-starts-with-dash",
];

#[tokio::test]
async fn quoted_arguments_reach_tmux_unchanged() {
    let s = Server::new("quote");
    let ctl = Control::spawn(&s.tmux, "ctl", |_| {}).unwrap();
    assert!(ctl.started().await);
    for (i, arg) in HOSTILE.iter().enumerate() {
        let file = s.dir.path().join(format!("b{i}"));
        let file = file.to_str().unwrap();
        let buffer = format!("b;{i}'");
        ctl.run(&["set-buffer", "-b", &buffer, "--", arg])
            .await
            .unwrap_or_else(|e| panic!("{arg:?}: {e:?}"));
        ctl.run(&["save-buffer", "-b", &buffer, file])
            .await
            .unwrap();
        // tmux writes the file through its client after answering the command: wait for it.
        let mut got = None;
        for _ in 0..200 {
            got = std::fs::read_to_string(file).ok().filter(|g| g == arg);
            if got.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let got = got.unwrap_or_else(|| std::fs::read_to_string(file).unwrap_or_default());
        assert_eq!(got, *arg, "argument {arg:?} changed on its way");
    }
    // A line break cannot be carried: the caller is told to fork instead.
    assert!(matches!(
        ctl.run(&["set-buffer", "a\nkill-server"]).await,
        Err(TmuxFailure::Broken)
    ));
    // Errors come back as tmux's message, classified.
    assert!(matches!(
        ctl.run(&["list-panes", "-t", "=no-such-session"]).await,
        Err(TmuxFailure::NoTarget)
    ));
    assert!(ctl.is_alive());
}

#[tokio::test]
async fn replies_meet_their_commands_under_concurrency() {
    let s = Server::new("order");
    let ctl = Arc::new(Control::spawn(&s.tmux, "ctl", |_| {}).unwrap());
    assert!(ctl.started().await);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let ctl = ctl.clone();
        tasks.push(tokio::spawn(async move {
            let want = format!("reply-{i}");
            let got = ctl.run(&["display-message", "-p", &want]).await.unwrap();
            assert_eq!(got, want);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn output_is_heard_and_a_killed_server_ends_the_client() {
    let s = Server::new("output");
    let heard: Arc<Mutex<Vec<String>>> = Arc::default();
    let h = heard.clone();
    let ctl = Control::spawn(&s.tmux, "ctl", move |notice| {
        if let Notice::Output(pane) = notice {
            h.lock().unwrap().push(pane.to_owned());
        }
    })
    .unwrap();
    // Commands written before the start-up answer may run before the session exists.
    assert!(ctl.started().await);
    let pane = ctl
        .run(&["display-message", "-p", "-t", "=ctl:", "#{pane_id}"])
        .await
        .unwrap();
    ctl.run(&["send-keys", "-t", "=ctl:", "-l", "hello"])
        .await
        .unwrap();
    for _ in 0..100 {
        if heard.lock().unwrap().contains(&pane) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        heard.lock().unwrap().contains(&pane),
        "no %output from {pane}"
    );
    s.tmux
        .run(&[vec!["kill-server".into()]], None)
        .await
        .unwrap();
    for _ in 0..100 {
        if !ctl.is_alive() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!ctl.is_alive());
    assert!(matches!(
        ctl.run(&["list-sessions"]).await,
        Err(TmuxFailure::Broken)
    ));
}
