//! Answering a waiting prompt from the notification: each option of a prompt gets an answer
//! URL, `<public-url>/answer/<token>`, per channel.
//!
//! - The token is 256 random bits; only its SHA-256 is stored ([`store`]), with the session,
//!   the prompt's fingerprint, the option, the channel, the mode and an expiry
//!   (`answer_ttl_secs`). It is used at most once.
//! - `GET` never acts (mail scanners and link previews fetch links): it shows the question
//!   and a button that POSTs ([`page`]).
//! - `POST` answers only if the session still shows a prompt with the same fingerprint, with
//!   exactly the keys of that option, through the code of `respond_to_prompt`, after an audit
//!   row (`notification:<channel>`) is on the disk ([`routes`]).
//! - `answers = "login"` (the default) makes the POST need the owner's sign-in (the OAuth
//!   flow's login, in a short-lived cookie); `link` lets the URL alone answer.
//!
//! Answer URLs are made only when the gateway is reachable at a URL the owner gave
//! (`--public-url`) or at an https bind, and in `login` mode only when OAuth is on. Options
//! that take free text never get one.
//!
//! # Layout
//! - [`store`]: the token table;
//! - [`routes`]: `GET` and `POST /answer/{token}`;
//! - [`page`]: the pages.

pub mod page;
pub mod routes;
pub mod store;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sessiongate_backend::prompt::{Prompt, PromptKind};

use super::config::{AnswerMode, ChannelConfig};
use super::event::{Notification, hex, sha256_hex};
use super::store::StoreError;
use crate::http::ratelimit::{Limiter, Rate};
use store::{AnswerRow, AnswerStore};

/// Requests to answer pages per address: the rate of the authorization pages.
const PAGE_RATE: Rate = Rate::new(120, 30);

/// The answer URLs' service: the tokens, where the pages are, and who may answer.
#[derive(Debug)]
pub struct Answers {
    store: AnswerStore,
    ttl: Duration,
    /// The public URL (no trailing slash).
    base: String,
    /// The authorization server, for `login` mode; without it, only `link` answers.
    auth: Option<Arc<sessiongate_auth::AuthServer>>,
    /// Per-address limit on the answer routes.
    limiter: Limiter<IpAddr>,
}

impl Answers {
    /// Opens the token table. `base` is the public URL the pages are reached at.
    pub fn open(
        data_dir: &Path,
        base: &str,
        ttl: Duration,
        auth: Option<Arc<sessiongate_auth::AuthServer>>,
    ) -> Result<Self, StoreError> {
        Ok(Answers {
            store: AnswerStore::open(data_dir)?,
            ttl,
            base: base.trim_end_matches('/').to_owned(),
            auth,
            limiter: Limiter::new(PAGE_RATE),
        })
    }

    /// The mode a channel's notifications really get: `login` without OAuth is `off`.
    pub fn mode_for(&self, channel: &ChannelConfig) -> AnswerMode {
        match channel.answers {
            AnswerMode::Login if self.auth.is_none() => AnswerMode::Off,
            mode => mode,
        }
    }

    /// Copies of a waiting notification, one per channel, each with answer URLs of its own
    /// for the options that may be answered by a link (in channel order).
    pub fn mint_all(
        &self,
        channels: &[Arc<ChannelConfig>],
        n: &Arc<Notification>,
        prompt: &Prompt,
    ) -> Result<Vec<Arc<Notification>>, StoreError> {
        let answerable = answerable(prompt);
        let now = unix_now();
        let mut out = Vec::with_capacity(channels.len());
        for channel in channels {
            let mode = self.mode_for(channel);
            if mode == AnswerMode::Off || answerable.is_empty() {
                out.push(n.clone());
                continue;
            }
            let mut copy = (**n).clone();
            for &i in &answerable {
                let Some(option) = copy.options.get_mut(i) else {
                    continue;
                };
                let token = new_token();
                let row = AnswerRow {
                    session: n.session.clone(),
                    fingerprint: n.id.clone(),
                    option_index: i,
                    label: option.label.clone(),
                    channel: channel.name.clone(),
                    mode: mode.as_str().to_owned(),
                    question: n.question.clone().unwrap_or_default(),
                    context: n.context.clone(),
                    expires: now + self.ttl.as_secs() as i64,
                    used_at: None,
                };
                self.store.insert(&sha256_hex(&token), &row, now)?;
                option.answer_url = Some(format!("{}/answer/{token}", self.base));
            }
            copy.answer_mode = Some(mode.as_str());
            out.push(Arc::new(copy));
        }
        Ok(out)
    }
}

/// The options a link may answer: those of a menu or a yes/no question, except options that
/// take free text.
pub fn answerable(prompt: &Prompt) -> Vec<usize> {
    if !matches!(prompt.kind, PromptKind::Menu | PromptKind::YesNo) {
        return Vec::new();
    }
    prompt
        .options
        .iter()
        .enumerate()
        .filter(|(_, o)| !o.takes_text)
        .map(|(i, _)| i)
        .collect()
}

/// The answer, as `respond_to_prompt` takes it, that selects option `index`: its number, or
/// its position when no option is numbered, or else its label.
pub fn answer_for(prompt: &Prompt, index: usize) -> Option<String> {
    let option = prompt.options.get(index)?;
    if option.takes_text {
        return None;
    }
    Some(match option.number {
        Some(n) => n.to_string(),
        None if prompt.options.iter().all(|o| o.number.is_none()) => (index + 1).to_string(),
        None => option.label.clone(),
    })
}

/// A new token: 32 bytes from the system's CSPRNG, in lower-case hex.
fn new_token() -> String {
    let mut buf = [0u8; TOKEN_BYTES];
    // The system RNG does not fail once the kernel is seeded; a token of zeros must never be
    // issued, so a failure aborts instead.
    aws_lc_rs::rand::fill(&mut buf).expect("the system random number generator works");
    hex(&buf)
}

/// Bytes of randomness in a token.
const TOKEN_BYTES: usize = 32;

/// Whether `s` has the shape of a token (64 lower-case hex digits).
pub fn well_formed(s: &str) -> bool {
    s.len() == TOKEN_BYTES * 2 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Now, in Unix seconds.
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
