//! Rate limits: a token bucket per key (a client address, an OAuth client id), and the
//! middleware that applies the configured buckets to each route.
//!
//! A bucket holds up to `burst` tokens and refills at `per_minute / 60` tokens a second; a
//! request takes one token or is refused with `429 Too Many Requests` and a `Retry-After`
//! saying when the next token arrives. Buckets are kept in memory; a full bucket carries no
//! information, so full ones are dropped when the map grows, which bounds its size under a
//! flood of distinct keys.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

use sessiongate_auth::{ClientIp, Endpoint, Principal};

use crate::checks::rpc::RpcMessage;
use crate::http::routes::{AuthLimit, Route};

/// How many keys a limiter tracks before it sweeps out full buckets.
const SWEEP_AT: usize = 10_000;

/// One rate: a sustained number per minute and a burst.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Requests per minute, sustained. `0` turns the limit off.
    pub per_minute: u32,
    /// Requests allowed at once after a quiet period.
    pub burst: u32,
}

impl Rate {
    /// A rate of `per_minute` with a burst of `burst`.
    pub const fn new(per_minute: u32, burst: u32) -> Self {
        Rate { per_minute, burst }
    }
}

/// The limits of each kind of request (`[rate_limits]` in the configuration file).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// `POST /register`, per client address.
    pub register: Rate,
    /// `/authorize` and its login and consent pages, per client address.
    pub authorize: Rate,
    /// `POST /token` and `POST /revoke`, per client address.
    pub token: Rate,
    /// `/authorize` and `POST /token`, per OAuth client (the `client_id` parameter).
    pub oauth_per_client: Rate,
    /// MCP tool calls, per OAuth client.
    pub tool_calls_per_client: Rate,
    /// Requests to `/mcp`, per client address (tokens or not).
    pub mcp_per_address: Rate,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            register: Rate::new(20, 10),
            authorize: Rate::new(120, 30),
            token: Rate::new(120, 30),
            oauth_per_client: Rate::new(60, 20),
            tool_calls_per_client: Rate::new(1200, 200),
            mcp_per_address: Rate::new(6000, 600),
        }
    }
}

