//! How the owner configures sign-in: the owner password on or off, and upstream identity
//! providers (GitHub, any OpenID Connect issuer), each with the allowlist that decides who may
//! sign in through it.

use std::collections::BTreeMap;
use std::fmt;

/// How people sign in on the login page.
#[derive(Debug, Clone)]
pub struct LoginConfig {
    /// Whether the owner password is offered (on by default).
    pub password: bool,
    /// Upstream identity providers, in the order the login page lists them.
    pub providers: Vec<ProviderConfig>,
}

impl Default for LoginConfig {
    fn default() -> Self {
        LoginConfig {
            password: true,
            providers: Vec::new(),
        }
    }
}

/// One upstream identity provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The provider's name: a lowercase word (`github`, `google`, `corp-sso`). It appears in
    /// the callback URL (`/login/callback/NAME`) and in the subjects it signs in.
    pub name: String,
    /// The button text on the login page (`Sign in with ...`).
    pub label: String,
    /// What kind of provider it is, with its endpoints.
    pub kind: ProviderKind,
    /// The client id sessiongate is registered under at the provider.
    pub client_id: String,
    /// The client secret (read from a file or an environment variable, never from the
    /// command line). `None` makes sessiongate a public client (PKCE only): OIDC only.
    pub client_secret: Option<Secret>,
    /// Scopes asked for. Empty means the kind's defaults (`openid email profile` for OIDC;
    /// for GitHub, what the allowlist needs: `read:user`, `user:email`, `read:org`).
    pub scopes: Vec<String>,
    /// Who may sign in.
    pub allow: Allowlist,
}

/// The kinds of provider and their endpoints.
#[derive(Debug, Clone)]
pub enum ProviderKind {
    /// A GitHub OAuth app (GitHub has no OpenID Connect for people). The identity comes from
    /// the REST API: the user, their verified emails, their organizations and teams.
    GitHub {
        /// The authorization endpoint (`https://github.com/login/oauth/authorize`).
        authorize_url: String,
        /// The token endpoint (`https://github.com/login/oauth/access_token`).
        token_url: String,
        /// The REST API's base URL (`https://api.github.com`).
        api_url: String,
    },
    /// Any OpenID Connect issuer, found through its discovery document.
    Oidc {
        /// The issuer URL exactly as the provider names itself (the discovery document is at
        /// `ISSUER/.well-known/openid-configuration`, and ID tokens must carry it as `iss`).
        issuer: String,
    },
}

impl ProviderKind {
    /// GitHub.com's endpoints.
    pub fn github() -> ProviderKind {
        ProviderKind::GitHub {
            authorize_url: "https://github.com/login/oauth/authorize".into(),
            token_url: "https://github.com/login/oauth/access_token".into(),
            api_url: "https://api.github.com".into(),
        }
    }

    /// `github` or `oidc`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProviderKind::GitHub { .. } => "github",
            ProviderKind::Oidc { .. } => "oidc",
        }
    }
}

/// Who may sign in through a provider. Anyone matching any one rule is let in; everyone else
/// is refused. An allowlist with no rule lets nobody in (and is refused at startup).
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    /// GitHub logins (case-insensitive).
    pub users: Vec<String>,
    /// GitHub organizations the user is a member of (case-insensitive).
    pub orgs: Vec<String>,
    /// GitHub teams as `org/team-slug` (case-insensitive).
    pub teams: Vec<String>,
    /// Email addresses (case-insensitive), verified ones only.
    pub emails: Vec<String>,
    /// Email domains such as `example.com` (exact, case-insensitive), verified emails only.
    pub email_domains: Vec<String>,
    /// Stable upstream ids: the OIDC `sub`, or GitHub's numeric user id.
    pub subs: Vec<String>,
    /// OIDC claims: a claim name and the values that let a person in (a string claim equal to
    /// one of them, or an array claim containing one).
    pub claims: BTreeMap<String, Vec<String>>,
}

impl Allowlist {
    /// Whether no rule is set (nobody could sign in).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
            && self.orgs.is_empty()
            && self.teams.is_empty()
            && self.emails.is_empty()
            && self.email_domains.is_empty()
            && self.subs.is_empty()
            && self.claims.is_empty()
    }
}

/// A secret that never shows in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Checks the sign-in settings; the error says what to fix.
pub fn validate_login(login: &LoginConfig) -> Result<(), String> {
    if !login.password && login.providers.is_empty() {
        return Err(
            "the owner password is turned off and no identity provider is configured, so nobody \
             could sign in"
                .into(),
        );
    }
    for (i, p) in login.providers.iter().enumerate() {
        validate(p)?;
        if login.providers[..i].iter().any(|q| q.name == p.name) {
            return Err(format!("two identity providers are named {:?}", p.name));
        }
    }
    Ok(())
}

