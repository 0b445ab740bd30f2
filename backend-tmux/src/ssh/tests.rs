//! The remote command's quoting against a real POSIX shell: every hostile word comes back
//! exactly as one argument, and nothing in it runs.

use super::*;

/// Words a shell would split, expand, run or read as an option if they were not quoted.
const HOSTILE: &[&str] = &[
    "plain",
    "",
    "two words",
    "it's",
    "''",
    "'\\''",
    "\"double\" \"",
    "$(touch PWNED)",
    "`touch PWNED`",
    "${HOME} $HOME $((1+1))",
    "a;touch PWNED",
    "a && touch PWNED || touch PWNED",
    "a | touch PWNED",
    "line\ntouch PWNED\n",
    "\r\n\t",
    "~",
    "~root/x",
    "*",
    "?[a-z]*",
    "{a,b}",
    "-n",
    "--",
    "-e touch PWNED",
    "> PWNED",
    "< /etc/passwd",
    "back\\slash\\",
    "#comment",
    "!!",
    "é ü 日本",
    "\u{1b}[201~",
];

#[test]
fn quoted_words_reach_a_real_shell_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    // The file a successful injection would create, and a file a glob would match.
    std::fs::write(dir.path().join("aaa"), "").unwrap();
    // printf prints each argument NUL-terminated; the script is what ssh hands the remote
    // shell: `sh -c '<words>'`.
    let mut words = vec!["printf", "%s\\0"];
    words.extend(HOSTILE);
    let script = remote_command(&words);
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let got: Vec<&[u8]> = out.stdout.split(|b| *b == 0).collect();
    // printf's output ends with a NUL, so the split leaves one empty piece at the end.
    assert_eq!(
        got.len(),
        HOSTILE.len() + 1,
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    for (want, got) in HOSTILE.iter().zip(&got) {
        assert_eq!(want.as_bytes(), *got, "word {want:?}");
    }
    assert!(
        !dir.path().join("PWNED").exists(),
        "a quoted word ran a command"
    );
}

#[test]
fn a_destination_that_looks_like_an_option_is_refused() {
    for dest in ["-oProxyCommand=touch /tmp/x", "", "-p"] {
        let ssh = Ssh::new(SshTarget::new("h", dest, std::env::temp_dir()));
        assert!(ssh.command(&["tmux"]).is_err(), "{dest:?}");
    }
}

#[test]
fn the_command_line_turns_off_forwarding_and_prompts() {
    let dir = tempfile::tempdir().unwrap();
    let ssh = Ssh::new(SshTarget::new("build", "dev@build", dir.path().join("ssh")));
    let cmd = ssh.command(&["tmux", "-L", "x;y"]).unwrap();
    let argv: Vec<String> = cmd
        .as_std()
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    for want in [
        "-a",
        "-x",
        "BatchMode=yes",
        "ControlMaster=auto",
        "StrictHostKeyChecking=yes",
    ] {
        assert!(
            argv.iter().any(|a| a == want),
            "{want} missing from {argv:?}"
        );
    }
    let at = argv.iter().position(|a| a == "dev@build").unwrap();
    assert_eq!(argv[at + 1], "--");
    assert_eq!(argv[at + 2], "'tmux' '-L' 'x;y'");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("ssh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}
