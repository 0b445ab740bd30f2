//! [`AuthError`]: failures of the authorization server, and the OAuth error responses.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// What can go wrong in the authorization server.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// An OAuth protocol error returned as JSON (`{"error", "error_description"}`).
    #[error("{code}: {description}")]
    OAuth {
        /// HTTP status.
        status: StatusCode,
        /// The OAuth error code (`invalid_grant`, ...).
        code: &'static str,
        /// A description for the client's developer.
        description: String,
    },
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    /// Reading or writing the data directory failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Keys, hashing or signing failed.
    #[error("crypto: {0}")]
    Crypto(String),
    /// The settings cannot work (an identity provider without an allowlist, ...).
    #[error("configuration: {0}")]
    Config(String),
}

impl AuthError {
    /// A 400 OAuth error.
    pub(crate) fn bad(code: &'static str, description: impl Into<String>) -> Self {
        AuthError::OAuth {
            status: StatusCode::BAD_REQUEST,
            code,
            description: description.into(),
        }
    }

    /// A 401 `invalid_client`, which tells clients such as Claude to register again.
    pub(crate) fn invalid_client(description: impl Into<String>) -> Self {
        AuthError::OAuth {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_client",
            description: description.into(),
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            AuthError::OAuth {
                status,
                code,
                description,
            } => (
                *status,
                json!({ "error": code, "error_description": description }),
            ),
            AuthError::Database(_)
            | AuthError::Io { .. }
            | AuthError::Crypto(_)
            | AuthError::Config(_) => {
                // Logged once here; the client learns only that it failed.
                tracing::error!(error = %self, "authorization server failure");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({ "error": "server_error", "error_description": "something went wrong" }),
                )
            }
        };
        let mut resp = (status, Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"sessiongate\""),
            );
        }
        resp
    }
}
