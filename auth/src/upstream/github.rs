//! GitHub: who signed in, from the REST API, with the upstream access token that is used for
//! these calls only and then dropped.

use serde::Deserialize;

use super::allowlist::Identity;
use super::config::{Allowlist, ProviderConfig};
use super::http::{CallError, get_json};

const ACCEPT: &str = "application/vnd.github+json";

#[derive(Debug, Deserialize)]
struct User {
    login: String,
    id: u64,
}

#[derive(Debug, Deserialize)]
struct Email {
    email: String,
    #[serde(default)]
    verified: bool,
}

#[derive(Debug, Deserialize)]
struct Org {
    login: String,
}

#[derive(Debug, Deserialize)]
struct Team {
    slug: String,
    organization: Org,
}

/// The scopes the allowlist needs: the user always, emails and organizations only when a
/// rule reads them.
pub(crate) fn default_scopes(allow: &Allowlist) -> Vec<String> {
    let mut scopes = vec!["read:user".to_owned()];
    if !allow.emails.is_empty() || !allow.email_domains.is_empty() {
        scopes.push("user:email".into());
    }
    if !allow.orgs.is_empty() || !allow.teams.is_empty() {
        scopes.push("read:org".into());
    }
    scopes
}

/// The subject of a GitHub identity: `github:LOGIN` for the provider named `github`,
/// `github:NAME:LOGIN` for another (a GitHub Enterprise server, say).
pub(crate) fn subject(provider: &str, login: &str) -> String {
    if provider == "github" {
        format!("github:{login}")
    } else {
        format!("github:{provider}:{login}")
    }
}

/// Reads the identity: `/user`, then `/user/emails`, `/user/orgs` and `/user/teams` when the
/// allowlist has rules that need them.
pub(crate) async fn identity(
    http: &reqwest::Client,
    p: &ProviderConfig,
    api_url: &str,
    token: &str,
) -> Result<Identity, CallError> {
    let api = api_url.trim_end_matches('/');
    let user: User = get_json(http, &format!("{api}/user"), Some(token), ACCEPT).await?;
    let valid_login = !user.login.is_empty()
        && user.login.len() <= 39
        && user
            .login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid_login {
        return Err(CallError::Malformed {
            url: format!("{api}/user"),
            reason: "the login is not a GitHub login".into(),
        });
    }
    let mut who = Identity {
        subject: subject(&p.name, &user.login),
        id: user.id.to_string(),
        login: Some(user.login),
        ..Identity::default()
    };
    let allow = &p.allow;
    if !allow.emails.is_empty() || !allow.email_domains.is_empty() {
        let emails: Vec<Email> = get_json(
            http,
            &format!("{api}/user/emails?per_page=100"),
            Some(token),
            ACCEPT,
        )
        .await?;
        who.verified_emails = emails
            .into_iter()
            .filter(|e| e.verified)
            .map(|e| e.email)
            .collect();
    }
    if !allow.orgs.is_empty() {
        let orgs: Vec<Org> = get_json(
            http,
            &format!("{api}/user/orgs?per_page=100"),
            Some(token),
            ACCEPT,
        )
        .await?;
        who.orgs = orgs.into_iter().map(|o| o.login).collect();
    }
    if !allow.teams.is_empty() {
        let teams: Vec<Team> = get_json(
            http,
            &format!("{api}/user/teams?per_page=100"),
            Some(token),
            ACCEPT,
        )
        .await?;
        who.teams = teams
            .into_iter()
            .map(|t| format!("{}/{}", t.organization.login, t.slug))
            .collect();
    }
    Ok(who)
}
