//! The owner's sign-in for pages outside the OAuth flow (the gateway's answer pages for
//! notifications): the same login as the authorization pages, bound to the same browser
//! cookie, checked by the same password thread and throttle, and the same page style and
//! headers.
//!
//! A sign-in made here is a [`Login`] like any other, but short-lived
//! ([`SHORT_LOGIN_TTL`]): it is kept in the login cookie and bound to the browser cookie of the
//! browser that signed in, so a copied login cookie alone is no use elsewhere.

use std::net::IpAddr;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use crate::endpoints::{browser, cookie};
use crate::login_cookie;
use crate::password::Busy;
use crate::server::{AuthServer, OWNER_SUB};
use crate::util::ct_eq;

/// How long a sign-in made on an answer page lasts.
pub const SHORT_LOGIN_TTL: Duration = Duration::from_secs(10 * 60);

/// Why a password sign-in did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInRefused {
    /// Password sign-in is turned off (only identity providers sign in).
    #[error("signing in with the owner password is turned off")]
    PasswordOff,
    /// The browser has no browser cookie (it did not load the page first).
    #[error("this browser did not open the page; open the link again")]
    NoBrowser,
    /// The password was wrong.
    #[error("wrong password")]
    Wrong,
    /// Too many attempts: try again after this many seconds.
    #[error("too many attempts; try again in {0} s")]
    TooMany(u64),
}

/// An HTML page in the style of the login page, with its headers (CSP, no framing, no
/// caching). `body` is HTML the caller has escaped.
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    crate::pages::page(status, title, body, None)
}

/// Escapes text for HTML.
pub fn html(s: &str) -> String {
    crate::util::html(s)
}

impl AuthServer {
    /// Whether the owner password signs people in.
    pub fn password_login(&self) -> bool {
        self.cfg.login.password
    }

    /// Who is signed in in this browser: a valid login cookie whose login was made in the
    /// browser that presents this browser cookie (compared in constant time).
    pub fn signed_in(&self, headers: &HeaderMap) -> Option<String> {
        let login = self.logged_in(cookie(headers, login_cookie::name(self)))?;
        let presented = browser::presented_hash(self, headers)?;
        ct_eq(&login.browser, &presented).then_some(login.sub)
    }

    /// The `Set-Cookie` that gives this browser a browser cookie, when it has none yet: a page
    /// whose form signs in sets it when it is shown.
    pub fn browser_cookie(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        if browser::presented_hash(self, headers).is_some() {
            return None;
        }
        browser::identify(self, headers).1
    }

    /// Whether a form post's `Origin` is the gateway's own (or absent), by the same rule as
    /// the authorization pages' forms.
    pub fn own_origin(&self, headers: &HeaderMap) -> bool {
        browser::check_origin(self, headers).is_ok()
    }

    /// Signs the owner in with the password, in this browser, for [`SHORT_LOGIN_TTL`]: the
    /// attempt is charged to `addr` by the same throttle as the login page. Returns the login
    /// cookie to set.
    pub async fn sign_in_with_password(
        &self,
        addr: IpAddr,
        headers: &HeaderMap,
        password: String,
    ) -> Result<HeaderValue, SignInRefused> {
        if !self.cfg.login.password {
            return Err(SignInRefused::PasswordOff);
        }
        let Some(browser) = browser::presented_hash(self, headers) else {
            return Err(SignInRefused::NoBrowser);
        };
        self.limiter.begin(addr).map_err(SignInRefused::TooMany)?;
        match self.passwords.check(password).await {
            Ok(true) => self.limiter.succeeded(addr),
            Ok(false) => {
                tracing::warn!(%addr, "failed owner login on an answer page");
                return Err(SignInRefused::Wrong);
            }
            Err(Busy) => {
                self.limiter.refund(addr);
                return Err(SignInRefused::TooMany(1));
            }
        }
        login_cookie::start(self, OWNER_SUB, &browser, SHORT_LOGIN_TTL)
            .ok_or(SignInRefused::NoBrowser)
    }
}
