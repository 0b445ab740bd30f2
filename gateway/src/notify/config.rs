//! The `[notify]` table of the configuration file and its checks at startup.
//!
//! ```toml
//! [notify]
//! events = ["waiting", "exited"]        # the default; "finished" is the third
//! finished_after_secs = 20
//!
//! [notify.channels.phone]
//! kind = "ntfy"
//! url = "https://ntfy.sh"
//! topic = "my-secret-topic"
//! token_file = "~/.config/sessiongate/ntfy-token"
//!
//! [notify.channels.ci]
//! kind = "webhook"
//! url = "https://hooks.example.com/sessiongate"
//! secret_env = "SESSIONGATE_WEBHOOK_SECRET"
//! events = ["exited"]                  # this channel only hears these
//! ```
//!
//! Everything is checked before the gateway starts: an unknown kind or event, a secret file
//! that cannot be read, a URL that is not https off loopback. Each refusal names the key.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::event::EventKind;

/// The `[notify]` table as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySection {
    /// Which events are sent (default `waiting` and `exited`).
    pub events: Option<Vec<String>>,
    /// How long an agent must have worked before going idle counts as `finished`.
    pub finished_after_secs: Option<u64>,
    /// Whether notifications carry answer URLs: `off`, `login` (the default) or `link`.
    pub answers: Option<String>,
    /// How long an answer URL stays valid (default 600 s).
    pub answer_ttl_secs: Option<u64>,
    /// The channels by name (`[notify.channels.NAME]`).
    #[serde(default)]
    pub channels: BTreeMap<String, ChannelSection>,
}

/// One `[notify.channels.NAME]` table as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSection {
    /// `webhook` or `ntfy`.
    pub kind: String,
    /// Where to POST (webhook), or the ntfy server's base URL.
    pub url: Option<String>,
    /// Webhook: a file holding the URL instead of `url` (Slack's URLs are secrets).
    pub url_file: Option<String>,
    /// Webhook: an environment variable holding the URL instead of `url`.
    pub url_env: Option<String>,
    /// Webhook: `json` (default, signed) or `slack` (an incoming-webhook message).
    pub format: Option<String>,
    /// Webhook: a file holding the HMAC secret.
    pub secret_file: Option<String>,
    /// Webhook: an environment variable holding the HMAC secret.
    pub secret_env: Option<String>,
    /// ntfy: the topic.
    pub topic: Option<String>,
    /// ntfy: a file holding the access token.
    pub token_file: Option<String>,
    /// ntfy: an environment variable holding the access token.
    pub token_env: Option<String>,
    /// ntfy: the URL opened when the notification is tapped.
    pub click: Option<String>,
    /// Which events this channel sends (default: the global list).
    pub events: Option<Vec<String>>,
    /// Seconds one delivery attempt may take (default 10).
    pub timeout_secs: Option<u64>,
    /// This channel's answer mode (default: the global `answers`).
    pub answers: Option<String>,
    /// Email: the SMTP user name.
    pub username: Option<String>,
    /// Email: a file holding the SMTP password.
    pub password_file: Option<String>,
    /// Email: an environment variable holding the SMTP password.
    pub password_env: Option<String>,
    /// Email: the sender (`Name <addr>` or `addr`).
    pub from: Option<String>,
    /// Email: the recipients.
    pub to: Option<Vec<String>>,
}

/// The checked notification settings.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// How long an agent must have worked before going idle counts as `finished`.
    pub finished_after: Duration,
    /// How long an answer URL stays valid.
    pub answer_ttl: Duration,
    /// The channels, in name order.
    pub channels: Vec<ChannelConfig>,
}

impl NotifyConfig {
    /// No channels: nothing is watched and nothing is sent.
    pub fn disabled() -> Self {
        NotifyConfig {
            finished_after: Duration::from_secs(DEFAULT_FINISHED_AFTER_SECS),
            answer_ttl: Duration::from_secs(DEFAULT_ANSWER_TTL_SECS),
            channels: Vec::new(),
        }
    }

    /// Whether any channel sends `kind`.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.channels.iter().any(|c| c.events.contains(&kind))
    }
}

/// The default of `finished_after_secs`.
pub const DEFAULT_FINISHED_AFTER_SECS: u64 = 20;
/// The default of `answer_ttl_secs`.
pub const DEFAULT_ANSWER_TTL_SECS: u64 = 600;
/// The default of a channel's `timeout_secs`.
const DEFAULT_TIMEOUT_SECS: u64 = 10;

