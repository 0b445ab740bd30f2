//! Routing by host with stand-in backends: names are split and qualified, remote pids are
//! dropped, a failing or hanging host is listed with its error while the others answer.

use std::sync::Mutex;

use super::*;
use crate::types::ProcessStatus;

/// A backend holding sessions in memory; `hang` makes every call wait forever and `fail`
/// makes it fail.
#[derive(Debug, Default)]
struct Fake {
    sessions: Mutex<Vec<SessionName>>,
    hang: bool,
    fail: bool,
    events: Option<broadcast::Sender<SessionEvent>>,
    /// What `output_events_epoch` answers.
    epoch: Option<u64>,
    /// How many screens were read.
    reads: std::sync::atomic::AtomicUsize,
}

impl Fake {
    async fn gate(&self) -> Result<()> {
        if self.hang {
            std::future::pending::<()>().await;
        }
        if self.fail {
            return Err(Error::Unavailable("ssh: connection refused".into()));
        }
        Ok(())
    }
}

fn info(name: &SessionName) -> SessionInfo {
    SessionInfo {
        name: name.clone(),
        backend: "fake",
        profile: None,
        status: ProcessStatus::Running,
        current_command: None,
        pid: Some(4242),
        working_dir: None,
        created_at: None,
        last_activity: None,
        cols: 80,
        rows: 24,
    }
}

#[async_trait]
impl SessionBackend for Fake {
    fn kind(&self) -> &'static str {
        "fake"
    }
    async fn list(&self) -> Result<Vec<SessionInfo>> {
        self.gate().await?;
        Ok(self.sessions.lock().unwrap().iter().map(info).collect())
    }
    async fn create(&self, spec: CreateSpec) -> Result<SessionInfo> {
        self.gate().await?;
        assert_eq!(spec.name.host(), None, "a backend saw a qualified name");
        self.sessions.lock().unwrap().push(spec.name.clone());
        Ok(info(&spec.name))
    }
    async fn info(&self, name: &SessionName) -> Result<SessionInfo> {
        self.gate().await?;
        assert_eq!(name.host(), None, "a backend saw a qualified name");
        if self.sessions.lock().unwrap().contains(name) {
            Ok(info(name))
        } else {
            Err(Error::NotFound(name.to_string()))
        }
    }
    async fn send_text(&self, _: &SessionName, _: &str, _: bool) -> Result<()> {
        self.gate().await
    }
    async fn send_keys(&self, _: &SessionName, _: &[Key]) -> Result<()> {
        self.gate().await
    }
    async fn read(&self, _: &SessionName, _: ReadRequest) -> Result<Screen> {
        self.gate().await?;
        if self.epoch.is_none() {
            return Err(Error::Unavailable("not here".into()));
        }
        self.reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Screen {
            text: "$ ".into(),
            total_lines: 1,
            first_line: 0,
            returned_lines: 1,
            more_above: false,
            cursor: None,
        })
    }
    async fn resize(&self, _: &SessionName, _: u16, _: u16) -> Result<()> {
        self.gate().await
    }
    async fn terminate(&self, _: &SessionName) -> Result<()> {
        self.gate().await
    }
    fn output_events_epoch(&self) -> Option<u64> {
        self.epoch
    }
    fn events(&self) -> broadcast::Receiver<SessionEvent> {
        match &self.events {
            Some(tx) => tx.subscribe(),
            None => broadcast::channel(1).1,
        }
    }
}

fn name(s: &str) -> SessionName {
    SessionName::new(s).unwrap()
}

fn with(names: &[&str]) -> Fake {
    Fake {
        sessions: Mutex::new(names.iter().map(|n| name(n)).collect()),
        ..Fake::default()
    }
}

