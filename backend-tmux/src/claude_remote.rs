//! Claude Code's state file and transcript on a remote host, read there through the same
//! SSH connection as tmux.
//!
//! Two fixed scripts run as `sh -c SCRIPT sh ARG`: the script text is a constant of this
//! file and the one argument is either the pane's process id (digits that the remote tmux
//! reported, checked again by the script) or a transcript path built from what the host's
//! own files say (its `HOME`, the state file's `cwd` mangled to letters, digits and `-`, and
//! a session id of letters, digits and `-`). No client text reaches either. The checks are
//! the local ones ([`parse_state`], [`parse_tail`]): the state file's `procStart` is compared
//! with field 22 of `/proc/<pid>/stat` read on that host, symlinks and files that are not
//! regular are refused, and at most 64 KiB of a state file and 2 MiB of a transcript's tail
//! are read.
//!
//! As on this machine, where a pane's tree keeps its state file is remembered for
//! [`SEARCH_TTL`] ([`Searches`], one per host, by the pane's process id): within it a call
//! reads that one file (a shorter script, [`READ_SCRIPT`]), or runs nothing on the host when
//! the tree had no Claude Code (for [`NOTHING_TTL`] while the pane's foreground program stays
//! the same). One search runs at a time per host.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use sessiongate_backend::prompt::claude_state::{
    ClaudeState, MAX_REMEMBERED, MAX_STATE_FILE, SEARCH_TTL, StateError, TranscriptRead,
    parse_state,
};
use sessiongate_backend::prompt::transcript::{
    MAX_TAIL, TranscriptError, parse_tail, transcript_path,
};

use crate::command::Tmux;

