//! What the owner does at the terminal (`sessiongate clients list`, `sessiongate clients
//! revoke ID`): list the registered clients with who approved them, and revoke one, which
//! deletes its registration and consents and revokes all its grants.
//!
//! These run in the CLI process against the same database as the running gateway; the
//! gateway learns of a revocation when it is told to reload (SIGHUP), see
//! [`AuthServer::reload_revocations`].

use rusqlite::params;
use serde::Serialize;

use crate::error::AuthError;
use crate::server::AuthServer;

/// A registered client, as the owner sees it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClientSummary {
    /// The client id.
    pub client_id: String,
    /// The name it registered with.
    pub name: String,
    /// Its redirect URIs.
    pub redirect_uris: Vec<String>,
    /// When it registered (seconds since the epoch).
    pub created_at: i64,
    /// When it last used the server.
    pub last_used_at: i64,
    /// Who approved it, with the scopes they granted (`owner: sessions:read ...`).
    pub approved_by: Vec<String>,
    /// Grants (refresh-token families) that are not revoked.
    pub live_grants: i64,
}

impl AuthServer {
    /// Every registered client, most recently used first.
    pub fn list_clients(&self) -> Result<Vec<ClientSummary>, AuthError> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare(
            "SELECT c.client_id, c.name, c.redirect_uris, c.created_at, c.last_used_at,
               (SELECT group_concat(sub || ': ' || scope, '\n') FROM consents s
                  WHERE s.client_id = c.client_id),
               (SELECT count(*) FROM families f
                  WHERE f.client_id = c.client_id AND f.revoked_at IS NULL)
             FROM clients c ORDER BY c.last_used_at DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            let uris: String = r.get(2)?;
            let approved: Option<String> = r.get(5)?;
            Ok(ClientSummary {
                client_id: r.get(0)?,
                name: r.get(1)?,
                redirect_uris: serde_json::from_str(&uris).unwrap_or_default(),
                created_at: r.get(3)?,
                last_used_at: r.get(4)?,
                approved_by: approved
                    .map(|a| a.lines().map(str::to_owned).collect())
                    .unwrap_or_default(),
                live_grants: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes a client: its grants (refresh tokens and the access tokens issued from them)
    /// stop working, and its registration and consents are deleted. Returns `false` when no
    /// such client exists.
    pub fn revoke_client(&self, client_id: &str) -> Result<bool, AuthError> {
        let families: Vec<String> = {
            let mut conn = self.store.conn();
            let tx = conn.transaction()?;
            let exists: i64 = tx.query_row(
                "SELECT count(*) FROM clients WHERE client_id = ?1",
                params![client_id],
                |r| r.get(0),
            )?;
            let families: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT family_id FROM families WHERE client_id = ?1 AND revoked_at IS NULL",
                )?;
                let rows = stmt.query_map(params![client_id], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            if exists == 0 && families.is_empty() {
                return Ok(false);
            }
            tx.execute(
                "UPDATE families SET revoked_at = ?2 WHERE client_id = ?1 AND revoked_at IS NULL",
                params![client_id, crate::util::now()],
            )?;
            tx.execute(
                "DELETE FROM consents WHERE client_id = ?1",
                params![client_id],
            )?;
            tx.execute(
                "DELETE FROM clients WHERE client_id = ?1",
                params![client_id],
            )?;
            tx.commit()?;
            families
        };
        self.revoked_families
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .extend(families);
        Ok(true)
    }

    /// Reads the revocations from the database again, so that a revocation made by another
    /// process (`sessiongate clients revoke`) takes effect at once in this one.
    pub fn reload_revocations(&self) -> Result<(), AuthError> {
        let horizon = self.cfg.access_token_ttl.as_secs() as i64 + 60;
        let families = self.store.recently_revoked_families(horizon)?;
        let jtis = self.store.live_revoked_jtis()?;
        self.revoked_families
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .extend(families);
        self.revoked_jtis
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .extend(jtis);
        Ok(())
    }
}
