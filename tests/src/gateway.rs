//! A real `sessiongate serve` process for a test.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The `sessiongate` binary under test: `$SESSIONGATE_BIN`, or the workspace's debug build
/// (built once per test run).
pub fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("SESSIONGATE_BIN") {
            return PathBuf::from(p);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "-q", "-p", "sessiongate"])
            .current_dir(&root)
            .status()
            .expect("cargo build");
        assert!(status.success(), "building sessiongate failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        target.join("debug").join("sessiongate")
    })
    .clone()
}

/// A unique tmux socket name for one test.
pub fn unique_socket(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "sg-e2e-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Options for [`TestGateway::start`].
#[derive(Debug, Clone)]
pub struct Options {
    /// `tmux` or `pty`.
    pub backend: String,
    /// The tmux socket (ignored by the PTY backend).
    pub socket: String,
    /// Extra arguments after `serve`.
    pub extra_args: Vec<String>,
    /// Serve with OAuth (the owner password is set to [`OWNER_PASSWORD`] first).
    pub oauth: bool,
    /// Extra lines for the configuration file (top-level keys).
    pub extra_config: String,
    /// Extra launch profiles, as lines of the `[extra_profiles]` table.
    pub extra_profiles: String,
    /// Where to make the data directory (the folder must exist) instead of the system's
    /// temporary directory, e.g. on a small file system of the test's own.
    pub data_dir_in: Option<PathBuf>,
}

/// The owner password of gateways started with `oauth`.
pub const OWNER_PASSWORD: &str = "correct horse battery staple";

impl Options {
    /// tmux backend on a fresh private socket.
    pub fn tmux(tag: &str) -> Self {
        Options {
            backend: "tmux".into(),
            socket: unique_socket(tag),
            extra_args: Vec::new(),
            oauth: false,
            extra_config: String::new(),
            extra_profiles: String::new(),
            data_dir_in: None,
        }
    }

    /// tmux backend with OAuth; access tokens live `access_ttl` seconds.
    pub fn oauth(tag: &str, access_ttl: u64) -> Self {
        Options {
            oauth: true,
            extra_config: format!("access_token_ttl_secs = {access_ttl}\n"),
            ..Options::tmux(tag)
        }
    }

    /// PTY backend (the socket is unused, but unique all the same).
    pub fn pty(tag: &str) -> Self {
        Options {
            backend: "pty".into(),
            ..Options::tmux(tag)
        }
    }

    /// The named backend.
    pub fn for_backend(backend: &str, tag: &str) -> Self {
        match backend {
            "pty" => Options::pty(tag),
            _ => Options::tmux(tag),
        }
    }
}

/// A running gateway. Killing it on drop also kills its tmux server.
#[derive(Debug)]
pub struct TestGateway {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The tmux socket it uses.
    pub socket: String,
    /// The allowed root sessions run under (a temp dir).
    pub root: PathBuf,
    /// The data directory.
    pub data_dir: PathBuf,
    _dirs: Vec<tempfile::TempDir>,
    kill_tmux: bool,
}

impl TestGateway {
    /// Starts `sessiongate serve --auth none` with a config file whose profiles suit tests.
    pub fn start(opts: Options) -> TestGateway {
        let root = tempfile::tempdir().expect("tempdir");
        let data = match &opts.data_dir_in {
            Some(dir) => tempfile::TempDir::new_in(dir).expect("tempdir in the data directory"),
            None => tempfile::tempdir().expect("tempdir"),
        };
        let config = data.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "{}[extra_profiles]\n\
                 bash = [\"bash\", \"--norc\", \"--noprofile\"]\n\
                 exit3 = [\"sh\", \"-c\", \"echo bye; sleep 0.2; exit 3\"]\n{}",
                opts.extra_config, opts.extra_profiles
            ),
        )
        .expect("write config");
        if opts.oauth {
            use std::io::Write;
            let mut child = Command::new(binary())
                .arg("passwd")
                .arg("--data-dir")
                .arg(data.path())
                .stdin(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn passwd");
            let mut stdin = child.stdin.take().expect("stdin");
            writeln!(stdin, "{OWNER_PASSWORD}").expect("write password");
            drop(stdin);
            assert!(
                child.wait().expect("passwd").success(),
                "sessiongate passwd failed"
            );
        }
        let mut gw = Self::spawn(&opts, root.path(), data.path(), &config);
        gw._dirs = vec![root, data];
        gw
    }

    /// Starts another gateway on the same socket, root and data dir (a restart).
    pub fn restart_alongside(&self) -> TestGateway {
        let opts = Options {
            socket: self.socket.clone(),
            ..Options::tmux("restart")
        };
        let mut gw = Self::spawn(
            &opts,
            &self.root,
            &self.data_dir,
            &self.data_dir.join("config.toml"),
        );
        gw.kill_tmux = false;
        gw
    }

    fn spawn(opts: &Options, root: &Path, data: &Path, config: &Path) -> TestGateway {
        let mut cmd = Command::new(binary());
        // A test that needs to know the port beforehand (for `--public-url`) binds it itself.
        let bind = if opts.extra_args.iter().any(|a| a == "--bind") {
            &[][..]
        } else {
            &["--bind", "127.0.0.1:0"][..]
        };
        cmd.arg("serve")
            .args(bind)
            .args(["--auth", if opts.oauth { "oauth" } else { "none" }])
            .args(["--backend", &opts.backend])
            .args(["--tmux-socket", &opts.socket])
            .arg("--data-dir")
            .arg(data)
            .arg("--config")
            .arg(config)
            .arg("--allowed-root")
            .arg(root)
            .args(&opts.extra_args)
            .env("SESSIONGATE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("spawn sessiongate");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        while !line.contains("listening on") {
            line.clear();
            let n = reader
                .read_line(&mut line)
                .expect("read the listening line");
            assert!(n > 0, "sessiongate exited before listening");
        }
        let base_url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        TestGateway {
            child,
            base_url,
            socket: opts.socket.clone(),
            root: root.to_path_buf(),
            data_dir: data.to_path_buf(),
            _dirs: Vec::new(),
            kill_tmux: true,
        }
    }

    /// The MCP endpoint.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base_url)
    }

    /// The value of the series `series` (name and labels, as `/metrics` prints them) on the
    /// gateway's `/metrics` without a token (a loopback gateway without an admin listener),
    /// or `None` when it has no such series (yet).
    pub async fn metric(&self, series: &str) -> Option<u64> {
        let text = reqwest::get(format!("{}/metrics", self.base_url))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|n| n.parse().ok())
    }

    /// Mints a token with `sessiongate token` for this gateway.
    pub fn token(&self, scope: &str, ttl: &str) -> String {
        let out = Command::new(binary())
            .arg("token")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args([
                "--public-url",
                &self.base_url,
                "--scope",
                scope,
                "--ttl",
                ttl,
            ])
            .output()
            .expect("sessiongate token");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The gateway's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`TERM`, `HUP`, ...) to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit and returns its status.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait for sessiongate")
    }

    /// Runs `sessiongate ARGS... --data-dir <this gateway's>` and returns (success, stdout,
    /// stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(binary())
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .output()
            .expect("run sessiongate");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The audit log, as `sessiongate audit --json` prints it.
    pub fn audit(&self) -> Vec<serde_json::Value> {
        let (ok, out, err) = self.cli(&["audit", "--json", "--limit", "1000"]);
        assert!(ok, "sessiongate audit failed: {err}");
        out.lines()
            .map(|l| serde_json::from_str(l).expect("audit JSON line"))
            .collect()
    }

    /// The audit log once it holds at least `n` entries, or as it is after 10 s.
    pub async fn audit_of(&self, n: usize) -> Vec<serde_json::Value> {
        let start = std::time::Instant::now();
        loop {
            let audit = self.audit();
            if audit.len() >= n || start.elapsed() > Duration::from_secs(10) {
                return audit;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the process (SIGKILL) without touching its tmux server.
    pub fn kill_process(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        self.kill_process();
        if self.kill_tmux {
            let _ = Command::new("tmux")
                .args(["-L", &self.socket, "kill-server"])
                .stderr(Stdio::null())
                .status();
        }
        // Give the kernel a moment to release the port and the tmux socket.
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, made with the `openssl`
/// command: returns the certificate and key paths inside `dir`.
pub fn self_signed_cert(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", &format!("/CN={name}")])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        // A leaf, not a CA: webpki refuses a CA certificate as a server's own.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The visible screen of a session of a tmux-backed gateway (default prefix `claude-`).
pub fn tmux_capture(gw: &TestGateway, session: &str) -> String {
    let out = Command::new("tmux")
        .args(["-L", &gw.socket, "capture-pane", "-p", "-t"])
        .arg(format!("=claude-{session}:"))
        .output()
        .expect("tmux capture-pane");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