/// Token buckets keyed by `K`.
#[derive(Debug)]
pub struct Limiter<K> {
    rate: Rate,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Eq + Hash + Clone> Limiter<K> {
    /// A limiter that applies `rate` to each key.
    pub fn new(rate: Rate) -> Self {
        Limiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key`: `Ok` if one was there, else the seconds until one will be.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        if self.rate.per_minute == 0 {
            return Ok(());
        }
        let per_sec = f64::from(self.rate.per_minute) / 60.0;
        let burst = f64::from(self.rate.burst.max(1));
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= SWEEP_AT {
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_sec < burst
            });
            if buckets.len() >= SWEEP_AT {
                // A flood of distinct keys that are all busy: forget the least recent half.
                let mut ages: Vec<Instant> = buckets.values().map(|(_, at)| *at).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                buckets.retain(|_, (_, at)| *at > cut);
            }
        }
        let (tokens, at) = buckets.entry(key.clone()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_sec).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / per_sec).ceil().max(1.0) as u64)
        }
    }
}

/// Every limiter of the gateway.
#[derive(Debug)]
pub struct Limiters {
    register: Limiter<IpAddr>,
    authorize: Limiter<IpAddr>,
    token: Limiter<IpAddr>,
    oauth_client: Limiter<(String, IpAddr)>,
    tool_calls: Limiter<String>,
    mcp: Limiter<IpAddr>,
    /// Counts refusals, for the metrics.
    metrics: Option<Arc<crate::http::metrics::Metrics>>,
}

impl Limiters {
    /// Limiters for the configured rates.
    pub fn new(limits: &RateLimits, metrics: Option<Arc<crate::http::metrics::Metrics>>) -> Self {
        Limiters {
            register: Limiter::new(limits.register),
            authorize: Limiter::new(limits.authorize),
            token: Limiter::new(limits.token),
            oauth_client: Limiter::new(limits.oauth_per_client),
            tool_calls: Limiter::new(limits.tool_calls_per_client),
            mcp: Limiter::new(limits.mcp_per_address),
            metrics,
        }
    }
}

/// The middleware for the authorization server's routes: per-address limits by the route's
/// class ([`Route::auth_limit`]), and a
/// per-client limit on `/authorize` and `/token` (keyed on the `client_id` the request names;
/// the body was already read into memory by [`crate::http::limits::read_body`]).
pub async fn limit_auth_routes(
    State(limiters): State<Arc<Limiters>>,
    req: Request,
    next: Next,
) -> Response {
    let ip = client_ip(&req);
    let path = req.uri().path();
    // The class the route was mounted with; an untagged request draws from the strictest.
    let class = match req.extensions().get::<Route>() {
        Some(route) => route.auth_limit(req.method()),
        None => Some(AuthLimit::Register),
    };
    let limiter = class.map(|c| match c {
        AuthLimit::Register => &limiters.register,
        AuthLimit::Authorize => &limiters.authorize,
        AuthLimit::Token => &limiters.token,
    });
    if let Some(limiter) = limiter
        && let Err(retry) = limiter.check(&ip)
    {
        count_refusal(&limiters, "auth");
        tracing::info!(%ip, path, retry_after_s = retry, "rate limit: refused");
        return oauth_too_many(retry);
    }
    // Per client, but from this address only: client ids are public, and a stranger naming
    // someone else's must not use up that client's allowance.
    let (req, client_id) = client_id_of(req).await;
    if let Some(id) = client_id
        && let Err(retry) = limiters.oauth_client.check(&(id.clone(), ip))
    {
        count_refusal(&limiters, "oauth_client");
        tracing::info!(client_id = %id.chars().take(80).collect::<String>(), %ip, retry_after_s = retry, "rate limit: client refused");
        return oauth_too_many(retry);
    }
    next.run(req).await
}

/// The middleware in front of `/mcp`, before the bearer check: a per-address limit on every
/// request, with a token or without.
pub async fn limit_mcp_address(
    limiters: &Limiters,
    req: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    let ip = client_ip(&req);
    if let Err(retry) = limiters.mcp.check(&ip) {
        count_refusal(limiters, "mcp");
        tracing::info!(%ip, retry_after_s = retry, "rate limit: /mcp refused");
        return rpc_too_many(retry);
    }
    next(req).await
}

/// The middleware on `/mcp` behind the scope check: a per-client limit on tool calls (a call
/// the token may not make is refused for its scope first and costs nothing).
pub async fn limit_tool_calls(
    limiters: &Limiters,
    req: Request,
    next: impl AsyncFnOnce(Request) -> Response,
) -> Response {
    let calls = req
        .extensions()
        .get::<RpcMessage>()
        .map(|m| m.tool_calls().count())
        .unwrap_or(0);
    if calls > 0
        && let Some(principal) = req.extensions().get::<Principal>()
    {
        for _ in 0..calls {
            if let Err(retry) = limiters.tool_calls.check(&principal.client_id) {
                count_refusal(limiters, "tool_calls");
                tracing::info!(client_id = %principal.client_id, retry_after_s = retry, "rate limit: tool call refused");
                return rpc_too_many(retry);
            }
        }
    }
    next(req).await
}

/// The `client_id` an `/authorize` query or a `/token` form names, with the request rebuilt.
async fn client_id_of(req: Request) -> (Request, Option<String>) {
    let route = req.extensions().get::<Route>().copied();
    let find = |query: &[u8]| {
        form_urlencoded::parse(query)
            .find(|(k, _)| k == "client_id")
            .map(|(_, v)| v.chars().take(512).collect::<String>())
    };
    if route == Some(Route::Auth(Endpoint::Authorize)) {
        let id = req.uri().query().and_then(|q| find(q.as_bytes()));
        return (req, id);
    }
    if !(route == Some(Route::Auth(Endpoint::Token)) && req.method() == Method::POST) {
        return (req, None);
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, crate::http::limits::MAX_AUTH_BODY_BYTES)
        .await
        .unwrap_or_default();
    let id = find(&bytes);
    (
        Request::from_parts(parts, axum::body::Body::from(bytes)),
        id,
    )
}

fn count_refusal(limiters: &Limiters, which: &'static str) {
    if let Some(m) = &limiters.metrics {
        m.rate_limited(which);
    }
}

/// The client's address as a bucket key: IPv6 addresses by their /64, since one host
/// usually holds a whole /64 and could otherwise take a fresh bucket per address.
fn client_ip(req: &Request) -> IpAddr {
    match req.extensions().get::<ClientIp>().map(|c| c.0) {
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
        }
        Some(v4) => v4,
        None => IpAddr::from([0, 0, 0, 0]),
    }
}

fn with_retry_after(mut resp: Response, secs: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

fn oauth_too_many(secs: u64) -> Response {
    let body = json!({
        "error": "too_many_requests",
        "error_description": format!("too many requests from this address; try again in {secs} s"),
    });
    with_retry_after(
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(body),
        )
            .into_response(),
        secs,
    )
}

fn rpc_too_many(secs: u64) -> Response {
    let body = json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": -32000,
            "message": format!("rate limit exceeded; try again in {secs} s"),
            "data": { "retry_after_s": secs },
        },
    });
    with_retry_after(
        (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response(),
        secs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_with_a_retry_time() {
        let l = Limiter::new(Rate::new(60, 3));
        for _ in 0..3 {
            assert_eq!(l.check(&1), Ok(()));
        }
        assert_eq!(l.check(&1), Err(1));
        // Other keys have their own bucket.
        assert_eq!(l.check(&2), Ok(()));
    }

    #[test]
    fn slow_rates_name_a_long_wait_and_zero_is_off() {
        let l = Limiter::new(Rate::new(1, 1));
        assert_eq!(l.check(&"a"), Ok(()));
        let wait = l.check(&"a").expect_err("refused");
        assert!((59..=60).contains(&wait), "{wait}");
        let off = Limiter::new(Rate::new(0, 0));
        for _ in 0..1000 {
            assert_eq!(off.check(&"a"), Ok(()));
        }
    }

    #[test]
    fn the_map_stays_bounded_under_distinct_keys() {
        let l = Limiter::new(Rate::new(600_000, 5));
        for k in 0..(SWEEP_AT * 3) {
            let _ = l.check(&k);
        }
        let len = l.buckets.lock().expect("lock").len();
        assert!(len <= SWEEP_AT, "{len}");
    }

    #[test]
    fn tool_calls_are_counted_in_batches() {
        let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}});
        let list = json!({"jsonrpc":"2.0","id":2,"method":"tools/list"});
        let count_tool_calls =
            |v: &serde_json::Value| RpcMessage::new(v.clone()).tool_calls().count();
        assert_eq!(count_tool_calls(&call), 1);
        assert_eq!(count_tool_calls(&list), 0);
        assert_eq!(count_tool_calls(&json!([call, list, call])), 2);
    }
}
