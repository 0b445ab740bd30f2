use super::*;

fn policy(root: &Path) -> SessionPolicy {
    SessionPolicy::new(&[root.to_path_buf()], default_profiles()).unwrap()
}

#[test]
fn accepts_a_directory_under_the_root() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("proj")).unwrap();
    let p = policy(root.path());
    let spec = p.prepare("s1", Some("proj"), "shell").unwrap();
    assert_eq!(
        spec.working_dir,
        root.path().canonicalize().unwrap().join("proj")
    );
    assert_eq!(spec.argv, vec!["bash", "-l"]);
    let abs = root.path().join("proj");
    assert!(p.prepare("s1", abs.to_str(), "shell").is_ok());
    assert!(p.prepare("s1", None, "shell").is_ok());
}

#[test]
fn refuses_paths_outside_the_roots() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let p = policy(root.path());
    for dir in ["/", "..", "../..", "/etc", outside.path().to_str().unwrap()] {
        let err = p.prepare("s1", Some(dir), "shell").unwrap_err();
        assert!(
            matches!(err, Error::WorkdirNotAllowed { .. }),
            "{dir}: {err}"
        );
    }
}

#[test]
fn resolves_symlinks_before_checking() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("escape")).unwrap();
    let err = policy(root.path())
        .prepare("s1", Some("escape"), "shell")
        .unwrap_err();
    assert!(matches!(err, Error::WorkdirNotAllowed { .. }), "{err}");
}

#[test]
fn refuses_missing_and_hostile_paths() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("file"), "x").unwrap();
    let p = policy(root.path());
    let long = "a/".repeat(5000);
    for dir in ["nope", "file", "a\0b", long.as_str()] {
        let err = p.prepare("s1", Some(dir), "shell").unwrap_err();
        assert!(matches!(err, Error::WorkdirMissing(_)), "{err}");
    }
}

#[test]
fn refuses_unknown_profiles_and_missing_programs() {
    let root = tempfile::tempdir().unwrap();
    let mut profiles = default_profiles();
    profiles.insert(
        "ghost".into(),
        LaunchProfile::Argv(vec!["no-such-program-sessiongate".into()]),
    );
    let p = SessionPolicy::new(&[root.path().to_path_buf()], profiles).unwrap();
    let err = p.prepare("s1", None, "rm -rf /").unwrap_err();
    assert!(matches!(err, Error::UnknownProfile { .. }), "{err}");
    assert!(err.to_string().contains("shell"));
    let err = p.prepare("s1", None, "ghost").unwrap_err();
    assert!(matches!(err, Error::ProgramNotFound(_)), "{err}");
}

#[test]
fn refuses_hostile_names_first() {
    let root = tempfile::tempdir().unwrap();
    let err = policy(root.path())
        .prepare("a;rm -rf", None, "shell")
        .unwrap_err();
    assert!(matches!(err, Error::InvalidName { .. }));
}

#[test]
fn caps_message_size() {
    let root = tempfile::tempdir().unwrap();
    let p = policy(root.path());
    assert!(p.check_message(&"x".repeat(p.max_message_bytes)).is_ok());
    let err = p
        .check_message(&"x".repeat(p.max_message_bytes + 1))
        .unwrap_err();
    assert!(matches!(err, Error::MessageTooLarge { .. }));
}

#[test]
fn refuses_control_characters_a_terminal_acts_on() {
    let root = tempfile::tempdir().unwrap();
    let p = policy(root.path());
    for ok in [
        "tab\there",
        "two\nlines\r\n",
        "\x1b[31mred\x1b[0m",
        "del\x7f",
        "émoji ✓",
    ] {
        assert!(p.check_message(ok).is_ok(), "{ok:?}");
    }
    for (bad, offset) in [
        ("abc\x03\rrm -rf ~\r", 3),
        ("\x1a", 0),
        ("x\x1c", 1),
        ("nul\0", 3),
        ("eof\x04", 3),
        ("é\x16", 2),
    ] {
        match p.check_message(bad) {
            Err(Error::ControlCharacter { offset: o, .. }) => assert_eq!(o, offset, "{bad:?}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    let msg = p.check_message("a\x03").unwrap_err().to_string();
    assert!(msg.contains("\\u{3}") && msg.contains("send_keys"), "{msg}");
}
