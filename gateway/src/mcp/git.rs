//! Running git on a repository that someone else controls, for reading only.
//!
//! The repository belongs to whatever runs in the session: an agent can write its
//! `.git/config`, its hooks and its `.gitattributes`. Each of those can name a program for
//! git to run (a pager, an fsmonitor hook, an external diff, a textconv or clean filter, a
//! signature checker, a transport), so every git this module starts:
//! - gets an argv, never a shell string, and a cleared environment: no `GIT_DIR`,
//!   `GIT_EXTERNAL_DIFF`, `GIT_PAGER` or `GIT_CONFIG_PARAMETERS` comes from the gateway's own;
//! - reads no system or global configuration (`GIT_CONFIG_NOSYSTEM`, `GIT_CONFIG_GLOBAL` set
//!   to `/dev/null`), and has every setting that can run a program overridden on its command
//!   line, which wins over the repository's: `core.pager=cat`, `core.fsmonitor=false`,
//!   `core.hooksPath=/dev/null`, `log.showSignature=false`, `protocol.allow=never`, and each
//!   `filter.<name>` the repository defines emptied (through `GIT_CONFIG_COUNT`, which takes
//!   the key and the value apart, so a driver name with a `=` in it cannot slip through);
//! - is told `--no-pager`, `--no-optional-locks` (status refreshes no index: nothing is
//!   written) and `--literal-pathspecs` (a path is a path, not pathspec magic); the callers
//!   add `--no-ext-diff`, `--no-textconv` and `--ignore-submodules=all` to their diffs;
//! - is killed after [`TIMEOUT`], and its output is read up to a cap and no further.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// How long one git command may take before it is killed.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// The most bytes of a git command's error output kept for the message.
const STDERR_CAP: usize = 4096;

/// Why git gave no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GitError {
    /// The directory is in no git repository (or git refused it).
    #[error("{0} is not in a git repository")]
    NotARepository(String),
    /// git could not be started.
    #[error("git could not be started: {0}")]
    Spawn(std::io::Error),
    /// git ran longer than [`TIMEOUT`].
    #[error("git took longer than {}s and was stopped", TIMEOUT.as_secs())]
    Timeout,
    /// git exited with an error.
    #[error("git failed: {0}")]
    Failed(String),
}

/// A git command's output, read up to a cap.
#[derive(Debug)]
pub(crate) struct Output {
    /// The standard output, at most the cap asked for.
    pub(crate) stdout: Vec<u8>,
    /// Whether there was more than the cap (git was then stopped).
    pub(crate) truncated: bool,
}

/// A repository found from a directory, with the overrides its own configuration needs.
#[derive(Debug)]
pub(crate) struct Repo {
    /// The top of the work tree, canonical.
    pub(crate) toplevel: PathBuf,
    /// Configuration overrides passed through `GIT_CONFIG_KEY_<n>`/`GIT_CONFIG_VALUE_<n>`.
    overrides: Vec<(String, String)>,
}

impl Repo {
    /// The repository whose work tree contains `dir`, or [`GitError::NotARepository`].
    pub(crate) async fn discover(dir: &Path) -> Result<Repo, GitError> {
        let out = run(dir, &[], &["rev-parse", "--show-toplevel"], 64 * 1024, true).await;
        let out = match out {
            Ok(o) => o,
            Err(GitError::Failed(_)) => {
                return Err(GitError::NotARepository(dir.display().to_string()));
            }
            Err(e) => return Err(e),
        };
        let top = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
        if top.is_empty() {
            return Err(GitError::NotARepository(dir.display().to_string()));
        }
        let toplevel = std::fs::canonicalize(&top)
            .map_err(|_| GitError::NotARepository(dir.display().to_string()))?;
        // The filter drivers the repository's configuration defines: each is emptied, because
        // status and diff run a clean filter on every work-tree file whose stat changed.
        let listed = run(
            &toplevel,
            &[],
            &["config", "-z", "--get-regexp", r"^filter\."],
            1024 * 1024,
            false,
        )
        .await?;
        let mut overrides = Vec::new();
        let mut drivers: Vec<String> = Vec::new();
        for entry in listed.stdout.split(|b| *b == 0) {
            let key = entry.split(|b| *b == b'\n').next().unwrap_or_default();
            let key = String::from_utf8_lossy(key);
            if let Some(rest) = key.strip_prefix("filter.")
                && let Some((name, _var)) = rest.rsplit_once('.')
                && !drivers.iter().any(|d| d == name)
            {
                drivers.push(name.to_owned());
            }
        }
        for name in drivers {
            for var in ["clean", "smudge", "process"] {
                overrides.push((format!("filter.{name}.{var}"), String::new()));
            }
            overrides.push((format!("filter.{name}.required"), "false".to_owned()));
        }
        Ok(Repo {
            toplevel,
            overrides,
        })
    }

