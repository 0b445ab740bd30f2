//! `get_changes` through the real gateway over HTTP, on both backends: a shell session in a
//! git repository whose configuration names programs for git to run (none runs), a session
//! outside any repository, and paths that try to leave the repository.

use serde_json::json;

use crate::claude_code::git;
use crate::mcp_tools::client;
use sessiongate_tests::gateway::{Options, TestGateway};

async fn changes_through_the_gateway(backend: &str) {
    let gw = TestGateway::start(Options::for_backend(backend, "changes"));
    let mut c = client(&gw).await;
    let repo = gw.root.join("repo");
    std::fs::create_dir(&repo).unwrap();
    std::fs::create_dir(gw.root.join("plain")).unwrap();
    git(&repo, &["init", "-q"]);
    std::fs::write(repo.join("app.py"), "print('hello')\n").unwrap();
    git(&repo, &["add", "app.py"]);
    git(&repo, &["commit", "-q", "-m", "start"]);
    // A trap: the repository's configuration names a program for status and diff to run.
    let marker = gw.root.join("trap-ran");
    let trap = gw.root.join("trap.sh");
    std::fs::write(&trap, format!("#!/bin/sh\ntouch '{}'\n", marker.display())).unwrap();
    std::fs::set_permissions(&trap, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let trap = trap.display().to_string();
    git(&repo, &["config", "core.fsmonitor", &trap]);
    git(&repo, &["config", "diff.external", &trap]);
    std::fs::write(repo.join("app.py"), "print('hello, world')\n").unwrap();

    for (name, dir) in [("r", "repo"), ("p", "plain")] {
        c.call_ok(
            "create_session",
            json!({ "name": name, "working_dir": dir, "profile": "bash" }),
        )
        .await
        .unwrap();
    }
    let r = c
        .call("get_changes", json!({ "session": "r" }))
        .await
        .unwrap();
    assert_ne!(r["isError"], true, "{r}");
    assert_eq!(
        r["structuredContent"]["status"]["changed"],
        json!(["app.py"])
    );
    let diff = r["structuredContent"]["diff"].as_str().unwrap();
    assert!(
        diff.contains("-print('hello')\n+print('hello, world')\n"),
        "{diff}"
    );
    assert!(!marker.exists(), "the repository's program ran");

    for (args, says) in [
        (json!({ "session": "p" }), "not in a git repository"),
        (json!({ "session": "ghost" }), "ghost"),
        (
            json!({ "session": "r", "path": "../plain" }),
            "must be relative",
        ),
        (
            json!({ "session": "r", "path": "/etc" }),
            "must be relative",
        ),
        (
            json!({ "session": "r", "path": "--output=x" }),
            "must be relative",
        ),
        (json!({ "session": "r", "max_bytes": 1 }), "max_bytes"),
    ] {
        let r = c.call("get_changes", args.clone()).await.unwrap();
        assert_eq!(r["isError"], true, "{args}: {r}");
        let text = r["content"][0]["text"].as_str().unwrap();
        assert!(text.contains(says), "{args}: {text}");
    }
    assert!(!marker.exists());
}

#[tokio::test]
async fn changes_on_tmux() {
    changes_through_the_gateway("tmux").await;
}

#[tokio::test]
async fn changes_on_pty() {
    changes_through_the_gateway("pty").await;
}
