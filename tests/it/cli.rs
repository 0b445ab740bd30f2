//! The command line refuses unsafe or broken options with a clear message and a non-zero
//! exit code.

use std::process::Command;

use sessiongate_tests::gateway::binary;

fn serve(args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(binary())
        .arg("serve")
        .args(args)
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--allowed-root")
        .arg(dir.path())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn auth_none_is_refused_off_loopback() {
    for bind in ["0.0.0.0:0", "[::]:0"] {
        let (ok, err) = serve(&["--auth", "none", "--bind", bind]);
        assert!(!ok, "{bind} must be refused");
        assert!(
            err.contains("refusing to serve without authentication"),
            "{err}"
        );
        assert!(err.contains("loopback"), "{err}");
    }
}

#[test]
fn a_broken_config_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "profiles = 5\n").unwrap();
    let (ok, err) = serve(&["--auth", "none", "--config", cfg.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("c.toml"), "{err}");
    let (ok, err) = serve(&["--auth", "none", "--config", "/no/such/file.toml"]);
    assert!(!ok);
    assert!(err.contains("file.toml"), "{err}");
}

#[test]
fn help_explains_every_serve_option() {
    let out = Command::new(binary())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--bind",
        "--backend",
        "--tmux-socket",
        "--data-dir",
        "--config",
        "--auth",
        "--allowed-root",
        "SESSIONGATE_BIND",
    ] {
        assert!(help.contains(opt), "{opt} missing from:\n{help}");
    }
}

#[test]
fn keys_rotate_and_old_tokens_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let token = |dir: &std::path::Path| {
        let out = Command::new(binary())
            .args(["token", "--ttl", "10m", "--data-dir"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let kid = |t: &str| {
        use base64::Engine;
        let header = t.split('.').next().unwrap();
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&raw).unwrap()["kid"].clone()
    };
    let before = token(dir.path());
    let out = Command::new(binary())
        .args(["rotate-keys", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let after = token(dir.path());
    assert_ne!(kid(&before), kid(&after));
}

/// Client ids are random base64url: one that begins with '-' is still an id, not an option.
#[test]
fn client_ids_beginning_with_a_dash_are_ids() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["clients", "revoke", "-5xY_z"],
        vec!["audit", "--client", "-5xY_z"],
    ] {
        let out = Command::new(binary())
            .args(&args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("unexpected argument"), "{args:?}: {err}");
    }
    let out = Command::new(binary())
        .args(["clients", "revoke", "-5xY_z", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no client with id \"-5xY_z\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
