//! Fixtures for sessiongate's end-to-end tests: start the real binary on an ephemeral
#![allow(clippy::unwrap_used)]
//! loopback port with a private tmux socket, and talk MCP to it over HTTP.
//!
//! # Layout
//! - [`authdb`]: a read-only look into a gateway's `auth.db` (row counts, token forging with
//!   its own key) for the attack suite.
//! - [`contract`]: the backend contract, written once against `dyn SessionBackend`.
//! - [`fake_claude`]: a stand-in for Claude Code that keeps a real-looking state file.
//! - [`gateway`]: [`gateway::TestGateway`], a running `sessiongate serve` that is killed (with
//!   its tmux server) when dropped.
//! - [`oauth`]: a hand-driven OAuth client for the authorization tests.
//! - [`idp`]: upstream identity providers (a real OpenID Connect provider, a GitHub stand-in)
//!   and a browser that walks through them.
//! - [`sshd`]: a real OpenSSH server on loopback with throwaway keys, for remote hosts.
//! - [`mcp`]: [`mcp::McpClient`], a small Streamable HTTP client that speaks raw JSON-RPC, so
//!   tests can also send what a well-behaved client never would.

pub mod authdb;
pub mod clients;
pub mod contract;
pub mod fake_claude;
pub mod gateway;
pub mod idp;
pub mod mcp;
pub mod oauth;
pub mod sshd;
