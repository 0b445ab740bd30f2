//! The authorization server's SQLite database: clients, authorization codes, refresh-token
//! families, consents, signing keys and revoked tokens.
//!
//! The database runs in WAL mode with `synchronous = FULL`, so a write that was acknowledged
//! survives a crash. Secrets (client secrets, codes, refresh tokens) are stored as SHA-256
//! hashes only. Calls are synchronous; the server runs them on the blocking thread pool.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::AuthError;
use crate::util::now;

/// A registered client.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub(crate) client_id: String,
    pub(crate) secret_hash: Option<String>,
    pub(crate) name: String,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) auth_method: String,
}

/// A stored authorization code.
#[derive(Debug, Clone)]
pub(crate) struct Code {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) challenge: String,
    pub(crate) scope: String,
    pub(crate) resource: String,
    pub(crate) sub: String,
    pub(crate) expires_at: i64,
    pub(crate) used_at: Option<i64>,
    pub(crate) family_id: Option<String>,
}

/// A refresh-token family (all the refresh tokens one grant has produced).
#[derive(Debug, Clone)]
pub(crate) struct Family {
    pub(crate) family_id: String,
    pub(crate) client_id: String,
    pub(crate) sub: String,
    pub(crate) scope: String,
    pub(crate) resource: String,
    pub(crate) revoked_at: Option<i64>,
}

/// A stored refresh token.
#[derive(Debug, Clone)]
pub(crate) struct Refresh {
    pub(crate) expires_at: i64,
    pub(crate) used_at: Option<i64>,
}

/// A signing key row: id, PKCS#8 document, creation time, retirement time.
pub(crate) type StoredKey = (String, Vec<u8>, i64, Option<i64>);

/// The database.
#[derive(Debug)]
pub(crate) struct Store {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS clients (
  client_id TEXT PRIMARY KEY, secret_hash TEXT, name TEXT NOT NULL,
  redirect_uris TEXT NOT NULL, auth_method TEXT NOT NULL,
  created_at INTEGER NOT NULL, last_used_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS codes (
  code_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL,
  challenge TEXT NOT NULL, scope TEXT NOT NULL, resource TEXT NOT NULL, sub TEXT NOT NULL,
  expires_at INTEGER NOT NULL, used_at INTEGER, family_id TEXT);
CREATE TABLE IF NOT EXISTS families (
  family_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, sub TEXT NOT NULL, scope TEXT NOT NULL,
  resource TEXT NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER);
CREATE TABLE IF NOT EXISTS refresh_tokens (
  token_hash TEXT PRIMARY KEY, family_id TEXT NOT NULL, expires_at INTEGER NOT NULL,
  used_at INTEGER);
CREATE TABLE IF NOT EXISTS consents (
  client_id TEXT NOT NULL, sub TEXT NOT NULL, scope TEXT NOT NULL, granted_at INTEGER NOT NULL,
  PRIMARY KEY (client_id, sub));
CREATE TABLE IF NOT EXISTS signing_keys (
  kid TEXT PRIMARY KEY, pkcs8 BLOB NOT NULL, created_at INTEGER NOT NULL, retired_at INTEGER);
CREATE TABLE IF NOT EXISTS revoked_jti (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
";

impl Store {
    /// Opens (or creates) `auth.db` in `dir`, readable by the owner only.
    pub(crate) fn open(dir: &Path) -> Result<Store, AuthError> {
        let path = dir.join("auth.db");
        let conn = Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        restrict_permissions(&path)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn insert_client(&self, c: &Client) -> Result<(), AuthError> {
        let uris = serde_json::to_string(&c.redirect_uris).unwrap_or_else(|_| "[]".into());
        self.conn().execute(
            "INSERT INTO clients VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![
                c.client_id,
                c.secret_hash,
                c.name,
                uris,
                c.auth_method,
                now()
            ],
        )?;
        Ok(())
    }

    pub(crate) fn client(&self, client_id: &str) -> Result<Option<Client>, AuthError> {
        let row = self
            .conn()
            .query_row(
                "SELECT client_id, secret_hash, name, redirect_uris, auth_method FROM clients WHERE client_id = ?1",
                params![client_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        Ok(
            row.map(|(client_id, secret_hash, name, uris, auth_method)| Client {
                client_id,
                secret_hash,
                name,
                redirect_uris: serde_json::from_str(&uris).unwrap_or_default(),
                auth_method,
            }),
        )
    }

    pub(crate) fn touch_client(&self, client_id: &str) -> Result<(), AuthError> {
        self.conn().execute(
            "UPDATE clients SET last_used_at = ?2 WHERE client_id = ?1",
            params![client_id, now()],
        )?;
        Ok(())
    }

    /// Deletes clients unused for `max_idle_secs` that hold no live grant.
    pub(crate) fn prune_clients(&self, max_idle_secs: i64) -> Result<usize, AuthError> {
        let n = self.conn().execute(
            "DELETE FROM clients WHERE last_used_at < ?1 AND client_id NOT IN
               (SELECT client_id FROM families WHERE revoked_at IS NULL)",
            params![now() - max_idle_secs],
        )?;
        Ok(n)
    }

    pub(crate) fn insert_code(&self, code_hash: &str, c: &Code) -> Result<(), AuthError> {
        self.conn().execute(
            "INSERT INTO codes VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL)",
            params![
                code_hash,
                c.client_id,
                c.redirect_uri,
                c.challenge,
                c.scope,
                c.resource,
                c.sub,
                c.expires_at
            ],
        )?;
        Ok(())
    }

    pub(crate) fn code(&self, code_hash: &str) -> Result<Option<Code>, AuthError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT client_id, redirect_uri, challenge, scope, resource, sub, expires_at, used_at, family_id
                 FROM codes WHERE code_hash = ?1",
                params![code_hash],
                |r| {
                    Ok(Code {
                        client_id: r.get(0)?,
                        redirect_uri: r.get(1)?,
                        challenge: r.get(2)?,
                        scope: r.get(3)?,
                        resource: r.get(4)?,
                        sub: r.get(5)?,
                        expires_at: r.get(6)?,
                        used_at: r.get(7)?,
                        family_id: r.get(8)?,
                    })
                },
            )
            .optional()?)
    }

    /// Marks a code used and records the family it started, in one transaction. Returns
    /// false when it was used already (a concurrent exchange won).
    pub(crate) fn redeem_code(
        &self,
        code_hash: &str,
        family: &Family,
        refresh_hash: &str,
        refresh_expires: i64,
    ) -> Result<bool, AuthError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "UPDATE codes SET used_at = ?2, family_id = ?3 WHERE code_hash = ?1 AND used_at IS NULL",
            params![code_hash, now(), family.family_id],
        )?;
        if n == 0 {
            return Ok(false);
        }
        insert_family(&tx, family)?;
        tx.execute(
            "INSERT INTO refresh_tokens VALUES (?1, ?2, ?3, NULL)",
            params![refresh_hash, family.family_id, refresh_expires],
        )?;
        tx.commit()?;
        Ok(true)
    }

