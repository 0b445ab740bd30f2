//! Reading git's machine output for `get_changes`: `status --porcelain=v2 -z` into lists,
//! `diff --numstat -z` into files, and a diff into pages that end at line ends.

use serde::Serialize;

/// How many entries each list holds at most.
const MAX_ENTRIES: usize = 500;

/// `git status`, sorted into lists. Paths are relative to the top of the repository.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Status {
    /// Tracked files modified (in the work tree, the index or both).
    pub(crate) changed: Vec<String>,
    /// Files added to the index.
    pub(crate) added: Vec<String>,
    /// Tracked files deleted.
    pub(crate) deleted: Vec<String>,
    /// Files git does not track.
    pub(crate) untracked: Vec<String>,
    /// Files renamed or copied, from and to.
    pub(crate) renamed: Vec<Renamed>,
    /// Files with unresolved merge conflicts.
    pub(crate) conflicted: Vec<String>,
    /// Whether some entries were left out (more than the lists hold).
    pub(crate) truncated: bool,
}

/// A renamed (or copied) file.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct Renamed {
    /// Its old path.
    pub(crate) from: String,
    /// Its new path.
    pub(crate) to: String,
}

/// One file of the diff, from `--numstat`.
#[derive(Debug, Serialize)]
pub(crate) struct FileStat {
    /// Its path (the new one, for a rename).
    pub(crate) path: String,
    /// Lines added (none for a binary file).
    pub(crate) added: Option<u64>,
    /// Lines removed (none for a binary file).
    pub(crate) removed: Option<u64>,
    /// Whether git sees it as binary: the diff names it and shows no content.
    pub(crate) binary: bool,
}

/// The branch, the HEAD commit (none before the first commit) and the status lists from
/// `git status --porcelain=v2 -z --branch`.
pub(crate) fn parse_status(
    out: &[u8],
    truncated: bool,
) -> (Option<String>, Option<String>, Status) {
    let mut status = Status {
        truncated,
        ..Status::default()
    };
    let (mut branch, mut head) = (None, None);
    let mut fields = out.split(|b| *b == 0).map(String::from_utf8_lossy);
    while let Some(entry) = fields.next() {
        let full = |list: &Vec<String>| list.len() >= MAX_ENTRIES;
        if let Some(h) = entry.strip_prefix("# branch.head ") {
            branch = (h != "(detached)").then(|| h.to_owned());
        } else if let Some(oid) = entry.strip_prefix("# branch.oid ") {
            head = (oid != "(initial)").then(|| oid.to_owned());
        } else if let Some(p) = entry.strip_prefix("? ") {
            push(&mut status.untracked, p, &mut status.truncated, full);
        } else if entry.starts_with("1 ") {
            // 1 XY sub mH mI mW hH hI path
            let mut f = entry.splitn(9, ' ');
            let xy = f.nth(1).unwrap_or("..");
            let Some(p) = f.nth(6) else { continue };
            let list = if xy.starts_with('A') {
                &mut status.added
            } else if xy.contains('D') {
                &mut status.deleted
            } else {
                &mut status.changed
            };
            push(list, p, &mut status.truncated, full);
        } else if entry.starts_with("2 ") {
            // 2 XY sub mH mI mW hH hI Xscore path, then the original path as its own field.
            let to = entry.splitn(10, ' ').nth(9).unwrap_or_default().to_owned();
            let from = fields.next().unwrap_or_default().into_owned();
            if status.renamed.len() < MAX_ENTRIES {
                status.renamed.push(Renamed { from, to });
            } else {
                status.truncated = true;
            }
        } else if entry.starts_with("u ") {
            // u XY sub m1 m2 m3 mW h1 h2 h3 path
            if let Some(p) = entry.splitn(11, ' ').nth(10) {
                push(&mut status.conflicted, p, &mut status.truncated, full);
            }
        }
    }
    (branch, head, status)
}

fn push(
    list: &mut Vec<String>,
    p: &str,
    truncated: &mut bool,
    full: impl Fn(&Vec<String>) -> bool,
) {
    if full(list) {
        *truncated = true;
    } else {
        list.push(p.to_owned());
    }
}

/// The files of `git diff --numstat -z`.
pub(crate) fn parse_numstat(out: &[u8]) -> Vec<FileStat> {
    let mut files = Vec::new();
    let mut fields = out.split(|b| *b == 0).map(String::from_utf8_lossy);
    while let Some(entry) = fields.next() {
        let mut f = entry.splitn(3, '\t');
        let (Some(add), Some(del), Some(p)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        // A rename has an empty path here, then the old and the new path as fields.
        let path = if p.is_empty() {
            let _from = fields.next();
            fields.next().unwrap_or_default().into_owned()
        } else {
            p.to_owned()
        };
        let binary = add == "-" && del == "-";
        files.push(FileStat {
            path,
            added: add.parse().ok(),
            removed: del.parse().ok(),
            binary,
        });
        if files.len() >= MAX_ENTRIES {
            break;
        }
    }
    files
}

/// One page of the diff.
#[derive(Debug)]
pub(crate) struct Page {
    /// The text, ending at a line end unless one line is longer than the page.
    pub(crate) text: String,
    /// Where the next page starts, when there is more.
    pub(crate) next_offset: Option<u64>,
}

/// The page of `out` (the diff read up to `offset` plus the page size) from `offset`;
/// `more` says that git had more to give.
pub(crate) fn page(out: &[u8], offset: u64, more: bool) -> Page {
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(out.len());
    let window = &out[start..];
    if !more {
        return Page {
            text: String::from_utf8_lossy(window).into_owned(),
            next_offset: None,
        };
    }
    // Cut after the last whole line; a single line longer than the page is cut inside.
    let end = match window.iter().rposition(|b| *b == b'\n') {
        Some(i) => i + 1,
        None => window.len(),
    };
    Page {
        text: String::from_utf8_lossy(&window[..end]).into_owned(),
        next_offset: Some(offset + end as u64),
    }
}
