//! Everything around every route, in the order a request meets it: the accept loop and TLS
//! ([`listen`], [`tls`]), the client's address behind trusted proxies ([`client_addr`]), the
//! checks every route passes ([`front`]: HTTP metrics, Host/Origin and security headers in
//! [`guard`] with [`authority`]), body and time caps ([`limits`]), rate limits
//! ([`ratelimit`]), and the router ([`server`]) that mounts `/mcp` behind
//! [`crate::checks`] and the authorization server behind its own caps and limits.
//! [`chain`] is how checks are chained without a boxed layer per check; [`metrics`] and
//! [`health`] serve `/metrics` and `/healthz`.

pub mod authority;
pub mod chain;
pub mod client_addr;
pub mod front;
pub mod guard;
pub mod health;
pub mod limits;
pub mod listen;
pub mod metrics;
pub mod ratelimit;
pub mod routes;
pub mod server;
pub mod tls;