    pub(crate) fn refresh(&self, token_hash: &str) -> Result<Option<(Refresh, Family)>, AuthError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT r.family_id, r.expires_at, r.used_at, f.client_id, f.sub, f.scope, f.resource, f.revoked_at
                 FROM refresh_tokens r JOIN families f ON f.family_id = r.family_id
                 WHERE r.token_hash = ?1",
                params![token_hash],
                |r| {
                    let family_id: String = r.get(0)?;
                    Ok((
                        Refresh {
                            expires_at: r.get(1)?,
                            used_at: r.get(2)?,
                        },
                        Family {
                            family_id,
                            client_id: r.get(3)?,
                            sub: r.get(4)?,
                            scope: r.get(5)?,
                            resource: r.get(6)?,
                            revoked_at: r.get(7)?,
                        },
                    ))
                },
            )
            .optional()?)
    }

    /// Rotates a refresh token: marks the old one used and stores the new one. Returns false
    /// when the old one was used already.
    pub(crate) fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        family_id: &str,
        expires_at: i64,
    ) -> Result<bool, AuthError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "UPDATE refresh_tokens SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL",
            params![old_hash, now()],
        )?;
        if n == 0 {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO refresh_tokens VALUES (?1, ?2, ?3, NULL)",
            params![new_hash, family_id, expires_at],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Revokes a family: its refresh tokens stop working and the server refuses its access
    /// tokens (the caller adds the family to the in-memory revocation set).
    pub(crate) fn revoke_family(&self, family_id: &str) -> Result<(), AuthError> {
        self.conn().execute(
            "UPDATE families SET revoked_at = ?2 WHERE family_id = ?1 AND revoked_at IS NULL",
            params![family_id, now()],
        )?;
        Ok(())
    }

    /// Families revoked within the last `secs` (their access tokens may still be unexpired).
    pub(crate) fn recently_revoked_families(&self, secs: i64) -> Result<Vec<String>, AuthError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT family_id FROM families WHERE revoked_at >= ?1")?;
        let rows = stmt.query_map(params![now() - secs], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(crate) fn revoke_jti(&self, jti: &str, expires_at: i64) -> Result<(), AuthError> {
        self.conn().execute(
            "INSERT OR IGNORE INTO revoked_jti VALUES (?1, ?2)",
            params![jti, expires_at],
        )?;
        Ok(())
    }

    pub(crate) fn live_revoked_jtis(&self) -> Result<Vec<String>, AuthError> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM revoked_jti WHERE expires_at < ?1",
            params![now()],
        )?;
        let mut stmt = conn.prepare("SELECT jti FROM revoked_jti")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(crate) fn record_consent(
        &self,
        client_id: &str,
        sub: &str,
        scope: &str,
    ) -> Result<(), AuthError> {
        self.conn().execute(
            "INSERT INTO consents VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(client_id, sub) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
            params![client_id, sub, scope, now()],
        )?;
        Ok(())
    }

    pub(crate) fn signing_keys(&self) -> Result<Vec<StoredKey>, AuthError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT kid, pkcs8, created_at, retired_at FROM signing_keys ORDER BY created_at",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(crate) fn insert_signing_key(&self, kid: &str, pkcs8: &[u8]) -> Result<(), AuthError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE signing_keys SET retired_at = ?1 WHERE retired_at IS NULL",
            params![now()],
        )?;
        tx.execute(
            "INSERT INTO signing_keys VALUES (?1, ?2, ?3, NULL)",
            params![kid, pkcs8, now()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes keys retired longer ago than `secs` (no token they signed can be alive).
    pub(crate) fn drop_old_keys(&self, secs: i64) -> Result<(), AuthError> {
        self.conn().execute(
            "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?1",
            params![now() - secs],
        )?;
        Ok(())
    }
}

fn insert_family(tx: &rusqlite::Transaction<'_>, f: &Family) -> Result<(), AuthError> {
    tx.execute(
        "INSERT INTO families VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)",
        params![f.family_id, f.client_id, f.sub, f.scope, f.resource, now()],
    )?;
    Ok(())
}

/// Makes a file readable and writable by its owner only.
pub(crate) fn restrict_permissions(path: &Path) -> Result<(), AuthError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
        AuthError::Io {
            context: format!("restricting permissions of {}", path.display()),
            source,
        }
    })
}
