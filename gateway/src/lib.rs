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
//! - [`chain`], [`mcp_stack`], [`front_stack`]: the checks in front of `/mcp` and of every
//!   route, chained in order without a boxed layer per check.
//! - [`direct_calls`]: the fast lane that answers plain tool calls with JSON, skipping
//!   rmcp's per-session task.
//! - [`mcp`]: the MCP server: tool definitions, arguments and results.
//! - [`state`]: [`state::AppState`], what every request handler shares.
//! - [`error`]: the startup error type.
//! - [`listen`]: the accept loop (plain HTTP or [`tls`]), connection limits, graceful
//!   shutdown.
//! - [`client_addr`]: the client's address behind trusted proxies.
//! - [`http_guard`]: Host/Origin checks, repeated headers and security headers on every route.
//! - [`authority`]: strict parsing of the hosts and origins a request names.
//! - [`limits`]: body size and time caps, request deadlines.
//! - [`ratelimit`]: token-bucket rate limits with 429 and `Retry-After`.
//! - [`mcp_sessions`]: caps on MCP sessions per client and overall.
//! - [`audit`]: the append-only audit log of tool calls that change something.
//! - [`health`]: `/healthz`, which says why the gateway cannot do its work.
//! - [`storage`]: why the data directory cannot be written, in plain words.
//! - [`metrics`]: Prometheus metrics at `/metrics`.
//! - [`notify`]: notifications to the owner (ntfy, webhooks) when a session needs them.
//! - [`admin`]: the owner's commands (`audit`, `clients`, `sessions`).
//! - `fuzzing`: hidden entry points for the fuzz targets in `fuzz/`.

pub mod admin;
pub mod audit;
pub mod auth_layer;
pub mod authority;
pub mod chain;
pub mod cli;
pub mod client_addr;
pub mod config;
pub mod direct_calls;
pub mod error;
pub mod front_stack;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod hosts;
pub mod http_guard;
pub mod jsonrpc_guard;
pub mod limits;
pub mod listen;
pub mod mcp;
pub mod mcp_sessions;
pub mod mcp_stack;
pub mod metrics;
pub mod notify;
pub mod ratelimit;
pub mod server;
pub mod state;
pub mod storage;
pub mod tls;
