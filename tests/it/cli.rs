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

/// Starts `serve` with `args` and a config file holding `config`; returns whether it came up
/// (it is stopped at once then) and what it wrote to stderr.
fn serve_with_config(args: &[&str], config: &str) -> (bool, String) {
    use std::io::{BufRead, Read};
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, config).unwrap();
    let mut child = Command::new(binary())
        .arg("serve")
        .args(args)
        .args(["--backend", "pty", "--bind", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--allowed-root")
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A line on stdout says it listens; a refusal closes stdout without one.
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut started = false;
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        if line.contains("listening") {
            started = true;
            child.kill().unwrap();
            break;
        }
        line.clear();
    }
    child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (started, err)
}

#[test]
fn auth_none_is_refused_when_anything_but_loopback_can_get_in() {
    // (what, flags, config file)
    let refused: [(&str, &[&str], &str); 6] = [
        (
            "a public URL behind a tunnel",
            &["--public-url", "https://gw.example.com"],
            "",
        ),
        (
            "a public URL on a LAN address",
            &["--public-url", "http://192.168.1.5:8000"],
            "",
        ),
        (
            "a public URL that only looks like loopback",
            &["--public-url", "http://127.0.0.1.evil.example"],
            "",
        ),
        (
            "a non-loopback allowed host",
            &[],
            "allowed_hosts = [\"gw.example.com\"]\n",
        ),
        (
            "a non-loopback allowed origin",
            &[],
            "allowed_origins = [\"https://app.example.org:*\"]\n",
        ),
        ("a trusted proxy", &["--trusted-proxy", "127.0.0.1"], ""),
    ];
    for (what, flags, config) in refused {
        let mut args = vec!["--auth", "none"];
        args.extend_from_slice(flags);
        let (started, err) = serve_with_config(&args, config);
        assert!(!started, "{what}: started");
        assert!(
            err.contains("refusing to serve without authentication")
                && err.contains("--auth none is only allowed when every way in is loopback"),
            "{what}: {err}"
        );
    }
    // Loopback everywhere is still fine, and OAuth may have all of the above.
    let (started, err) = serve_with_config(
        &["--auth", "none", "--public-url", "http://localhost:8000"],
        "allowed_hosts = [\"localhost\", \"::1\"]\nallowed_origins = [\"http://127.0.0.1:*\"]\n",
    );
    assert!(started, "{err}");
    let (started, err) = serve_with_config(
        &[
            "--auth",
            "oauth",
            "--public-url",
            "https://gw.example.com",
            "--trusted-proxy",
            "127.0.0.1",
        ],
        "allowed_hosts = [\"gw.example.com\"]\nallowed_origins = [\"https://app.example.org\"]\n",
    );
    assert!(started, "{err}");
    // A public URL without a valid host is refused whatever the auth mode.
    let (started, err) = serve_with_config(&["--public-url", "https://user@gw.example.com"], "");
    assert!(
        !started && err.contains("is not an http or https URL with a valid host"),
        "{err}"
    );
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
