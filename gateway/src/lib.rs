//! sessiongate: drive AI coding-agent terminal sessions (Claude Code, Codex CLI, a shell) from
//! any MCP client, over Streamable HTTP.
//!
//! This crate is the binary's library: the command line, the configuration, the HTTP server
//! and the MCP tools. It is the only crate that knows MCP; the sessions themselves live behind
//! [`sessiongate_backend::SessionBackend`].
//!
//! # Layout
//! - [`auth_layer`]: bearer-token and scope checks in front of `/mcp`.
//! - [`cli`]: the command line (`sessiongate serve`, ...) and the binary's entry point.
//! - [`config`]: the TOML configuration file merged with command-line options.
//! - [`server`]: the axum router, Host/Origin checks, and [`server::run`], which serves a
//!   bound listener until a shutdown signal.
//! - [`jsonrpc_guard`]: refuses bodies that are not JSON-RPC with a JSON-RPC error.
//! - [`mcp`]: the MCP server: tool definitions, arguments and results.
//! - [`state`]: [`state::AppState`], what every request handler shares.
//! - [`error`]: the startup error type.
//! - `fuzzing`: hidden entry points for the fuzz targets in `fuzz/`.

pub mod auth_layer;
pub mod cli;
pub mod config;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod jsonrpc_guard;
pub mod mcp;
pub mod server;
pub mod state;