/// One checked channel.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    /// The name in `[notify.channels.NAME]`; the label in metrics and logs.
    pub name: String,
    /// Which events it sends.
    pub events: Vec<EventKind>,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Whether its notifications carry answer URLs, and what they need.
    pub answers: AnswerMode,
    /// What it is and where it goes.
    pub kind: ChannelKind,
}

/// Whether a notification carries answer URLs (`answers = "off" | "login" | "link"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerMode {
    /// No answer URLs.
    Off,
    /// An answer URL answers only once the owner has signed in (the default).
    Login,
    /// The answer URL alone answers (what ntfy's one-tap buttons need).
    Link,
}

impl AnswerMode {
    fn parse(key: &str, value: Option<&str>) -> Result<Option<AnswerMode>, String> {
        match value {
            None => Ok(None),
            Some("off") => Ok(Some(AnswerMode::Off)),
            Some("login") => Ok(Some(AnswerMode::Login)),
            Some("link") => Ok(Some(AnswerMode::Link)),
            Some(other) => Err(format!(
                "{key}: unknown mode {other:?}; use \"off\", \"login\" or \"link\""
            )),
        }
    }

    /// The name used in the database and the pages.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerMode::Off => "off",
            AnswerMode::Login => "login",
            AnswerMode::Link => "link",
        }
    }
}

/// What a channel is.
#[derive(Clone)]
pub enum ChannelKind {
    /// A JSON POST signed with HMAC-SHA256.
    Webhook {
        /// Where to POST (may be a secret itself).
        url: reqwest::Url,
        /// The HMAC key.
        secret: Vec<u8>,
    },
    /// A Slack-style incoming-webhook message (also Mattermost, Rocket.Chat).
    Slack {
        /// The incoming-webhook URL (a secret).
        url: reqwest::Url,
    },
    /// Email over SMTP ([`super::email`]).
    Email(super::email::EmailChannel),
    /// ntfy's JSON publish API.
    Ntfy {
        /// The server's base URL.
        url: reqwest::Url,
        /// The topic.
        topic: String,
        /// The access token, if any.
        token: Option<String>,
        /// Opened when the notification is tapped.
        click: Option<String>,
    },
}

// Secrets and URLs (which may hold secrets) stay out of debug output.
impl std::fmt::Debug for ChannelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChannelKind::Webhook { .. } => "Webhook(..)",
            ChannelKind::Slack { .. } => "Slack(..)",
            ChannelKind::Ntfy { .. } => "Ntfy(..)",
            ChannelKind::Email(_) => "Email(..)",
        })
    }
}

impl NotifySection {
    /// Checks the settings and reads the secrets. The error names the offending key.
    pub fn resolve(&self) -> Result<NotifyConfig, String> {
        let events = parse_events("[notify] events", self.events.as_deref())?;
        let answers = AnswerMode::parse("[notify] answers", self.answers.as_deref())?
            .unwrap_or(AnswerMode::Login);
        let answer_ttl = self.answer_ttl_secs.unwrap_or(DEFAULT_ANSWER_TTL_SECS);
        if answer_ttl == 0 {
            return Err("[notify] answer_ttl_secs: must be at least 1".to_owned());
        }
        let mut channels = Vec::new();
        for (name, c) in &self.channels {
            channels.push(c.resolve(name, &events, answers)?);
        }
        Ok(NotifyConfig {
            finished_after: Duration::from_secs(
                self.finished_after_secs
                    .unwrap_or(DEFAULT_FINISHED_AFTER_SECS),
            ),
            answer_ttl: Duration::from_secs(answer_ttl),
            channels,
        })
    }
}

fn parse_events(key: &str, list: Option<&[String]>) -> Result<Vec<EventKind>, String> {
    let Some(list) = list else {
        return Ok(vec![EventKind::Waiting, EventKind::Exited]);
    };
    list.iter()
        .map(|e| {
            EventKind::parse(e).ok_or_else(|| {
                format!("{key}: unknown event {e:?}; use \"waiting\", \"finished\" or \"exited\"")
            })
        })
        .collect()
}

