//! A session's program starts with the default signal dispositions even when the gateway
//! ignores some (as a gateway started in the background by a shell ignores SIGINT and
//! SIGQUIT). Its own test binary: it changes the process's signal dispositions.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use sessiongate_backend::{LaunchProfile, ReadRequest, SessionBackend, SessionPolicy};
use sessiongate_backend_pty::{PtyBackend, PtyConfig};

#[tokio::test]
async fn ignored_signals_are_not_inherited() {
    // What `sh -c 'sessiongate serve &'` does to the gateway.
    for sig in [libc::SIGINT, libc::SIGQUIT] {
        // SAFETY: SIG_IGN installs no handler; this test binary runs only this test.
        #[allow(unsafe_code)]
        let previous = unsafe { libc::signal(sig, libc::SIG_IGN) };
        assert_ne!(previous, libc::SIG_ERR);
    }
    let root = tempfile::tempdir().unwrap();
    let argv = ["grep", "SigIgn", "/proc/self/status"]
        .map(String::from)
        .to_vec();
    let profiles = BTreeMap::from([("status".to_owned(), LaunchProfile::Argv(argv))]);
    let policy = SessionPolicy::new(&[root.path().to_owned()], profiles).unwrap();
    let backend = PtyBackend::new(PtyConfig::default());
    let name = backend
        .create(policy.prepare("sig", None, "status").unwrap())
        .await
        .unwrap()
        .name;
    let mut screen = String::new();
    for _ in 0..200 {
        screen = backend
            .read(&name, ReadRequest::default())
            .await
            .unwrap()
            .text;
        if screen.contains("SigIgn") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mask = screen
        .split("SigIgn:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or_else(|| panic!("no SigIgn line: {screen:?}"));
    let bit = |sig: libc::c_int| 1u64 << (sig - 1);
    assert_eq!(
        mask & (bit(libc::SIGINT) | bit(libc::SIGQUIT)),
        0,
        "the session's program ignores SIGINT or SIGQUIT: {screen:?}"
    );
}
