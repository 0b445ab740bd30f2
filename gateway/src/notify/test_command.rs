//! `sessiongate notify test [CHANNEL]`: sends a test notification through one or every
//! configured channel and prints what each answered.

use std::path::PathBuf;

use super::config::NotifySection;
use super::deliver::{Outcome, deliver, http_client};
use super::event::{EventKind, Notification, event_id, now_rfc3339};

/// Options of `sessiongate notify test`.
#[derive(Debug, clap::Args)]
pub struct NotifyTestArgs {
    /// The channel (`[notify.channels.NAME]`) to test [default: all of them].
    pub channel: Option<String>,
    /// TOML configuration file holding the `[notify]` table.
    #[arg(long, env = "SESSIONGATE_CONFIG")]
    pub config: PathBuf,
}

/// The `notify` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum NotifyCommand {
    /// Send a test notification and print what each channel answered.
    Test(NotifyTestArgs),
}

/// Runs `sessiongate notify ...`.
pub fn run(cmd: NotifyCommand) -> anyhow::Result<()> {
    let NotifyCommand::Test(args) = cmd;
    let file = crate::cli::config::FileConfig::load(&args.config)?;
    let section = file.notify.unwrap_or_else(NotifySection::default);
    let config = section
        .resolve()
        .map_err(|reason| crate::error::Error::Config {
            path: args.config.display().to_string(),
            reason,
        })?;
    let channels: Vec<_> = config
        .channels
        .iter()
        .filter(|c| args.channel.as_deref().is_none_or(|n| n == c.name))
        .collect();
    if channels.is_empty() {
        anyhow::bail!(match &args.channel {
            Some(n) => format!(
                "no channel [notify.channels.{n}] in {}",
                args.config.display()
            ),
            None => format!("no [notify.channels.*] in {}", args.config.display()),
        });
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = http_client();
    let mut failed = 0;
    for c in channels {
        let mut n = Notification::new(
            EventKind::Test,
            event_id(EventKind::Test, &[&now_rfc3339()]),
            "test",
        );
        n.summary = Some("This is a test notification from sessiongate.".to_owned());
        match rt.block_on(deliver(&client, c, &n)) {
            Outcome::Sent(status, body) => {
                println!("{}: sent, HTTP {status} {}", c.name, body.trim());
            }
            Outcome::Rejected(status, body) => {
                failed += 1;
                println!("{}: refused, HTTP {status} {}", c.name, body.trim());
            }
            Outcome::Failed(reason) => {
                failed += 1;
                println!("{}: failed: {reason}", c.name);
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} channel(s) did not take the test notification");
    }
    Ok(())
}
