//! The owner's commands at the terminal: `sessiongate audit`, `sessiongate clients list`,
//! `sessiongate clients revoke ID` and `sessiongate sessions list`, and the pid file through
//! which they tell a running gateway to reload (SIGHUP).
//!
//! They work on the data directory directly (the SQLite database), so they need no token and
//! no running gateway; a revocation reaches a running gateway at once through SIGHUP.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;

use sessiongate_backend::SessionBackend;
use sessiongate_backend_tmux::{TmuxBackend, TmuxConfig};

use crate::audit::{AuditQuery, read};
use crate::cli::config::default_data_dir;

/// Options of `sessiongate audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Directory for sessiongate's state [default: ~/.local/state/sessiongate].
    #[arg(long, env = "SESSIONGATE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Show the newest this many entries.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Only entries about this session.
    #[arg(long)]
    pub session: Option<String>,
    /// Only entries of this OAuth client.
    // Client ids are random base64url and may begin with '-'.
    #[arg(long, allow_hyphen_values = true)]
    pub client: Option<String>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `sessiongate clients ...`.
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// List the registered OAuth clients, who approved them and their live grants.
    List(ClientsListArgs),
    /// Revoke a client: its tokens stop working and its registration is deleted.
    Revoke(ClientsRevokeArgs),
}

/// Options of `sessiongate clients list`.
#[derive(Debug, clap::Args)]
pub struct ClientsListArgs {
    /// Directory for sessiongate's state [default: ~/.local/state/sessiongate].
    #[arg(long, env = "SESSIONGATE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Options of `sessiongate clients revoke`.
#[derive(Debug, clap::Args)]
pub struct ClientsRevokeArgs {
    /// The client id (see `sessiongate clients list`).
    // Client ids are random base64url and may begin with '-'.
    #[arg(allow_hyphen_values = true)]
    pub id: String,
    /// Directory for sessiongate's state [default: ~/.local/state/sessiongate].
    #[arg(long, env = "SESSIONGATE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `sessiongate sessions ...`.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List the sessions in the tmux backend's server.
    List(SessionsListArgs),
}

/// Options of `sessiongate sessions list`.
#[derive(Debug, clap::Args)]
pub struct SessionsListArgs {
    /// tmux socket name (tmux -L) [default: sessiongate].
    #[arg(long, env = "SESSIONGATE_TMUX_SOCKET", default_value = "sessiongate")]
    pub tmux_socket: String,
    /// Prefix of the tmux session names sessiongate manages [default: claude-].
    #[arg(long, env = "SESSIONGATE_TMUX_PREFIX", default_value = "claude-")]
    pub tmux_prefix: String,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The pid file of a running gateway in the data directory.
pub fn pid_file(data_dir: &Path) -> PathBuf {
    data_dir.join("sessiongate.pid")
}

/// `sessiongate audit`.
pub fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
    let entries = read(
        &data_dir,
        &AuditQuery {
            limit: args.limit.max(1),
            session: args.session,
            client_id: args.client,
        },
    )?;
    let mut out = std::io::stdout().lock();
    if args.json {
        for e in &entries {
            writeln!(out, "{}", serde_json::to_string(e)?)?;
        }
        return Ok(());
    }
    if entries.is_empty() {
        writeln!(out, "The audit log has no entries yet.")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<20} {:<12} {:<22} {:<15} {:<18} {:<16} {:>6} {:<12} DETAIL",
        "TIME", "USER", "CLIENT", "ADDRESS", "ACTION", "SESSION", "BYTES", "SHA256"
    )?;
    for e in &entries {
        writeln!(
            out,
            "{:<20} {:<12} {:<22} {:<15} {:<18} {:<16} {:>6} {:<12} {}{}",
            e.at.chars().take(20).collect::<String>(),
            clip(&e.user, 12),
            clip(&e.client_id, 22),
            clip(&e.address, 15),
            clip(&e.action, 18),
            clip(e.session.as_deref().unwrap_or("-"), 16),
            e.text_len
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            e.text_sha256
                .as_deref()
                .map(|h| &h[..h.len().min(12)])
                .unwrap_or("-"),
            safe(e.detail.as_deref().unwrap_or("")),
            e.text
                .as_deref()
                .map(|t| format!(" text={t:?}"))
                .unwrap_or_default(),
        )?;
    }
    Ok(())
}