#[tokio::test]
async fn names_are_routed_by_host_and_qualified_on_the_way_back() {
    let remote_tx = broadcast::channel(16).0;
    let build = Fake {
        events: Some(remote_tx.clone()),
        ..with(&["cc"])
    };
    let hosts = Hosts::new(
        Arc::new(with(&["cc", "mine"])),
        BTreeMap::from([(
            "build".to_owned(),
            Arc::new(build) as Arc<dyn SessionBackend>,
        )]),
        Duration::from_secs(5),
    );
    let mut events = hosts.events();

    let remote = hosts.info(&name("build:cc")).await.unwrap();
    assert_eq!(remote.name.as_str(), "build:cc");
    assert_eq!(
        remote.pid, None,
        "a remote pid must not look like a local one"
    );
    let local = hosts.info(&name("cc")).await.unwrap();
    assert_eq!((local.name.as_str(), local.pid), ("cc", Some(4242)));
    assert_eq!(
        hosts.info(&name("local:mine")).await.unwrap().name.as_str(),
        "mine"
    );

    let missing = hosts.info(&name("build:mine")).await.unwrap_err();
    assert!(
        matches!(&missing, Error::NotFound(n) if n == "build:mine"),
        "{missing}"
    );
    let unknown = hosts.info(&name("gpu:cc")).await.unwrap_err();
    assert!(
        unknown.to_string().starts_with("invalid session name"),
        "{unknown}"
    );
    assert!(unknown.to_string().contains("local, build"), "{unknown}");

    let all: Vec<String> = hosts
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name.to_string())
        .collect();
    assert_eq!(all, ["build:cc", "cc", "mine"]);

    remote_tx.send(SessionEvent::Output(name("cc"))).unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ev, SessionEvent::Output(name("build:cc")));
}

#[tokio::test]
async fn a_failing_or_hanging_host_is_listed_with_its_error() {
    let hosts = Hosts::new(
        Arc::new(with(&["here"])),
        BTreeMap::from([
            (
                "down".to_owned(),
                Arc::new(Fake {
                    fail: true,
                    ..with(&["x"])
                }) as Arc<dyn SessionBackend>,
            ),
            (
                "hung".to_owned(),
                Arc::new(Fake {
                    hang: true,
                    ..with(&["y"])
                }) as Arc<dyn SessionBackend>,
            ),
            (
                "up".to_owned(),
                Arc::new(with(&["z"])) as Arc<dyn SessionBackend>,
            ),
        ]),
        Duration::from_millis(300),
    );
    let listings = hosts.list_by_host().await;
    let hosts_seen: Vec<&str> = listings.iter().map(|l| l.host.as_str()).collect();
    assert_eq!(hosts_seen, ["local", "down", "hung", "up"]);
    let err = |i: usize| listings[i].sessions.as_ref().unwrap_err().to_string();
    assert!(
        err(1).contains("host down") && err(1).contains("refused"),
        "{}",
        err(1)
    );
    assert!(err(2).contains("host hung"), "{}", err(2));
    assert_eq!(
        listings[3].sessions.as_ref().unwrap()[0].name.as_str(),
        "up:z"
    );
    // The plain list answers with what the reachable hosts have.
    let names: Vec<String> = hosts
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name.to_string())
        .collect();
    assert_eq!(names, ["here", "up:z"]);
}

/// A remote host whose output is not watched (down, or its control client restarting) makes
/// the router's epoch `None`, which turns off a cache in front of the router; this machine's
/// screens are still kept, by its own cache.
#[tokio::test]
async fn a_host_without_watched_output_does_not_turn_off_the_local_cache() {
    let local = Arc::new(Fake {
        sessions: Mutex::new(vec![name("here")]),
        events: Some(broadcast::channel(16).0),
        epoch: Some(7),
        ..Fake::default()
    });
    let down = Arc::new(Fake {
        fail: true,
        ..Fake::default()
    });
    let hosts = Hosts::new(
        local.clone(),
        BTreeMap::from([("build".to_owned(), down as Arc<dyn SessionBackend>)]),
        Duration::from_secs(5),
    );
    assert_eq!(hosts.output_events_epoch(), None);
    // As the gateway holds it: a cache in front of the router.
    let front = ScreenCache::new(Arc::new(hosts));
    for _ in 0..3 {
        front
            .read(&name("here"), ReadRequest::visible())
            .await
            .unwrap();
    }
    let reads = local.reads.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(reads, 1, "the local screen was read {reads} times");
}

