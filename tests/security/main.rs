//! The attack suite: hostile requests against the real `sessiongate serve` binary with OAuth on
//! loopback. Every case asserts the exact refusal (status, error code, message) and that
//! nothing changed: no client, code or token issued, no session created, nothing typed, a
//! grant still valid or still revoked as expected. One module per theme; SECURITY.md maps
//! each threat to the test that covers it.
#![allow(clippy::unwrap_used)]

// Shared helpers: gateways, raw requests, state snapshots.
mod common;
// DNS rebinding on /mcp: foreign Origin and Host.
mod rebinding;
// Ambiguous requests: repeated headers, absolute-form targets, hosts that look like loopback.
mod ambiguous;
// CSRF on the login and consent forms.
mod csrf;
// Open redirects and redirect-URI tricks, at /authorize, /token and /register.
mod redirects;
// PKCE downgrade and replay.
mod pkce;
// Scopes of every MCP method: resources, completions, prompts, unknown methods, batches.
mod scopes;
// Code and refresh-token reuse, cross-client use, scope escalation on refresh.
mod grants;
// Token substitution: audience, issuer, lifetime, algorithm and key confusion, tampering.
mod tokens;
// Client ID metadata documents: SSRF (private addresses, redirects, oversized, slow).
mod cimd;
// Oversized, deeply nested, batched and unknown JSON-RPC; parser differentials.
mod jsonrpc;
// Slow and oversized request bodies.
mod slow_bodies;
// tmux target injection, path traversal, control sequences in typed text.
mod sessions;
// Brute-force login: lockout, Retry-After, the owner after the window.
mod login;
