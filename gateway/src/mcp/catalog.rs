//! The one table of tools. Every fact the gateway keeps about a tool outside the tool's own
//! function lives here: its name, the OAuth scope it needs, whether a call is written to the
//! audit log before it runs, its deadline, whether the fast lane may answer it, its argument
//! type, and how the fast lane dispatches it.
//!
//! The scope check, the audit log, the deadline, the tool metrics, the fast lane and the fuzz
//! targets read this table; the README's tool table is checked against it. Adding a tool is
//! one [`Tool`] variant, one [`CATALOG`] row and the tool's function in [`super`] (with rmcp's
//! `#[tool]` attribute, which gives its description and schema to clients): the compiler
//! then points at each `match` below that needs an arm, and
//! `tests::the_catalogue_and_rmcps_router_agree` at anything else that is missing.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use serde::de::DeserializeOwned;
use serde_json::Value;

use sessiongate_auth::Scope;

use super::SessionTools;
use super::args::*;

/// A tool the gateway offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    /// `list_sessions`.
    ListSessions,
    /// `create_session`.
    CreateSession,
    /// `send_message`.
    SendMessage,
    /// `send_keys`.
    SendKeys,
    /// `get_logs`.
    GetLogs,
    /// `get_session_status`.
    GetSessionStatus,
    /// `terminate_session`.
    TerminateSession,
    /// `check_prompts`.
    CheckPrompts,
    /// `respond_to_prompt`.
    RespondToPrompt,
    /// `wait_for`.
    WaitFor,
    /// `get_transcript`.
    GetTranscript,
    /// `get_changes`.
    GetChanges,
    /// `search`.
    Search,
    /// `fetch`.
    Fetch,
    /// `set_notifications`.
    SetNotifications,
}

/// How long a call may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// The gateway's tool-call timeout.
    Standard,
    /// The call's own `timeout_s` argument (capped), plus the standard timeout as a margin.
    OwnTimeout,
}

/// Who answers a plain call of the tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// The fast lane may answer it without rmcp's session task.
    Fast,
    /// Only rmcp: the tool needs the MCP request context (cancellation, progress).
    Rmcp,
}

/// One row of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The tool.
    pub tool: Tool,
    /// Its name in `tools/call` (as rmcp's router lists it).
    pub name: &'static str,
    /// The scope a call needs.
    pub scope: Scope,
    /// The argument whose text the audit log keeps (as a hash, and in full when asked).
    pub audit_text: Option<&'static str>,
    /// How long a call may run.
    pub deadline: Deadline,
    /// Who may answer it.
    pub lane: Lane,
}

impl Entry {
    /// Whether a call changes something, and so is written to the audit log before it runs:
    /// everything above reading.
    pub fn audited(&self) -> bool {
        self.scope != Scope::SessionsRead
    }
}

const fn row(
    tool: Tool,
    name: &'static str,
    scope: Scope,
    audit_text: Option<&'static str>,
) -> Entry {
    Entry {
        tool,
        name,
        scope,
        audit_text,
        deadline: Deadline::Standard,
        lane: Lane::Fast,
    }
}

use Scope::{SessionsManage as MANAGE, SessionsRead as READ, SessionsWrite as WRITE};

/// Every tool, in the order `tools/list` shows them.
pub const CATALOG: &[Entry] = &[
    row(Tool::ListSessions, "list_sessions", READ, None),
    row(Tool::CreateSession, "create_session", MANAGE, None),
    row(Tool::SendMessage, "send_message", WRITE, Some("message")),
    row(Tool::SendKeys, "send_keys", WRITE, Some("keys")),
    row(Tool::GetLogs, "get_logs", READ, None),
    row(Tool::GetSessionStatus, "get_session_status", READ, None),
    row(Tool::TerminateSession, "terminate_session", MANAGE, None),
    row(Tool::CheckPrompts, "check_prompts", READ, None),
    row(
        Tool::RespondToPrompt,
        "respond_to_prompt",
        WRITE,
        Some("answer"),
    ),
    Entry {
        deadline: Deadline::OwnTimeout,
        lane: Lane::Rmcp,
        ..row(Tool::WaitFor, "wait_for", READ, None)
    },
    row(Tool::GetTranscript, "get_transcript", READ, None),
    row(Tool::GetChanges, "get_changes", READ, None),
    row(Tool::Search, "search", READ, None),
    row(Tool::Fetch, "fetch", READ, None),
    row(Tool::SetNotifications, "set_notifications", WRITE, None),
];

/// The catalogue's row for the tool called `name`, if there is one.
pub fn lookup(name: &str) -> Option<&'static Entry> {
    CATALOG.iter().find(|e| e.name == name)
}