/// A host whose first list fails at once and whose later lists never answer: a host that
/// went down and now hangs on every connection attempt; or, with `recovers`, one that
/// answers (with no sessions) again.
#[derive(Debug, Default)]
struct Hung {
    lists: std::sync::atomic::AtomicUsize,
    recovers: bool,
}

#[async_trait]
impl SessionBackend for Hung {
    fn kind(&self) -> &'static str {
        "fake"
    }
    async fn list(&self) -> Result<Vec<SessionInfo>> {
        if self.lists.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            return Err(Error::Unavailable("ssh: connection timed out".into()));
        }
        if self.recovers {
            return Ok(Vec::new());
        }
        std::future::pending().await
    }
    async fn create(&self, _: CreateSpec) -> Result<SessionInfo> {
        std::future::pending().await
    }
    async fn info(&self, _: &SessionName) -> Result<SessionInfo> {
        std::future::pending().await
    }
    async fn send_text(&self, _: &SessionName, _: &str, _: bool) -> Result<()> {
        std::future::pending().await
    }
    async fn send_keys(&self, _: &SessionName, _: &[Key]) -> Result<()> {
        std::future::pending().await
    }
    async fn read(&self, _: &SessionName, _: ReadRequest) -> Result<Screen> {
        std::future::pending().await
    }
    async fn resize(&self, _: &SessionName, _: u16, _: u16) -> Result<()> {
        std::future::pending().await
    }
    async fn terminate(&self, _: &SessionName) -> Result<()> {
        std::future::pending().await
    }
    fn events(&self) -> broadcast::Receiver<SessionEvent> {
        broadcast::channel(1).1
    }
}

fn lists(hung: &Hung) -> usize {
    hung.lists.load(std::sync::atomic::Ordering::SeqCst)
}

/// `hosts` with this machine (one session) and `hung` as the host "mute".
fn hosts_with(hung: &Arc<Hung>, list_timeout: Duration) -> Hosts {
    Hosts::new(
        Arc::new(with(&["here"])),
        BTreeMap::from([("mute".to_owned(), hung.clone() as Arc<dyn SessionBackend>)]),
        list_timeout,
    )
}

#[tokio::test]
async fn no_list_waits_for_a_host_that_is_down_while_it_is_tried_again() {
    let hung = Arc::new(Hung::default());
    // Far longer than the test may take: a list that waits for the host fails it.
    let hosts = hosts_with(&hung, Duration::from_secs(3600));
    // The host fails: it is down.
    let first = hosts.list_by_host().await;
    assert!(first[1].sessions.is_err());
    // Every later list answers at once, with this machine's sessions and the host's last
    // error, while one attempt at the host (which hangs) runs in the background.
    for _ in 0..5 {
        let listed = tokio::time::timeout(Duration::from_secs(60), hosts.list_by_host())
            .await
            .expect("a list waited for a hung host that was known to be down");
        assert_eq!(listed[0].sessions.as_ref().unwrap().len(), 1);
        let err = listed[1].sessions.as_ref().unwrap_err().to_string();
        assert!(
            err.contains("host mute") && err.contains("connection timed out"),
            "{err}"
        );
    }
    while lists(&hung) < 2 {
        tokio::task::yield_now().await;
    }
    assert_eq!(lists(&hung), 2, "one attempt at a time");
}

#[tokio::test]
async fn a_host_that_is_down_is_tried_again_after_each_attempt_and_listed_once_back() {
    // Hangs: each background attempt ends at the (short) deadline, and a later list starts
    // the next one.
    let hung = Arc::new(Hung::default());
    let hosts = hosts_with(&hung, Duration::from_millis(50));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while lists(&hung) < 3 {
        assert!(tokio::time::Instant::now() < deadline, "not tried again");
        hosts.list_by_host().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Comes back: a list after the background attempt succeeded shows it again.
    let back = Arc::new(Hung {
        recovers: true,
        ..Hung::default()
    });
    let hosts = hosts_with(&back, Duration::from_secs(3600));
    assert!(hosts.list_by_host().await[1].sessions.is_err());
    loop {
        assert!(tokio::time::Instant::now() < deadline, "never listed again");
        if hosts.list_by_host().await[1].sessions.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(hosts.last_status().iter().all(|(_, e)| e.is_none()));
}
