//! Notifications to the owner: a real webhook receiver that checks the signature with
//! Python's hmac and the documented schema, an ntfy stand-in, one notification per prompt
//! (also across a restart), `exited` with its code, muted sessions, channels that fail or
//! hang, refusals of bad channel settings at startup, and `sessiongate notify test`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use sessiongate_tests::clients;
use sessiongate_tests::gateway::{Options, TestGateway, binary};
use sessiongate_tests::mcp::McpClient;

use crate::mcp_tools::{client, wait_for_text};

const SECRET: &str = "webhook secret for tests";

/// `tests/clients/notify_receiver.py`, and what it received.
pub(crate) struct Receiver {
    child: Child,
    pub(crate) port: u16,
    got: Arc<Mutex<Vec<Value>>>,
    dir: tempfile::TempDir,
}

impl Receiver {
    fn start() -> Receiver {
        Receiver::start_with(&[])
    }

    /// Starts the receiver with extra environment variables.
    pub(crate) fn start_with(env: &[(&str, &str)]) -> Receiver {
        let mut child = Command::new(clients::python())
            .arg(clients::dir().join("notify_receiver.py"))
            .envs(env.iter().copied())
            .env("WEBHOOK_SECRET", SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port: u16 = lines.next().unwrap().unwrap().trim().parse().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_str(&line).unwrap());
            }
        });
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), format!("{SECRET}\n")).unwrap();
        std::fs::write(dir.path().join("token"), "tk_ntfy\n").unwrap();
        Receiver {
            child,
            port,
            got,
            dir,
        }
    }

    /// A `[notify]` table with a signed webhook (`hook`) and an ntfy channel (`phone`), plus
    /// `extra` channels.
    pub(crate) fn config(&self, extra: &str) -> String {
        format!(
            "[notify]\n\
             [notify.channels.hook]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\
             secret_file = \"{dir}/secret\"\n\
             [notify.channels.phone]\nkind = \"ntfy\"\nurl = \"http://127.0.0.1:{port}/\"\n\
             topic = \"sg-tests\"\ntoken_file = \"{dir}/token\"\n\
             click = \"https://gw.example/\"\n{extra}",
            port = self.port,
            dir = self.dir.path().display()
        )
    }

    /// What arrived at `path` so far.
    pub(crate) fn at(&self, path: &str) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r["path"] == path)
            .cloned()
            .collect()
    }

    /// Waits (up to a minute) until `pred` holds for what arrived at `path`.
    pub(crate) async fn until(
        &self,
        path: &str,
        what: &str,
        pred: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        for _ in 0..1200 {
            let got = self.at(path);
            if pred(&got) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{what} never arrived at {path}; got {:#?}",
            self.got.lock().unwrap()
        );
    }

    /// Webhook payloads about `session` with `question`.
    fn hooks_asking(&self, session: &str, question: &str) -> usize {
        self.at("/hook")
            .iter()
            .filter(|r| r["body"]["session"] == session && r["body"]["question"] == question)
            .count()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn gateway(rx: &Receiver, tag: &str, extra: &str) -> TestGateway {
    let mut opts = Options::tmux(tag);
    // The fixture writes `extra_profiles` last, under `[extra_profiles]`: the `[notify]`
    // tables go after them so that they do not swallow the profiles.
    opts.extra_profiles.push_str(&rx.config(extra));
    TestGateway::start(opts)
}

async fn ask(c: &mut McpClient, session: &str, question: &str) {
    c.call_ok(
        "send_message",
        json!({ "session": session, "message": format!("read -p '{question} ' a; echo \"got=$a\"") }),
    )
    .await
    .unwrap();
}

/// One notification per prompt on both channels, signed and in the documented shape; the
/// next prompt is a new one; a restarted gateway sends nothing for the prompt it already
/// sent, while a prompt it has not sent yet is sent.
#[tokio::test]
async fn one_notification_per_prompt_and_none_again_after_a_restart() {
    let rx = Receiver::start();
    let gw = gateway(&rx, "notify-once", "");
    let mut c = client(&gw).await;
    for s in ["n", "later"] {
        c.call_ok("create_session", json!({ "name": s, "profile": "bash" }))
            .await
            .unwrap();
    }
    ask(&mut c, "n", "Deploy to production?").await;
    let hooks = rx
        .until("/hook", "the waiting webhook", |g| !g.is_empty())
        .await;
    let hook = &hooks[0];
    assert_eq!(hook["signature_ok"], true, "{hook}");
    assert_eq!(hook["fresh"], true, "{hook}");
    assert_eq!(hook["errors"], json!([]), "{hook}");
    let body = &hook["body"];
    assert_eq!(body["event"], "waiting");
    assert_eq!(body["session"], "n");
    assert_eq!(body["question"], "Deploy to production?");
    assert_eq!(body["exit_code"], Value::Null);
    let ntfy = rx.until("/", "the ntfy message", |g| !g.is_empty()).await;
    let msg = &ntfy[0];
    assert_eq!(msg["errors"], json!([]), "{msg}");
    assert_eq!(msg["authorization"], "Bearer tk_ntfy");
    assert_eq!(msg["body"]["topic"], "sg-tests");
    assert_eq!(msg["body"]["priority"], 4);
    assert_eq!(msg["body"]["click"], "https://gw.example/");
    assert!(
        msg["body"]["title"]
            .as_str()
            .unwrap()
            .contains("n is waiting"),
        "{msg}"
    );
    assert!(
        msg["body"]["message"]
            .as_str()
            .unwrap()
            .contains("Deploy to production?"),
        "{msg}"
    );
    // `later` asks while no gateway runs; the restarted gateway's first look at the screens
    // finds both prompts.
    c.call_ok(
        "send_message",
        json!({ "session": "later", "message": "sleep 2; read -p 'Later question? ' b" }),
    )
    .await
    .unwrap();
    drop(c);
    let mut gw = gw;
    gw.kill_process();
    let gw2 = gw.restart_alongside();
    let mut c = client(&gw2).await;
    rx.until("/hook", "the prompt asked while down", |g| {
        g.iter().any(|r| r["body"]["question"] == "Later question?")
    })
    .await;
    // Answer the first prompt and ask another in the same session: a new prompt, a new
    // notification. Each channel delivers in order, so once it is in, anything sent for the
    // first prompt after the restart would be in too.
    let answered = c
        .call(
            "respond_to_prompt",
            json!({ "session": "n", "answer": "yes" }),
        )
        .await
        .unwrap();
    assert_ne!(answered["isError"], true, "{answered}");
    wait_for_text(&mut c, "n", "got=yes").await;
    ask(&mut c, "n", "Second question?").await;
    rx.until("/hook", "the second prompt", |g| {
        g.iter()
            .any(|r| r["body"]["question"] == "Second question?")
    })
    .await;
    assert_eq!(rx.hooks_asking("n", "Deploy to production?"), 1);
    assert_eq!(rx.hooks_asking("n", "Second question?"), 1);
    assert_eq!(rx.hooks_asking("later", "Later question?"), 1);
    let ids: std::collections::HashSet<String> = rx
        .at("/hook")
        .iter()
        .map(|r| r["body"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), rx.at("/hook").len(), "ids are distinct");
}

/// `exited` carries the exit code; a muted session sends nothing, and list_sessions shows
/// that it is muted.
#[tokio::test]
async fn exited_carries_the_code_and_muted_sessions_stay_quiet() {
    let rx = Receiver::start();
    let gw = gateway(&rx, "notify-exit", "");
    let mut c = client(&gw).await;
    c.call_ok(
        "create_session",
        json!({ "name": "quiet", "profile": "bash" }),
    )
    .await
    .unwrap();
    let muted = c
        .call_ok(
            "set_notifications",
            json!({ "session": "quiet", "enabled": false }),
        )
        .await
        .unwrap();
    assert!(muted.contains("muted"), "{muted}");
    let list = c.call("list_sessions", json!({})).await.unwrap();
    assert_eq!(
        list["structuredContent"]["sessions"][0]["notifications"], "muted",
        "{list}"
    );
    let err = c
        .call_err(
            "set_notifications",
            json!({ "session": "nope", "enabled": false }),
        )
        .await
        .unwrap();
    assert!(err.contains("nope"), "{err}");
    ask(&mut c, "quiet", "Silent question?").await;
    wait_for_text(&mut c, "quiet", "Silent question?").await;
    c.call_ok(
        "send_keys",
        json!({ "session": "quiet", "keys": ["y", "Enter"] }),
    )
    .await
    .unwrap();
    c.call_ok(
        "send_message",
        json!({ "session": "quiet", "message": "exit 5" }),
    )
    .await
    .unwrap();
    for _ in 0..200 {
        let s = c
            .call_ok("get_session_status", json!({ "session": "quiet" }))
            .await
            .unwrap();
        if s.contains("exited") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.call_ok(
        "create_session",
        json!({ "name": "loud", "profile": "exit3" }),
    )
    .await
    .unwrap();
    let hooks = rx
        .until("/hook", "the exited webhook", |g| {
            g.iter().any(|r| r["body"]["session"] == "loud")
        })
        .await;
    let hook = hooks
        .iter()
        .find(|r| r["body"]["session"] == "loud")
        .unwrap();
    assert_eq!(hook["signature_ok"], true, "{hook}");
    assert_eq!(hook["errors"], json!([]), "{hook}");
    assert_eq!(hook["body"]["event"], "exited");
    assert_eq!(hook["body"]["exit_code"], 3);
    assert!(
        hook["body"]["summary"].as_str().unwrap().contains("bye"),
        "{hook}"
    );
    let ntfy = rx
        .until("/", "the exited ntfy message", |g| {
            g.iter()
                .any(|r| r["body"]["title"] == "loud exited (code 3)")
        })
        .await;
    assert!(ntfy.iter().all(|r| r["body"]["priority"] == 3), "{ntfy:?}");
    // The muted session's prompt and exit came first; each channel delivers in order.
    assert!(
        rx.at("/hook")
            .iter()
            .all(|r| r["body"]["session"] != "quiet"),
        "{:?}",
        rx.at("/hook")
    );
    assert!(
        rx.at("/").iter().all(|r| r["body"]["title"]
            .as_str()
            .is_some_and(|t| !t.starts_with("quiet"))),
        "{:?}",
        rx.at("/")
    );
}

/// A channel that hangs, one that answers 500 and one that answers 400: tool calls still
/// answer, the 500 is retried and the 400 is not, and each outcome is counted in /metrics.
#[tokio::test]
async fn failing_channels_do_not_stop_tool_calls_and_are_counted() {
    let rx = Receiver::start();
    let extra = format!(
        "[notify.channels.stuck]\nkind = \"webhook\"\nformat = \"slack\"\n\
         url = \"http://127.0.0.1:{p}/hang\"\ntimeout_secs = 1\n\
         [notify.channels.down]\nkind = \"webhook\"\nformat = \"slack\"\n\
         url = \"http://127.0.0.1:{p}/fail\"\n\
         [notify.channels.refused]\nkind = \"webhook\"\nformat = \"slack\"\n\
         url = \"http://127.0.0.1:{p}/reject\"\n",
        p = rx.port
    );
    let gw = gateway(&rx, "notify-fail", &extra);
    let mut c = client(&gw).await;
    // A session first, so that the program that exits below starts once tmux's output is
    // watched (see the report on the tmux backend's first session).
    c.call_ok(
        "create_session",
        json!({ "name": "first", "profile": "bash" }),
    )
    .await
    .unwrap();
    // Tool-call latency before any channel hangs, and while one does: measured and printed
    // for the report, not asserted (2 shared cores).
    let mut before = Vec::new();
    for _ in 0..10 {
        let t = std::time::Instant::now();
        c.call_ok("list_sessions", json!({})).await.unwrap();
        c.call_ok("get_logs", json!({ "session": "first" }))
            .await
            .unwrap();
        before.push(t.elapsed());
    }
    c.call_ok("create_session", json!({ "name": "x", "profile": "exit3" }))
        .await
        .unwrap();
    rx.until("/hang", "the hanging request", |g| !g.is_empty())
        .await;
    // While the channel hangs, tool calls answer.
    let mut during = Vec::new();
    for i in 0..10 {
        let t = std::time::Instant::now();
        c.call_ok("list_sessions", json!({})).await.unwrap();
        c.call_ok("get_logs", json!({ "session": "x" }))
            .await
            .unwrap();
        during.push(t.elapsed());
        c.call_ok(
            "create_session",
            json!({ "name": format!("s{i}"), "profile": "bash" }),
        )
        .await
        .unwrap();
    }
    let p50 = |v: &mut Vec<Duration>| {
        v.sort();
        (v[v.len() / 2], v[v.len() - 1])
    };
    let (b50, bmax) = p50(&mut before);
    let (d50, dmax) = p50(&mut during);
    eprintln!(
        "list_sessions + get_logs: p50 {b50:?} (max {bmax:?}) before; p50 {d50:?} (max {dmax:?}) \
         while a channel hangs and another answers 500"
    );
    let http = reqwest::Client::new();
    let mut metrics = String::new();
    for _ in 0..600 {
        metrics = http
            .get(format!("{}/metrics", gw.base_url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("channel=\"stuck\",outcome=\"failed\"} 1")
            && metrics.contains("channel=\"down\",outcome=\"failed\"} 1")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for line in [
        "sessiongate_notifications_total{channel=\"stuck\",outcome=\"failed\"} 1",
        "sessiongate_notifications_total{channel=\"down\",outcome=\"failed\"} 1",
        "sessiongate_notifications_total{channel=\"refused\",outcome=\"rejected\"} 1",
        "sessiongate_notifications_total{channel=\"hook\",outcome=\"sent\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
    // 5xx is retried (3 attempts), 4xx is not.
    assert_eq!(rx.at("/fail").len(), 3);
    assert_eq!(rx.at("/reject").len(), 1);
    assert_eq!(rx.at("/hang").len(), 3);
}

/// Bad channel settings stop the gateway before it listens, naming the key; `notify test`
/// sends a signed test event through every channel and says what each answered.
#[tokio::test]
async fn bad_settings_are_refused_and_notify_test_reports_each_channel() {
    let rx = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[notify.channels.x]\nkind = \"webhook\"\nurl = \"https://h.example/\"\nsecret_file = \"/nonexistent/secret\"\n",
            "[notify.channels.x] secret_file",
        ),
        (
            "[notify.channels.x]\nkind = \"ntfy\"\nurl = \"http://ntfy.example/\"\ntopic = \"t\"\n",
            "[notify.channels.x] url: plain http",
        ),
        (
            "[notify.channels.x]\nkind = \"carrier-pigeon\"\n",
            "[notify.channels.x] kind: unknown kind",
        ),
    ];
    for (text, key) in cases {
        let cfg = dir.path().join("bad.toml");
        std::fs::write(&cfg, text).unwrap();
        let out = Command::new(binary())
            .args(["serve", "--auth", "none", "--bind", "127.0.0.1:0"])
            .arg("--config")
            .arg(&cfg)
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--allowed-root")
            .arg(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text} was accepted");
        assert!(stderr.contains(key), "{key} missing from {stderr}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    }
    let cfg = dir.path().join("good.toml");
    std::fs::write(&cfg, rx.config("")).unwrap();
    let out = Command::new(binary())
        .args(["notify", "test", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("hook: sent, HTTP 200"), "{stdout}");
    assert!(stdout.contains("phone: sent, HTTP 200"), "{stdout}");
    assert!(
        stdout.contains("standin"),
        "ntfy's answer is shown: {stdout}"
    );
    let hook = &rx.at("/hook")[0];
    assert_eq!(hook["signature_ok"], true, "{hook}");
    assert_eq!(hook["errors"], json!([]), "{hook}");
    assert_eq!(hook["body"]["event"], "test");
    // One channel by name; an unknown name is an error.
    let out = Command::new(binary())
        .args(["notify", "test", "phone", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(rx.at("/hook").len(), 1);
    let out = Command::new(binary())
        .args(["notify", "test", "pager", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[notify.channels.pager]"));
}
