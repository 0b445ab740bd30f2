//! What a notification says: the event, the session, the question and its options, the exit
//! code, a summary; and the ids that keep one event from being sent twice.

use serde::Serialize;

use sessiongate_backend::prompt::Prompt;

/// The kinds of event a channel can be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A session started waiting for an answer.
    Waiting,
    /// An agent went from working to idle after working a while.
    Finished,
    /// The session's program exited.
    Exited,
    /// `sessiongate notify test`.
    Test,
}

impl EventKind {
    /// Parses a configured event name (`test` is not one).
    pub fn parse(s: &str) -> Option<EventKind> {
        match s {
            "waiting" => Some(EventKind::Waiting),
            "finished" => Some(EventKind::Finished),
            "exited" => Some(EventKind::Exited),
            _ => None,
        }
    }

    /// The name used in payloads, logs and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Waiting => "waiting",
            EventKind::Finished => "finished",
            EventKind::Exited => "exited",
            EventKind::Test => "test",
        }
    }
}

/// One option of a waiting prompt, as sent.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OptionOut {
    /// The option's text.
    pub label: String,
    /// The number shown before it, if any.
    pub number: Option<u32>,
    /// A URL that answers with this option; `null` while answers are off.
    pub answer_url: Option<String>,
}

/// One notification: the webhook payload as documented in the README.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Notification {
    /// A stable id of the event (the same id is never sent twice).
    pub id: String,
    /// `waiting`, `finished`, `exited` or `test`.
    pub event: EventKind,
    /// The session's name.
    pub session: String,
    /// The machine the gateway runs on.
    pub host: String,
    /// When the event was seen, RFC 3339 UTC.
    pub time: String,
    /// The question (waiting).
    pub question: Option<String>,
    /// Lines that explain the question (the command to run, the file to write).
    pub context: Vec<String>,
    /// The options, in screen order (waiting).
    pub options: Vec<OptionOut>,
    /// The exit code (exited normally).
    pub exit_code: Option<i32>,
    /// The signal that ended the program (exited by a signal).
    pub signal: Option<i32>,
    /// What happened in a few lines: the last assistant message or the screen's last lines.
    pub summary: Option<String>,
    /// What the options' answer URLs need: `login` (the owner's sign-in) or `link` (nothing
    /// more); absent when there are none.
    #[serde(rename = "answers", skip_serializing_if = "Option::is_none")]
    pub answer_mode: Option<&'static str>,
}

impl Notification {
    /// An event with the common fields filled in.
    pub fn new(event: EventKind, id: String, session: &str) -> Self {
        Notification {
            id,
            event,
            session: session.to_owned(),
            host: host_name(),
            time: now_rfc3339(),
            question: None,
            context: Vec::new(),
            options: Vec::new(),
            exit_code: None,
            signal: None,
            summary: None,
            answer_mode: None,
        }
    }

    /// A waiting prompt.
    pub fn waiting(session: &str, prompt: &Prompt) -> Self {
        let mut n = Notification::new(EventKind::Waiting, fingerprint(session, prompt), session);
        n.question = Some(prompt.question.clone());
        n.context = prompt.context.clone();
        n.options = prompt
            .options
            .iter()
            .map(|o| OptionOut {
                label: o.label.clone(),
                number: o.number,
                answer_url: None,
            })
            .collect();
        n
    }

    /// A one-line title: what happened in which session.
    pub fn title(&self) -> String {
        match self.event {
            EventKind::Waiting => format!("{} is waiting for you", self.session),
            EventKind::Finished => format!("{} has finished", self.session),
            EventKind::Exited => match (self.exit_code, self.signal) {
                (Some(c), _) => format!("{} exited (code {c})", self.session),
                (None, Some(s)) => format!("{} exited (signal {s})", self.session),
                (None, None) => format!("{} exited", self.session),
            },
            EventKind::Test => "sessiongate test notification".to_owned(),
        }
    }

    /// The body as plain text: question, context and options, or the summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if let Some(q) = &self.question {
            out.push_str(q);
        }
        for c in &self.context {
            out.push_str(&format!("\n| {c}"));
        }
        for (i, o) in self.options.iter().enumerate() {
            let n = o.number.unwrap_or(i as u32 + 1);
            out.push_str(&format!("\n{n}. {}", o.label));
        }
        if let Some(s) = &self.summary {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(s);
        }
        if out.is_empty() {
            out = format!("on {}", self.host);
        }
        out
    }
}

/// The id of a waiting prompt: SHA-256 over the session, the question and the options, so
/// that the same prompt on screen is one notification and a different one is another.
pub fn fingerprint(session: &str, prompt: &Prompt) -> String {
    let mut text = format!("waiting\0{session}\0{}", prompt.question);
    for o in &prompt.options {
        text.push('\0');
        text.push_str(&o.label);
    }
    sha256_hex(&text)
}

/// The id of any other event: SHA-256 over its kind and what identifies it.
pub fn event_id(kind: EventKind, parts: &[&str]) -> String {
    let mut text = kind.as_str().to_owned();
    for p in parts {
        text.push('\0');
        text.push_str(p);
    }
    sha256_hex(&text)
}

/// Lower-case hex of SHA-256.
pub fn sha256_hex(text: &str) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes()).as_ref())
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Now, RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// This machine's name, from the kernel, read once (`localhost` when it cannot be read).
pub(crate) fn host_name() -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    })
    .clone()
}