/// `s` cut to `n` characters, with control characters escaped: the audit log holds what
/// clients sent, and none of it may move the owner's cursor or fake a row.
fn clip(s: &str, n: usize) -> String {
    let s = safe(s);
    if s.chars().count() <= n {
        s
    } else {
        let mut c: String = s.chars().take(n - 1).collect();
        c.push('…');
        c
    }
}

fn safe(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn open_auth(data_dir: &Path) -> anyhow::Result<Arc<sessiongate_auth::AuthServer>> {
    // The public URL only shapes tokens, which these commands do not mint.
    crate::cli::open_auth(data_dir, &crate::cli::default_public_url())
}

/// `sessiongate clients ...`.
pub fn clients(cmd: ClientsCommand) -> anyhow::Result<()> {
    match cmd {
        ClientsCommand::List(args) => {
            let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
            let clients = open_auth(&data_dir)?.list_clients()?;
            let mut out = std::io::stdout().lock();
            if args.json {
                for c in &clients {
                    writeln!(out, "{}", serde_json::to_string(c)?)?;
                }
                return Ok(());
            }
            if clients.is_empty() {
                writeln!(out, "No clients are registered.")?;
                return Ok(());
            }
            writeln!(
                out,
                "{:<36} {:<24} {:<20} {:>6}  APPROVED BY",
                "CLIENT ID", "NAME", "LAST USED", "GRANTS"
            )?;
            for c in &clients {
                writeln!(
                    out,
                    "{:<36} {:<24} {:<20} {:>6}  {}",
                    clip(&c.client_id, 36),
                    clip(&c.name, 24),
                    format_time(c.last_used_at),
                    c.live_grants,
                    if c.approved_by.is_empty() {
                        "(not approved)".to_owned()
                    } else {
                        c.approved_by.join("; ")
                    }
                )?;
            }
            Ok(())
        }
        ClientsCommand::Revoke(args) => {
            let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
            let auth = open_auth(&data_dir)?;
            if !auth.revoke_client(&args.id)? {
                anyhow::bail!(
                    "no client with id {:?}; `sessiongate clients list` shows the clients",
                    args.id
                );
            }
            println!(
                "Client {} was revoked: its grants are void and its registration is deleted.",
                args.id
            );
            match signal_gateway(&data_dir) {
                Some(pid) => println!("The running gateway (pid {pid}) was told to reload."),
                None => println!(
                    "No running gateway was found through {}; a gateway that runs all the same \
                     (another user, no /proc) applies this within 30 seconds, or at once on \
                     SIGHUP.",
                    pid_file(&data_dir).display()
                ),
            }
            Ok(())
        }
    }
}

/// Sends SIGHUP to the gateway whose pid file is in the data directory, if it runs.
fn signal_gateway(data_dir: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file(data_dir))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    // Only signal a process that is a sessiongate: a stale pid may belong to anything.
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    if !exe
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("sessiongate"))
    {
        return None;
    }
    let pid = rustix::process::Pid::from_raw(pid)?;
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).ok()?;
    Some(pid.as_raw_nonzero().get())
}

fn format_time(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map(|t| t.chars().take(16).collect::<String>().replace('T', " "))
        .unwrap_or_else(|| "-".into())
}

/// `sessiongate sessions list`: the sessions of the tmux backend, read from tmux directly
/// (PTY sessions live inside the gateway process; list them with the `list_sessions` tool).
pub fn sessions(cmd: SessionsCommand) -> anyhow::Result<()> {
    let SessionsCommand::List(args) = cmd;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let tmux = TmuxBackend::new(TmuxConfig::new(&args.tmux_socket, &args.tmux_prefix));
    let list = rt.block_on(tmux.list())?;
    let mut out = std::io::stdout().lock();
    if args.json {
        for s in &list {
            let v = serde_json::json!({
                "name": s.name.as_str(),
                "status": crate::mcp::describe(s),
                "profile": s.profile,
                "working_dir": s.working_dir,
                "current_command": s.current_command,
            });
            writeln!(out, "{v}")?;
        }
        return Ok(());
    }
    if list.is_empty() {
        writeln!(
            out,
            "No sessions in the tmux server {:?}.",
            args.tmux_socket
        )?;
    }
    for s in &list {
        writeln!(out, "{}", crate::mcp::describe(s))?;
    }
    Ok(())
}
