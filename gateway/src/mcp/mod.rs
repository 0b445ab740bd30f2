//! The MCP server: one [`SessionTools`] value per MCP session, whose tools act on the shared
//! backend.
//!
//! Tool failures (unknown session, bad name, ...) are tool results with `isError` and a
//! message that says what to do; protocol errors are left to rmcp.
//!
//! # Layout
//! - this file: the tool definitions;
//! - `args`: the tools' argument types (their docs are the JSON schemas' descriptions);
//! - [`catalog`]: the one table of tools: name, scope, audit, deadline, lane, arguments, and
//!   the fast lane's dispatch ([`crate::checks::fast_lane`]);
//! - `changes`: `get_changes`, a session's git status, diff and commits (git run by `git`);
//! - `events`: waiting for the next backend event about one session;
//! - `listen`: `subscriptions/listen` (2026-07-28), session state changes for clients of the
//!   new revision;
//! - `board`: the session board, an MCP App the tools that show sessions link to;
//! - `notifications`: `set_notifications`, muting a session's notifications;
//! - `reply`: helpers that build results;
//! - `resources`: sessions as `sessions://` resources with subscriptions;
//! - [`scopes`]: which OAuth scope each tool needs;
//! - `search`: the `search`/`fetch` pair in the shapes ChatGPT connectors require;
//! - `prompts`: `check_prompts` and `respond_to_prompt`;
//! - `transcript`: `get_transcript`, Claude Code's conversation;
//! - `wait`: `wait_for`, which blocks on the server until a session reaches a state.

pub(crate) mod args;
mod board;
pub mod catalog;
pub(crate) mod changes;
mod events;
mod git;
pub mod kept_answers;
mod list;
mod listen;
mod notifications;
pub(crate) mod prompts;
pub(crate) mod reply;
mod resources;
pub mod scopes;
mod search;
mod submit;
mod transcript;
pub(crate) mod wait;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use serde_json::json;

use sessiongate_backend::types::{DEFAULT_READ_LINES, MAX_READ_LINES};
use sessiongate_backend::{Key, ProcessStatus, ReadRequest, SessionInfo, SessionName};

use crate::state::AppState;
use args::*;

/// The longest `wait_for` a client may ask for, in seconds.
pub const MAX_WAIT_S: u64 = wait::MAX_TIMEOUT_S;

/// What the server tells clients about itself in `initialize`.
const INSTRUCTIONS: &str = "sessiongate drives terminal sessions (Claude Code, Codex, a shell, \
...) on the owner's machine. list_sessions shows them; create_session starts one from a launch \
profile; send_message types text and presses Enter; get_logs reads the screen; check_prompts \
finds sessions waiting for an answer (e.g. a permission question) and respond_to_prompt answers \
one by option number or label; send_keys presses keys such as Escape or C-c; \
terminate_session ends one.";

/// The MCP tools, bound to the gateway's state.
#[derive(Debug, Clone)]
pub struct SessionTools {
    state: AppState,
    subscriptions: resources::Subscriptions,
    tool_router: ToolRouter<Self>,
}

impl SessionTools {
    /// A tool server over `state`.
    pub fn new(state: AppState) -> Self {
        SessionTools {
            state,
            subscriptions: resources::Subscriptions::default(),
            tool_router: Self::tool_router() + Self::notify_router(),
        }
    }

    /// The tools as rmcp's router lists them (the catalogue's test compares the two).
    pub fn router_tools() -> Vec<rmcp::model::Tool> {
        (Self::tool_router() + Self::notify_router()).list_all()
    }

    /// The kept answer of a `list_sessions` call or of a `get_session_status` call with
    /// these `arguments`, serialized for a peer with a session or a stateless one, while it
    /// is current (see [`kept_answers::KeptAnswers::serialized`]). `None` for other tools and
    /// for arguments the tool would not take as they are.
    pub(crate) fn kept_answer(
        &self,
        tool: catalog::Tool,
        arguments: Option<&serde_json::Value>,
        has_session: bool,
    ) -> Option<std::sync::Arc<serde_json::value::RawValue>> {
        let subject = match tool {
            catalog::Tool::ListSessions => kept_answers::Subject::List,
            catalog::Tool::GetSessionStatus => {
                let args = <SessionArgs as serde::Deserialize>::deserialize(arguments?).ok()?;
                kept_answers::Subject::Status(args.session)
            }
            _ => return None,
        };
        self.state
            .kept
            .serialized(&self.state, &subject, has_session)
    }