/// Walks the process tree under `$1` (breadth first, at most 256 processes) and prints, for
/// each of the first 8 processes with a regular state file under their `HOME`, a header line
/// `PID START LENGTH HOME` (START is `-` when unknown) and then LENGTH bytes of the file
/// (at most 64 KiB + 1, so that a larger one is seen as too large).
const STATE_SCRIPT: &str = r#"LC_ALL=C; export LC_ALL
case $1 in ''|*[!0-9]*) exit 2;; esac
q=$1 n=0 found=0
while [ "$n" -lt 256 ] && [ "$found" -lt 8 ]; do
  set -- $q; [ "$#" -gt 0 ] || break
  p=$1; shift; q=$*; n=$((n+1))
  h=$(tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | sed -n 's/^HOME=//p' | head -n 1)
  [ -n "$h" ] || h=$HOME
  f=$h/.claude/sessions/$p.json
  if [ -f "$f" ] && [ ! -L "$f" ]; then
    found=$((found+1))
    s=$(cat "/proc/$p/stat" 2>/dev/null) || s=
    s=${s##*)}
    set -- $s
    c=$(head -c 65537 -- "$f" 2>/dev/null; printf x)
    c=${c%x}
    printf '%s %s %s %s\n%s' "$p" "${20:--}" "${#c}" "$h" "$c"
  fi
  q="$q $(cat /proc/$p/task/*/children 2>/dev/null)"
done
exit 0"#;

/// Prints, as [`STATE_SCRIPT`] does for one process, the state file of process `$1` under
/// `$2` (a `HOME` that an earlier search on this host printed): the header line and the
/// file, or nothing when it is gone or not a regular file.
const READ_SCRIPT: &str = r#"LC_ALL=C; export LC_ALL
case $1 in ''|*[!0-9]*) exit 2;; esac
case $2 in /*) ;; *) exit 2;; esac
p=$1 h=$2
f=$h/.claude/sessions/$p.json
if [ -f "$f" ] && [ ! -L "$f" ]; then
  s=$(cat "/proc/$p/stat" 2>/dev/null) || s=
  s=${s##*)}
  set -- $s
  c=$(head -c 65537 -- "$f" 2>/dev/null; printf x)
  c=${c%x}
  printf '%s %s %s %s\n%s' "$p" "${20:--}" "${#c}" "$h" "$c"
fi
exit 0"#;

/// Prints `missing`, `irregular`, or `ok SIZE` and then the last 2 MiB of the file `$1`.
const TAIL_SCRIPT: &str = r#"f=$1
if [ -L "$f" ] || { [ -e "$f" ] && [ ! -f "$f" ]; }; then echo irregular; exit 0; fi
[ -f "$f" ] || { echo missing; exit 0; }
printf 'ok %s\n' "$(wc -c < "$f" | tr -d ' ')"
tail -c 2097152 -- "$f""#;

/// One state file found on the host.
#[derive(Debug)]
struct Candidate {
    pid: u32,
    start: Option<String>,
    home: PathBuf,
    text: Vec<u8>,
}

/// Splits the state script's output into its candidates; stops at anything malformed.
fn parse_candidates(mut out: &[u8]) -> Vec<Candidate> {
    let mut found = Vec::new();
    while let Some(nl) = out.iter().position(|b| *b == b'\n') {
        let header = String::from_utf8_lossy(&out[..nl]).into_owned();
        let mut words = header.splitn(4, ' ');
        let (Some(pid), Some(start), Some(len), Some(home)) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            break;
        };
        let (Ok(pid), Ok(len)) = (pid.parse::<u32>(), len.parse::<usize>()) else {
            break;
        };
        let body = &out[nl + 1..];
        if body.len() < len || !home.starts_with('/') {
            break;
        }
        found.push(Candidate {
            pid,
            start: (start != "-" && start.bytes().all(|b| b.is_ascii_digit()))
                .then(|| start.to_owned()),
            home: PathBuf::from(home),
            text: body[..len].to_vec(),
        });
        out = &body[len..];
    }
    found
}

/// Checks one candidate as the local reader checks a file.
fn check(c: &Candidate) -> Result<ClaudeState, StateError> {
    if c.text.len() as u64 > MAX_STATE_FILE {
        return Err(StateError::NotRegular);
    }
    let text = std::str::from_utf8(&c.text).map_err(|e| StateError::Malformed(e.to_string()))?;
    parse_state(text, c.pid, c.start.as_deref())
}

/// Where a tree's state file was found on the host: the process and its `HOME` there, or
/// nowhere.
type Found = Option<(u32, PathBuf)>;

/// How long a search that found no Claude Code is trusted while the pane still shows the same
/// shell ([`SHELLS`]) in the foreground: Claude Code is an interactive program, and starting
/// it from that shell makes it the pane's foreground program (`claude`), which searches again
/// at once. Other searches (one that found Claude Code, a pane whose foreground program is
/// not a shell, e.g. Claude Code itself before it wrote its state file) are trusted for
/// [`SEARCH_TTL`].
const NOTHING_TTL: std::time::Duration = std::time::Duration::from_secs(10);

/// Foreground programs that are shells at their prompt.
const SHELLS: [&str; 8] = ["bash", "sh", "dash", "zsh", "fish", "ksh", "tcsh", "csh"];

/// One remembered search: when, what it found, and the pane's foreground program then.
type Remembered = (Instant, Found, Option<String>);

/// The outcome of recent searches of process trees on one host, by the tree's root pid. One
/// search runs at a time per host: callers that need the same tree meanwhile wait for its
/// outcome instead of each running the script (a list of many sessions asked by several
/// clients at once would otherwise run it once per client and session).
#[derive(Debug, Default)]
pub(crate) struct Searches {
    memory: Mutex<HashMap<u32, Remembered>>,
    searching: tokio::sync::Mutex<()>,
}

impl Searches {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Remembered>> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the search of `root`'s tree found, while it is trusted (see [`NOTHING_TTL`]),
    /// if it was made after `since`.
    fn recent(&self, root: u32, command: Option<&str>, since: Option<Instant>) -> Option<Found> {
        self.lock()
            .get(&root)
            .filter(|(at, found, then)| {
                let age = at.elapsed();
                since.is_none_or(|s| *at >= s)
                    && (age < SEARCH_TTL
                        || (found.is_none()
                            && command.is_some_and(|c| SHELLS.contains(&c))
                            && then.as_deref() == command
                            && age < NOTHING_TTL))
            })
            .map(|(_, found, _)| found.clone())
    }

    fn remember(&self, root: u32, found: Found, command: Option<&str>) {
        let mut memory = self.lock();
        if memory.len() >= MAX_REMEMBERED {
            memory.clear();
        }
        memory.insert(root, (Instant::now(), found, command.map(str::to_owned)));
    }
}

/// What a remembered search says now: nothing there, the state read from the known file, or
/// `None` when that file is gone or replaced (search again).
async fn read_known(tmux: &Tmux, known: Found) -> Option<Option<(ClaudeState, PathBuf)>> {
    let Some((pid, home)) = known else {
        return Some(None);
    };
    let pid = pid.to_string();
    let home_arg = home.to_str().filter(|h| !h.contains('\n'))?;
    let out = run(tmux, &["sh", "-c", READ_SCRIPT, "sh", &pid, home_arg]).await?;
    first_valid(&out).map(Some)
}

/// The Claude Code state of the process tree under `root` (a pane running `command` in the
/// foreground) on `tmux`'s host, and the `HOME` of that process there. A recent search of
/// the tree is trusted (see [`Searches`]); the state file itself is read every time.
pub(crate) async fn state(
    tmux: &Tmux,
    searches: &Searches,
    root: u32,
    command: Option<&str>,
) -> Option<(ClaudeState, PathBuf)> {
    if let Some(known) = searches.recent(root, command, None)
        && let Some(answer) = read_known(tmux, known).await
    {
        return answer;
    }
    let waited_from = Instant::now();
    let _one = searches.searching.lock().await;
    // A search made while this caller waited is as good as its own.
    if let Some(known) = searches.recent(root, command, Some(waited_from))
        && let Some(answer) = read_known(tmux, known).await
    {
        return answer;
    }
    let out = run(tmux, &["sh", "-c", STATE_SCRIPT, "sh", &root.to_string()]).await?;
    let found = first_valid(&out);
    searches.remember(
        root,
        found.as_ref().map(|(s, home)| (s.pid, home.clone())),
        command,
    );
    found
}

/// Runs a fixed script on the host: its output, or `None` (logged) when it failed.
async fn run(tmux: &Tmux, argv: &[&str]) -> Option<Vec<u8>> {
    tmux.run_plain_bytes(argv)
        .await
        .map_err(|e| tracing::debug!(error = ?e, "reading Claude Code's state on a host failed"))
        .ok()
}

/// The first candidate of a script's output whose state file passes the checks.
fn first_valid(out: &[u8]) -> Option<(ClaudeState, PathBuf)> {
    parse_candidates(out)
        .into_iter()
        .find_map(|c| check(&c).ok().map(|s| (s, c.home)))
}

/// The last `limit` items of the transcript of `claude` (whose `HOME` on the host is `home`).
pub(crate) async fn transcript(
    tmux: &Tmux,
    claude: &ClaudeState,
    home: &Path,
    limit: usize,
) -> Option<TranscriptRead> {
    let path = transcript_path(home, claude.cwd.as_deref()?, claude.session_id.as_deref()?);
    let arg = path.to_str().filter(|p| !p.contains('\n'))?;
    let out = match tmux
        .run_plain_bytes(&["sh", "-c", TAIL_SCRIPT, "sh", arg])
        .await
    {
        Ok(out) => out,
        Err(e) => {
            return Some(Err(TranscriptError::Io(std::io::Error::other(format!(
                "{e:?}"
            )))));
        }
    };
    Some(parse_tail_output(&out, &path, limit))
}

/// Reads the tail script's answer.
fn parse_tail_output(out: &[u8], path: &Path, limit: usize) -> TranscriptRead {
    let nl = out.iter().position(|b| *b == b'\n').unwrap_or(out.len());
    let status = String::from_utf8_lossy(&out[..nl]);
    let body = out.get(nl + 1..).unwrap_or_default();
    match status.split_once(' ') {
        Some(("ok", size)) => {
            let size: u64 = size.parse().map_err(|_| {
                TranscriptError::Io(std::io::Error::other("the host answered an unknown size"))
            })?;
            Ok(parse_tail(body, size > MAX_TAIL, limit))
        }
        _ if status == "missing" => Err(TranscriptError::Missing(path.to_path_buf())),
        _ => Err(TranscriptError::NotRegular(path.to_path_buf())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_split_by_their_lengths() {
        let out = b"12 345 3 /home/u\n{x}7 - 2 /h w\nab";
        let c = parse_candidates(out);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].pid, 12);
        assert_eq!(c[0].start.as_deref(), Some("345"));
        assert_eq!(c[0].text, b"{x}");
        assert_eq!(c[1].start, None);
        assert_eq!(c[1].home, PathBuf::from("/h w"));
        // Truncated or relative: nothing more is trusted.
        assert!(parse_candidates(b"12 345 9 /home/u\n{x}").is_empty());
        assert!(parse_candidates(b"12 345 3 home\n{x}").is_empty());
    }

    #[test]
    fn a_search_that_found_nothing_under_a_shell_is_trusted_longer() {
        let searches = Searches::default();
        let ago = |secs| Instant::now() - std::time::Duration::from_secs(secs);
        let put = |root, at, found: Found, cmd: &str| {
            searches
                .lock()
                .insert(root, (at, found, Some(cmd.to_owned())));
        };
        // Nothing under a shell, 5 s ago: trusted while the shell is in the foreground.
        put(1, ago(5), None, "bash");
        assert_eq!(searches.recent(1, Some("bash"), None), Some(None));
        assert_eq!(searches.recent(1, Some("claude"), None), None);
        assert_eq!(searches.recent(1, None, None), None);
        // ... but not past NOTHING_TTL, nor when made before `since`.
        put(2, ago(11), None, "bash");
        assert_eq!(searches.recent(2, Some("bash"), None), None);
        assert_eq!(searches.recent(1, Some("bash"), Some(Instant::now())), None);
        // Claude Code itself before it wrote its state file, and a found file: SEARCH_TTL.
        put(3, ago(5), None, "claude");
        assert_eq!(searches.recent(3, Some("claude"), None), None);
        put(4, ago(5), Some((9, PathBuf::from("/h"))), "bash");
        assert_eq!(searches.recent(4, Some("bash"), None), None);
        put(5, Instant::now(), None, "claude");
        assert_eq!(searches.recent(5, Some("claude"), None), Some(None));
    }

    #[test]
    fn tail_answers() {
        let p = Path::new("/t.jsonl");
        assert!(matches!(
            parse_tail_output(b"missing\n", p, 5),
            Err(TranscriptError::Missing(_))
        ));
        assert!(matches!(
            parse_tail_output(b"irregular\n", p, 5),
            Err(TranscriptError::NotRegular(_))
        ));
        let line = r#"{"type":"assistant","message":{"content":[{"type":"text","text":"hi"}]}}"#;
        let ok = format!("ok {}\n{line}\n", line.len() + 1);
        let items = parse_tail_output(ok.as_bytes(), p, 5).unwrap();
        assert_eq!(items[0].text, "hi");
    }
}
