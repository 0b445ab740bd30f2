//! The checks around every route, as one chain ([`crate::http::chain`]): request metrics → client
//! address (trusted proxies) → Host/Origin checks and security headers → the router.
//! (Marking credentials sensitive and the request trace are tower layers outside it.)

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use tower::ServiceExt;

use crate::http::chain::Serve;
use crate::http::client_addr::{self, TrustedProxies};
use crate::http::guard::{self, OriginPolicy};
use crate::http::metrics::{self, Metrics};

/// What the checks around every route need, and the router behind them.
#[derive(Debug)]
pub struct FrontStack {
    /// Request metrics.
    pub metrics: Arc<Metrics>,
    /// Whose forwarded addresses are believed.
    pub proxies: Arc<TrustedProxies>,
    /// Allowed hosts and origins.
    pub policy: Arc<OriginPolicy>,
    /// The routes.
    pub app: Router,
}

impl Serve for FrontStack {
    fn serve(&self, req: Request) -> impl Future<Output = Response> + Send {
        metrics::record_http(&self.metrics, req, |r| self.tagged(r))
    }
}

impl FrontStack {
    async fn tagged(&self, req: Request) -> Response {
        client_addr::tag(&self.proxies, req, |r| self.guarded(r)).await
    }

    async fn guarded(&self, req: Request) -> Response {
        guard::guard(&self.policy, req, |r| self.routed(r)).await
    }

    async fn routed(&self, req: Request) -> Response {
        match self.app.clone().oneshot(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        }
    }
}
