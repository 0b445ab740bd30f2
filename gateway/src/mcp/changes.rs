//! `get_changes`: what the program in a session changed in its git repository, for the
//! owner to review from a phone: `git status` as lists (changed, added, deleted, untracked,
//! renamed, conflicted), the unified diff paged and capped (binary files named, not dumped),
//! and the commits made since the session started.
//!
//! What is read is bounded twice: the session's working directory must lie under an allowed
//! root (where it was created, or where its program went since), and when the repository
//! reaches above that root only the part under the root is shown. A `path` narrows further;
//! it is relative to the top of the repository and may not be absolute, climb with `..`,
//! begin with `-`, or lead out of the repository through a symlink. git itself runs as
//! [`super::git`] describes: read-only, and running nothing the repository names.

use std::path::{Component, Path, PathBuf};

use rmcp::model::CallToolResult;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use sessiongate_backend::SessionName;

#[path = "changes_parse.rs"]
mod parse;

use parse::{FileStat, Status};
pub(crate) use parse::{Page, page, parse_numstat, parse_status};

use super::git::{GitError, Repo};
use super::reply;
use crate::state::AppState;

/// The diff bytes one call returns unless `max_bytes` says otherwise.
pub(crate) const DEFAULT_MAX_BYTES: u32 = 64 * 1024;
/// The most diff bytes one call returns.
pub(crate) const MAX_MAX_BYTES: u32 = 1024 * 1024;
/// The smallest page a caller may ask for.
const MIN_MAX_BYTES: u32 = 1024;
/// How far into a diff a page may start: beyond it, narrow with `path`.
const MAX_OFFSET: u64 = 32 * 1024 * 1024;
/// How many commits since the session started are listed at most.
const MAX_COMMITS: usize = 10;
/// The most bytes of `git status`/`--numstat` output read.
const LIST_CAP: usize = 4 * 1024 * 1024;

/// Arguments of `get_changes`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ChangesArgs {
    /// The session's name. Its working directory must be in a git repository.
    pub(crate) session: String,
    /// Only this file or folder, relative to the top of the repository (e.g. "src/main.rs").
    /// Default: the whole repository.
    #[serde(default)]
    pub(crate) path: Option<String>,
    /// true: only the staged changes (the index against HEAD). Default: false, every change
    /// not yet committed (the work tree against HEAD).
    #[serde(default)]
    pub(crate) staged: Option<bool>,
    /// The most bytes of diff to return (1024-1048576). Default: 65536.
    #[serde(default)]
    pub(crate) max_bytes: Option<u32>,
    /// Where in the diff to start, in bytes: pass the `next_offset` of the previous call to
    /// read the next page. Default: 0.
    #[serde(default)]
    pub(crate) offset: Option<u64>,
}

/// A commit made since the session started.
#[derive(Debug, Serialize)]
pub(crate) struct Commit {
    /// Its full id.
    pub(crate) id: String,
    /// Its author's name.
    pub(crate) author: String,
    /// When it was committed (ISO 8601).
    pub(crate) date: String,
    /// Its first line.
    pub(crate) subject: String,
}

/// Why `get_changes` has no answer; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChangesError {
    /// The session does not exist, or its name is invalid.
    #[error(transparent)]
    Session(#[from] sessiongate_backend::Error),
    /// The backend cannot tell the session's directory.
    #[error("the working directory of session {0} is unknown")]
    NoWorkdir(String),
    /// The session's directory lies outside every allowed root.
    #[error("the working directory of session {0} is outside the allowed roots")]
    OutsideRoots(String),
    /// `path` is not a plain relative path inside the repository.
    #[error(
        "path {0:?} must be relative to the top of the repository, without '..', and not begin with '-'"
    )]
    BadPath(String),
    /// `path` leads out of the part of the repository that may be read.
    #[error("path {0:?} is outside the repository or the allowed roots")]
    PathOutside(String),
    /// The session runs on another machine: its repository is not on this one.
    #[error(
        "get_changes reads the repository on this machine; session {0} runs on host {1}, where it cannot look yet"
    )]
    Remote(String, String),
    /// `max_bytes` or `offset` out of range.
    #[error("{0}")]
    BadArgument(String),
    /// git failed, or the directory is in no repository.
    #[error(transparent)]
    Git(#[from] GitError),
}

/// The `get_changes` tool.
pub(crate) async fn get_changes(state: &AppState, a: &ChangesArgs) -> CallToolResult {
    match changes(state, a).await {
        Ok((text, value)) => reply::ok_json(text, value),
        Err(ChangesError::Session(e)) => reply::fail(&e),
        Err(e) => {
            if matches!(
                e,
                ChangesError::Git(GitError::Spawn(_) | GitError::Timeout | GitError::Failed(_))
            ) {
                tracing::warn!(error = %e, session = %a.session, "get_changes: git failed");
            }
            reply::fail_msg(e.to_string())
        }
    }
}

