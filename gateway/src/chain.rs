//! How the gateway's checks are chained without a boxed layer per check.
//!
//! Each check is an async function given the request and the rest of the way as a plain
//! closure (`next`), as with axum's `from_fn` but generic: a whole chain of checks compiles
//! into one future. With `from_fn`, every check boxed its future and a clone of everything
//! below it on every request; on a cheap tool call that plumbing cost more than the checks
//! and the call together. A chain is written as a struct whose methods each run one check
//! and name the next step ([`crate::mcp_stack`], [`crate::front_stack`]); [`Chained`] serves
//! it as a tower service.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;

/// A chain of checks ending in a handler.
pub trait Serve: Send + Sync + 'static {
    /// Runs the request through the chain.
    fn serve(&self, req: Request) -> impl Future<Output = Response> + Send;
}

/// A [`Serve`] chain as a tower service: one boxed future per request, whatever the
/// chain's length.
#[derive(Debug)]
pub struct Chained<S>(pub Arc<S>);

impl<S> Clone for Chained<S> {
    fn clone(&self) -> Self {
        Chained(self.0.clone())
    }
}

impl<S: Serve> tower::Service<Request> for Chained<S> {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let chain = self.0.clone();
        Box::pin(async move { Ok(chain.serve(req).await) })
    }
}
