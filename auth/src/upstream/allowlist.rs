//! [`Identity`], who an upstream provider says signed in, and the allowlist decision.

use serde_json::{Map, Value};

use super::config::Allowlist;

/// A person as an upstream provider described them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Identity {
    /// The subject sessiongate's tokens carry: `github:LOGIN` or `oidc:PROVIDER:SUB`.
    pub(crate) subject: String,
    /// The provider's stable id for the person (OIDC `sub`, GitHub's numeric id).
    pub(crate) id: String,
    /// The GitHub login, for GitHub.
    pub(crate) login: Option<String>,
    /// Email addresses the provider says are verified.
    pub(crate) verified_emails: Vec<String>,
    /// GitHub organizations (logins).
    pub(crate) orgs: Vec<String>,
    /// GitHub teams as `org/slug`.
    pub(crate) teams: Vec<String>,
    /// OIDC claims (ID token, completed by the userinfo endpoint).
    pub(crate) claims: Map<String, Value>,
}

impl Identity {
    /// A short description for pages and logs: the subject.
    pub(crate) fn describe(&self) -> &str {
        &self.subject
    }
}

/// Which rule let the person in, or `None` when none did.
pub(crate) fn admits(allow: &Allowlist, who: &Identity) -> Option<String> {
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    if let Some(login) = &who.login
        && allow.users.iter().any(|u| eq(u, login))
    {
        return Some(format!("allow_users: {login}"));
    }
    if allow.subs.iter().any(|s| s == &who.id) {
        return Some(format!("allow_subs: {}", who.id));
    }
    for org in &who.orgs {
        if allow.orgs.iter().any(|o| eq(o, org)) {
            return Some(format!("allow_orgs: {org}"));
        }
    }
    for team in &who.teams {
        if allow.teams.iter().any(|t| eq(t, team)) {
            return Some(format!("allow_teams: {team}"));
        }
    }
    for email in &who.verified_emails {
        if allow.emails.iter().any(|e| eq(e, email)) {
            return Some(format!("allow_emails: {email}"));
        }
        if let Some((_, domain)) = email.rsplit_once('@')
            && allow.email_domains.iter().any(|d| eq(d, domain))
        {
            return Some(format!("allow_email_domains: {domain}"));
        }
    }
    for (claim, wanted) in &allow.claims {
        let hit = match who.claims.get(claim) {
            Some(Value::Array(items)) => {
                items.iter().filter_map(scalar).find(|v| wanted.contains(v))
            }
            Some(v) => scalar(v).filter(|v| wanted.contains(v)),
            None => None,
        };
        if let Some(v) = hit {
            return Some(format!("allow_claims: {claim} = {v}"));
        }
    }
    None
}

/// A string, number or boolean claim as text.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn github(login: &str) -> Identity {
        Identity {
            subject: format!("github:{login}"),
            id: "42".into(),
            login: Some(login.into()),
            verified_emails: vec!["Octo@Example.com".into()],
            orgs: vec!["Acme".into()],
            teams: vec!["acme/ops".into()],
            ..Identity::default()
        }
    }

    #[test]
    fn each_rule_admits_and_nothing_else_does() {
        let who = github("octocat");
        let none = Allowlist::default();
        assert_eq!(admits(&none, &who), None);
        let rules = [
            Allowlist {
                users: vec!["OctoCat".into()],
                ..Default::default()
            },
            Allowlist {
                subs: vec!["42".into()],
                ..Default::default()
            },
            Allowlist {
                orgs: vec!["acme".into()],
                ..Default::default()
            },
            Allowlist {
                teams: vec!["ACME/ops".into()],
                ..Default::default()
            },
            Allowlist {
                emails: vec!["octo@example.com".into()],
                ..Default::default()
            },
            Allowlist {
                email_domains: vec!["example.COM".into()],
                ..Default::default()
            },
        ];
        for allow in &rules {
            assert!(admits(allow, &who).is_some(), "{allow:?}");
        }
        let misses = [
            Allowlist {
                users: vec!["octocat2".into()],
                ..Default::default()
            },
            Allowlist {
                subs: vec!["4".into()],
                ..Default::default()
            },
            Allowlist {
                orgs: vec!["acme-inc".into()],
                ..Default::default()
            },
            Allowlist {
                teams: vec!["acme/dev".into()],
                ..Default::default()
            },
            Allowlist {
                emails: vec!["octo@example.org".into()],
                ..Default::default()
            },
            // A subdomain or a suffix is not the domain.
            Allowlist {
                email_domains: vec!["ample.com".into()],
                ..Default::default()
            },
            Allowlist {
                email_domains: vec!["mail.example.com".into()],
                ..Default::default()
            },
        ];
        for allow in &misses {
            assert_eq!(admits(allow, &who), None, "{allow:?}");
        }
    }

    #[test]
    fn unverified_emails_never_count() {
        // The caller passes verified emails only; an identity without them has none to match.
        let mut who = github("octocat");
        who.verified_emails.clear();
        let allow = Allowlist {
            email_domains: vec!["example.com".into()],
            ..Default::default()
        };
        assert_eq!(admits(&allow, &who), None);
    }

    #[test]
    fn claims_match_strings_and_arrays_exactly() {
        let mut who = Identity {
            subject: "oidc:corp:u1".into(),
            id: "u1".into(),
            ..Identity::default()
        };
        who.claims = json!({"groups": ["dev", "ops"], "tier": "gold", "admin": true})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let allow = |k: &str, v: &str| Allowlist {
            claims: [(k.to_owned(), vec![v.to_owned()])].into(),
            ..Default::default()
        };
        assert!(admits(&allow("groups", "ops"), &who).is_some());
        assert!(admits(&allow("tier", "gold"), &who).is_some());
        assert!(admits(&allow("admin", "true"), &who).is_some());
        assert_eq!(admits(&allow("groups", "Ops"), &who), None);
        assert_eq!(admits(&allow("tier", "gol"), &who), None);
        assert_eq!(admits(&allow("missing", "x"), &who), None);
        // A GitHub login rule never matches an OIDC identity.
        let users = Allowlist {
            users: vec!["u1".into()],
            ..Default::default()
        };
        assert_eq!(admits(&users, &who), None);
    }
}
