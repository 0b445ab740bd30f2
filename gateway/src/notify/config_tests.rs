use super::*;

fn notify(text: &str) -> Result<NotifyConfig, String> {
    let file: crate::cli::config::FileConfig = toml::from_str(text).map_err(|e| e.to_string())?;
    file.notify.unwrap_or_default().resolve()
}

#[test]
fn channels_are_read_with_their_secrets_and_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("s");
    std::fs::write(&secret, " hook-secret\n").expect("write");
    let cfg = notify(&format!(
        "[notify]\nfinished_after_secs = 5\n\
         [notify.channels.hook]\nkind = \"webhook\"\nurl = \"https://hooks.example/x\"\n\
         secret_file = \"{}\"\nevents = [\"exited\", \"finished\"]\n\
         [notify.channels.phone]\nkind = \"ntfy\"\nurl = \"http://127.0.0.1:9/\"\ntopic = \"t\"\n\
         [notify.channels.chat]\nkind = \"webhook\"\nformat = \"slack\"\nurl = \"http://[::1]:9/\"\n",
        secret.display()
    ))
    .expect("valid");
    assert_eq!(cfg.finished_after, Duration::from_secs(5));
    let names: Vec<&str> = cfg.channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["chat", "hook", "phone"]);
    assert!(
        matches!(&cfg.channels[1].kind, ChannelKind::Webhook { secret, .. } if secret == b"hook-secret")
    );
    assert_eq!(
        cfg.channels[1].events,
        [EventKind::Exited, EventKind::Finished]
    );
    assert_eq!(
        cfg.channels[2].events,
        [EventKind::Waiting, EventKind::Exited]
    );
    assert!(matches!(cfg.channels[0].kind, ChannelKind::Slack { .. }));
    // Neither secrets nor URLs are in the debug output.
    let debug = format!("{cfg:?}");
    assert!(!debug.contains("hook-secret") && !debug.contains("hooks.example"));
}

#[test]
fn bad_channel_settings_name_the_key() {
    let cases = [
        (
            "[notify.channels.x]\nkind = \"pager\"\n",
            "[notify.channels.x] kind: unknown kind \"pager\"",
        ),
        (
            "[notify.channels.x]\nkind = \"webhook\"\nurl = \"http://hooks.example/\"\nsecret_env = \"PATH\"\n",
            "[notify.channels.x] url: plain http",
        ),
        (
            "[notify.channels.x]\nkind = \"webhook\"\nurl = \"https://h.example/\"\nsecret_file = \"/nonexistent/s\"\n",
            "[notify.channels.x] secret_file: reading /nonexistent/s",
        ),
        (
            "[notify.channels.x]\nkind = \"webhook\"\nurl = \"https://h.example/\"\n",
            "[notify.channels.x] secret_file: a webhook is signed",
        ),
        (
            "[notify.channels.x]\nkind = \"webhook\"\nurl = \"https://h.example/\"\nsecret_env = \"SESSIONGATE_TEST_UNSET_VARIABLE\"\n",
            "[notify.channels.x] secret_env: the environment variable",
        ),
        (
            "[notify.channels.x]\nkind = \"ntfy\"\nurl = \"https://ntfy.sh\"\n",
            "[notify.channels.x] topic",
        ),
        (
            "[notify.channels.x]\nkind = \"ntfy\"\nurl = \"https://ntfy.sh\"\ntopic = \"t\"\nsecret_env = \"PATH\"\n",
            "[notify.channels.x] secret_env: not a setting",
        ),
        (
            "[notify]\nevents = [\"waiting\", \"lunch\"]\n",
            "[notify] events: unknown event \"lunch\"",
        ),
        (
            "[notify]\nanswers = \"always\"\n",
            "[notify] answers: unknown mode",
        ),
        (
            "[notify]\nanswer_ttl_secs = 0\n",
            "[notify] answer_ttl_secs",
        ),
        (
            "[notify.channels.m]\nkind = \"email\"\nurl = \"smtp://u:p@mail.example\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\n",
            "[notify.channels.m] url: no credentials in the URL",
        ),
        (
            "[notify.channels.m]\nkind = \"email\"\nurl = \"http://mail.example\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\n",
            "[notify.channels.m] url: scheme",
        ),
        (
            "[notify.channels.m]\nkind = \"email\"\nurl = \"smtps://mail.example\"\nto = [\"d@e.f\"]\n",
            "[notify.channels.m] from",
        ),
        (
            "[notify.channels.m]\nkind = \"email\"\nurl = \"smtps://mail.example\"\nfrom = \"a@b.c\"\nto = []\n",
            "[notify.channels.m] to",
        ),
        (
            "[notify.channels.m]\nkind = \"email\"\nurl = \"smtps://mail.example\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\nusername = \"u\"\n",
            "[notify.channels.m] password_file",
        ),
        (
            "[notify.channels.m]\nkind = \"email\"\nurl = \"smtps://mail.example\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\ntopic = \"t\"\n",
            "[notify.channels.m] topic: not a setting",
        ),
        (
            "[notify.channels.x]\nkind = \"ntfy\"\nurl = \"https://ntfy.sh\"\ntopic = \"t\"\nfrom = \"a@b.c\"\n",
            "[notify.channels.x] from: not a setting",
        ),
        (
            "[notify.channels.x]\nkind = \"ntfy\"\nurl = \"https://ntfy.sh\"\ntopic = \"t\"\nanswers = \"yes\"\n",
            "[notify.channels.x] answers: unknown mode",
        ),
        (
            "[notify.channels.x]\nkind = \"ntfy\"\nurl = \"https://ntfy.sh\"\ntopic = \"t\"\ntimeout_secs = 0\n",
            "[notify.channels.x] timeout_secs",
        ),
    ];
    for (text, reason) in cases {
        match notify(text) {
            Err(e) => assert!(e.contains(reason), "{e:?} lacks {reason:?}"),
            Ok(_) => panic!("accepted {text}"),
        }
    }
}

