//! The tools' arguments. The `///` docs on each field become the JSON schema descriptions
//! that MCP clients (and the models behind them) read, so they say what to pass.

use schemars::JsonSchema;
use serde::Deserialize;

/// Arguments of `create_session`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct CreateSessionArgs {
    /// A new session's name: 1-64 characters from letters, digits, '_', '.' and '-';
    /// `HOST:NAME` starts it on a configured remote host.
    pub(crate) name: String,
    /// The host to start it on (one list_sessions shows; default: this machine, "local").
    #[serde(default)]
    pub(crate) host: Option<String>,
    /// The working directory: absolute, '~/...', or relative to the first allowed root.
    /// It must exist and lie under an allowed root. Default: the first allowed root.
    #[serde(default)]
    pub(crate) working_dir: Option<String>,
    /// The launch profile: which program to start (e.g. "claude", "shell"). The owner
    /// configures profiles; list_sessions shows them. Default: "claude".
    #[serde(default)]
    pub(crate) profile: Option<String>,
}

/// Arguments of tools that act on one session.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SessionArgs {
    /// The session's name, as list_sessions shows it.
    pub(crate) session: String,
}

/// Arguments of `send_message`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SendMessageArgs {
    /// The session's name.
    pub(crate) session: String,
    /// The text to type. It arrives exactly as given: several lines stay one message, and
    /// words like "Enter" or "C-c" are typed as text (use send_keys for keys).
    pub(crate) message: String,
    /// Press Enter after the text, submitting it. Default: true.
    #[serde(default)]
    pub(crate) submit: Option<bool>,
}

/// Arguments of `send_keys`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SendKeysArgs {
    /// The session's name.
    pub(crate) session: String,
    /// Key names pressed in order: Enter, Escape, Tab, BTab, Up, Down, Left, Right, Home, End,
    /// PageUp, PageDown, Backspace, Delete, Space, F1-F12, C-a..C-z (e.g. "C-c"), or a single
    /// character such as "1" or "y". At most 64 keys.
    pub(crate) keys: Vec<String>,
}

/// Arguments of `get_logs`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct GetLogsArgs {
    /// The session's name.
    pub(crate) session: String,
    /// How many lines to return (1-2000). Default: 40.
    #[serde(default)]
    pub(crate) lines: Option<u32>,
    /// How many lines above the last one to start from, to page back through the
    /// scrollback (0 = the latest lines). Default: 0.
    #[serde(default)]
    pub(crate) offset: Option<u32>,
    /// Keep terminal colour escape codes. Default: false.
    #[serde(default)]
    pub(crate) escapes: Option<bool>,
}

/// Arguments of `respond_to_prompt`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct RespondArgs {
    /// The session's name.
    pub(crate) session: String,
    /// The answer: an option number ("1"), an option label or its beginning ("Yes"),
    /// "yes"/"no" for a y/n question, or free text for a question that asks for text.
    pub(crate) answer: String,
    /// The question being answered, as check_prompts showed it. When given and the session
    /// now asks something else, nothing is sent.
    #[serde(default)]
    pub(crate) question: Option<String>,
}

/// Arguments of `search`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SearchArgs {
    /// Words to look for in session names, profiles, commands, directories and screens.
    /// An empty query lists every session.
    pub(crate) query: String,
}

/// Arguments of `fetch`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct FetchArgs {
    /// A result id from search: the session's name.
    pub(crate) id: String,
}

/// Arguments of `wait_for`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct WaitForArgs {
    /// The session's name.
    pub(crate) session: String,
    /// What to wait for: "idle" (the program finished its work and waits at its input),
    /// "waiting_for_input" (a question or menu needs an answer), "attention" (either of
    /// those, or exited), "exited", "match" (the screen matches `pattern`), or "change" (the
    /// visible screen differs from what it was when the wait began).
    /// Default: "attention".
    #[serde(default)]
    pub(crate) until: Option<String>,
    /// A regular expression matched against the visible screen, with until = "match"
    /// (`^` and `$` match at line starts and ends).
    #[serde(default)]
    pub(crate) pattern: Option<String>,
    /// How long to wait at most, in seconds (1-600). Default: 50, which fits the request
    /// limits of ChatGPT and Claude; call again to keep waiting.
    #[serde(default)]
    pub(crate) timeout_s: Option<u64>,
}

/// Arguments of `get_transcript`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct TranscriptArgs {
    /// The session's name (it must run Claude Code).
    pub(crate) session: String,
    /// How many of the latest items to return (1-200). Default: 30.
    #[serde(default)]
    pub(crate) limit: Option<u32>,
}

/// Arguments of `set_notifications`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct NotificationsArgs {
    /// The session's name.
    pub(crate) session: String,
    /// true to notify the owner about this session again, false to mute it.
    pub(crate) enabled: bool,
}
