//! From a prompt being drawn to the webhook receiver holding its notification: a gateway of
//! its own (the benchmark's gateways have no channel, so that their figures show a notifier
//! with nothing to do) with one signed webhook channel to an axum receiver in this process.
//! A shell draws a distinct `read` prompt after a 2 s pause; the pause is subtracted.

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use sessiongate_tests::gateway::{Options, TestGateway};
use sessiongate_tests::mcp::McpClient;

/// The median, in ms, of three prompt → webhook delays on `backend`.
pub(crate) async fn prompt_to_webhook(backend: &str) -> f64 {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Value)>();
    let app = Router::new().route(
        "/hook",
        post(move |body: axum::Json<Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((Instant::now(), body.0));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the receiver");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "benchmark secret").expect("write the secret");
    let mut opts = Options::for_backend(backend, "notify-latency");
    opts.extra_profiles.push_str(&format!(
        "[notify]\nevents = [\"waiting\"]\n[notify.channels.bench]\nkind = \"webhook\"\n\
         url = \"http://127.0.0.1:{port}/hook\"\nsecret_file = \"{}\"\n",
        secret.display()
    ));
    let gw = TestGateway::start(opts);
    let mut mc = McpClient::new(&gw.mcp_url());
    mc.initialize().await.expect("initialize");
    let _ = mc
        .call("create_session", json!({ "name": "np", "profile": "bash" }))
        .await;
    let mut samples = Vec::new();
    for round in 0..3 {
        let question = format!("Notify round {round}? (y/n)");
        let cmd = format!("clear; sleep 2; read -p '{question} ' a");
        if mc
            .call("send_message", json!({ "session": "np", "message": cmd }))
            .await
            .is_err()
        {
            continue;
        }
        let sent = Instant::now();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while let Ok(Some((at, body))) = tokio::time::timeout_at(deadline, rx.recv()).await {
            if body["question"] == question.as_str() {
                samples.push(at.duration_since(sent).as_secs_f64() * 1000.0 - 2000.0);
                break;
            }
        }
        let _ = mc
            .call("send_keys", json!({ "session": "np", "keys": ["C-c"] }))
            .await;
    }
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}
