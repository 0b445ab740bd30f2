//! The authorization server's routes, each with the [`Endpoint`] it is: whoever mounts them
//! (the gateway) gives each route its body cap, rate limit and metrics label where it mounts
//! it, from the endpoint, instead of matching paths.

use std::sync::Arc;

use axum::Router;
use axum::routing::{MethodRouter, get, post};
use http::header;

use crate::AuthServer;
use crate::endpoints;

/// An endpoint of the authorization server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// RFC 9728 protected-resource metadata.
    ResourceMetadata,
    /// RFC 8414 authorization-server metadata (also served as OpenID configuration).
    ServerMetadata,
    /// OpenID configuration: the same document as [`Endpoint::ServerMetadata`].
    OpenIdConfiguration,
    /// RFC 7591 dynamic client registration.
    Register,
    /// The token endpoint.
    Token,
    /// RFC 7009 revocation.
    Revoke,
    /// The signing keys.
    Jwks,
    /// The start of an authorization (the login page).
    Authorize,
    /// The login form's post.
    Login,
    /// The consent page and its decision.
    Consent,
    /// The start of a login through an identity provider.
    UpstreamStart,
    /// The identity provider's redirect back.
    UpstreamCallback,
    /// The pages' stylesheet.
    Stylesheet,
}

impl Endpoint {
    /// The route's name in metrics: its path without a prefix or parameters.
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::ResourceMetadata => "/.well-known/oauth-protected-resource",
            Endpoint::ServerMetadata => "/.well-known/oauth-authorization-server",
            Endpoint::OpenIdConfiguration => "/.well-known/openid-configuration",
            Endpoint::Register => "/register",
            Endpoint::Token => "/token",
            Endpoint::Revoke => "/revoke",
            Endpoint::Jwks => "/jwks.json",
            Endpoint::Authorize => "/authorize",
            Endpoint::Login => "/authorize/login",
            Endpoint::Consent => "/authorize/consent",
            Endpoint::UpstreamStart => "/authorize/upstream",
            Endpoint::UpstreamCallback => "/login/callback",
            Endpoint::Stylesheet => "/auth/style.css",
        }
    }
}

/// One route: its path, its endpoint and its handlers (with their CORS, where browsers may
/// call them cross-origin).
#[derive(Debug)]
pub struct AuthRoute {
    /// The path, as axum matches it.
    pub path: String,
    /// What it is.
    pub endpoint: Endpoint,
    /// The handlers.
    pub service: MethodRouter,
}

impl AuthServer {
    /// Every route of the authorization server and its metadata.
    pub fn routes(self: &Arc<Self>) -> Vec<AuthRoute> {
        let cors = tower_http::cors::CorsLayer::new()
            .allow_origin(tower_http::cors::Any)
            .allow_methods([http::Method::GET, http::Method::POST, http::Method::OPTIONS])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                http::HeaderName::from_static("mcp-protocol-version"),
            ])
            .expose_headers([header::WWW_AUTHENTICATE]);
        let state = self.clone();
        let route =
            |path: &str, endpoint: Endpoint, service: MethodRouter<Arc<AuthServer>>| AuthRoute {
                path: path.to_owned(),
                endpoint,
                service: service.with_state(state.clone()),
            };
        // Browsers' clients read the metadata and register and redeem codes cross-origin.
        let open = |path: &str, endpoint, service: MethodRouter<Arc<AuthServer>>| {
            route(path, endpoint, service.layer(cors.clone()))
        };
        let resource_metadata = || get(endpoints::metadata::protected_resource);
        let server_metadata = || get(endpoints::metadata::authorization_server);
        let mut routes = vec![
            open(
                "/.well-known/oauth-protected-resource",
                Endpoint::ResourceMetadata,
                resource_metadata(),
            ),
            open(
                "/.well-known/oauth-protected-resource/mcp",
                Endpoint::ResourceMetadata,
                resource_metadata(),
            ),
            open(
                "/.well-known/oauth-authorization-server",
                Endpoint::ServerMetadata,
                server_metadata(),
            ),
            open(
                "/.well-known/openid-configuration",
                Endpoint::OpenIdConfiguration,
                server_metadata(),
            ),
            open(
                "/register",
                Endpoint::Register,
                post(endpoints::register::register),
            ),
            open("/token", Endpoint::Token, post(endpoints::token::token)),
        ];
        let (_, prefix) = self.origin_and_path();
        if !prefix.is_empty() {
            // RFC 8414 §3 and RFC 9728 §3.1: for an issuer and a resource with a path, the
            // well-known segment goes between the host and the path. A proxy forwards these
            // root paths here unchanged.
            routes.extend([
                open(
                    &format!("/.well-known/oauth-protected-resource{prefix}/mcp"),
                    Endpoint::ResourceMetadata,
                    resource_metadata(),
                ),
                open(
                    &format!("/.well-known/oauth-authorization-server{prefix}"),
                    Endpoint::ServerMetadata,
                    server_metadata(),
                ),
                open(
                    &format!("/.well-known/openid-configuration{prefix}"),
                    Endpoint::OpenIdConfiguration,
                    server_metadata(),
                ),
            ]);
        }
        // No CORS: browsers have no business revoking, reading keys or showing the pages
        // cross-origin.
        routes.extend([
            route("/revoke", Endpoint::Revoke, post(endpoints::revoke::revoke)),
            route("/jwks.json", Endpoint::Jwks, get(endpoints::metadata::jwks)),
            route(
                "/authorize",
                Endpoint::Authorize,
                get(endpoints::authorize::start),
            ),
            route(
                "/authorize/login",
                Endpoint::Login,
                post(endpoints::authorize::login),
            ),
            route(
                "/authorize/consent",
                Endpoint::Consent,
                get(endpoints::authorize::consent_page).post(endpoints::authorize::decide),
            ),
            route(
                "/authorize/upstream",
                Endpoint::UpstreamStart,
                post(endpoints::upstream::begin),
            ),
            route(
                "/login/callback/{name}",
                Endpoint::UpstreamCallback,
                get(endpoints::upstream::callback),
            ),
            route(
                "/auth/style.css",
                Endpoint::Stylesheet,
                get(crate::pages::stylesheet),
            ),
        ]);
        routes
    }

    /// The routes as one router, without the caps and limits a mounting server adds (for
    /// tests and embedders that bring their own).
    pub fn router(self: &Arc<Self>) -> Router {
        self.routes().into_iter().fold(Router::new(), |r, route| {
            r.route(&route.path, route.service)
        })
    }
}
