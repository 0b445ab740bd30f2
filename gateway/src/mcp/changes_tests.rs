//! `get_changes` on real repositories made with the real git, in sessions of the real PTY
//! backend: every kind of status entry, binary files, paging, hostile paths, and a repository
//! whose configuration, attributes and hooks name programs that must never run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use sessiongate_backend::{LaunchProfile, SessionPolicy};
use sessiongate_backend_pty::PtyBackend;

use super::*;

/// A root directory with the gateway state over it; sessions run `sleep` in a folder.
struct Fixture {
    root: tempfile::TempDir,
    state: AppState,
}

impl Fixture {
    fn new() -> Fixture {
        let root = tempfile::tempdir().expect("tempdir");
        let profiles = BTreeMap::from([(
            "sleep".to_owned(),
            LaunchProfile::Argv(vec!["sleep".into(), "600".into()]),
        )]);
        let policy = SessionPolicy::new(&[root.path().to_owned()], profiles).expect("policy");
        let backend = PtyBackend::new(Default::default());
        Fixture {
            root,
            state: AppState::new(Arc::new(backend), Arc::new(policy)),
        }
    }

    /// A new folder `name` under the root.
    fn dir(&self, name: &str) -> PathBuf {
        let d = self.root.path().join(name);
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    }

    /// Starts session `name` in `dir` (relative to the root).
    async fn session(&self, name: &str, dir: &str) {
        let spec = self
            .state
            .policy
            .prepare(name, Some(dir), "sleep")
            .expect("spec");
        self.state.backend.create(spec).await.expect("create");
    }

    async fn changes(&self, a: ChangesArgs) -> Result<serde_json::Value, ChangesError> {
        changes(&self.state, &a).await.map(|(_, v)| v)
    }
}

fn args(session: &str) -> ChangesArgs {
    ChangesArgs {
        session: session.to_owned(),
        path: None,
        staged: None,
        max_bytes: None,
        offset: None,
    }
}

/// Runs the system's git as a user would, in `dir` (for setting repositories up).
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_DATE", "2020-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2020-01-01T00:00:00Z")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(dir: &Path, file: &str, content: impl AsRef<[u8]>) {
    std::fs::write(dir.join(file), content).expect("write");
}

/// A repository with one commit of a.txt, b.txt, old.txt and bin.dat.
fn repo(dir: &Path) {
    git(dir, &["init", "-q"]);
    write(dir, "a.txt", "one\ntwo\nthree\n");
    write(dir, "b.txt", "bee\n");
    write(
        dir,
        "old.txt",
        "a file that will be renamed\nwith some lines\nof text\n",
    );
    write(dir, "bin.dat", [0u8, 1, 2, 3, 0, 255, 254]);
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "first"]);
}

fn strings(v: &serde_json::Value) -> Vec<&str> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string"))
        .collect()
}

#[tokio::test]
async fn every_kind_of_change_is_sorted_and_the_diff_shows_the_hunks() {
    let f = Fixture::new();
    let d = f.dir("proj");
    repo(&d);
    write(&d, "a.txt", "one\ntwo, edited\nthree\n");
    std::fs::remove_file(d.join("b.txt")).expect("rm");
    write(&d, "new.txt", "brand new\n");
    git(&d, &["add", "new.txt"]);
    git(&d, &["mv", "old.txt", "renamed.txt"]);
    write(&d, "untracked.txt", "not added\n");
    write(&d, "bin.dat", [0u8, 9, 9, 9, 0, 255, 254, 7]);
    f.session("s", "proj").await;

    let v = f.changes(args("s")).await.expect("changes");
    let st = &v["status"];
    assert_eq!(strings(&st["changed"]), ["a.txt", "bin.dat"], "{v}");
    assert_eq!(strings(&st["added"]), ["new.txt"], "{v}");
    assert_eq!(strings(&st["deleted"]), ["b.txt"], "{v}");
    assert_eq!(strings(&st["untracked"]), ["untracked.txt"], "{v}");
    assert_eq!(
        st["renamed"],
        json!([{ "from": "old.txt", "to": "renamed.txt" }]),
        "{v}"
    );
    assert_eq!(v["branch"], "main");
    let diff = v["diff"].as_str().expect("diff");
    assert!(diff.contains("-two\n+two, edited\n"), "{diff}");
    assert!(diff.contains("+brand new\n"), "{diff}");
    assert!(diff.contains("-bee\n"), "{diff}");
    assert!(
        diff.contains("rename from old.txt\nrename to renamed.txt"),
        "{diff}"
    );
    // The binary file is named, its bytes are not dumped.
    assert!(
        diff.contains("Binary files a/bin.dat and b/bin.dat differ"),
        "{diff}"
    );
    assert!(!diff.contains('\u{0}'), "{diff:?}");
    assert_eq!(strings(&v["binary"]), ["bin.dat"]);
    assert_eq!(v["next_offset"], serde_json::Value::Null);
    // Only staged: the index against HEAD (the edit of a.txt is not staged).
    let mut a = args("s");
    a.staged = Some(true);
    let v = f.changes(a).await.expect("staged");
    let diff = v["diff"].as_str().expect("diff");
    assert!(diff.contains("+brand new\n"), "{diff}");
    assert!(!diff.contains("two, edited"), "{diff}");
    // A path narrows it.
    let mut a = args("s");
    a.path = Some("./a.txt".into());
    let v = f.changes(a).await.expect("path");
    assert_eq!(strings(&v["status"]["changed"]), ["a.txt"], "{v}");
    assert!(!v["diff"].as_str().expect("diff").contains("brand new"));
}

