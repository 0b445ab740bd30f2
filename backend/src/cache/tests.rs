//! The cache of a remote backend's Claude Code state: kept until the session's next event,
//! never kept when read right after an output, and never kept for a local backend.

use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

use super::*;
use crate::Error;
use crate::types::ProcessStatus;

/// A backend whose Claude Code state is whatever `status` says, counting its reads.
#[derive(Debug)]
struct Claude {
    remote: bool,
    status: Mutex<&'static str>,
    reads: AtomicUsize,
    events: broadcast::Sender<SessionEvent>,
}

impl Claude {
    fn new(remote: bool) -> Arc<Claude> {
        Arc::new(Claude {
            remote,
            status: Mutex::new("waiting"),
            reads: AtomicUsize::new(0),
            events: broadcast::channel(16).0,
        })
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SessionBackend for Claude {
    fn kind(&self) -> &'static str {
        "fake"
    }
    async fn list(&self) -> Result<Vec<SessionInfo>> {
        Ok(Vec::new())
    }
    async fn create(&self, _: CreateSpec) -> Result<SessionInfo> {
        Err(Error::Unavailable("no".into()))
    }
    async fn info(&self, n: &SessionName) -> Result<SessionInfo> {
        Err(Error::NotFound(n.to_string()))
    }
    async fn send_text(&self, _: &SessionName, _: &str, _: bool) -> Result<()> {
        Ok(())
    }
    async fn send_keys(&self, _: &SessionName, _: &[Key]) -> Result<()> {
        Ok(())
    }
    async fn read(&self, n: &SessionName, _: ReadRequest) -> Result<Screen> {
        Err(Error::NotFound(n.to_string()))
    }
    async fn resize(&self, _: &SessionName, _: u16, _: u16) -> Result<()> {
        Ok(())
    }
    async fn terminate(&self, _: &SessionName) -> Result<()> {
        Ok(())
    }
    fn events(&self) -> broadcast::Receiver<SessionEvent> {
        self.events.subscribe()
    }
    fn output_events_epoch(&self) -> Option<u64> {
        Some(1)
    }
    async fn claude_state(&self, info: &SessionInfo) -> Option<ClaudeState> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Some(ClaudeState {
            pid: info.pid.unwrap_or(1),
            status: (*self.status.lock().unwrap()).to_owned(),
            waiting_for: None,
            session_id: None,
            cwd: None,
        })
    }
    fn claude_state_is_remote(&self) -> bool {
        self.remote
    }
}

fn cc() -> SessionInfo {
    SessionInfo {
        name: SessionName::new("cc").unwrap(),
        backend: "fake",
        profile: None,
        status: ProcessStatus::Running,
        current_command: None,
        pid: Some(42),
        working_dir: None,
        created_at: None,
        last_activity: None,
        cols: 80,
        rows: 24,
    }
}

async fn status(cache: &ScreenCache) -> String {
    cache.claude_state(&cc()).await.unwrap().status
}

/// Waits until a read counts as settled (the cache's first look at the epoch counts as a
/// loss of events).
async fn settle() {
    tokio::time::sleep(CLAUDE_SETTLE + Duration::from_millis(50)).await;
}

#[tokio::test]
async fn a_remote_state_is_kept_until_the_sessions_next_output() {
    let inner = Claude::new(true);
    let cache = ScreenCache::new(inner.clone());
    assert_eq!(status(&cache).await, "waiting");
    settle().await;
    let started = Instant::now();
    for _ in 0..50 {
        assert_eq!(status(&cache).await, "waiting");
    }
    // One read per INFO_MAX_AGE at most (plus the first and the one before settling).
    let bound = 2 + (started.elapsed().as_secs_f64() / INFO_MAX_AGE.as_secs_f64()).ceil() as usize;
    assert!(
        inner.reads() <= bound,
        "{} reads for 51 calls",
        inner.reads()
    );

    // The answer changes, and the session prints: the next call reads it again.
    *inner.status.lock().unwrap() = "busy";
    let before = inner.reads();
    inner.events.send(SessionEvent::Output(cc().name)).unwrap();
    assert_eq!(status(&cache).await, "busy");
    assert_eq!(inner.reads(), before + 1);
}

#[tokio::test]
async fn a_remote_state_read_right_after_output_is_not_kept() {
    let inner = Claude::new(true);
    let cache = ScreenCache::new(inner.clone());
    status(&cache).await;
    settle().await;
    inner.events.send(SessionEvent::Output(cc().name)).unwrap();
    // Read at once after the output: the state file may still say what it said before it;
    // when it catches up without another output, the next call sees it.
    assert_eq!(status(&cache).await, "waiting");
    *inner.status.lock().unwrap() = "idle";
    assert_eq!(status(&cache).await, "idle");
}

#[tokio::test]
async fn a_local_state_is_read_on_every_call() {
    let inner = Claude::new(false);
    let cache = ScreenCache::new(inner.clone());
    status(&cache).await;
    settle().await;
    for _ in 0..5 {
        status(&cache).await;
    }
    assert_eq!(inner.reads(), 6);
}
