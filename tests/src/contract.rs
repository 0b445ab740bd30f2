//! The backend contract: scenarios written once against `dyn SessionBackend`, run against
//! every implementation (`tests/it/contract.rs`). Each one is a real program in a real
//! terminal; output takes time to appear, so reads poll with a generous liveness deadline
//! (never a timing assertion).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use sessiongate_backend::cache::ScreenCache;
use sessiongate_backend::policy::{LaunchProfile, SessionPolicy};
use sessiongate_backend::{
    Error, Key, ProcessStatus, ReadRequest, SessionBackend, SessionEvent, SessionName,
};

/// How long output may take to appear before a scenario fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// A stand-in for Claude Code: writes the state file Claude Code keeps for its own pid (with
/// its real start time) and a transcript, then keeps the pid (`exec`).
const CLAUDE_LIKE: &str = r#"d=$HOME/.claude/sessions; mkdir -p "$d"
s=$(cat /proc/$$/stat); s=${s##*)}; set -- $s
printf '{"pid":%s,"procStart":"%s","status":"waiting","waitingFor":"permission prompt","sessionId":"abc-1","cwd":"/w"}' $$ "${20}" > "$d/$$.json"
t=$HOME/.claude/projects/-w; mkdir -p "$t"
printf '%s\n' '{"type":"assistant","message":{"content":[{"type":"text","text":"hello from its host"}]}}' > "$t/abc-1.jsonl"
echo ready; exec sleep 600"#;

/// The policy the scenarios use: `root` as the only allowed root, and test profiles.
pub fn policy(root: &Path) -> SessionPolicy {
    let argv = |v: &[&str]| LaunchProfile::Argv(v.iter().map(|s| s.to_string()).collect());
    let profiles = BTreeMap::from([
        ("bash".to_owned(), argv(&["bash", "--norc", "--noprofile"])),
        (
            "exit3".to_owned(),
            argv(&["sh", "-c", "echo bye; sleep 0.2; exit 3"]),
        ),
        ("instant".to_owned(), argv(&["true"])),
        (
            "flood".to_owned(),
            argv(&["sh", "-c", "yes 'flood flood flood flood flood flood'"]),
        ),
        ("cat".to_owned(), argv(&["cat"])),
        (
            "claude-like".to_owned(),
            argv(&[
                "env",
                &format!("HOME={}", root.join("home").display()),
                "sh",
                "-c",
                CLAUDE_LIKE,
            ]),
        ),
    ]);
    SessionPolicy::new(&[root.to_path_buf()], profiles).expect("policy")
}

fn name(s: &str) -> SessionName {
    SessionName::new(s).expect("name")
}

/// Reads the screen (with `lines` of scrollback) until `cond` holds.
pub async fn wait_screen(
    b: &dyn SessionBackend,
    n: &SessionName,
    lines: usize,
    what: &str,
    cond: impl Fn(&str) -> bool,
) -> String {
    let start = tokio::time::Instant::now();
    let mut last = String::new();
    while start.elapsed() < DEADLINE {
        let req = ReadRequest {
            lines,
            ..ReadRequest::default()
        };
        last = b.read(n, req).await.expect("read").text;
        if cond(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} never appeared on {n}; screen:\n{last}");
}

async fn wait_exited(b: &dyn SessionBackend, n: &SessionName) -> ProcessStatus {
    let start = tokio::time::Instant::now();
    while start.elapsed() < DEADLINE {
        let st = b.info(n).await.expect("info").status;
        if st != ProcessStatus::Running {
            return st;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{n} never exited");
}

/// Create, list, info, terminate; a second create with the same name is refused.
pub async fn create_list_terminate(b: &dyn SessionBackend, root: &Path) {
    let p = policy(root);
    let info = b
        .create(p.prepare("one", None, "bash").unwrap())
        .await
        .unwrap();
    assert_eq!(info.name.as_str(), "one");
    assert_eq!(info.status, ProcessStatus::Running);
    assert!(info.pid.unwrap() > 1);
    assert_eq!(info.profile.as_deref(), Some("bash"));
    b.create(p.prepare("two.x", None, "bash").unwrap())
        .await
        .unwrap();
    let err = b
        .create(p.prepare("one", None, "bash").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists(_)), "{err}");
    let names: Vec<String> = b
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name.to_string())
        .collect();
    assert_eq!(names, vec!["one", "two.x"]);
    let dir = b.info(&name("one")).await.unwrap().working_dir.unwrap();
    assert_eq!(dir, root.canonicalize().unwrap());
    b.terminate(&name("one")).await.unwrap();
    assert!(matches!(
        b.info(&name("one")).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        b.terminate(&name("one")).await,
        Err(Error::NotFound(_))
    ));
    b.terminate(&name("two.x")).await.unwrap();
    assert!(b.list().await.unwrap().is_empty());
}

/// Text arrives exactly: several lines as one message, a leading '-', key names as words,
/// Unicode, and 64 KB.
pub async fn text_arrives_intact(b: &dyn SessionBackend, root: &Path) {
    let p = policy(root);
    let n = b
        .create(p.prepare("t", None, "bash").unwrap())
        .await
        .unwrap()
        .name;
    b.send_text(&n, "echo first\necho second", true)
        .await
        .unwrap();
    wait_screen(b, &n, 50, "second", |s| {
        s.contains("\nsecond") && s.contains("\nfirst")
    })
    .await;
    b.send_text(&n, "echo -n Enter C-c 'x;' ; echo", true)
        .await
        .unwrap();
    wait_screen(b, &n, 50, "key names as text", |s| {
        s.contains("\nEnter C-c x;")
    })
    .await;
    b.send_text(&n, "echo 'héllo wörld ✓ 日本'", true)
        .await
        .unwrap();
    wait_screen(b, &n, 50, "unicode", |s| s.contains("\nhéllo wörld ✓ 日本")).await;
    // Text that tmux's command parser would act on if it ever read it as a command
    // (options, formats, #() commands, separators, quotes, braces, %-directives), typed
    // into `cat`, which shows it back verbatim.
    let cat = b
        .create(p.prepare("t-cat", None, "cat").unwrap())
        .await
        .unwrap()
        .name;
    let hostile = "-b evil -- #{pane_id} #(touch /tmp/sg-pwned) $HOME ~/x 'q' \"d\" ; \\; {} %if";
    b.send_text(&cat, hostile, true).await.unwrap();
    wait_screen(b, &cat, 50, "hostile text shown back", |s| {
        s.matches(hostile).count() >= 2
    })
    .await;
    b.terminate(&cat).await.unwrap();
    // 64 KB in one message, counted by the shell.
    let big = "a".repeat(64 * 1024);
    b.send_text(&n, &format!("X={big}; echo len=${{#X}}"), true)
        .await
        .unwrap();
    wait_screen(b, &n, 2000, "len=65536", |s| s.contains("len=65536")).await;
    b.terminate(&n).await.unwrap();
}

/// Named keys: C-c interrupts a running command; arrows recall history.
pub async fn named_keys(b: &dyn SessionBackend, root: &Path) {
    let p = policy(root);
    let n = b
        .create(p.prepare("k", None, "bash").unwrap())
        .await
        .unwrap()
        .name;
    b.send_text(&n, "echo marker-one", true).await.unwrap();
    wait_screen(b, &n, 50, "marker", |s| s.contains("\nmarker-one")).await;
    b.send_text(&n, "sleep 100; echo not-interrupted", true)
        .await
        .unwrap();
    // C-c only once `sleep` runs in the foreground: sent earlier (a loaded machine may take
    // longer than any fixed pause to start it), it reaches bash instead of the command.
    let start = tokio::time::Instant::now();
    while b.info(&n).await.unwrap().current_command.as_deref() != Some("sleep") {
        assert!(
            start.elapsed() < DEADLINE,
            "sleep never ran in the foreground"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.send_keys(&n, &[Key::Ctrl('c')]).await.unwrap();
    b.send_text(&n, "echo after-interrupt", true).await.unwrap();
    let s = wait_screen(b, &n, 50, "after-interrupt", |s| {
        s.contains("\nafter-interrupt")
    })
    .await;
    assert!(!s.contains("\nnot-interrupted"), "{s}");
    // Up twice recalls "sleep ..."? No: Up once recalls the last command.
    b.send_keys(&n, &[Key::Up, Key::Enter]).await.unwrap();
    wait_screen(b, &n, 50, "recalled command", |s| {
        s.matches("\nafter-interrupt").count() >= 2
    })
    .await;
    b.terminate(&n).await.unwrap();
}

/// The scrollback can be paged back.
pub async fn scrollback_pages(b: &dyn SessionBackend, root: &Path) {
    let p = policy(root);
    let n = b
        .create(p.prepare("s", None, "bash").unwrap())
        .await
        .unwrap()
        .name;
    b.send_text(&n, "seq 1 3000 | sed s/^/row/; echo END", true)
        .await
        .unwrap();
    wait_screen(b, &n, 10, "END", |s| s.contains("\nEND")).await;
    let last = b
        .read(
            &n,
            ReadRequest {
                lines: 5,
                offset: 0,
                scrollback: true,
                escapes: false,
            },
        )
        .await
        .unwrap();
    assert!(last.more_above);
    assert!(last.total_lines >= 3000, "{}", last.total_lines);
    let page = b
        .read(
            &n,
            ReadRequest {
                lines: 5,
                offset: 1000,
                scrollback: true,
                escapes: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.returned_lines, 5);
    let rows: Vec<u32> = page
        .text
        .lines()
        .map(|l| {
            l.trim_start_matches("row")
                .parse()
                .unwrap_or_else(|_| panic!("{l:?}"))
        })
        .collect();
    assert!(rows.windows(2).all(|w| w[1] == w[0] + 1), "{rows:?}");
    assert!(rows[0] > 1500 && rows[0] < 2100, "{rows:?}");
    // The visible screen alone is at most a screenful.
    let vis = b.read(&n, ReadRequest::visible()).await.unwrap();
    assert!(vis.total_lines <= 40, "{}", vis.total_lines);
    b.terminate(&n).await.unwrap();
}

/// Resizing reaches the program.
pub async fn resize_reaches_the_program(b: &dyn SessionBackend, root: &Path) {
    let p = policy(root);
    let n = b
        .create(p.prepare("r", None, "bash").unwrap())
        .await
        .unwrap()
        .name;
    b.resize(&n, 100, 30).await.unwrap();
    let info = b.info(&n).await.unwrap();
    assert_eq!((info.cols, info.rows), (100, 30));
    b.send_text(&n, "echo size=$(stty size)", true)
        .await
        .unwrap();
    wait_screen(b, &n, 50, "size=30 100", |s| s.contains("size=30 100")).await;
    assert!(matches!(
        b.resize(&n, 0, 0).await,
        Err(Error::InvalidArgument(_))
    ));
    b.terminate(&n).await.unwrap();
}

/// A program that asks its terminal where the cursor is (`ESC [ 6 n`, as prompt_toolkit
/// does before every prompt of aider or IPython) gets the answer, as from a real terminal.
pub async fn cursor_position_is_reported(b: &dyn SessionBackend, root: &Path) {
    let p = policy(root);
    let n = b
        .create(p.prepare("cpr", None, "bash").unwrap())
        .await
        .unwrap()
        .name;
    b.send_text(
        &n,
        "printf 'ab\\033[6n'; IFS= read -rs -d R -t 10 pos; echo; echo \"pos=[${pos#*[}]\"",
        true,
    )
    .await
    .unwrap();
    // The cursor stood after "ab": column 3.
    let answered = |s: &str| s.lines().any(|l| l.starts_with("pos=["));
    let screen = wait_screen(b, &n, 50, "pos=[", answered).await;
    let line = screen.lines().find(|l| l.starts_with("pos=[")).unwrap();
    assert!(line.ends_with(";3]"), "{line}");
    b.terminate(&n).await.unwrap();
}

/// A program that exits keeps its last screen and its exit status until terminated, and
/// input to it is refused.
pub async fn exit_status_is_kept(b: &dyn SessionBackend, root: &Path) {
    let p = policy(root);
    let n = b
        .create(p.prepare("e", None, "exit3").unwrap())
        .await
        .unwrap()
        .name;
    let st = wait_exited(b, &n).await;
    // The PTY backend always knows the exit code; tmux 3.3 occasionally loses it.
    let unknown = ProcessStatus::Exited {
        code: None,
        signal: None,
    };
    let expected = ProcessStatus::Exited {
        code: Some(3),
        signal: None,
    };
    assert!(
        st == expected || (b.kind() == "tmux" && st == unknown),
        "{st:?}"
    );
    wait_screen(b, &n, 50, "bye", |s| s.contains("bye")).await;
    assert!(matches!(
        b.send_text(&n, "x", true).await,
        Err(Error::Exited(_))
    ));
    assert!(matches!(
        b.send_keys(&n, &[Key::Enter]).await,
        Err(Error::Exited(_))
    ));
    assert_eq!(b.list().await.unwrap().len(), 1);
    b.terminate(&n).await.unwrap();
    // A program that exits at once is no different.
    let n = b
        .create(p.prepare("i", None, "instant").unwrap())
        .await
        .unwrap()
        .name;
    let st = wait_exited(b, &n).await;
    let ok = ProcessStatus::Exited {
        code: Some(0),
        signal: None,
    };
    assert!(st == ok || (b.kind() == "tmux" && st == unknown), "{st:?}");
    b.terminate(&n).await.unwrap();
}

/// A program that floods output does not stall the backend or other sessions.
pub async fn flooding_does_not_stall_others(b: &dyn SessionBackend, root: &Path) {
    let p = policy(root);
    let flood = b
        .create(p.prepare("flood", None, "flood").unwrap())
        .await
        .unwrap()
        .name;
    let calm = b
        .create(p.prepare("calm", None, "bash").unwrap())
        .await
        .unwrap()
        .name;
    for i in 0..5 {
        b.send_text(&calm, &format!("echo calm-{i}"), true)
            .await
            .unwrap();
        wait_screen(b, &calm, 20, "calm", |s| s.contains(&format!("\ncalm-{i}"))).await;
        let s = b.read(&flood, ReadRequest::default()).await.unwrap();
        assert!(s.text.contains("flood flood"), "{}", s.text);
    }
    b.terminate(&flood).await.unwrap();
    b.terminate(&calm).await.unwrap();
    assert!(b.list().await.unwrap().is_empty());
}

/// Hostile names and paths never reach the backend.
pub async fn hostile_names_and_paths(b: &dyn SessionBackend, root: &Path) {
    let p = policy(root);
    for bad in ["a;rm -rf", "../x", "=x", "a:b", "", "-t"] {
        assert!(
            matches!(p.prepare(bad, None, "bash"), Err(Error::InvalidName { .. })),
            "{bad}"
        );
    }
    for dir in ["/", "..", "/etc"] {
        assert!(
            matches!(
                p.prepare("ok", Some(dir), "bash"),
                Err(Error::WorkdirNotAllowed { .. })
            ),
            "{dir}"
        );
    }
    assert!(matches!(
        p.prepare("ok", None, "rm"),
        Err(Error::UnknownProfile { .. })
    ));
    assert!(b.list().await.unwrap().is_empty());
    let ghost = name("ghost");
    assert!(matches!(
        b.read(&ghost, ReadRequest::default()).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        b.send_text(&ghost, "x", true).await,
        Err(Error::NotFound(_))
    ));
}

/// Events: created and terminated are always published.
pub async fn events_are_published(b: &dyn SessionBackend, root: &Path) {
    let p = policy(root);
    let mut rx = b.events();
    let n = b
        .create(p.prepare("ev", None, "bash").unwrap())
        .await
        .unwrap()
        .name;
    b.terminate(&n).await.unwrap();
    let mut seen = Vec::new();
    while let Ok(Ok(ev)) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
        let done = ev == SessionEvent::Terminated(n.clone());
        seen.push(ev);
        if done {
            break;
        }
    }
    assert!(seen.contains(&SessionEvent::Created(n.clone())), "{seen:?}");
    assert!(
        seen.contains(&SessionEvent::Terminated(n.clone())),
        "{seen:?}"
    );
}

/// Behind a [`ScreenCache`], an unchanged screen is served without a backend read (on a
/// backend that reports output) and new output always shows.
pub async fn screen_cache_serves_unchanged_screens(b: &ScreenCache, root: &Path) {
    let p = policy(root);
    let n = b
        .create(p.prepare("cached", None, "cat").unwrap())
        .await
        .unwrap()
        .name;
    assert!(
        b.output_events_epoch().is_some(),
        "the backend does not report output"
    );
    b.send_text(&n, "first-line", true).await.unwrap();
    wait_screen(b, &n, 40, "first-line", |s| s.contains("first-line")).await;
    // Once the output has stopped, reading again is answered from the cache.
    let before = b.hits();
    let start = tokio::time::Instant::now();
    while b.hits() == before && start.elapsed() < DEADLINE {
        b.read(&n, ReadRequest::default()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(b.hits() > before, "no read was served from the cache");
    // So is the session's info.
    let before = b.hits();
    let start = tokio::time::Instant::now();
    while b.hits() == before && start.elapsed() < DEADLINE {
        b.info(&n).await.unwrap();
        b.info(&n).await.unwrap();
    }
    assert!(b.hits() > before, "no info was served from the cache");
    // And the list; a session created or ended shows at once all the same.
    let before = b.hits();
    let start = tokio::time::Instant::now();
    while b.hits() == before && start.elapsed() < DEADLINE {
        b.list().await.unwrap();
        b.list().await.unwrap();
    }
    assert!(b.hits() > before, "no list was served from the cache");
    let other = b
        .create(p.prepare("cached-too", None, "cat").unwrap())
        .await
        .unwrap()
        .name;
    let names = |l: Vec<sessiongate_backend::SessionInfo>| l.into_iter().map(|i| i.name);
    assert!(names(b.list().await.unwrap()).any(|x| x == other));
    b.terminate(&other).await.unwrap();
    assert!(!names(b.list().await.unwrap()).any(|x| x == other));
    // Output in one session keeps the list, but that session's entry is read again.
    let listed = |l: Vec<sessiongate_backend::SessionInfo>| {
        l.into_iter().find(|i| i.name == n).expect("listed")
    };
    let old = listed(b.list().await.unwrap());
    b.send_text(&n, "third-line", true).await.unwrap();
    wait_screen(b, &n, 40, "third-line", |s| s.contains("third-line")).await;
    let info = b.info(&n).await.unwrap();
    let entry = listed(b.list().await.unwrap());
    assert!(
        entry.last_activity >= info.last_activity,
        "the list shows {entry:?}, the session is {info:?} (was {old:?})"
    );
    // New output is never hidden by a kept screen.
    b.send_text(&n, "second-line", true).await.unwrap();
    wait_screen(b, &n, 40, "second-line", |s| s.contains("second-line")).await;
    // Neither is a resize.
    b.resize(&n, 50, 12).await.unwrap();
    let info = b.info(&n).await.unwrap();
    assert_eq!((info.cols, info.rows), (50, 12));
    b.terminate(&n).await.unwrap();
}

/// Claude Code's state file and transcript are read on the session's machine (through the
/// backend), checked against the process's start time there: a file whose `procStart`
/// differs is not trusted.
pub async fn claude_state_is_read_where_the_session_runs(b: &dyn SessionBackend, root: &Path) {
    let p = policy(root);
    let n = name("cc");
    let info = b
        .create(p.prepare("cc", None, "claude-like").unwrap())
        .await
        .unwrap();
    wait_screen(b, &n, 50, "ready", |s| s.contains("ready")).await;
    let state = b.claude_state(&info).await.expect("the state file is read");
    assert_eq!(state.status, "waiting");
    assert_eq!(state.waiting_for.as_deref(), Some("permission prompt"));
    assert_eq!(state.session_id.as_deref(), Some("abc-1"));
    let (_, items) = b.claude_transcript(&info, 10).await.expect("a transcript");
    let items = items.expect("the transcript is read");
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].text, "hello from its host");
    // A file left by another process with the same pid: its start time differs.
    let dir = root.join("home/.claude/sessions");
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap().path();
        let text = std::fs::read_to_string(&f).unwrap();
        let stale = text.replace("\"procStart\":\"", "\"procStart\":\"1");
        std::fs::write(&f, stale).unwrap();
    }
    assert_eq!(
        b.claude_state(&info).await,
        None,
        "a stale state file is trusted"
    );
    b.terminate(&n).await.unwrap();
}