/// Runs `$body` with `$A` standing for the argument type of `$tool` (`()` for tools without
/// arguments).
macro_rules! with_args_of {
    ($tool:expr, $A:ident => $body:expr) => {
        match $tool {
            Tool::ListSessions | Tool::CheckPrompts => {
                type $A = ();
                $body
            }
            Tool::CreateSession => {
                type $A = CreateSessionArgs;
                $body
            }
            Tool::SendMessage => {
                type $A = SendMessageArgs;
                $body
            }
            Tool::SendKeys => {
                type $A = SendKeysArgs;
                $body
            }
            Tool::GetLogs => {
                type $A = GetLogsArgs;
                $body
            }
            Tool::GetSessionStatus | Tool::TerminateSession => {
                type $A = SessionArgs;
                $body
            }
            Tool::RespondToPrompt => {
                type $A = RespondArgs;
                $body
            }
            Tool::WaitFor => {
                type $A = WaitForArgs;
                $body
            }
            Tool::GetTranscript => {
                type $A = TranscriptArgs;
                $body
            }
            Tool::GetChanges => {
                type $A = super::changes::ChangesArgs;
                $body
            }
            Tool::Search => {
                type $A = SearchArgs;
                $body
            }
            Tool::Fetch => {
                type $A = FetchArgs;
                $body
            }
            Tool::SetNotifications => {
                type $A = NotificationsArgs;
                $body
            }
        }
    };
}

impl Tool {
    /// The tool's row.
    pub fn entry(self) -> &'static Entry {
        CATALOG
            .iter()
            .find(|e| e.tool == self)
            .unwrap_or_else(|| unreachable!("every tool has a row: {self:?}"))
    }

    /// Whether `args` decode as this tool's arguments (as rmcp decodes them; absent means
    /// `{}`). Tools without arguments accept any object.
    pub fn accepts(self, args: Option<&Value>) -> bool {
        with_args_of!(self, A => decode::<A>(args).is_some())
    }

    /// The JSON schema of the tool's arguments, as rmcp derives it (the test that binds the
    /// catalogue to rmcp's router compares them).
    #[cfg(test)]
    pub fn input_schema(self) -> std::sync::Arc<rmcp::model::JsonObject> {
        with_args_of!(self, A => schema_of::<A>())
    }

    /// Runs the tool for the fast lane; `None` when rmcp must answer the call itself (its
    /// lane is [`Lane::Rmcp`], or the arguments do not decode, so that rmcp's error is the
    /// answer). Tool failures are results with `isError`, exactly as through rmcp.
    pub(crate) async fn call_direct(
        self,
        tools: &SessionTools,
        args: Option<&Value>,
    ) -> Option<CallToolResult> {
        let result = match self {
            Tool::ListSessions => tools.list_sessions().await,
            Tool::CheckPrompts => tools.check_prompts().await,
            Tool::CreateSession => tools.create_session(params(args)?).await,
            Tool::SendMessage => tools.send_message(params(args)?).await,
            Tool::SendKeys => tools.send_keys(params(args)?).await,
            Tool::GetLogs => tools.get_logs(params(args)?).await,
            Tool::GetSessionStatus => tools.get_session_status(params(args)?).await,
            Tool::TerminateSession => tools.terminate_session(params(args)?).await,
            Tool::RespondToPrompt => tools.respond_to_prompt(params(args)?).await,
            Tool::GetTranscript => tools.get_transcript(params(args)?).await,
            Tool::GetChanges => tools.get_changes(params(args)?).await,
            Tool::Search => tools.search(params(args)?).await,
            Tool::Fetch => tools.fetch(params(args)?).await,
            Tool::SetNotifications => tools.set_notifications(params(args)?).await,
            // Its row says Lane::Rmcp: it needs the request context.
            Tool::WaitFor => return None,
        };
        // The tools report failures as results; a protocol error goes back through rmcp so
        // that its shape is rmcp's.
        result.ok()
    }
}

/// `arguments` decoded as `T`, as rmcp does it (absent means `{}`), or `None`. A tool without
/// arguments (`T = ()`) takes any object: rmcp does not read its arguments.
fn decode<T: DeserializeOwned + 'static>(arguments: Option<&Value>) -> Option<T> {
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<()>() {
        return match arguments {
            None | Some(Value::Object(_)) => serde_json::from_value(Value::Null).ok(),
            Some(_) => None,
        };
    }
    match arguments {
        None => serde_json::from_value(Value::Object(Default::default())).ok(),
        Some(v @ Value::Object(_)) => T::deserialize(v).ok(),
        Some(_) => None,
    }
}

fn params<T: DeserializeOwned + 'static>(arguments: Option<&Value>) -> Option<Parameters<T>> {
    decode(arguments).map(Parameters)
}

