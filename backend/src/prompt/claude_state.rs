//! Claude Code's own state file: while it runs, Claude Code (2.1.x) keeps
//! `~/.claude/sessions/<pid>.json` with its `status` (`idle`, `busy`, `waiting`), what it waits
//! for (`waitingFor`, e.g. `permission prompt`), its `sessionId`, `cwd` and `procStart` (the
//! process start time, field 22 of `/proc/<pid>/stat`). The start time is checked so that a
//! file left behind by an earlier process with a reused pid is never trusted.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::transcript::{TranscriptError, TranscriptItem, read_transcript, transcript_path};

/// The outcome of reading a transcript.
pub type TranscriptRead = Result<Vec<TranscriptItem>, TranscriptError>;

/// The largest state file read.
pub const MAX_STATE_FILE: u64 = 64 * 1024;

/// What the state file says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaudeState {
    /// The Claude Code process.
    pub pid: u32,
    /// `idle`, `busy` or `waiting`.
    pub status: String,
    /// What it waits for, when waiting.
    pub waiting_for: Option<String>,
    /// The conversation id (names the transcript file).
    pub session_id: Option<String>,
    /// Claude Code's working directory (names the transcript's folder).
    pub cwd: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    pid: Option<u64>,
    status: Option<String>,
    waiting_for: Option<String>,
    session_id: Option<String>,
    cwd: Option<PathBuf>,
    proc_start: Option<String>,
}

/// Why a state file was not used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    /// There is no state file for the pid.
    #[error("no state file")]
    Missing,
    /// The file is not a regular file (a symlink, a FIFO, ...), or is too large.
    #[error("the state file is not a regular file of at most 64 KiB")]
    NotRegular,
    /// The file is not the JSON Claude Code writes.
    #[error("the state file is malformed: {0}")]
    Malformed(String),
    /// The file belongs to another process that had the same pid.
    #[error("the state file is stale (its process start time differs)")]
    Stale,
}

/// The start time of a process, field 22 of `/proc/<pid>/stat`, in clock ticks since boot.
pub fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces or ')'; the fields
    // after the last ')' start with field 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19).map(str::to_owned)
}

/// Reads `<dir>/<pid>.json` and checks it against the running process.
pub fn read_state(dir: &Path, pid: u32) -> Result<ClaudeState, StateError> {
    let path = dir.join(format!("{pid}.json"));
    let meta = std::fs::symlink_metadata(&path).map_err(|_| StateError::Missing)?;
    if !meta.file_type().is_file() || meta.len() > MAX_STATE_FILE {
        return Err(StateError::NotRegular);
    }
    let mut text = String::new();
    std::fs::File::open(&path)
        .map_err(|_| StateError::Missing)?
        .take(MAX_STATE_FILE)
        .read_to_string(&mut text)
        .map_err(|e| StateError::Malformed(e.to_string()))?;
    parse_state(&text, pid, process_start(pid).as_deref())
}

/// Checks the text of the state file of `pid` against the process's start time as read on
/// its machine (`actual_start`, field 22 of its `/proc/<pid>/stat`; `None` when it is gone).
/// The same checks whether the file was read here or on another host.
pub fn parse_state(
    text: &str,
    pid: u32,
    actual_start: Option<&str>,
) -> Result<ClaudeState, StateError> {
    let raw: Raw = serde_json::from_str(text).map_err(|e| StateError::Malformed(e.to_string()))?;
    if raw.pid != Some(u64::from(pid)) {
        return Err(StateError::Malformed(
            "its pid differs from its name".into(),
        ));
    }
    match (raw.proc_start.as_deref(), actual_start) {
        (Some(recorded), Some(actual)) if recorded == actual => {}
        _ => return Err(StateError::Stale),
    }
    let status = raw
        .status
        .filter(|s| ["idle", "busy", "waiting"].contains(&s.as_str()))
        .ok_or_else(|| StateError::Malformed("status is not idle, busy or waiting".into()))?;
    let clip = |s: String| s.chars().take(200).collect::<String>();
    Ok(ClaudeState {
        pid,
        status,
        waiting_for: raw.waiting_for.map(clip),
        session_id: raw.session_id.filter(|s| {
            s.len() <= 100 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        }),
        cwd: raw.cwd,
    })
}

/// The pid and every descendant of it (bounded), nearest first: where to look for the Claude
/// Code process under a pane or PTY.
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() && out.len() < 256 {
        let pid = out[i];
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for t in tasks.flatten() {
                if let Ok(children) = std::fs::read_to_string(t.path().join("children")) {
                    out.extend(
                        children
                            .split_whitespace()
                            .filter_map(|c| c.parse::<u32>().ok()),
                    );
                }
            }
        }
        i += 1;
    }
    out.dedup();
    out
}

/// The `HOME` a process runs with (Claude Code's state lives under it).
pub fn process_home(pid: u32) -> Option<PathBuf> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    env.split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(b"HOME="))
        .map(|h| PathBuf::from(String::from_utf8_lossy(h).into_owned()))
}

/// How long the outcome of a search of a process tree (which process has a state file, and
/// where) is trusted. Within it, a status call reads one known file, or none when the tree
/// had no Claude Code; a Claude Code started meanwhile is found at most this late (the screen
/// rules cover it until then). A remote host's searches are remembered as long.
pub const SEARCH_TTL: Duration = Duration::from_secs(2);

/// Trees remembered at most; beyond, the memory is cleared.
pub const MAX_REMEMBERED: usize = 1024;

