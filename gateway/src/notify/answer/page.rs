//! The answer pages: the question with the chosen option and a button that POSTs, and the
//! plain pages that say what happened. They are the login page's pages (style, CSP, no
//! framing, no caching; `sessiongate_auth::owner_login::page`), phone-sized, with no script.

use axum::http::StatusCode;
use axum::response::Response;

use sessiongate_auth::owner_login::{html, page};

use super::store::AnswerRow;

/// What the owner must do before the button answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate<'a> {
    /// `link` mode: nothing.
    Link,
    /// `login` mode, signed in as this subject.
    SignedIn(&'a str),
    /// `login` mode, not signed in: the form asks for the owner password.
    Password,
    /// `login` mode, not signed in, and the password is off: sign in through an app first.
    NoPassword,
}

/// The page for a live token: session, question, context, the chosen option, and the form.
pub fn question(
    status: StatusCode,
    row: &AnswerRow,
    action: &str,
    gate: Gate<'_>,
    message: Option<&str>,
) -> Response {
    let context: String = row
        .context
        .iter()
        .map(|c| format!("<div class=\"host\">{}</div>", html(c)))
        .collect();
    let msg = message
        .map(|m| format!("<p class=\"error\">{}</p>", html(m)))
        .unwrap_or_default();
    let button = format!(
        "<button class=\"primary\" type=\"submit\">Answer \u{201c}{}\u{201d}</button>",
        html(&row.label)
    );
    let form = match gate {
        Gate::Link => format!(
            "<form method=\"post\" action=\"{}\">{button}</form>",
            html(action)
        ),
        Gate::SignedIn(sub) => format!(
            "<p>Signed in as <span class=\"host\">{}</span>.</p>\
             <form method=\"post\" action=\"{}\">{button}</form>",
            html(sub),
            html(action)
        ),
        Gate::Password => format!(
            "<form method=\"post\" action=\"{}\">\
             <label for=\"password\">Owner password</label>\
             <input id=\"password\" type=\"password\" name=\"password\" \
             autocomplete=\"current-password\" required>{button}</form>",
            html(action)
        ),
        Gate::NoPassword => "<p class=\"warn\">Sign in to sessiongate from your app first \
             (its sign-in page, in this browser), then open this link again.</p>"
            .to_owned(),
    };
    page(
        status,
        "Answer",
        &format!(
            "<h1>{} is waiting</h1>\
             <p><strong>{}</strong></p>{context}\
             <p>Your answer: <strong>{}</strong></p>{msg}{form}\
             <p>This link answers once, and only while this question is on screen.</p>",
            html(&row.session),
            html(&row.question),
            html(&row.label),
        ),
    )
}

/// A page that says what happened (or why nothing did).
pub fn outcome(status: StatusCode, title: &str, message: &str, screen: Option<&str>) -> Response {
    let screen = screen
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let lines: String = s
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| format!("<div class=\"host\">{}</div>", html(l)))
                .collect();
            format!("<p>The screen now ends with:</p>{lines}")
        })
        .unwrap_or_default();
    let class = if status.is_success() {
        ""
    } else {
        " class=\"error\""
    };
    page(
        status,
        title,
        &format!(
            "<h1>{}</h1><p{class}>{}</p>{screen}",
            html(title),
            html(message)
        ),
    )
}
