//! Delivery: one bounded queue and one worker task per channel, so that a channel that hangs
//! delays only its own notifications and never a tool call or the watcher.
//!
//! Each attempt has a deadline (the channel's `timeout_secs`); network errors and 5xx answers
//! are retried a few times with growing pauses, 4xx answers are not. Outcomes are counted in
//! `/metrics` per channel (`sent`, `rejected`, `failed`, `dropped`) and failures are logged
//! with the channel's name and the status or the kind of error, never a URL, token or
//! secret.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::config::{ChannelConfig, ChannelKind};
use super::event::{EventKind, Notification, hex};
use crate::http::metrics::Metrics;

/// Notifications waiting for one channel, at most.
const QUEUE: usize = 64;
/// Attempts per notification (the first plus retries).
const ATTEMPTS: u32 = 3;
/// The pause before the first retry; it doubles for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The most of an answer's body that is kept (for `notify test`).
const ANSWER_CAP: usize = 1024;

/// How one delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The channel accepted it (2xx or 3xx): the status and the start of the body.
    Sent(u16, String),
    /// The channel refused it (4xx), which retrying will not change.
    Rejected(u16, String),
    /// Every attempt failed with a network error, a timeout or a 5xx.
    Failed(String),
}

impl Outcome {
    /// The metrics label.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Sent(..) => "sent",
            Outcome::Rejected(..) => "rejected",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// The channels' queues.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    queues: Vec<(Arc<ChannelConfig>, mpsc::Sender<Arc<Notification>>)>,
    metrics: Option<Arc<Metrics>>,
}

impl Dispatcher {
    /// Starts one worker per channel; they stop when `ct` is cancelled.
    pub fn start(
        channels: &[ChannelConfig],
        metrics: Option<Arc<Metrics>>,
        ct: &CancellationToken,
    ) -> Self {
        let client = http_client();
        let mut queues = Vec::new();
        for c in channels {
            let channel = Arc::new(c.clone());
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(worker(
                channel.clone(),
                client.clone(),
                rx,
                metrics.clone(),
                ct.child_token(),
            ));
            queues.push((channel, tx));
        }
        Dispatcher { queues, metrics }
    }

    /// Queues `n` for every channel that sends its kind of event; never waits. A full queue
    /// drops the notification for that channel (counted as `dropped`).
    pub fn send(&self, n: Arc<Notification>) {
        for i in 0..self.queues.len() {
            self.send_to(i, n.clone());
        }
    }

    /// The channels, in the order [`Dispatcher::send_to`] numbers them.
    pub fn channels(&self) -> Vec<Arc<ChannelConfig>> {
        self.queues.iter().map(|(c, _)| c.clone()).collect()
    }

    /// Queues `n` for channel number `i` if it sends its kind of event; never waits.
    pub fn send_to(&self, i: usize, n: Arc<Notification>) {
        let Some((channel, tx)) = self.queues.get(i) else {
            return;
        };
        if n.event != EventKind::Test && !channel.events.contains(&n.event) {
            return;
        }
        if tx.try_send(n.clone()).is_err() {
            tracing::warn!(channel = %channel.name, event = n.event.as_str(), "notification queue full; dropped");
            if let Some(m) = &self.metrics {
                m.notification(&channel.name, "dropped");
            }
        }
    }
}

async fn worker(
    channel: Arc<ChannelConfig>,
    client: reqwest::Client,
    mut rx: mpsc::Receiver<Arc<Notification>>,
    metrics: Option<Arc<Metrics>>,
    ct: CancellationToken,
) {
    loop {
        let n = tokio::select! {
            _ = ct.cancelled() => return,
            n = rx.recv() => match n { Some(n) => n, None => return },
        };
        let outcome = tokio::select! {
            _ = ct.cancelled() => return,
            o = deliver(&client, &channel, &n) => o,
        };
        match &outcome {
            Outcome::Sent(status, _) => {
                tracing::debug!(channel = %channel.name, event = n.event.as_str(), session = %n.session, status, "notification sent");
            }
            Outcome::Rejected(status, _) => {
                tracing::warn!(channel = %channel.name, event = n.event.as_str(), session = %n.session, status, "the channel refused the notification");
            }
            Outcome::Failed(reason) => {
                tracing::warn!(channel = %channel.name, event = n.event.as_str(), session = %n.session, %reason, "the notification could not be delivered");
            }
        }
        if let Some(m) = &metrics {
            m.notification(&channel.name, outcome.label());
        }
    }
}

/// The HTTP client for every channel: no redirects (a signed POST is not sent elsewhere),
/// a connect deadline; the per-attempt deadline is the channel's.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("sessiongate/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// Sends `n` through `channel`, with retries; waits for the outcome.
pub async fn deliver(
    client: &reqwest::Client,
    channel: &ChannelConfig,
    n: &Notification,
) -> Outcome {
    let mut backoff = FIRST_BACKOFF;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match attempt_once(client, channel, n).await {
            Ok((status, body)) if status < 400 => return Outcome::Sent(status, body),
            Ok((status, body)) if status < 500 => return Outcome::Rejected(status, body),
            Ok((status, _)) => last = format!("HTTP {status}"),
            Err(e) => last = e,
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    Outcome::Failed(format!("{last} (after {ATTEMPTS} attempts)"))
}

async fn attempt_once(
    client: &reqwest::Client,
    channel: &ChannelConfig,
    n: &Notification,
) -> Result<(u16, String), String> {
    let req = match &channel.kind {
        ChannelKind::Email(mail) => return mail.send(n, channel.timeout).await,
        ChannelKind::Webhook { url, secret } => {
            let body = serde_json::to_vec(n).map_err(|e| e.to_string())?;
            let ts = unix_now().to_string();
            client
                .post(url.clone())
                .header("content-type", "application/json")
                .header("x-sessiongate-event", n.event.as_str())
                .header("x-sessiongate-timestamp", &ts)
                .header("x-sessiongate-signature", signature(secret, &ts, &body))
                .body(body)
        }
        ChannelKind::Slack { url } => client.post(url.clone()).json(&super::format::slack(n)),
        ChannelKind::Ntfy { url, token, .. } => {
            let req = client
                .post(url.clone())
                .json(&super::format::ntfy(channel, n));
            match token {
                Some(t) => req.bearer_auth(t),
                None => req,
            }
        }
    };
    let fut = async {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap_or_default();
        let body = String::from_utf8_lossy(&bytes[..bytes.len().min(ANSWER_CAP)]).into_owned();
        Ok::<_, reqwest::Error>((status, body))
    };
    match tokio::time::timeout(channel.timeout, fut).await {
        Ok(Ok(answer)) => Ok(answer),
        // Without the URL: it may hold a secret.
        Ok(Err(e)) => Err(describe(&e)),
        Err(_) => Err(format!("no answer within {} s", channel.timeout.as_secs())),
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "could not connect".to_owned()
    } else if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_body() || e.is_decode() {
        "the answer could not be read".to_owned()
    } else {
        "the request failed".to_owned()
    }
}

/// `sha256=<hex>` of HMAC-SHA256 with `secret` over `timestamp.body`.
pub fn signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let mut ctx = aws_lc_rs::hmac::Context::with_key(&key);
    ctx.update(timestamp.as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("sha256={}", hex(ctx.sign().as_ref()))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Computed with Python's hmac module, an independent implementation:
        // hmac.new(b"Jefe", b"1700000000.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            signature(b"Jefe", "1700000000", b"{}"),
            "sha256=d3793e2b4103edfbd98cc19591832f5fad701d413db9fcae0ae7dab8184ed207"
        );
    }
}
