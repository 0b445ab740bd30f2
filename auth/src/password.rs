//! The owner's password: an argon2id hash in `owner-password` in the data directory.

use std::path::{Path, PathBuf};

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

use crate::error::AuthError;
use crate::store::restrict_permissions;

/// The shortest password `sessiongate passwd` accepts.
pub(crate) const MIN_PASSWORD_LEN: usize = 12;

fn path(dir: &Path) -> PathBuf {
    dir.join("owner-password")
}

/// Whether a password is set.
pub(crate) fn is_set(dir: &Path) -> bool {
    path(dir).exists()
}

/// Stores the hash of `password`.
pub(crate) fn set(dir: &Path, password: &str) -> Result<(), AuthError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AuthError::bad(
            "invalid_request",
            format!("the password must have at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| AuthError::Crypto(format!("hashing the password: {e}")))?
        .to_string();
    let p = path(dir);
    let tmp = dir.join("owner-password.tmp");
    let io = |source| AuthError::Io {
        context: format!("writing {}", p.display()),
        source,
    };
    std::fs::write(&tmp, hash.as_bytes()).map_err(io)?;
    restrict_permissions(&tmp)?;
    std::fs::rename(&tmp, &p).map_err(io)?;
    Ok(())
}

/// Checks `password` against the stored hash. No stored hash means no password matches.
pub(crate) fn verify(dir: &Path, password: &str) -> bool {
    let Ok(stored) = std::fs::read_to_string(path(dir)) else {
        return false;
    };
    let Ok(hash) = PasswordHash::new(stored.trim()) else {
        tracing::error!(
            "the stored owner password hash is unreadable; set it again with `sessiongate passwd`"
        );
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}