impl ChannelSection {
    fn resolve(
        &self,
        name: &str,
        global: &[EventKind],
        answers: AnswerMode,
    ) -> Result<ChannelConfig, String> {
        let what = format!("[notify.channels.{name}]");
        let answers = AnswerMode::parse(&format!("{what} answers"), self.answers.as_deref())?
            .unwrap_or(answers);
        let events = match &self.events {
            Some(list) => parse_events(&format!("{what} events"), Some(list))?,
            None => global.to_vec(),
        };
        // Each kind's own keys; a key of another kind is refused by name, not ignored.
        let kind_keys = [
            ("url_file", self.url_file.is_some()),
            ("url_env", self.url_env.is_some()),
            ("format", self.format.is_some()),
            ("secret_file", self.secret_file.is_some()),
            ("secret_env", self.secret_env.is_some()),
            ("topic", self.topic.is_some()),
            ("token_file", self.token_file.is_some()),
            ("token_env", self.token_env.is_some()),
            ("click", self.click.is_some()),
            ("username", self.username.is_some()),
            ("password_file", self.password_file.is_some()),
            ("password_env", self.password_env.is_some()),
            ("from", self.from.is_some()),
            ("to", self.to.is_some()),
        ];
        let only = |allowed: &[&str]| -> Result<(), String> {
            match kind_keys
                .iter()
                .find(|(key, set)| *set && !allowed.contains(key))
            {
                Some((key, _)) => Err(format!(
                    "{what} {key}: not a setting of kind = {:?}",
                    self.kind
                )),
                None => Ok(()),
            }
        };
        let kind = match self.kind.as_str() {
            "webhook" => {
                only(&["url_file", "url_env", "format", "secret_file", "secret_env"])?;
                let url = match secret(&what, "url", &self.url_file, &self.url_env)? {
                    Some(u) if self.url.is_none() => u,
                    Some(_) => {
                        return Err(format!("{what} url: set url, url_file or url_env, not two"));
                    }
                    None => self
                        .url
                        .clone()
                        .ok_or_else(|| format!("{what} url: a webhook needs a url"))?,
                };
                let url = check_url(&what, "url", &url)?;
                match self.format.as_deref() {
                    None | Some("json") => {
                        let secret = secret(&what, "secret", &self.secret_file, &self.secret_env)?
                            .ok_or_else(|| {
                                format!(
                                    "{what} secret_file: a webhook is signed; set secret_file or \
                                     secret_env"
                                )
                            })?;
                        ChannelKind::Webhook {
                            url,
                            secret: secret.into_bytes(),
                        }
                    }
                    Some("slack") => {
                        // Slack's webhooks are not signed.
                        only(&["url_file", "url_env", "format"])?;
                        ChannelKind::Slack { url }
                    }
                    Some(other) => {
                        return Err(format!(
                            "{what} format: unknown format {other:?}; use \"json\" or \"slack\""
                        ));
                    }
                }
            }
            "ntfy" => {
                only(&["topic", "token_file", "token_env", "click"])?;
                let url = self
                    .url
                    .as_deref()
                    .ok_or_else(|| format!("{what} url: an ntfy channel needs the server's url"))?;
                let topic = self
                    .topic
                    .clone()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| format!("{what} topic: an ntfy channel needs a topic"))?;
                if let Some(click) = &self.click {
                    check_url(&what, "click", click)?;
                }
                ChannelKind::Ntfy {
                    url: check_url(&what, "url", url)?,
                    topic,
                    token: secret(&what, "token", &self.token_file, &self.token_env)?,
                    click: self.click.clone(),
                }
            }
            "email" => {
                only(&["username", "password_file", "password_env", "from", "to"])?;
                let password = secret(&what, "password", &self.password_file, &self.password_env)?;
                ChannelKind::Email(super::email::EmailChannel::resolve(
                    &what,
                    self.url.as_deref(),
                    self.username.as_deref(),
                    password,
                    self.from.as_deref(),
                    self.to.as_deref(),
                )?)
            }
            other => {
                return Err(format!(
                    "{what} kind: unknown kind {other:?}; use \"webhook\", \"ntfy\" or \"email\""
                ));
            }
        };
        let timeout = self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS);
        if timeout == 0 {
            return Err(format!("{what} timeout_secs: must be at least 1"));
        }
        Ok(ChannelConfig {
            name: name.to_owned(),
            events,
            timeout: Duration::from_secs(timeout),
            answers,
            kind,
        })
    }
}

/// Reads `<base>_file` or `<base>_env`; `None` when neither is set.
fn secret(
    what: &str,
    base: &str,
    file: &Option<String>,
    env: &Option<String>,
) -> Result<Option<String>, String> {
    crate::cli::config::read_secret(what, base, file, env)
}

/// An https URL, or an http URL whose host is a loopback address.
fn check_url(what: &str, key: &str, url: &str) -> Result<reqwest::Url, String> {
    // The URL itself is not repeated: it may hold a secret (Slack's do).
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("{what} {key}: not a valid URL ({e})"))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        "http" => Err(format!(
            "{what} {key}: plain http is only allowed to a loopback address; use https"
        )),
        other => Err(format!("{what} {key}: scheme {other:?} is not http(s)")),
    }
}

pub(super) fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some(h) if h.eq_ignore_ascii_case("localhost") => true,
        Some(h) => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
