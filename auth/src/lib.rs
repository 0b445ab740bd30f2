//! sessiongate's OAuth 2.1 authorization server, and the bearer-token check of its resource
//! server (`/mcp`).
//!
//! MCP clients (ChatGPT, Claude, the SDKs, the Inspector) discover everything from metadata
//! (RFC 9728 protected-resource metadata, RFC 8414 authorization-server metadata), register
//! themselves (RFC 7591 dynamic registration, or a client ID metadata document), send the
//! owner through a login and consent page with PKCE S256, and get short-lived JWT access
//! tokens bound to the MCP endpoint (RFC 8707) plus rotating refresh tokens.
//!
//! The gateway mounts [`AuthServer::routes`] (each route with its [`Endpoint`], so that it
//! gives each its caps and limits where it mounts it) and calls [`AuthServer::verify_bearer`] on every
//! `/mcp` request; this crate never depends on the gateway.
//!
//! # Layout
//! - [`config`]: the settings, [`AuthConfig`].
//! - [`server`]: [`AuthServer`], the shared state.
//! - [`routes`]: the routes, each with its [`Endpoint`].
//! - [`scope`]: [`Scope`], the three permission levels.
//! - [`bearer`]: [`Principal`], [`BearerError`] and the `WWW-Authenticate` challenges.
//! - `store`: the SQLite database (clients, codes, refresh-token families, consents, keys).
//! - `keys`: Ed25519 signing keys, JWT minting and verification, the JWKS.
//! - `password`: the owner's argon2id password, and the one thread that checks it.
//! - `pkce`, `redirect`: PKCE S256 and redirect-URI rules.
//! - `limiter`: login throttling (attempts are charged before they are checked).
//! - [`owner_login`]: the owner's sign-in and the page style for the gateway's answer pages.
//! - `cimd`: fetching client ID metadata documents safely.
//! - `endpoints`: the HTTP handlers and the binding of a request to one browser; `pages`: the
//!   HTML pages.
//! - [`upstream`]: signing in through GitHub or an OpenID Connect provider, with an allowlist.
//! - [`error`]: [`AuthError`] and the OAuth error responses.
//! - `admin`: listing and revoking clients for the owner's CLI.
//! - `fuzzing`: hidden entry points for the fuzz targets in `fuzz/`.

mod admin;
pub mod bearer;
mod cimd;
pub mod config;
mod endpoints;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
mod keys;
mod limiter;
mod login_cookie;
pub mod owner_login;
mod pages;
mod password;
mod pkce;
mod redirect;
pub mod routes;
pub mod scope;
pub mod server;
mod store;
mod token_cache;
pub mod upstream;
mod util;

#[cfg(test)]
mod tests;

pub use admin::ClientSummary;
pub use bearer::{BearerError, Principal};
pub use config::AuthConfig;
pub use error::AuthError;
pub use routes::{AuthRoute, Endpoint};
pub use scope::Scope;
pub use server::AuthServer;

/// The client's address as the gateway determined it (the connection's peer, or the address
/// a trusted reverse proxy forwarded). The gateway puts it into every request's extensions;
/// the login throttle and the rate limits key on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub std::net::IpAddr);
pub use upstream::{Allowlist, LoginConfig, ProviderConfig, ProviderKind, Secret};