/// Where a tree's state file was found: the process and its state directory, or nowhere.
type Found = Option<(u32, PathBuf)>;

/// The outcome of recent searches, by the tree's root pid.
static SEARCHES: LazyLock<Mutex<HashMap<u32, (Instant, Found)>>> = LazyLock::new(Default::default);

fn searches() -> std::sync::MutexGuard<'static, HashMap<u32, (Instant, Found)>> {
    SEARCHES.lock().unwrap_or_else(|p| p.into_inner())
}

/// Finds the Claude Code state of the process tree under `root`. The search of the tree is
/// remembered for a short while ([`SEARCH_TTL`]); the state file itself is read every time.
pub fn find_state(root: u32) -> Option<ClaudeState> {
    let recent = searches()
        .get(&root)
        .filter(|(at, _)| at.elapsed() < SEARCH_TTL)
        .map(|(_, found)| found.clone());
    match recent {
        Some(None) => return None,
        Some(Some((pid, dir))) => {
            if let Ok(state) = read_state(&dir, pid) {
                return Some(state);
            }
            // Gone or replaced: search again.
        }
        None => {}
    }
    let (found, state) = search_tree(root);
    let mut memory = searches();
    if memory.len() >= MAX_REMEMBERED {
        memory.clear();
    }
    memory.insert(root, (Instant::now(), found));
    state
}

/// The last `limit` items of the transcript of the Claude Code process in the tree under
/// `root` on this machine, with its state: `None` when the tree runs no Claude Code.
pub fn local_transcript(root: u32, limit: usize) -> Option<(ClaudeState, TranscriptRead)> {
    let claude = find_state(root)?;
    let home = process_home(claude.pid).or_else(|| std::env::var_os("HOME").map(Into::into))?;
    let path = transcript_path(&home, claude.cwd.as_deref()?, claude.session_id.as_deref()?);
    let items = read_transcript(&path, limit);
    Some((claude, items))
}

/// Searches the tree under `root` for a process with a valid state file.
fn search_tree(root: u32) -> (Found, Option<ClaudeState>) {
    for pid in process_tree(root) {
        let Some(home) = process_home(pid).or_else(|| std::env::var_os("HOME").map(PathBuf::from))
        else {
            return (None, None);
        };
        let dir = home.join(".claude/sessions");
        if let Ok(state) = read_state(&dir, pid) {
            return (Some((pid, dir)), Some(state));
        }
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> u32 {
        std::process::id()
    }

    fn write(dir: &Path, pid: u32, body: &str) {
        std::fs::write(dir.join(format!("{pid}.json")), body).unwrap();
    }

    #[test]
    fn a_fresh_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let start = process_start(me()).unwrap();
        write(
            dir.path(),
            me(),
            &format!(
                r#"{{"pid":{},"sessionId":"0f4a-11","cwd":"/x","procStart":"{start}","status":"waiting","waitingFor":"permission prompt"}}"#,
                me()
            ),
        );
        let s = read_state(dir.path(), me()).unwrap();
        assert_eq!(s.status, "waiting");
        assert_eq!(s.waiting_for.as_deref(), Some("permission prompt"));
        assert_eq!(s.session_id.as_deref(), Some("0f4a-11"));
    }

    #[test]
    fn missing_stale_malformed_and_hostile_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_state(dir.path(), me()), Err(StateError::Missing));
        let start = process_start(me()).unwrap();
        // A reused pid: the start time differs.
        write(
            dir.path(),
            me(),
            &format!(r#"{{"pid":{},"procStart":"1","status":"idle"}}"#, me()),
        );
        assert_eq!(read_state(dir.path(), me()), Err(StateError::Stale));
        write(dir.path(), me(), "{not json");
        assert!(matches!(
            read_state(dir.path(), me()),
            Err(StateError::Malformed(_))
        ));
        write(
            dir.path(),
            me(),
            &format!(
                r#"{{"pid":{},"procStart":"{start}","status":"rm -rf"}}"#,
                me()
            ),
        );
        assert!(matches!(
            read_state(dir.path(), me()),
            Err(StateError::Malformed(_))
        ));
        write(
            dir.path(),
            me(),
            &format!(r#"{{"pid":1,"procStart":"{start}","status":"idle"}}"#),
        );
        assert!(matches!(
            read_state(dir.path(), me()),
            Err(StateError::Malformed(_))
        ));
        // A hostile session id (a path) is dropped rather than used to build a path.
        write(
            dir.path(),
            me(),
            &format!(
                r#"{{"pid":{},"procStart":"{start}","status":"idle","sessionId":"../../etc/passwd"}}"#,
                me()
            ),
        );
        assert_eq!(read_state(dir.path(), me()).unwrap().session_id, None);
        // Symlinks and huge files are not read.
        std::fs::remove_file(dir.path().join(format!("{}.json", me()))).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join(format!("{}.json", me())))
            .unwrap();
        assert_eq!(read_state(dir.path(), me()), Err(StateError::NotRegular));
        std::fs::remove_file(dir.path().join(format!("{}.json", me()))).unwrap();
        write(dir.path(), me(), &" ".repeat(70_000));
        assert_eq!(read_state(dir.path(), me()), Err(StateError::NotRegular));
    }

    #[test]
    fn the_process_tree_starts_at_the_root() {
        let tree = process_tree(me());
        assert_eq!(tree[0], me());
        assert!(process_home(me()).is_some() || std::env::var_os("HOME").is_none());
    }
}
