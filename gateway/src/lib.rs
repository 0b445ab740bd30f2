//! sessiongate: drive AI coding-agent terminal sessions (Claude Code, Codex CLI, a shell) from
//! any MCP client, over Streamable HTTP.
//!
//! This crate is the binary's library: the command line, the configuration, the HTTP server
//! and the MCP tools. It is the only crate that knows MCP; the sessions themselves live behind
//! [`sessiongate_backend::SessionBackend`].
//!
//! # Layout
//! The folders follow a request's path (ARCHITECTURE.md has the picture):
//! - [`http`]: everything around every route: the accept loop and TLS, the client's address,
//!   Host/Origin checks, body and time caps, rate limits, HTTP metrics, `/healthz`, and the
//!   router ([`http::server`]) that mounts `/mcp` and the authorization server.
//! - [`checks`]: the checks a `/mcp` request passes, in their order: bearer token, JSON-RPC
//!   decoding into one typed request ([`checks::rpc`]), MCP-session caps, scope, tool-call rate
//!   limit, audit, tool metrics, deadline, and the fast lane ([`checks::fast_lane`]) before rmcp.
//! - [`mcp`]: the MCP server: the tool catalogue ([`mcp::catalog`]), the tools, resources.
//! - [`audit`]: the append-only audit log; [`notify`]: notifications to the owner (and
//!   their answer pages); [`hosts`]: the machines reached over SSH, as one backend per host.
//! - [`cli`]: the command line, the owner's commands and the configuration file.
//! - [`state`]: what every handler shares; [`storage`]: why the data directory cannot be
//!   written; [`error`]: the startup error type; `fuzzing`: entry points for `fuzz/`.

pub mod audit;
pub mod checks;
pub mod cli;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod hosts;
pub mod http;
pub mod mcp;
pub mod notify;
pub mod state;
pub mod storage;