/// The schema rmcp gives a tool whose function takes `Parameters<T>`; for `()`, the empty
/// object schema it gives a tool without parameters.
#[cfg(test)]
fn schema_of<T: schemars::JsonSchema + 'static>() -> std::sync::Arc<rmcp::model::JsonObject> {
    use rmcp::handler::server::common::{schema_for_empty_input, schema_for_input};
    use rmcp::model::JsonObject;
    use std::sync::Arc;
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<()>() {
        return schema_for_empty_input();
    }
    // Our argument types are objects; were one not, the schema would be empty and the test
    // that compares it with rmcp's would say so.
    schema_for_input::<T>().unwrap_or_else(|_| Arc::new(JsonObject::new()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use std::sync::Arc;

    use super::*;

    #[test]
    fn the_catalogue_and_rmcps_router_agree() {
        let listed = SessionTools::router_tools();
        let names: BTreeSet<&str> = listed.iter().map(|t| t.name.as_ref()).collect();
        let catalogued: BTreeSet<&str> = CATALOG.iter().map(|e| e.name).collect();
        assert_eq!(
            names, catalogued,
            "rmcp's router and the catalogue list other tools"
        );
        assert_eq!(CATALOG.len(), catalogued.len(), "a tool has two rows");
        for t in &listed {
            let entry = lookup(&t.name).expect("catalogued");
            assert_eq!(
                t.input_schema,
                entry.tool.input_schema(),
                "{}: the catalogue names another argument type than the tool's function",
                t.name
            );
            assert_eq!(entry.tool.entry().name, entry.name);
            let read_only = t.annotations.as_ref().and_then(|a| a.read_only_hint);
            assert_eq!(
                read_only,
                Some(entry.scope == Scope::SessionsRead),
                "{}: its read-only hint and its scope disagree",
                t.name
            );
        }
    }

    #[test]
    fn what_is_audited_and_how_long_it_may_run() {
        assert!(Tool::SendMessage.entry().audited());
        assert!(Tool::CreateSession.entry().audited());
        assert!(Tool::SetNotifications.entry().audited());
        assert!(!Tool::GetLogs.entry().audited());
        assert!(!Tool::GetChanges.entry().audited());
        assert_eq!(Tool::WaitFor.entry().deadline, Deadline::OwnTimeout);
        assert_eq!(Tool::WaitFor.entry().lane, Lane::Rmcp);
        assert_eq!(Tool::GetLogs.entry().deadline, Deadline::Standard);
        assert!(lookup("no_such_tool").is_none());
    }

    #[test]
    fn arguments_decode_as_rmcp_decodes_them() {
        assert!(Tool::ListSessions.accepts(None));
        assert!(Tool::ListSessions.accepts(Some(&serde_json::json!({ "x": 1 }))));
        assert!(!Tool::ListSessions.accepts(Some(&serde_json::json!("x"))));
        assert!(Tool::GetLogs.accepts(Some(&serde_json::json!({ "session": "a" }))));
        assert!(!Tool::GetLogs.accepts(Some(&serde_json::json!({ "session": 7 }))));
        assert!(
            !Tool::GetLogs.accepts(None),
            "a required argument is missing"
        );
        assert!(!Tool::GetLogs.accepts(Some(&serde_json::json!([]))));
    }

    fn tools(root: &std::path::Path) -> SessionTools {
        let backend = sessiongate_backend_pty::PtyBackend::new(Default::default());
        let policy =
            sessiongate_backend::SessionPolicy::new(&[root.to_owned()], Default::default())
                .expect("policy");
        SessionTools::new(crate::state::AppState::new(
            Arc::new(backend),
            Arc::new(policy),
        ))
    }

    #[tokio::test]
    async fn the_fast_lane_runs_what_decodes_and_leaves_the_rest_to_rmcp() {
        let root = tempfile::tempdir().expect("tempdir");
        let tools = tools(root.path());
        let r = Tool::ListSessions
            .call_direct(&tools, None)
            .await
            .expect("direct");
        assert_ne!(r.is_error, Some(true));
        let r = Tool::GetLogs
            .call_direct(&tools, Some(&serde_json::json!({ "session": "nope" })))
            .await
            .expect("direct");
        assert_eq!(
            r.is_error,
            Some(true),
            "an unknown session is a tool failure"
        );
        for bad in [
            Some(serde_json::json!({ "session": 7 })),
            Some(serde_json::json!([])),
            None,
        ] {
            assert!(
                Tool::GetLogs
                    .call_direct(&tools, bad.as_ref())
                    .await
                    .is_none()
            );
        }
        let wait = serde_json::json!({ "session": "a" });
        assert!(
            Tool::WaitFor
                .call_direct(&tools, Some(&wait))
                .await
                .is_none()
        );
    }

    /// The README's tool table names every tool with its scope.
    #[test]
    fn the_readme_lists_every_tool_with_its_scope() {
        let readme = include_str!("../../../README.md");
        for e in CATALOG {
            let row = readme
                .lines()
                .find(|l| l.starts_with('|') && l.contains(&format!("`{}", e.name)))
                .unwrap_or_else(|| panic!("README's tool table has no row for {}", e.name));
            assert!(
                row.contains(e.scope.as_str()),
                "README's row for {} does not name its scope {}: {row}",
                e.name,
                e.scope.as_str()
            );
        }
    }
}
