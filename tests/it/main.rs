//! sessiongate's end-to-end tests: one test binary, one module per area.
#![allow(clippy::unwrap_used)]

// The backend contract, run against the tmux and the PTY backends.
mod contract;
// MCP tools over Streamable HTTP against the tmux backend.
mod mcp_tools;
// Plain tool calls answered as JSON without rmcp's session task, and what still goes to rmcp.
mod fast_lane;
// list_sessions answered from a kept answer: every change still shows at once.
mod list_answer;
// Bad input of every kind: each gets a clear error and changes nothing.
mod bad_input;
// OAuth: discovery, the code flow, refresh, every refusal, and the Python SDK.
mod oauth;
// A client of the 2026-07-28 revision through OAuth: server/discover, tools, subscriptions/listen.
mod modern_client;
// Signing in through an upstream identity provider (OpenID Connect, GitHub) with an allowlist.
mod idp;
// The real Claude Code TUI against a stand-in API: prompts found and answered exactly.
mod claude_code;
// Codex CLI, Gemini CLI and aider against a stand-in model API: approvals found and answered.
mod coding_agents;
// get_changes: a session's git changes, git running nothing the repository names.
mod changes;
// The session board (an MCP App) in a host built on the MCP Apps SDK, in headless Chromium.
mod board;
// The command line: refusing unsafe options.
mod cli;
// Deployment hardening: TLS, Host/Origin, rate limits, body caps, proxies, audit, metrics.
mod hardening;
// The tmux control client when the gateway is killed, and what a new gateway cleans up.
mod tmux_faults;
// Faults: kill -9 mid-call, a full or read-only disk, SIGTERM with a wait and a stream open.
mod faults;
// Behind a real nginx with the documented configuration, at a path prefix over TLS.
mod nginx;
// Remote hosts over SSH (a real sshd on loopback): HOST:NAME sessions, merged lists, faults.
mod hosts;
// Notifications to the owner: webhook and ntfy receivers, one per prompt, restarts, failures.
mod notify;
// Answering from a notification: answer URLs, their pages, sign-in, and every refusal.
mod notify_answer;
// The email channel: a real SMTP server receives the mail; Chromium answers from its link.
mod notify_email;
