//! The HTML pages: login, consent and errors. Plain server-rendered forms that work on a
//! phone, no script at all, a strict Content-Security-Policy, and never framed.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::scope::Scope;
use crate::util::html;

const STYLE: &str = "
body{font-family:system-ui,-apple-system,sans-serif;background:#f4f4f5;margin:0;padding:1rem;color:#18181b}
main{max-width:26rem;margin:2rem auto;background:#fff;border-radius:12px;padding:1.5rem;box-shadow:0 1px 4px #0002}
h1{font-size:1.3rem;margin:0 0 1rem}
p,li{line-height:1.45}
label{display:block;margin:.8rem 0 .3rem;font-weight:600}
input[type=password]{width:100%;box-sizing:border-box;font-size:1.1rem;padding:.6rem;border:1px solid #a1a1aa;border-radius:8px}
button{font-size:1.05rem;padding:.7rem 1.2rem;border-radius:8px;border:0;margin:.8rem .4rem 0 0;cursor:pointer}
.primary{background:#2563eb;color:#fff}.secondary{background:#e4e4e7;color:#18181b}
.error{background:#fee2e2;color:#991b1b;padding:.6rem;border-radius:8px}
.host{font-family:ui-monospace,monospace;background:#f4f4f5;padding:.1rem .3rem;border-radius:4px;word-break:break-all}
.warn{background:#fef3c7;padding:.6rem;border-radius:8px}
";

/// The CSP source that allows exactly the inline stylesheet: pages carry their style inline,
/// so they need no URL of the gateway's own and work under any path prefix.
fn style_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        use base64::Engine;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, STYLE.as_bytes());
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
        )
    })
}

/// `GET /auth/style.css`.
pub(crate) async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

/// Wraps a page body with the security headers every HTML response carries. `form_target` is
/// the origin a form may end up at after a redirect (the client's callback on the consent page).
pub(crate) fn page(
    status: StatusCode,
    title: &str,
    body: &str,
    form_target: Option<&str>,
) -> Response {
    let doc = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"same-origin\">\
         <title>{} · sessiongate</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>",
        html(title)
    );
    let form_action = match form_target {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    let csp = format!(
        "default-src 'none'; style-src {}; img-src 'self'; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'",
        style_hash()
    );
    let mut resp = (status, doc).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// An error page (never a redirect).
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Cannot continue",
        &format!(
            "<h1>Cannot continue</h1><p class=\"error\">{}</p><p>Go back to the app you came from and connect again.</p>",
            html(message)
        ),
        None,
    )
}

/// The hidden fields every form of a pending request carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestForm<'a> {
    /// The public URL the forms post under (it may carry a path prefix).
    pub(crate) base: &'a str,
    /// The pending request's id.
    pub(crate) req: &'a str,
    /// Its CSRF token.
    pub(crate) csrf: &'a str,
}

/// The ways to sign in that the login page offers.
#[derive(Debug)]
pub(crate) struct Ways {
    /// The owner password form.
    pub(crate) password: bool,
    /// A button per upstream identity provider: `(name, label)`.
    pub(crate) providers: Vec<(String, String)>,
    /// The providers' origins, for the CSP `form-action` (space-separated).
    pub(crate) provider_origins: String,
}

/// The login page: the owner password form (when it is on) and a button per upstream
/// identity provider.
pub(crate) fn login(
    f: RequestForm<'_>,
    client_name: &str,
    ways: &Ways,
    message: Option<&str>,
    status: StatusCode,
) -> Response {
    let (req, csrf) = (f.req, f.csrf);
    let base = html(f.base);
    let (password, providers, provider_origins) = (
        ways.password,
        &ways.providers,
        ways.provider_origins.as_str(),
    );
    let msg = message
        .map(|m| format!("<p class=\"error\">{}</p>", html(m)))
        .unwrap_or_default();
    let hidden = format!(
        "<input type=\"hidden\" name=\"req\" value=\"{}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        html(req),
        html(csrf)
    );
    let mut forms = String::new();
    if password {
        forms.push_str(&format!(
            "<form method=\"post\" action=\"{base}/authorize/login\">{hidden}\
             <label for=\"password\">Owner password</label>\
             <input id=\"password\" type=\"password\" name=\"password\" autocomplete=\"current-password\" required autofocus>\
             <button class=\"primary\" type=\"submit\">Sign in</button></form>"
        ));
    }
    if !providers.is_empty() {
        if password {
            forms.push_str("<p>or</p>");
        }
        forms.push_str(&format!(
            "<form method=\"post\" action=\"{base}/authorize/upstream\">{hidden}"
        ));
        for (name, label) in providers {
            forms.push_str(&format!(
                "<button class=\"secondary\" type=\"submit\" name=\"provider\" value=\"{}\">Sign in with {}</button>",
                html(name),
                html(label)
            ));
        }
        forms.push_str("</form>");
    }
    page(
        status,
        "Sign in",
        &format!(
            "<h1>Sign in to sessiongate</h1>\
             <p><strong>{}</strong> wants to connect to your terminal sessions.</p>{msg}{forms}",
            html(client_name),
        ),
        // The provider buttons' form is answered with a redirect to the provider.
        (!provider_origins.is_empty()).then_some(provider_origins),
    )
}

/// The refusal page for someone an identity provider signed in but the allowlist does not
/// name. Nothing was issued.
pub(crate) fn refused(message: &str) -> Response {
    page(
        StatusCode::FORBIDDEN,
        "Not allowed",
        &format!(
            "<h1>Not allowed</h1><p class=\"error\">{}</p>\
             <p>Nothing was shared with the app. Ask the owner of this sessiongate to add you.</p>",
            html(message)
        ),
        None,
    )
}

/// The consent page.
pub(crate) fn consent(
    f: RequestForm<'_>,
    client_name: &str,
    redirect_uri: &str,
    redirect_origin: &str,
    loopback_only: bool,
    scopes: &[Scope],
    subject: &str,
) -> Response {
    let (req, csrf) = (f.req, f.csrf);
    let base = html(f.base);
    let host = url::Url::parse(redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| redirect_uri.to_owned());
    let items: String = scopes
        .iter()
        .map(|s| {
            format!(
                "<li><strong>{}</strong>: {}</li>",
                s.as_str(),
                html(s.describe())
            )
        })
        .collect();
    let warn = if loopback_only {
        "<p class=\"warn\">This app runs on this computer (its callback is a local address). \
         Approve only if you started it yourself.</p>"
    } else {
        ""
    };
    page(
        StatusCode::OK,
        "Allow access?",
        &format!(
            "<h1>Allow access?</h1>\
             <p><strong>{}</strong> asks to use sessiongate. After you approve, your browser \
             returns to <span class=\"host\">{}</span>.</p>{warn}\
             <p>It will be able to:</p><ul>{items}</ul>\
             <p>Signed in as <span class=\"host\">{}</span>.</p>\
             <form method=\"post\" action=\"{base}/authorize/consent\">\
             <input type=\"hidden\" name=\"req\" value=\"{}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button class=\"primary\" type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
             <button class=\"secondary\" type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
            html(client_name),
            html(&host),
            html(subject),
            html(req),
            html(csrf)
        ),
        Some(redirect_origin),
    )
}
