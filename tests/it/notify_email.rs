//! The email channel against a real SMTP server (`aiosmtpd`, `tests/clients/smtp_receiver.py`):
//! the mail has a plain-text and an HTML part with a link per option; headless Chromium at
//! phone size opens the "yes" link, the owner signs in on the page and presses the button,
//! and the prompt is answered (the command runs). Screenshots go to `artifacts/answer/`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use sessiongate_tests::clients;
use sessiongate_tests::gateway::{OWNER_PASSWORD, Options, TestGateway, free_port};

use crate::mcp_tools::wait_for_text;
use crate::notify_answer::{answer_rows, ask, mcp};

/// `tests/clients/smtp_receiver.py` and the mails it received.
struct Smtp {
    child: Child,
    port: u16,
    mails: Arc<Mutex<Vec<Value>>>,
}

impl Smtp {
    fn start() -> Smtp {
        let mut child = Command::new(clients::python())
            .arg(clients::dir().join("smtp_receiver.py"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port: u16 = lines.next().unwrap().unwrap().trim().parse().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let sink = mails.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_str(&line).unwrap());
            }
        });
        Smtp { child, port, mails }
    }

    async fn first(&self) -> Value {
        for _ in 0..1200 {
            if let Some(m) = self.mails.lock().unwrap().first() {
                return m.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail arrived");
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn an_email_link_answers_in_chromium_after_signing_in() {
    let smtp = Smtp::start();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut opts = Options::oauth("answer-email", 3600);
    opts.extra_args = vec![
        "--bind".into(),
        format!("127.0.0.1:{port}"),
        "--public-url".into(),
        base.clone(),
    ];
    opts.extra_profiles.push_str(&format!(
        "[notify]\n[notify.channels.mail]\nkind = \"email\"\n\
         url = \"smtp://127.0.0.1:{}\"\nfrom = \"sessiongate <gw@example.com>\"\n\
         to = [\"owner@example.com\"]\n",
        smtp.port
    ));
    let gw = TestGateway::start(opts);
    let mut c = mcp(&gw, true).await;
    ask(&mut c, "mail", "Apply the migration?").await;
    let mail = smtp.first().await;
    assert_eq!(mail["mail_from"], "gw@example.com", "{mail}");
    assert_eq!(mail["rcpt_tos"][0], "owner@example.com", "{mail}");
    assert_eq!(mail["subject"], "mail is waiting for you", "{mail}");
    assert_eq!(mail["multipart"], "multipart/alternative", "{mail}");
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains("Apply the migration? (y/n)"), "{text}");
    let link = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("yes: "))
        .unwrap_or_else(|| panic!("no link for yes in {text}"))
        .to_owned();
    assert!(link.starts_with(&format!("{base}/answer/")), "{link}");
    let html = mail["html"].as_str().unwrap();
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");

    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts/answer");
    std::fs::create_dir_all(&shots).unwrap();
    let out = tokio::process::Command::new(clients::node())
        .arg(clients::dir().join("browser_answer.mjs"))
        .arg(&link)
        .arg(OWNER_PASSWORD)
        .arg(&shots)
        .current_dir(clients::dir())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chromium run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or("")).unwrap();
    assert!(
        report["question"]
            .as_str()
            .unwrap()
            .contains("Apply the migration? (y/n)"),
        "{report}"
    );
    assert_eq!(report["status"], 200, "{report}");
    assert_eq!(report["heading"], "Answered", "{report}");
    wait_for_text(&mut c, "mail", "got=y").await;
    let rows = answer_rows(&gw);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["client_id"], "notification:mail");
    for shot in ["answer.png", "answered.png"] {
        assert!(
            std::fs::metadata(shots.join(shot)).unwrap().len() > 1000,
            "{shot}"
        );
    }
}