#[tokio::test]
async fn commits_since_the_session_started_are_listed_and_older_ones_not() {
    let f = Fixture::new();
    let d = f.dir("proj");
    repo(&d);
    f.session("s", "proj").await;
    write(&d, "a.txt", "changed and committed\n");
    commit_now(&d, "the agent's commit");
    let v = f.changes(args("s")).await.expect("changes");
    let commits = v["commits"].as_array().expect("commits");
    assert_eq!(commits.len(), 1, "{v}");
    assert_eq!(commits[0]["subject"], "the agent's commit");
    assert_eq!(commits[0]["author"], "Agent");
    assert_eq!(v["diff"], "");
}

/// Commits every change in `dir` now, as the agent would (the `git` helper dates commits in
/// 2020, before any session started).
fn commit_now(dir: &Path, message: &str) {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args([
            "-c",
            "user.name=Agent",
            "-c",
            "user.email=agent@example.com",
        ])
        .args(["commit", "-q", "-am", message])
        .output()
        .expect("git");
    assert!(out.status.success(), "{out:?}");
}

/// A commit message holding the log's own separators makes a fake record out of its tail;
/// its "id" (not hex, multi-byte) is dropped instead of being cut mid-character.
#[tokio::test]
async fn a_commit_message_with_the_logs_separators_fakes_no_commit() {
    let f = Fixture::new();
    let d = f.dir("proj");
    repo(&d);
    f.session("s", "proj").await;
    write(&d, "a.txt", "changed and committed\n");
    commit_now(&d, "x\u{1e}aéééééééé\u{1f}a\u{1f}b\u{1f}c");
    let v = f.changes(args("s")).await.expect("changes");
    let commits = v["commits"].as_array().expect("commits");
    assert_eq!(commits.len(), 1, "{v}");
    assert!(
        commits[0]["id"]
            .as_str()
            .is_some_and(|id| id.bytes().all(|b| b.is_ascii_hexdigit())),
        "{v}"
    );
}

