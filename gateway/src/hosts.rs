//! Other machines, reached over SSH: the `[hosts.NAME]` tables of the configuration file,
//! the host router every tool call goes through, creating sessions on a remote host, and
//! `sessiongate hosts check`.
//!
//! Each remote host is a tmux backend whose every invocation runs through the system's
//! OpenSSH client (`sessiongate_backend_tmux::SshTarget`); [`sessiongate_backend::hosts::Hosts`]
//! routes `HOST:NAME` to it and bare names to this machine's backend. A remote host's
//! working directories are resolved on that host (symlinks resolved there) and checked
//! against that host's allowed roots, which are themselves resolved there the first time
//! they are needed; its profiles are its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use sessiongate_backend::hosts::{Hosts, LOCAL};
use sessiongate_backend::policy::default_profiles;
use sessiongate_backend::{
    CreateSpec, Error, LaunchProfile, SessionBackend, SessionInfo, SessionName, SessionPolicy,
};
use sessiongate_backend_tmux::{SshTarget, TmuxBackend, TmuxConfig};

/// How long one host may take to list its sessions before the list reports it unreachable.
const LIST_TIMEOUT: Duration = Duration::from_secs(8);

/// One `[hosts.NAME]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSection {
    /// What `ssh` connects to: `user@host`, `ssh://user@host:port`, or an alias from the ssh
    /// configuration.
    pub ssh: String,
    /// Another ssh configuration file for this host (passed as `-F`; `~` is expanded).
    pub ssh_config: Option<String>,
    /// Directories on that host under which sessions may run (`~` is that host's home);
    /// default: the remote home.
    pub allowed_roots: Option<Vec<String>>,
    /// The tmux socket name on that host (default `sessiongate`).
    pub tmux_socket: Option<String>,
    /// Launch profiles on that host; replaces the built-in set when given.
    pub profiles: Option<BTreeMap<String, LaunchProfile>>,
    /// Extra profiles added to the built-in set.
    pub extra_profiles: Option<BTreeMap<String, LaunchProfile>>,
    /// How long connecting may take, in seconds (default 10).
    pub connect_timeout_secs: Option<u64>,
    /// How long one command on that host may take, in seconds (default 10).
    pub command_timeout_secs: Option<u64>,
}

/// Checks a host's name: 1 to 32 of `[A-Za-z0-9_-]`, not `local`.
pub fn check_host_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= sessiongate_backend::name::MAX_HOST_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        && !name.starts_with('-');
    if !ok {
        return Err(format!(
            "host name {name:?} is not usable: 1 to 32 letters, digits, '_' or '-'"
        ));
    }
    if name == LOCAL {
        return Err("\"local\" is this machine's name and cannot be configured".into());
    }
    Ok(())
}

/// One remote host: its backend and what it allows.
#[derive(Debug)]
struct Remote {
    backend: Arc<TmuxBackend>,
    /// The allowed roots as configured (`~` is that host's home).
    roots: Vec<String>,
    profiles: BTreeMap<String, LaunchProfile>,
    /// The policy, once its roots have been resolved on the host.
    policy: tokio::sync::OnceCell<Arc<SessionPolicy>>,
}

/// The remote hosts, for what the router itself cannot do: creating a session there, and
/// telling which hosts are unreachable.
#[derive(Debug, Default)]
pub struct HostSet {
    remote: BTreeMap<String, Remote>,
    router: Option<Arc<Hosts>>,
}

impl HostSet {
    /// Builds the remote hosts of `sections` (nothing is connected yet) and the router in
    /// front of `local`. Call inside the runtime.
    pub fn build(
        local: Arc<dyn SessionBackend>,
        sections: &BTreeMap<String, HostSection>,
        data_dir: &Path,
        prefix: &str,
    ) -> Result<(Arc<dyn SessionBackend>, HostSet), String> {
        let mut remote = BTreeMap::new();
        let mut backends: BTreeMap<String, Arc<dyn SessionBackend>> = BTreeMap::new();
        for (name, s) in sections {
            let (backend, r) = remote_host(name, s, data_dir, prefix)?;
            backends.insert(name.clone(), backend.clone());
            remote.insert(name.clone(), r);
        }
        let router = Arc::new(Hosts::new(local, backends, LIST_TIMEOUT));
        Ok((
            router.clone(),
            HostSet {
                remote,
                router: Some(router),
            },
        ))
    }

    /// Each remote host and the error of its last list (`None`: it answered).
    pub fn status(&self) -> Vec<(String, Option<String>)> {
        self.router
            .as_ref()
            .map(|r| r.last_status())
            .unwrap_or_default()
    }