async fn changes(
    state: &AppState,
    a: &ChangesArgs,
) -> Result<(String, serde_json::Value), ChangesError> {
    let max_bytes = a.max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
    if !(MIN_MAX_BYTES..=MAX_MAX_BYTES).contains(&max_bytes) {
        return Err(ChangesError::BadArgument(format!(
            "max_bytes must be between {MIN_MAX_BYTES} and {MAX_MAX_BYTES}"
        )));
    }
    let offset = a.offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err(ChangesError::BadArgument(format!(
            "offset must be at most {MAX_OFFSET}; narrow the diff with path instead"
        )));
    }
    let path = a.path.as_deref().map(relative_path).transpose()?;

    let name = SessionName::new(&a.session)?;
    // A remote session's directory is a path on that host: never look it up here.
    if let Some(host) = name
        .host()
        .filter(|h| *h != sessiongate_backend::hosts::LOCAL)
    {
        return Err(ChangesError::Remote(a.session.clone(), host.to_owned()));
    }
    let info = state.backend.info(&name).await?;
    let workdir = info
        .working_dir
        .as_ref()
        .and_then(|d| std::fs::canonicalize(d).ok())
        .ok_or_else(|| ChangesError::NoWorkdir(a.session.clone()))?;
    let root = state
        .policy
        .roots()
        .iter()
        .find(|r| workdir.starts_with(r))
        .ok_or_else(|| ChangesError::OutsideRoots(a.session.clone()))?;
    let repo = Repo::discover(&workdir).await?;
    let spec = pathspec(&repo.toplevel, root, path.as_deref(), a.path.as_deref())?;
    let spec_args: Vec<&str> = spec.iter().map(String::as_str).collect();

    let status_out = repo
        .git(
            &[
                &["status", "--porcelain=v2", "-z", "--branch"],
                &["--untracked-files=all", "--ignore-submodules=all", "--"][..],
                &spec_args,
            ]
            .concat(),
            LIST_CAP,
        )
        .await?;
    let (branch, head, status) = parse_status(&status_out.stdout, status_out.truncated);

    let staged = a.staged.unwrap_or(false);
    // Against HEAD, or against the empty tree before the first commit.
    let base = match &head {
        Some(_) => "HEAD".to_owned(),
        None => {
            let empty = repo
                .git(&["hash-object", "-t", "tree", "/dev/null"], 1024)
                .await?;
            String::from_utf8_lossy(&empty.stdout).trim().to_owned()
        }
    };
    let mut diff_args: Vec<&str> = vec![
        "diff",
        "--no-ext-diff",
        "--no-textconv",
        "--no-color",
        "--ignore-submodules=all",
        "-M",
    ];
    if staged {
        diff_args.push("--cached");
    }
    diff_args.push(&base);
    let numstat = repo
        .git(
            &[&diff_args[..], &["--numstat", "-z", "--"], &spec_args].concat(),
            LIST_CAP,
        )
        .await?;
    let files = parse_numstat(&numstat.stdout);

    let cap = usize::try_from(offset + u64::from(max_bytes)).unwrap_or(usize::MAX);
    let diff_out = repo
        .git(&[&diff_args[..], &["--"], &spec_args].concat(), cap)
        .await?;
    let page = page(&diff_out.stdout, offset, diff_out.truncated);

    let commits = match (&head, info.created_at) {
        (Some(_), Some(since)) => commits_since(&repo, since, &spec_args).await?,
        _ => Vec::new(),
    };

    let text = summary(
        &repo.toplevel,
        branch.as_deref(),
        &status,
        &files,
        &page,
        &commits,
    );
    let value = json!({
        "session": a.session,
        "repository": repo.toplevel,
        "branch": branch,
        "head": head,
        "path": path,
        "staged": staged,
        "status": status,
        "files": files,
        "binary": files.iter().filter(|f| f.binary).map(|f| &f.path).collect::<Vec<_>>(),
        "diff": page.text,
        "offset": offset,
        "next_offset": page.next_offset,
        "commits": commits,
    });
    Ok((text, value))
}

/// `path` as a plain relative path (`.` components dropped), or [`ChangesError::BadPath`].
pub(crate) fn relative_path(path: &str) -> Result<String, ChangesError> {
    let bad = || ChangesError::BadPath(path.to_owned());
    if path.starts_with('-') || path.contains('\0') || path.contains('\\') {
        return Err(bad());
    }
    let mut parts = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str().ok_or_else(bad)?),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return Err(bad()),
        }
    }
    if parts.first().is_some_and(|p| p.starts_with('-')) {
        return Err(bad());
    }
    Ok(parts.join("/"))
}

