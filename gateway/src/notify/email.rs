//! The email channel (`kind = "email"`): a plain-text and an HTML part, sent over SMTP with
//! `lettre` (rustls, no OpenSSL). A waiting prompt's options are links to their answer pages.
//!
//! ```toml
//! [notify.channels.mail]
//! kind = "email"
//! url = "smtps://smtp.example.com"     # implicit TLS (465); smtp://host:587 is STARTTLS
//! username = "gateway@example.com"
//! password_file = "~/.config/sessiongate/smtp-password"   # or password_env
//! from = "sessiongate <gateway@example.com>"
//! to = ["me@example.com"]
//! ```
//!
//! Off loopback the connection is always encrypted: `smtps://` wraps it in TLS from the start,
//! `smtp://` must upgrade with STARTTLS or the mail is not sent. Only to a loopback server (a
//! local relay) may `smtp://` send in the clear. Credentials come from a file or the
//! environment, never the URL.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use sessiongate_auth::owner_login::html;

use super::event::Notification;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`smtps://`, port 465 by default).
    Implicit,
    /// STARTTLS, required (`smtp://` off loopback, port 587 by default).
    StartTls,
    /// None: only to a loopback server (`smtp://127.0.0.1`).
    LoopbackPlain,
}

/// One checked email channel.
#[derive(Clone)]
pub struct EmailChannel {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<(String, String)>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

// The password stays out of debug output.
impl std::fmt::Debug for EmailChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailChannel")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

impl EmailChannel {
    /// Checks an email channel's settings; the error names the key.
    pub fn resolve(
        what: &str,
        url: Option<&str>,
        username: Option<&str>,
        password: Option<String>,
        from: Option<&str>,
        to: Option<&[String]>,
    ) -> Result<Self, String> {
        let url = url.ok_or_else(|| {
            format!(
                "{what} url: an email channel needs its SMTP server (smtps://host or smtp://host)"
            )
        })?;
        let parsed =
            reqwest::Url::parse(url).map_err(|e| format!("{what} url: not a valid URL ({e})"))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(format!(
                "{what} url: no credentials in the URL; use username and password_file"
            ));
        }
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("{what} url: no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let loopback = super::config::is_loopback(&parsed);
        let (security, default_port) = match parsed.scheme() {
            "smtps" => (Security::Implicit, 465),
            "smtp" if loopback => (Security::LoopbackPlain, 25),
            "smtp" => (Security::StartTls, 587),
            other => {
                return Err(format!("{what} url: scheme {other:?} is not smtps or smtp"));
            }
        };
        let credentials = match (username, password) {
            (Some(u), Some(p)) => Some((u.to_owned(), p)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(format!(
                    "{what} password_file: a username needs password_file or password_env"
                ));
            }
            (None, Some(_)) => {
                return Err(format!("{what} username: a password needs a username"));
            }
        };
        let from: Mailbox = from
            .ok_or_else(|| format!("{what} from: an email channel needs a sender"))?
            .parse()
            .map_err(|e| format!("{what} from: not an address ({e})"))?;
        let to = to
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("{what} to: an email channel needs at least one recipient"))?
            .iter()
            .map(|t| {
                t.parse::<Mailbox>()
                    .map_err(|e| format!("{what} to: {t:?} is not an address ({e})"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EmailChannel {
            host,
            port: parsed.port().unwrap_or(default_port),
            security,
            credentials,
            from,
            to,
        })
    }

    /// Sends `n` once. `Ok((200, reply))` when the server took it, `Ok((400, reply))` when it
    /// refused it for good (5xx), `Err` for what a retry may fix (network, 4xx, timeout).
    pub async fn send(&self, n: &Notification, timeout: Duration) -> Result<(u16, String), String> {
        let message = self.message(n)?;
        let tls = match self.security {
            Security::Implicit => Tls::Wrapper(self.tls_parameters()?),
            Security::StartTls => Tls::Required(self.tls_parameters()?),
            Security::LoopbackPlain => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .tls(tls)
            .timeout(Some(timeout));
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        match builder.build().send(message).await {
            Ok(resp) => Ok((
                200,
                format!(
                    "{} {}",
                    resp.code(),
                    resp.message().collect::<Vec<_>>().join(" ")
                ),
            )),
            Err(e) if e.is_permanent() => {
                Ok((400, e.status().map(|c| c.to_string()).unwrap_or_default()))
            }
            Err(e) if e.is_timeout() => Err("timed out".to_owned()),
            Err(e) => Err(match e.status() {
                Some(code) => format!("SMTP {code}"),
                None => "the SMTP exchange failed".to_owned(),
            }),
        }
    }

    fn tls_parameters(&self) -> Result<TlsParameters, String> {
        TlsParameters::new(self.host.clone()).map_err(|_| "TLS setup failed".to_owned())
    }

    /// The message: the title as subject, a plain-text and an HTML part.
    fn message(&self, n: &Notification) -> Result<Message, String> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(n.title());
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
            .multipart(MultiPart::alternative_plain_html(text(n), html_body(n)))
            .map_err(|_| "the message could not be built".to_owned())
    }
}

/// The plain-text part: the notification's text, then a link per option.
pub fn text(n: &Notification) -> String {
    let mut out = format!("{}\n\n{}\n", n.title(), n.text());
    let links: Vec<String> = n
        .options
        .iter()
        .filter_map(|o| o.answer_url.as_ref().map(|u| format!("  {}: {u}", o.label)))
        .collect();
    if !links.is_empty() {
        out.push_str("\nAnswer (each link opens a page that asks you to confirm):\n");
        out.push_str(&links.join("\n"));
        out.push('\n');
    }
    out.push_str(&format!("\nsessiongate on {}\n", n.host));
    out
}

/// The HTML part: the same, with the options as links to their answer pages.
pub fn html_body(n: &Notification) -> String {
    let mut body = format!("<h2>{}</h2>", html(&n.title()));
    if let Some(q) = &n.question {
        body.push_str(&format!("<p><strong>{}</strong></p>", html(q)));
    }
    if !n.context.is_empty() {
        let lines: Vec<String> = n.context.iter().map(|c| html(c)).collect();
        body.push_str(&format!("<pre>{}</pre>", lines.join("\n")));
    }
    let mut options = String::new();
    for o in &n.options {
        match &o.answer_url {
            Some(url) => options.push_str(&format!(
                "<a href=\"{}\" style=\"display:inline-block;margin:.3em;padding:.6em 1em;\
                 background:#2563eb;color:#fff;border-radius:8px;text-decoration:none\">{}</a>",
                html(url),
                html(&o.label)
            )),
            None => options.push_str(&format!(
                "<span style=\"margin:.3em\">{}</span>",
                html(&o.label)
            )),
        }
    }
    if !options.is_empty() {
        body.push_str(&format!("<p>{options}</p>"));
    }
    if let Some(s) = &n.summary {
        body.push_str(&format!("<pre>{}</pre>", html(s)));
    }
    body.push_str(&format!(
        "<p style=\"color:#71717a\">sessiongate on {}</p>",
        html(&n.host)
    ));
    format!("<!doctype html><html><body style=\"font-family:sans-serif\">{body}</body></html>")
}