    /// Checks an untrusted create request: `name` (bare or `HOST:NAME`) and `host` (or
    /// neither) say where; this machine's requests go to `local`, a remote host's are
    /// checked against that host's roots (resolved there) and profiles.
    pub async fn prepare(
        &self,
        local: &SessionPolicy,
        name: &str,
        host: Option<&str>,
        working_dir: Option<&str>,
        profile: &str,
    ) -> Result<CreateSpec, Error> {
        let qualified = match host {
            None | Some(LOCAL) => name.to_owned(),
            Some(h) => {
                if name.contains(':') {
                    return Err(Error::InvalidArgument(
                        "give the host either as `host` or as the HOST: prefix of the name, \
                         not both"
                            .into(),
                    ));
                }
                format!("{h}:{name}")
            }
        };
        let parsed = SessionName::new(&qualified)?;
        let Some(host) = parsed.host().filter(|h| *h != LOCAL) else {
            return local.prepare(parsed.bare().as_str(), working_dir, profile);
        };
        let Some(remote) = self.remote.get(host) else {
            return Err(Error::UnknownHost {
                name: sessiongate_backend::name::printable_prefix(&qualified),
                host: host.to_owned(),
                available: std::iter::once(LOCAL)
                    .chain(self.remote.keys().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let policy = remote.policy(local).await?;
        let home = remote.backend.resolve_dir(None).await?;
        let raw = working_dir.unwrap_or("");
        let wanted = policy.requested_dir(raw, &home)?;
        let canonical = remote
            .backend
            .resolve_dir(Some(&wanted.to_string_lossy()))
            .await?;
        policy.prepare_resolved(parsed.as_str(), canonical, profile)
    }
}

impl Remote {
    /// The host's policy, resolving its roots there the first time.
    async fn policy(&self, like: &SessionPolicy) -> Result<Arc<SessionPolicy>, Error> {
        self.policy
            .get_or_try_init(|| async {
                let mut roots = Vec::new();
                for r in &self.roots {
                    roots.push(self.resolve_root(r).await?);
                }
                Ok(Arc::new(SessionPolicy::for_host(
                    roots,
                    self.profiles.clone(),
                    like,
                )?))
            })
            .await
            .cloned()
    }

    /// A configured root, resolved on the host (`~` is the home there).
    async fn resolve_root(&self, raw: &str) -> Result<PathBuf, Error> {
        if raw == "~" {
            return self.backend.resolve_dir(None).await;
        }
        let path = match raw.strip_prefix("~/") {
            Some(rest) => self.backend.resolve_dir(None).await?.join(rest),
            None => PathBuf::from(raw),
        };
        self.backend
            .resolve_dir(Some(&path.to_string_lossy()))
            .await
    }
}

/// The backend and the record of one `[hosts.NAME]` table.
fn remote_host(
    name: &str,
    s: &HostSection,
    data_dir: &Path,
    prefix: &str,
) -> Result<(Arc<TmuxBackend>, Remote), String> {
    check_host_name(name)?;
    if s.ssh.is_empty() || s.ssh.starts_with('-') {
        return Err(format!(
            "[hosts.{name}] ssh = {:?} is not a destination (empty, or it starts with -)",
            s.ssh
        ));
    }
    let mut target = SshTarget::new(name, &s.ssh, data_dir.join("ssh"));
    target.config_file = s.ssh_config.as_deref().map(crate::cli::config::expand_home);
    if let Some(t) = s.connect_timeout_secs {
        target.connect_timeout = Duration::from_secs(t.max(1));
    }
    let socket = s
        .tmux_socket
        .clone()
        .unwrap_or_else(|| sessiongate_backend_tmux::DEFAULT_SOCKET.into());
    let mut cfg = TmuxConfig::new(socket, prefix);
    cfg.ssh = Some(target);
    if let Some(t) = s.command_timeout_secs {
        cfg.command_timeout = Duration::from_secs(t.max(1));
    }
    let mut profiles = s.profiles.clone().unwrap_or_else(default_profiles);
    profiles.extend(s.extra_profiles.clone().unwrap_or_default());
    if let Some((p, _)) = profiles
        .iter()
        .find(|(_, p)| p.argv().is_empty() || p.argv()[0].is_empty())
    {
        return Err(format!("[hosts.{name}] profile {p:?} has an empty command"));
    }
    let backend = Arc::new(TmuxBackend::new(cfg));
    let remote = Remote {
        backend: backend.clone(),
        roots: s.allowed_roots.clone().unwrap_or_else(|| vec!["~".into()]),
        profiles,
        policy: tokio::sync::OnceCell::new(),
    };
    Ok((backend, remote))
}

/// `sessiongate hosts ...`.
#[derive(Debug, clap::Subcommand)]
pub enum HostsCommand {
    /// Connect to each configured host and show whether it is reachable, its tmux version
    /// and its allowed roots (resolved there).
    Check(CheckArgs),
}

/// Options of `sessiongate hosts check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The configuration file with the `[hosts.NAME]` tables.
    #[arg(long, env = "SESSIONGATE_CONFIG")]
    pub config: PathBuf,
    /// Directory for sessiongate's state (the SSH master connections live under it)
    /// [default: ~/.local/state/sessiongate].
    #[arg(long, env = "SESSIONGATE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Runs `sessiongate hosts ...`: prints one line per host; fails when a host is not fit.
pub fn run(cmd: HostsCommand) -> anyhow::Result<()> {
    let HostsCommand::Check(args) = cmd;
    let file = crate::cli::config::FileConfig::load(&args.config)?;
    let data_dir = args
        .data_dir
        .or(file.data_dir.clone())
        .unwrap_or_else(crate::cli::config::default_data_dir);
    let sections = file.hosts.clone().unwrap_or_default();
    if sections.is_empty() {
        println!("No [hosts.NAME] tables in {}.", args.config.display());
        return Ok(());
    }
    let prefix = file
        .tmux_prefix
        .clone()
        .unwrap_or_else(|| sessiongate_backend_tmux::DEFAULT_PREFIX.into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Every host at once: the check takes as long as the slowest host, not their sum.
    let rows = rt.block_on(sessiongate_backend::hosts::join_all(sections.iter().map(
        |(name, s)| {
            let built = remote_host(name, s, &data_dir, &prefix);
            async move {
                match built {
                    Err(e) => (name.clone(), Err(e)),
                    Ok((_, remote)) => (name.clone(), check_one(&remote).await),
                }
            }
        },
    )));
    println!(
        "{:<16} {:<11} {:<12} ROOTS / ERROR",
        "HOST", "REACHABLE", "TMUX"
    );
    let mut all_ok = true;
    for (name, row) in rows {
        match row {
            Ok((version, roots)) => println!("{name:<16} {:<11} {version:<12} {roots}", "yes"),
            Err(e) => {
                all_ok = false;
                println!("{name:<16} {:<11} {:<12} {e}", "no", "-");
            }
        }
    }
    if !all_ok {
        anyhow::bail!("some hosts are not reachable or not usable");
    }
    Ok(())
}

/// Reaches one host: tmux's version and the allowed roots resolved there.
async fn check_one(remote: &Remote) -> Result<(String, String), String> {
    let version = remote.backend.check().await.map_err(|e| e.to_string())?;
    let mut roots = Vec::new();
    for r in &remote.roots {
        match remote.resolve_root(r).await {
            Ok(p) => roots.push(p.display().to_string()),
            Err(e) => return Err(format!("allowed root {r:?}: {e}")),
        }
    }
    Ok((version, roots.join(", ")))
}

/// Logs, in the background, whether each remote host can be reached: `serve` never waits
/// for (or fails on) a host that is down.
pub fn check_in_background(set: &HostSet) {
    for (name, r) in &set.remote {
        let backend = r.backend.clone();
        let name = name.clone();
        tokio::spawn(async move {
            match backend.check().await {
                Ok(version) => tracing::info!(host = %name, %version, "remote host reachable"),
                Err(e) => {
                    tracing::warn!(host = %name, error = %e, "remote host unreachable; its sessions are listed as unreachable until it answers")
                }
            }
        });
    }
}

/// Runs `f` on every session of `sessions` and returns the outputs in their order: one host's
/// sessions one after the other, the hosts at once, so that a pass over every session (the
/// board's detections in `list_sessions`, `check_prompts`) costs about what the slowest
/// host costs, not the sum of every host's round trips.
pub async fn per_host<'a, T, Fut>(
    sessions: &'a [SessionInfo],
    f: impl Fn(&'a SessionInfo) -> Fut,
) -> Vec<T>
where
    Fut: std::future::Future<Output = T>,
{
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in sessions.iter().enumerate() {
        groups
            .entry(s.name.host().unwrap_or(LOCAL))
            .or_default()
            .push(i);
    }
    let f = &f;
    let done = sessiongate_backend::hosts::join_all(groups.into_values().map(|group| async move {
        let mut out = Vec::with_capacity(group.len());
        for i in group {
            out.push((i, f(&sessions[i]).await));
        }
        out
    }))
    .await;
    let mut slots: Vec<Option<T>> = sessions.iter().map(|_| None).collect();
    for (i, v) in done.into_iter().flatten() {
        slots[i] = Some(v);
    }
    slots.into_iter().flatten().collect()
}

/// The hosts for a tool's answer: `[{host, reachable, error}]`, this machine first, with a
/// line added to `text` for each remote host that could not be reached (as of the list the
/// tool just made).
pub fn describe_hosts(set: &HostSet, text: &mut String) -> serde_json::Value {
    let mut hosts = vec![serde_json::json!({ "host": LOCAL, "reachable": true })];
    for (host, error) in set.status() {
        if let Some(e) = &error {
            text.push_str(&format!("\nHost {host} is unreachable: {e}"));
        }
        hosts.push(serde_json::json!({
            "host": host,
            "reachable": error.is_none(),
            "error": error,
        }));
    }
    serde_json::Value::Array(hosts)
}
