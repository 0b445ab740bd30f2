//! sessiongate behind a real nginx (Debian's), configured with the server block the README
//! documents (`deploy/nginx/`), at a path prefix over TLS: the official MCP Python SDK runs
//! the whole OAuth flow and its tool calls through the proxy, discovery works at the RFC
//! 8414/9728 paths, a foreign Host is refused through it, and the client address in the
//! audit log is the real client's, not the proxy's and not one the client made up.
//!
//! nginx reaches the gateway from 127.0.0.2 (`proxy_bind`), the only trusted proxy, so that
//! the client (127.0.0.1) and the proxy are told apart on one machine.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use sessiongate_tests::gateway::{
    OWNER_PASSWORD, Options, TestGateway, free_port, self_signed_cert,
};
use sessiongate_tests::mcp::McpClient;

struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its workers; SIGKILL would leave them running.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Starts nginx on `port` in front of the gateway at `upstream`, with the documented
/// server block; only its host name, ports, certificate and snippet paths are replaced.
fn start_nginx(port: u16, upstream: &str, cert: &Path, key: &Path) -> Nginx {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nginx is not installed: apt-get install nginx (.ci/run does)");
    let dir = tempfile::tempdir().unwrap();
    let snippet = repo().join("deploy/nginx/sessiongate-proxy.conf");
    // The directives as documented, comments aside.
    let documented: String = std::fs::read_to_string(repo().join("deploy/nginx/sessiongate.conf"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let server = documented
        .replace("listen 443 ssl", &format!("listen 127.0.0.1:{port} ssl"))
        .replace("server_name gw.example.com;", "server_name localhost;")
        .replace(
            "/etc/letsencrypt/live/gw.example.com/fullchain.pem",
            &cert.display().to_string(),
        )
        .replace(
            "/etc/letsencrypt/live/gw.example.com/privkey.pem",
            &key.display().to_string(),
        )
        .replace("127.0.0.1:8000", upstream)
        .replace(
            "/etc/nginx/snippets/sessiongate-proxy.conf",
            &snippet.display().to_string(),
        );
    for original in ["gw.example.com", "127.0.0.1:8000", "/etc/"] {
        assert!(
            !server.contains(original),
            "the deploy file changed shape: {original} is still in it"
        );
    }
    let d = dir.path().display().to_string();
    std::fs::write(dir.path().join("server.conf"), server).unwrap();
    let user = if is_root() { "user root root;\n" } else { "" };
    let main = format!(
        "{user}daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  \
         proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  \
         scgi_temp_path {d}/scgi;\n  proxy_bind 127.0.0.2;\n  include {d}/server.conf;\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
    let check = Command::new(nginx)
        .args(["-t", "-p"])
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let child = Command::new(nginx)
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let nginx = Nginx { child, dir };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return nginx;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(nginx);
    panic!("nginx did not start listening on {port}");
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[tokio::test]
async fn the_python_sdk_runs_oauth_and_tools_through_nginx_at_a_path_prefix() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_cert(certs.path(), "nginx");
    let port = free_port();
    let public = format!("https://localhost:{port}/gw");
    let mut opts = Options::oauth("nginx", 3);
    opts.extra_args = vec![
        "--public-url".into(),
        public.clone(),
        "--trusted-proxy".into(),
        "127.0.0.2".into(),
    ];
    let gw = TestGateway::start(opts);
    let upstream = gw.base_url.trim_start_matches("http://").to_owned();
    let proxy = start_nginx(port, &upstream, &cert, &key);
    let pem = std::fs::read(&cert).unwrap();
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Discovery through the proxy, at the paths RFC 9728 and RFC 8414 give for a prefix.
    let r = https.get(format!("{public}/mcp")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    let prm_url = format!("https://localhost:{port}/.well-known/oauth-protected-resource/gw/mcp");
    assert!(challenge.contains(&prm_url), "{challenge}");
    let prm: Value = https
        .get(&prm_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["resource"], format!("{public}/mcp"));
    assert_eq!(prm["authorization_servers"][0], public.as_str());
    let asm: Value = https
        .get(format!(
            "https://localhost:{port}/.well-known/oauth-authorization-server/gw"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(asm["issuer"], public.as_str());
    assert_eq!(asm["token_endpoint"], format!("{public}/token"));

    // A foreign Host through the proxy is refused by the gateway.
    let r = https
        .get(format!("{public}/.well-known/oauth-authorization-server"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The official Python SDK: registration, login, consent, tokens, tools, refresh.
    let python = sessiongate_tests::clients::python();
    let out = tokio::process::Command::new(&python)
        .arg(repo().join("tests/clients/python_oauth_flow.py"))
        .arg(format!("{public}/mcp"))
        .arg(OWNER_PASSWORD)
        .arg(&gw.root)
        .arg("3")
        .env("SSL_CERT_FILE", &cert)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors = std::fs::read_to_string(proxy.dir.path().join("error.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "python SDK flow through nginx failed:\n{stdout}\n{stderr}\nnginx:\n{errors}"
    );

    // A tool call that claims another address: the audit log names the real client.
    // `sessiongate token` signs for the audience it is told: the public URL here.
    let token = mint_for(&gw, &public);
    let mut c = McpClient::with_http(&format!("{public}/mcp"), https.clone());
    c.headers
        .push(("authorization".into(), format!("Bearer {token}")));
    c.headers.push(("x-forwarded-for".into(), "6.6.6.6".into()));
    c.initialize().await.unwrap();
    c.call_ok(
        "create_session",
        json!({"name":"via-nginx","working_dir":gw.root.display().to_string(),"profile":"bash"}),
    )
    .await
    .unwrap();
    let audit = gw.audit_of(1).await;
    assert!(!audit.is_empty());
    for e in &audit {
        assert_eq!(e["address"], "127.0.0.1", "{e}");
    }
    assert!(
        audit.iter().any(|e| e["session"] == "via-nginx"),
        "{audit:?}"
    );
}

fn mint_for(gw: &TestGateway, public: &str) -> String {
    let out = Command::new(sessiongate_tests::gateway::binary())
        .arg("token")
        .arg("--data-dir")
        .arg(&gw.data_dir)
        .args(["--public-url", public, "--ttl", "1h"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