#[tokio::test]
async fn a_repository_without_commits_diffs_against_nothing() {
    let f = Fixture::new();
    let d = f.dir("fresh");
    git(&d, &["init", "-q"]);
    write(&d, "staged.txt", "in the index\n");
    git(&d, &["add", "staged.txt"]);
    f.session("s", "fresh").await;
    let v = f.changes(args("s")).await.expect("changes");
    assert_eq!(strings(&v["status"]["added"]), ["staged.txt"], "{v}");
    assert!(
        v["diff"].as_str().expect("diff").contains("+in the index"),
        "{v}"
    );
    assert_eq!(v["head"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_big_diff_comes_in_pages_that_add_up_to_the_whole() {
    let f = Fixture::new();
    let d = f.dir("proj");
    repo(&d);
    let big: String = (0..3000).map(|i| format!("line number {i}\n")).collect();
    write(&d, "a.txt", &big);
    f.session("s", "proj").await;
    let mut whole = String::new();
    let mut offset = 0;
    let mut pages = 0;
    loop {
        let mut a = args("s");
        a.max_bytes = Some(4096);
        a.offset = Some(offset);
        let v = f.changes(a).await.expect("page");
        let text = v["diff"].as_str().expect("diff");
        assert!(text.len() <= 4096, "a page is at most max_bytes");
        whole.push_str(text);
        pages += 1;
        match v["next_offset"].as_u64() {
            Some(next) => {
                assert!(text.ends_with('\n'), "a page ends at a line end");
                offset = next;
            }
            None => break,
        }
    }
    assert!(pages > 10, "{pages} pages");
    let full = git(&d, &["diff", "HEAD"]);
    assert_eq!(whole, full);
    // The default cap is 64 KB.
    let v = f.changes(args("s")).await.expect("default");
    assert!(v["diff"].as_str().expect("diff").len() <= 64 * 1024);
    let mut a = args("s");
    a.max_bytes = Some(10);
    assert!(matches!(
        f.changes(a).await,
        Err(ChangesError::BadArgument(_))
    ));
}

#[tokio::test]
async fn hostile_paths_are_refused_before_git_runs() {
    let f = Fixture::new();
    let d = f.dir("proj");
    repo(&d);
    write(&d, "a.txt", "edited\n");
    std::os::unix::fs::symlink("/etc", d.join("etc-link")).expect("symlink");
    f.session("s", "proj").await;
    let written = f.root.path().join("written-by-git");
    let output_opt = format!("--output={}", written.display());
    for bad in [
        "/etc/passwd",
        "../other",
        "sub/../../other",
        "-p",
        output_opt.as_str(),
        "./--output=x",
        "a\\..\\b",
    ] {
        let mut a = args("s");
        a.path = Some(bad.into());
        let r = f.changes(a).await;
        assert!(matches!(r, Err(ChangesError::BadPath(_))), "{bad}: {r:?}");
    }
    let mut a = args("s");
    a.path = Some("etc-link/passwd".into());
    let r = f.changes(a).await;
    assert!(matches!(r, Err(ChangesError::PathOutside(_))), "{r:?}");
    assert!(!written.exists(), "a path became a git option");
    // Pathspec magic is taken literally: it matches no file, rather than every file.
    let mut a = args("s");
    a.path = Some(":(exclude)nothing".into());
    let v = f.changes(a).await.expect("literal");
    assert_eq!(v["diff"], "", "{v}");
}

#[tokio::test]
async fn outside_a_repository_and_unknown_sessions_are_clear_errors() {
    let f = Fixture::new();
    f.dir("plain");
    f.session("s", "plain").await;
    let e = f.changes(args("s")).await.expect_err("no repository");
    assert!(e.to_string().contains("is not in a git repository"), "{e}");
    let e = f.changes(args("ghost")).await.expect_err("no session");
    assert!(matches!(e, ChangesError::Session(_)), "{e}");
    let e = f.changes(args("../bad name")).await.expect_err("bad name");
    assert!(matches!(e, ChangesError::Session(_)), "{e}");
}

#[tokio::test]
async fn a_repository_above_the_allowed_root_shows_only_what_is_under_it() {
    // The repository's top is the fixture's parent folder; the root is a folder inside it.
    let outer = tempfile::tempdir().expect("tempdir");
    let top = outer.path();
    repo(top);
    std::fs::create_dir(top.join("allowed")).expect("mkdir");
    write(top, "allowed/inside.txt", "x\n");
    git(top, &["add", "."]);
    git(top, &["commit", "-q", "-m", "second"]);
    write(top, "a.txt", "secret edit outside the root\n");
    write(top, "allowed/inside.txt", "edited inside\n");
    let root = top.join("allowed");
    let profiles = BTreeMap::from([(
        "sleep".to_owned(),
        LaunchProfile::Argv(vec!["sleep".into(), "600".into()]),
    )]);
    let policy = SessionPolicy::new(std::slice::from_ref(&root), profiles).expect("policy");
    let state = AppState::new(
        Arc::new(PtyBackend::new(Default::default())),
        Arc::new(policy),
    );
    let spec = state.policy.prepare("s", None, "sleep").expect("spec");
    state.backend.create(spec).await.expect("create");
    let (_, v) = changes(&state, &args("s")).await.expect("changes");
    assert_eq!(
        strings(&v["status"]["changed"]),
        ["allowed/inside.txt"],
        "{v}"
    );
    assert!(!v["diff"].as_str().expect("diff").contains("secret"), "{v}");
    let mut a = args("s");
    a.path = Some("a.txt".into());
    assert!(matches!(
        changes(&state, &a).await,
        Err(ChangesError::PathOutside(_))
    ));
}

/// Every program the repository can name for git to run writes its own marker file.
fn hostile_repo(dir: &Path, markers: &Path) -> Vec<PathBuf> {
    repo(dir);
    let mut all = Vec::new();
    let mut script = |name: &str| -> String {
        let marker = markers.join(name);
        let path = markers.join(format!("{name}.sh"));
        std::fs::write(
            &path,
            format!("#!/bin/sh\ntouch '{}'\ncat\n", marker.display()),
        )
        .expect("script");
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        all.push(marker);
        path.display().to_string()
    };
    let pager = script("pager");
    let fsmonitor = script("fsmonitor");
    let external = script("external-diff");
    let textconv = script("textconv");
    let clean = script("filter-clean");
    let odd = script("filter-odd-name");
    let gpg = script("gpg");
    let hook = script("hook");
    let hooks = markers.join("hooks");
    std::fs::create_dir(&hooks).expect("mkdir");
    for h in [
        "post-index-change",
        "reference-transaction",
        "pre-commit",
        "post-checkout",
        "fsmonitor-watchman",
        "pre-auto-gc",
    ] {
        std::fs::copy(&hook, hooks.join(h)).expect("hook");
        std::fs::copy(&hook, dir.join(".git/hooks").join(h)).expect("hook");
    }
    for (k, v) in [
        ("core.pager", pager.as_str()),
        ("pager.diff", pager.as_str()),
        ("pager.status", pager.as_str()),
        ("pager.log", pager.as_str()),
        ("core.fsmonitor", fsmonitor.as_str()),
        ("diff.external", external.as_str()),
        ("diff.conv.textconv", textconv.as_str()),
        ("filter.evil.clean", clean.as_str()),
        ("filter.evil.smudge", clean.as_str()),
        ("filter.evil.required", "true"),
        ("filter.a=b.clean", odd.as_str()),
        ("core.hooksPath", &hooks.display().to_string()),
        ("gpg.program", gpg.as_str()),
        ("log.showSignature", "true"),
    ] {
        git(dir, &["config", k, v]);
    }
    write(
        dir,
        ".gitattributes",
        "a.txt filter=evil diff=conv\nb.txt filter=a=b\n",
    );
    git(dir, &["add", ".gitattributes"]);
    // A signed-looking commit: showing its signature would run gpg.program.
    let tree = git(dir, &["write-tree"]);
    let parent = git(dir, &["rev-parse", "HEAD"]);
    let commit = format!(
        "tree {}\nparent {}\nauthor T <t@example.com> 4102444800 +0000\n\
         committer T <t@example.com> 4102444800 +0000\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n \
         iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\nsigned\n",
        tree.trim(),
        parent.trim()
    );
    let path = markers.join("commit.txt");
    std::fs::write(&path, commit).expect("commit");
    let id = git(
        dir,
        &[
            "hash-object",
            "-t",
            "commit",
            "-w",
            &path.display().to_string(),
        ],
    );
    git(dir, &["update-ref", "HEAD", id.trim()]);
    // Edits whose stat no longer matches the index: status and diff would clean them.
    write(dir, "a.txt", "one\ntwo, edited\nthree\n");
    write(dir, "b.txt", "bee, edited\n");
    // Setting the trap up ran some of them (update-ref runs the reference-transaction hook).
    for m in &all {
        let _ = std::fs::remove_file(m);
    }
    all
}

#[tokio::test]
async fn programs_the_repository_names_never_run() {
    let f = Fixture::new();
    let d = f.dir("proj");
    let markers = tempfile::tempdir().expect("tempdir");
    let all = hostile_repo(&d, markers.path());
    // The signed commit is dated after the session started: it is among the recent commits.
    f.session("s", "proj").await;
    let v = f.changes(args("s")).await.expect("changes");
    for m in &all {
        assert!(!m.exists(), "{} ran", m.display());
    }
    let diff = v["diff"].as_str().expect("diff");
    assert!(
        diff.contains("+two, edited"),
        "the plain diff, not a driver's: {diff}"
    );
    let mut a = args("s");
    a.staged = Some(true);
    f.changes(a).await.expect("staged");
    for m in &all {
        assert!(!m.exists(), "{} ran", m.display());
    }

    // The same repository under a plain git does run them: the test sets real traps.
    let plain = |args: &[&str]| {
        Command::new("git")
            .current_dir(&d)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .args(args)
            .output()
            .expect("git")
    };
    plain(&["status"]);
    plain(&["diff"]);
    plain(&["log", "-n1"]);
    for name in [
        "fsmonitor",
        "filter-clean",
        "filter-odd-name",
        "external-diff",
        "gpg",
    ] {
        assert!(
            markers.path().join(name).exists(),
            "{name}: plain git did not run it, so the trap is not real"
        );
    }
}

#[test]
fn relative_paths_are_normalised_or_refused() {
    assert_eq!(relative_path("./src//main.rs").expect("ok"), "src/main.rs");
    assert_eq!(relative_path(".").expect("ok"), "");
    for bad in ["/abs", "..", "a/../..", "-x", "./-x", "a\\b", "nul\0"] {
        assert!(relative_path(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn pages_end_at_line_ends_and_say_where_the_next_starts() {
    let text = b"aaa\nbbb\nccc";
    let p = page(text, 0, true);
    assert_eq!(p.text, "aaa\nbbb\n");
    assert_eq!(p.next_offset, Some(8));
    let p = page(text, 8, false);
    assert_eq!(p.text, "ccc");
    assert_eq!(p.next_offset, None);
    // One line longer than the page is cut inside it.
    let p = page(b"abcdef", 0, true);
    assert_eq!(p.next_offset, Some(6));
}
