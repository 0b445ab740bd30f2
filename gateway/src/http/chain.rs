//! How the gateway's checks are chained without a boxed layer per check.
//!
//! Each check is an async function given the request and the rest of the way as a closure
//! (`next: impl AsyncFnOnce(Request) -> Response`), as with axum's `from_fn` but generic: a
//! whole chain of checks compiles into one future. With `from_fn`, every check boxed its future and a clone of everything
//! below it on every request; on a cheap tool call that plumbing cost more than the checks
//! and the call together. A chain is written as a struct whose methods each run one check
//! and name the next step ([`crate::checks`], [`crate::http::front`]); [`Chained`] serves
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use axum::body::Body;
    use http::StatusCode;
    use tower::ServiceExt;

    use super::*;

    /// A check in the style of the gateway's: refuses requests to `/refused`, marks the rest.
    async fn check(
        log: &Mutex<Vec<&'static str>>,
        req: Request,
        next: impl AsyncFnOnce(Request) -> Response,
    ) -> Response {
        log.lock().expect("log").push("check");
        if req.uri().path() == "/refused" {
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = StatusCode::FORBIDDEN;
            return resp;
        }
        let mut resp = next(req).await;
        resp.headers_mut()
            .insert("x-checked", http::HeaderValue::from_static("1"));
        resp
    }

    struct Toy {
        log: Mutex<Vec<&'static str>>,
    }

    impl Serve for Toy {
        fn serve(&self, req: Request) -> impl Future<Output = Response> + Send {
            check(&self.log, req, |r| self.handled(r))
        }
    }

    impl Toy {
        async fn handled(&self, _req: Request) -> Response {
            self.log.lock().expect("log").push("handler");
            Response::new(Body::from("done"))
        }
    }

    fn request(path: &str) -> Request {
        Request::builder()
            .uri(path)
            .body(Body::empty())
            .expect("request")
    }

    #[tokio::test]
    async fn checks_run_in_order_and_may_answer_without_the_rest() {
        let toy = Arc::new(Toy {
            log: Mutex::new(Vec::new()),
        });
        let svc = Chained(toy.clone());
        let resp = svc
            .clone()
            .oneshot(request("/ok"))
            .await
            .expect("infallible");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["x-checked"], "1", "the check sees the reply");
        assert_eq!(*toy.log.lock().expect("log"), ["check", "handler"]);
        let resp = svc.oneshot(request("/refused")).await.expect("infallible");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            *toy.log.lock().expect("log"),
            ["check", "handler", "check"],
            "a refusal never reaches the handler"
        );
    }
}
