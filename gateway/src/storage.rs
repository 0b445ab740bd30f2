//! Why the data directory cannot be written, in plain words ("disk full", "read-only file
//! system", "permission denied") next to the system's or SQLite's own message, so that the
//! owner reading a refusal at startup or an unhealthy `/healthz` knows what to fix.
//!
//! [`check_writable`] runs at startup before any database is opened; [`describe_sqlite`]
//! explains a failed write of the audit log.

use std::io::{self, ErrorKind, Write};
use std::path::Path;

use crate::error::Error;

/// Creates `dir` if needed, then writes, syncs and removes a small file in it: a data
/// directory the gateway cannot keep its state in is refused at startup, with the directory
/// and the reason.
pub fn check_writable(dir: &Path) -> Result<(), Error> {
    let refuse = |what: &str, err: &io::Error| {
        Error::Refused(format!(
            "the data directory {} {what}: {}",
            dir.display(),
            describe_io(err)
        ))
    };
    std::fs::create_dir_all(dir).map_err(|e| refuse("cannot be created", &e))?;
    probe(dir).map_err(|e| refuse("cannot be written", &e))
}

/// Writes a small file into `dir`, syncs it to the disk and removes it.
pub(crate) fn probe(dir: &Path) -> io::Result<()> {
    let path = dir.join(format!(".sessiongate-write-test-{}", std::process::id()));
    let written = std::fs::File::create(&path).and_then(|mut f| {
        f.write_all(&[0u8; 4096])?;
        f.sync_all()
    });
    let _ = std::fs::remove_file(&path);
    written
}

/// An I/O error's cause in plain words ("disk full (os error 28)").
pub(crate) fn describe_io(err: &io::Error) -> String {
    let plain = match err.kind() {
        ErrorKind::StorageFull => "disk full",
        ErrorKind::ReadOnlyFilesystem => "read-only file system",
        ErrorKind::PermissionDenied => "permission denied",
        ErrorKind::QuotaExceeded => "disk quota exceeded",
        ErrorKind::NotFound => "a part of the path does not exist",
        ErrorKind::NotADirectory => "a part of the path is a file, not a directory",
        _ => return err.to_string(),
    };
    // The system's message says the same in other words; its number is what is left.
    match err.raw_os_error() {
        Some(n) => format!("{plain} (os error {n})"),
        None => plain.to_owned(),
    }
}

/// A SQLite error on a database in `dir` in plain words, followed by SQLite's message. SQLite
/// says "disk full" itself; for its read-only, cannot-open and I/O errors a probe write into
/// `dir` finds the reason (a full disk or a read-only file system shows there too).
pub(crate) fn describe_sqlite(dir: &Path, err: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode as C;
    let code = err.sqlite_error_code();
    let from_dir = match code {
        Some(C::ReadOnly | C::CannotOpen | C::SystemIoFailure | C::PermissionDenied) => {
            probe(dir).err().map(|e| describe_io(&e))
        }
        _ => None,
    };
    let plain = from_dir.or_else(|| {
        let words = match code? {
            C::DiskFull => "disk full",
            C::ReadOnly => "read-only (the database file does not take writes)",
            C::PermissionDenied => "permission denied",
            C::CannotOpen => "the database file cannot be opened",
            C::SystemIoFailure => "an I/O error",
            C::DatabaseBusy | C::DatabaseLocked => "the database is locked by another process",
            C::DatabaseCorrupt | C::NotADatabase => "the database file is damaged",
            _ => return None,
        };
        Some(words.to_owned())
    });
    match plain {
        Some(p) => format!("{p} (SQLite: {err})"),
        None => format!("SQLite: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_named_in_plain_words() {
        let full = io::Error::from_raw_os_error(libc::ENOSPC);
        assert!(describe_io(&full).starts_with("disk full ("), "{full}");
        let ro = io::Error::from_raw_os_error(libc::EROFS);
        assert!(describe_io(&ro).starts_with("read-only file system ("));
        let dir = tempfile::tempdir().expect("tempdir");
        let sqlite_full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        assert!(
            describe_sqlite(dir.path(), &sqlite_full).starts_with("disk full (SQLite: "),
            "{}",
            describe_sqlite(dir.path(), &sqlite_full)
        );
    }

    #[test]
    fn a_writable_directory_passes_and_is_created_if_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("a").join("b");
        check_writable(&data).expect("writable");
        assert!(data.is_dir());
        assert_eq!(std::fs::read_dir(&data).expect("read").count(), 0);
        let file = dir.path().join("file");
        std::fs::write(&file, "x").expect("write");
        let err = check_writable(&file.join("data")).expect_err("under a file");
        let msg = err.to_string();
        assert!(msg.contains(&file.display().to_string()), "{msg}");
    }
}