    async fn lookup(&self, session: &str) -> Result<SessionInfo, sessiongate_backend::Error> {
        let name = SessionName::new(session)?;
        self.state.backend.info(&name).await
    }
}

/// One line describing a session, for text results.
pub(crate) fn describe(s: &SessionInfo) -> String {
    let status = match s.status {
        ProcessStatus::Running => "running".to_owned(),
        ProcessStatus::Exited { code: Some(c), .. } => format!("exited (code {c})"),
        ProcessStatus::Exited {
            signal: Some(sig), ..
        } => format!("exited (signal {sig})"),
        ProcessStatus::Exited { .. } => "exited".to_owned(),
    };
    format!(
        "{} — {}, profile {}, running {} in {}",
        s.name,
        status,
        s.profile.as_deref().unwrap_or("?"),
        s.current_command.as_deref().unwrap_or("?"),
        s.working_dir
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "?".into()),
    )
}

#[tool_router]
impl SessionTools {
    #[tool(
        description = "List the terminal sessions, with their status, program and directory, \
                       plus the launch profiles and directories available to create_session.",
        annotations(read_only_hint = true, open_world_hint = false),
        meta = board::tool_meta()
    )]
    async fn list_sessions(&self) -> Result<CallToolResult, McpError> {
        let cache = &self.state.kept;
        Ok(cache
            .list(&self.state, async || self.build_list().await)
            .await)
    }

    #[tool(
        description = "Start a new terminal session running a launch profile's program \
                       (e.g. profile \"claude\" for Claude Code, \"shell\" for bash) in a \
                       working directory.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_session(
        &self,
        Parameters(a): Parameters<CreateSessionArgs>,
    ) -> Result<CallToolResult, McpError> {
        let profile = a.profile.as_deref().unwrap_or("claude");
        let spec = match self
            .state
            .hosts
            .prepare(
                &self.state.policy,
                &a.name,
                a.host.as_deref(),
                a.working_dir.as_deref(),
                profile,
            )
            .await
        {
            Ok(s) => s,
            Err(e) => return Ok(reply::fail(&e)),
        };
        match self.state.backend.create(spec).await {
            Ok(info) => Ok(reply::ok(
                format!("Created session {}", describe(&info)),
                &info,
            )),
            Err(e) => Ok(reply::fail(&e)),
        }
    }

    #[tool(
        description = "Type a message into a session and press Enter (submit=false to only \
                       type). The text arrives exactly as given, several lines as one message. \
                       Read the result with get_logs.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            open_world_hint = false
        )
    )]
    async fn send_message(
        &self,
        Parameters(a): Parameters<SendMessageArgs>,
    ) -> Result<CallToolResult, McpError> {
        let result = async {
            let name = SessionName::new(&a.session)?;
            self.state.policy.check_message(&a.message)?;
            let submit = a.submit.unwrap_or(true);
            submit::send_message(&self.state, &name, &a.message, submit).await?;
            Ok::<_, sessiongate_backend::Error>(submit)
        }
        .await;
        match result {
            Ok(submitted) => {
                let verb = if submitted {
                    "Sent"
                } else {
                    "Typed (not submitted)"
                };
                Ok(reply::ok_json(
                    format!(
                        "{verb} {} bytes to {}. Use get_logs to read the response.",
                        a.message.len(),
                        a.session
                    ),
                    json!({ "session": a.session, "bytes": a.message.len(), "submitted": submitted }),
                ))
            }
            Err(e) => Ok(reply::fail(&e)),
        }
    }

    #[tool(
        description = "Press keys in a session: Enter, Escape, Tab, Up, Down, Left, Right, \
                       PageUp, PageDown, Backspace, C-c (interrupt), C-d, F1-F12, or a single \
                       character. Use it to move in menus or interrupt a program.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            open_world_hint = false
        )
    )]
    async fn send_keys(
        &self,
        Parameters(a): Parameters<SendKeysArgs>,
    ) -> Result<CallToolResult, McpError> {
        let result = async {
            let name = SessionName::new(&a.session)?;
            let keys = Key::parse_list(&a.keys)?;
            self.state.backend.send_keys(&name, &keys).await?;
            Ok::<_, sessiongate_backend::Error>(keys)
        }
        .await;
        match result {
            Ok(keys) => {
                let names: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                Ok(reply::ok_json(
                    format!("Pressed {} in {}.", names.join(" "), a.session),
                    json!({ "session": a.session, "keys": names }),
                ))
            }
            Err(e) => Ok(reply::fail(&e)),
        }
    }

    #[tool(
        description = "Read a session's terminal as clean text: the last `lines` lines \
                       (default 40) of the screen and scrollback; raise `offset` to page back.",
        annotations(read_only_hint = true, open_world_hint = false),
        meta = board::tool_meta()
    )]
    async fn get_logs(
        &self,
        Parameters(a): Parameters<GetLogsArgs>,
    ) -> Result<CallToolResult, McpError> {
        let lines = a.lines.map(|l| l as usize).unwrap_or(DEFAULT_READ_LINES);
        if lines == 0 || lines > MAX_READ_LINES {
            return Ok(reply::fail_msg(format!(
                "lines must be between 1 and {MAX_READ_LINES}"
            )));
        }
        let req = ReadRequest {
            lines,
            offset: a.offset.unwrap_or(0) as usize,
            scrollback: true,
            escapes: a.escapes.unwrap_or(false),
        };
        let result = async {
            let name = SessionName::new(&a.session)?;
            self.state.backend.read(&name, req).await
        }
        .await;
        match result {
            Ok(screen) => {
                // The session's name goes with the screen, so that the board knows whose it is.
                let mut value = serde_json::to_value(&screen).unwrap_or_default();
                value["session"] = json!(a.session);
                Ok(reply::ok_json(screen.text, value))
            }
            Err(e) => Ok(reply::fail(&e)),
        }
    }

    #[tool(
        description = "A session's status: running or exited (with exit code), the program in \
                       the foreground, its pid, directory, creation and last-activity times, \
                       and whether it waits for input.",
        annotations(read_only_hint = true, open_world_hint = false),
        meta = board::tool_meta()
    )]
    async fn get_session_status(
        &self,
        Parameters(a): Parameters<SessionArgs>,
    ) -> Result<CallToolResult, McpError> {
        let cache = &self.state.kept;
        Ok(cache
            .status(&self.state, &a.session, async || {
                self.build_status(&a.session).await
            })
            .await)
    }

    #[tool(
        description = "End a session: its program is stopped and the session removed.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn terminate_session(
        &self,
        Parameters(a): Parameters<SessionArgs>,
    ) -> Result<CallToolResult, McpError> {
        let result = async {
            let name = SessionName::new(&a.session)?;
            self.state.backend.terminate(&name).await
        }
        .await;
        match result {
            Ok(()) => Ok(reply::ok_json(
                format!("Terminated session {}.", a.session),
                json!({ "session": a.session, "terminated": true }),
            )),
            Err(e) => Ok(reply::fail(&e)),
        }
    }

    #[tool(
        description = "Find every session that is waiting for its owner's input (a permission \
                       question, a y/n prompt, a menu), with the question, its context and the \
                       options. Answer with respond_to_prompt.",
        annotations(read_only_hint = true, open_world_hint = false),
        meta = board::tool_meta()
    )]
    async fn check_prompts(&self) -> Result<CallToolResult, McpError> {
        Ok(prompts::check_prompts(&self.state).await)
    }

    #[tool(
        description = "Answer the question a session is waiting on: an option number or label, \
                       yes/no, or text. Exactly the keys that select the answer are sent; the \
                       result says whether the prompt went away and shows the screen.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            open_world_hint = false
        )
    )]
    async fn respond_to_prompt(
        &self,
        Parameters(a): Parameters<RespondArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(prompts::respond(&self.state, &a.session, &a.answer, a.question.as_deref()).await)
    }

    #[tool(
        description = "Wait on the server until a session needs attention: until it is idle, \
                       waiting for input, exited, or its screen matches a pattern. Returns the \
                       new state and the screen. Use it instead of polling get_logs.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn wait_for(
        &self,
        Parameters(a): Parameters<WaitForArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let until = match wait::Until::parse(
            a.until.as_deref().unwrap_or("attention"),
            a.pattern.as_deref(),
        ) {
            Ok(u) => u,
            Err(msg) => return Ok(reply::fail_msg(msg)),
        };
        let secs = a.timeout_s.unwrap_or(wait::DEFAULT_TIMEOUT_S);
        if secs == 0 || secs > wait::MAX_TIMEOUT_S {
            return Ok(reply::fail_msg(format!(
                "timeout_s must be between 1 and {}",
                wait::MAX_TIMEOUT_S
            )));
        }
        Ok(wait::wait_for(
            &self.state,
            &ctx,
            &a.session,
            until,
            std::time::Duration::from_secs(secs),
        )
        .await)
    }

    #[tool(
        description = "The recent conversation of a Claude Code session from Claude Code's own \
                       transcript: user messages, Claude's answers, the tools it called and \
                       what they returned. Cleaner than the screen.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_transcript(
        &self,
        Parameters(a): Parameters<TranscriptArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(transcript::get_transcript(&self.state, &a.session, a.limit).await)
    }

    #[tool(
        description = "Review what changed in a session's git repository: git status as lists \
                       (changed, added, deleted, untracked, renamed), the unified diff paged by \
                       max_bytes/offset (binary files named, not shown) and the commits made \
                       since the session started. Read-only.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_changes(
        &self,
        Parameters(a): Parameters<changes::ChangesArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(changes::get_changes(&self.state, &a).await)
    }

    #[tool(
        description = "Search the terminal sessions by name, program, directory and screen \
                       text. Returns ids to pass to fetch.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn search(
        &self,
        Parameters(a): Parameters<SearchArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(search::search(&self.state, &a.query).await)
    }

    #[tool(
        description = "Fetch one session by id (from search): its recent screen and status.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn fetch(
        &self,
        Parameters(a): Parameters<FetchArgs>,
    ) -> Result<CallToolResult, McpError> {
        Ok(search::fetch(&self.state, &a.id).await)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for SessionTools {
    // Logging (deprecated by SEP-2577) is still part of 2025-11-25, which hosted clients speak.
    #[allow(deprecated)]
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_subscribe()
                // No prompt templates and no completions are offered yet; the capabilities are
                // declared so that clients get empty answers instead of "method not found".
                .enable_prompts()
                .enable_completions()
                .enable_logging()
                .build(),
        )
        .with_server_info(
            Implementation::new("sessiongate", env!("CARGO_PKG_VERSION")).with_title("sessiongate"),
        )
        .with_instructions(INSTRUCTIONS)
    }

    // Logging is deprecated by SEP-2577 (2026-07-28) but still part of 2025-11-25, which the
    // hosted clients speak.
    #[allow(deprecated)]
    async fn set_level(
        &self,
        request: rmcp::model::SetLevelRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        // sessiongate sends no log notifications yet; the level is accepted and recorded.
        tracing::debug!(level = ?request.level, "client set its logging level");
        Ok(())
    }

    async fn list_resources(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourcesResult, McpError> {
        let mut list = resources::list(&self.state).await?;
        list.resources.push(board::resource());
        Ok(list)
    }

    async fn read_resource(
        &self,
        request: rmcp::model::ReadResourceRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ReadResourceResponse, McpError> {
        if request.uri == board::URI {
            return Ok(board::read().into());
        }
        resources::read(&self.state, &request.uri)
            .await
            .map(Into::into)
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: rmcp::model::SubscribeRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        resources::subscribe(&self.state, &self.subscriptions, request.uri, ctx.peer).await
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: rmcp::model::UnsubscribeRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        resources::unsubscribe(&self.subscriptions, &request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &rmcp::model::SubscriptionFilter,
    ) -> Option<rmcp::model::SubscriptionFilter> {
        Some(listen::accepted(requested))
    }

    async fn listen(&self, ctx: rmcp::service::SubscriptionContext) -> Result<(), McpError> {
        listen::listen(&self.state, ctx).await
    }
}
