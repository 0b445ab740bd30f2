//! `/healthz`: `200 ok` while the gateway can do its work, `503` with the reason when it
//! cannot. Today that means the audit log: while it cannot be written, calls that change
//! something are refused (see [`crate::audit`]), and a monitor should know. The reason names
//! the cause ("disk full", "read-only file system"), never a path or a secret, since the
//! public listener serves it without authentication.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

use crate::audit::AuditLog;

/// The handler; the state is the audit log, when one is kept.
pub async fn healthz(State(audit): State<Option<Arc<AuditLog>>>) -> Response {
    let (status, body) = match audit.as_deref().map(AuditLog::health) {
        Some(Err(why)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: {why}; calls that change something are refused until it can be\n"),
        ),
        Some(Ok(())) | None => (StatusCode::OK, "ok\n".to_owned()),
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}