    /// Runs `git <args>` at the top of the work tree, reading at most `cap` bytes of output.
    pub(crate) async fn git(&self, args: &[&str], cap: usize) -> Result<Output, GitError> {
        run(&self.toplevel, &self.overrides, args, cap, true).await
    }
}

/// Runs git in `dir`; `check` makes a non-zero exit an error (a `git config` that finds
/// nothing exits with 1).
async fn run(
    dir: &Path,
    overrides: &[(String, String)],
    args: &[&str],
    cap: usize,
    check: bool,
) -> Result<Output, GitError> {
    let mut cmd = Command::new("git");
    cmd.env_clear()
        .current_dir(dir)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LC_ALL", "C")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_ATTR_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_NO_LAZY_FETCH", "1")
        .env("GIT_NO_REPLACE_OBJECTS", "1")
        .env("GIT_CONFIG_COUNT", overrides.len().to_string());
    for (i, (k, v)) in overrides.iter().enumerate() {
        cmd.env(format!("GIT_CONFIG_KEY_{i}"), k)
            .env(format!("GIT_CONFIG_VALUE_{i}"), v);
    }
    let fixed: [&str; 15] = [
        "--no-pager",
        "--no-optional-locks",
        "--literal-pathspecs",
        "-c",
        "core.pager=cat",
        "-c",
        "core.fsmonitor=false",
        "-c",
        "core.hooksPath=/dev/null",
        "-c",
        "core.untrackedCache=false",
        "-c",
        "log.showSignature=false",
        "-c",
        "protocol.allow=never",
    ];
    cmd.args(fixed)
        .args(args.iter().map(OsString::from))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(GitError::Spawn)?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let work = async {
        let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
        let read_out = async {
            let mut out = Vec::new();
            let read = (&mut stdout).take(limit).read_to_end(&mut out).await;
            if out.len() > cap {
                // The rest is not wanted: stop git rather than read it.
                let _ = child.start_kill();
            }
            read.map(|_| out)
        };
        let (out, err) = tokio::join!(read_out, drain(&mut stderr, STDERR_CAP));
        let mut out = out.map_err(GitError::Spawn)?;
        let status = child.wait().await.map_err(GitError::Spawn)?;
        let truncated = out.len() > cap;
        if truncated {
            out.truncate(cap);
        } else if check && !status.success() {
            let msg = String::from_utf8_lossy(&err);
            let first = msg.lines().next().unwrap_or("no message").trim().to_owned();
            return Err(GitError::Failed(first));
        }
        Ok(Output {
            stdout: out,
            truncated,
        })
    };
    match tokio::time::timeout(TIMEOUT, work).await {
        Ok(r) => r,
        // The child is killed when it is dropped (kill_on_drop).
        Err(_) => Err(GitError::Timeout),
    }
}

/// Reads `r` to its end, keeping the first `keep` bytes (the rest is read and dropped, so
/// that git never blocks on a full error pipe).
async fn drain(r: &mut (impl tokio::io::AsyncRead + Unpin), keep: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = keep.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    kept
}