#[test]
fn answers_default_to_login_and_a_channel_may_differ() {
    let cfg = notify(
        "[notify]\nanswer_ttl_secs = 30\n\
         [notify.channels.a]\nkind = \"ntfy\"\nurl = \"https://ntfy.sh\"\ntopic = \"t\"\n\
         [notify.channels.b]\nkind = \"ntfy\"\nurl = \"https://ntfy.sh\"\ntopic = \"t\"\nanswers = \"link\"\n",
    )
    .expect("valid");
    assert_eq!(cfg.answer_ttl, Duration::from_secs(30));
    assert_eq!(cfg.channels[0].answers, AnswerMode::Login);
    assert_eq!(cfg.channels[1].answers, AnswerMode::Link);
    let off = notify(
        "[notify]\nanswers = \"off\"\n\
         [notify.channels.a]\nkind = \"ntfy\"\nurl = \"https://ntfy.sh\"\ntopic = \"t\"\n",
    )
    .expect("valid");
    assert_eq!(off.channels[0].answers, AnswerMode::Off);
}

#[test]
fn email_needs_tls_off_loopback() {
    use crate::notify::email::Security;
    let mail = |url: &str| {
        let cfg = notify(&format!(
            "[notify.channels.m]\nkind = \"email\"\nurl = \"{url}\"\n\
             from = \"sessiongate <a@b.c>\"\nto = [\"d@e.f\"]\n"
        ))
        .expect("valid");
        match &cfg.channels[0].kind {
            ChannelKind::Email(m) => format!("{m:?}"),
            other => panic!("{other:?}"),
        }
    };
    assert!(mail("smtps://mail.example").contains(&format!("{:?}", Security::Implicit)));
    assert!(mail("smtps://mail.example").contains("465"));
    assert!(mail("smtp://mail.example").contains(&format!("{:?}", Security::StartTls)));
    assert!(mail("smtp://mail.example").contains("587"));
    assert!(mail("smtp://127.0.0.1:2525").contains(&format!("{:?}", Security::LoopbackPlain)));
}

#[test]
fn a_key_of_another_kind_is_refused_by_name() {
    let cases = [
        (
            "kind = \"ntfy\"\nurl = \"http://127.0.0.1:9/\"\ntopic = \"t\"\nsecret_env = \"X\"",
            "[notify.channels.c] secret_env: not a setting of kind = \"ntfy\"",
        ),
        (
            "kind = \"webhook\"\nformat = \"slack\"\nurl = \"http://127.0.0.1:9/\"\nsecret_env = \"X\"",
            "[notify.channels.c] secret_env: not a setting of kind = \"webhook\"",
        ),
        (
            "kind = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\nsecret_env = \"X\"\nto = [\"a@b.c\"]",
            "[notify.channels.c] to: not a setting of kind = \"webhook\"",
        ),
        (
            "kind = \"email\"\nurl = \"smtps://127.0.0.1:465\"\nfrom = \"a@b.c\"\nto = [\"a@b.c\"]\nclick = \"https://x\"",
            "[notify.channels.c] click: not a setting of kind = \"email\"",
        ),
    ];
    for (section, expected) in cases {
        let err = notify(&format!("[notify.channels.c]\n{section}\n")).unwrap_err();
        assert_eq!(err, expected, "{section}");
    }
}