/// Checks a provider's settings; the error says what to fix.
pub fn validate(p: &ProviderConfig) -> Result<(), String> {
    let name_ok = !p.name.is_empty()
        && p.name.len() <= 32
        && p.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        return Err(format!(
            "identity provider name {:?} must be 1 to 32 lowercase letters, digits or '-'",
            p.name
        ));
    }
    let what = format!("identity provider {:?}", p.name);
    if p.client_id.is_empty() {
        return Err(format!("{what}: client_id is empty"));
    }
    if p.allow.is_empty() {
        return Err(format!(
            "{what}: the allowlist is empty, so nobody could sign in; set allow_users, allow_orgs, \
             allow_teams, allow_emails, allow_email_domains, allow_subs or allow_claims"
        ));
    }
    match &p.kind {
        ProviderKind::GitHub {
            authorize_url,
            token_url,
            api_url,
        } => {
            if p.client_secret.is_none() {
                return Err(format!(
                    "{what}: GitHub needs a client secret (client_secret_file or client_secret_env)"
                ));
            }
            if !p.allow.claims.is_empty() {
                return Err(format!(
                    "{what}: allow_claims is for OpenID Connect providers"
                ));
            }
            for u in [authorize_url, token_url, api_url] {
                check_url(u).map_err(|e| format!("{what}: {e}"))?;
            }
        }
        ProviderKind::Oidc { issuer } => {
            if !(p.allow.users.is_empty() && p.allow.orgs.is_empty() && p.allow.teams.is_empty()) {
                return Err(format!(
                    "{what}: allow_users, allow_orgs and allow_teams are for GitHub; use allow_subs, \
                     allow_emails, allow_email_domains or allow_claims"
                ));
            }
            check_url(issuer).map_err(|e| format!("{what}: {e}"))?;
        }
    }
    Ok(())
}

/// Endpoints must be https, except on a loopback host (a provider on this machine).
pub(crate) fn check_url(u: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(u).map_err(|e| format!("{u:?} is not a URL: {e}"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if crate::redirect::is_loopback(&url) => Ok(url),
        _ => Err(format!("{u:?} must be an https URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github() -> ProviderConfig {
        ProviderConfig {
            name: "github".into(),
            label: "GitHub".into(),
            kind: ProviderKind::github(),
            client_id: "id".into(),
            client_secret: Some(Secret::new("s")),
            scopes: Vec::new(),
            allow: Allowlist {
                users: vec!["octocat".into()],
                ..Allowlist::default()
            },
        }
    }

    #[test]
    fn settings_that_cannot_work_are_refused_with_the_reason() {
        let ok = LoginConfig {
            password: false,
            providers: vec![github()],
        };
        assert_eq!(validate_login(&ok), Ok(()));
        let nobody = LoginConfig {
            password: false,
            providers: Vec::new(),
        };
        assert!(validate_login(&nobody).is_err_and(|e| e.contains("nobody could sign in")));
        let twice = LoginConfig {
            password: true,
            providers: vec![github(), github()],
        };
        assert!(validate_login(&twice).is_err_and(|e| e.contains("two identity providers")));
        type Change = Box<dyn Fn(&mut ProviderConfig)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|p| p.name = "Git Hub".into()), "lowercase"),
            (
                Box::new(|p| p.allow = Allowlist::default()),
                "allowlist is empty",
            ),
            (
                Box::new(|p| p.client_secret = None),
                "needs a client secret",
            ),
            (Box::new(|p| p.client_id.clear()), "client_id is empty"),
            (
                Box::new(|p| p.allow.claims = [("g".into(), vec!["x".into()])].into()),
                "allow_claims is for OpenID Connect",
            ),
            (
                Box::new(|p| {
                    p.kind = ProviderKind::Oidc {
                        issuer: "http://idp.example".into(),
                    }
                }),
                "allow_users, allow_orgs and allow_teams are for GitHub",
            ),
            (
                Box::new(|p| {
                    p.allow = Allowlist {
                        subs: vec!["1".into()],
                        ..Allowlist::default()
                    };
                    p.kind = ProviderKind::Oidc {
                        issuer: "http://idp.example".into(),
                    }
                }),
                "must be an https URL",
            ),
        ];
        for (change, reason) in cases {
            let mut p = github();
            change(&mut p);
            match validate(&p) {
                Err(e) => assert!(e.contains(reason), "{e:?} lacks {reason:?}"),
                Ok(()) => panic!("accepted a provider that should fail with {reason:?}"),
            }
        }
        // Loopback http is fine (a provider on this machine).
        let mut p = github();
        p.allow = Allowlist {
            subs: vec!["1".into()],
            ..Allowlist::default()
        };
        p.kind = ProviderKind::Oidc {
            issuer: "http://127.0.0.1:9000".into(),
        };
        assert_eq!(validate(&p), Ok(()));
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(..)");
    }
}