/// The pathspec to pass after `--`: what the caller asked for, within the part of the
/// repository under the allowed `root`; empty for the whole repository.
fn pathspec(
    toplevel: &Path,
    root: &Path,
    path: Option<&str>,
    asked: Option<&str>,
) -> Result<Vec<String>, ChangesError> {
    let outside = || ChangesError::PathOutside(asked.unwrap_or_default().to_owned());
    // The repository reaches above the root: only what lies under the root is shown.
    let limit: Option<PathBuf> = if toplevel.starts_with(root) {
        None
    } else {
        Some(
            root.strip_prefix(toplevel)
                .map_err(|_| outside())?
                .to_owned(),
        )
    };
    let path = path.filter(|p| !p.is_empty()).map(PathBuf::from);
    if let Some(p) = &path {
        // A symlink on the way must not lead out of the repository.
        let full = toplevel.join(p);
        if let Ok(real) = std::fs::canonicalize(&full)
            && !real.starts_with(toplevel)
        {
            return Err(outside());
        }
    }
    let chosen = match (limit, path) {
        (None, None) => return Ok(Vec::new()),
        (None, Some(p)) => p,
        (Some(l), None) => l,
        (Some(l), Some(p)) if p.starts_with(&l) => p,
        (Some(l), Some(p)) if l.starts_with(&p) => l,
        (Some(_), Some(_)) => return Err(outside()),
    };
    Ok(vec![chosen.to_string_lossy().into_owned()])
}

async fn commits_since(
    repo: &Repo,
    since: OffsetDateTime,
    spec: &[&str],
) -> Result<Vec<Commit>, ChangesError> {
    let since = format!("--since=@{}", since.unix_timestamp());
    let max = format!("-n{MAX_COMMITS}");
    let out = repo
        .git(
            &[
                &["log", "--no-show-signature", &max, &since],
                &["--format=%H%x1f%an%x1f%cI%x1f%s%x1e", "--"][..],
                spec,
            ]
            .concat(),
            256 * 1024,
        )
        .await?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .split('\u{1e}')
        .filter_map(|rec| {
            let mut f = rec.trim_start_matches('\n').split('\u{1f}');
            Some(Commit {
                // A subject or author may itself hold the separators: a record whose id is
                // not a commit id is such a fragment, and is dropped.
                id: f
                    .next()
                    .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()))?
                    .to_owned(),
                author: f.next()?.to_owned(),
                date: f.next()?.to_owned(),
                subject: f.next()?.to_owned(),
            })
        })
        .collect())
}

/// The text result: a summary line per list, the commits, then the diff page.
fn summary(
    top: &Path,
    branch: Option<&str>,
    s: &Status,
    files: &[FileStat],
    page: &Page,
    commits: &[Commit],
) -> String {
    let mut t = format!(
        "Repository {} on {}.",
        top.display(),
        branch.unwrap_or("a detached HEAD")
    );
    let lists: [(&str, &Vec<String>); 5] = [
        ("Changed", &s.changed),
        ("Added", &s.added),
        ("Deleted", &s.deleted),
        ("Untracked", &s.untracked),
        ("Conflicted", &s.conflicted),
    ];
    let mut clean = s.renamed.is_empty();
    for (label, list) in lists {
        if !list.is_empty() {
            clean = false;
            t.push_str(&format!("\n{label}: {}", list.join(", ")));
        }
    }
    if !s.renamed.is_empty() {
        let r: Vec<String> = s
            .renamed
            .iter()
            .map(|r| format!("{} -> {}", r.from, r.to))
            .collect();
        t.push_str(&format!("\nRenamed: {}", r.join(", ")));
    }
    if clean {
        t.push_str("\nNo uncommitted changes.");
    }
    let binary: Vec<&str> = files
        .iter()
        .filter(|f| f.binary)
        .map(|f| f.path.as_str())
        .collect();
    if !binary.is_empty() {
        t.push_str(&format!("\nBinary (not shown): {}", binary.join(", ")));
    }
    for c in commits {
        t.push_str(&format!(
            "\nCommitted since the session started: {} {}",
            &c.id[..c.id.len().min(12)],
            c.subject
        ));
    }
    if !page.text.is_empty() {
        t.push_str("\n\n");
        t.push_str(&page.text);
    }
    if let Some(next) = page.next_offset {
        t.push_str(&format!(
            "\n[diff continues: call again with offset {next}]"
        ));
    }
    t
}

#[cfg(test)]
#[path = "changes_tests.rs"]
mod tests;
