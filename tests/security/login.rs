//! Brute force on the owner's password. The authorization server runs in-process (real HTTP on
//! loopback) with the test-only `login_window` shortened to a few seconds, so that the test
//! can see the lockout end. Attackers come from other loopback addresses (127.0.x.y), which
//! the server sees as different clients, one after the other or all at once.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpListener;

use sessiongate_tests::oauth::{Cookies, Flow, hidden_fields};

const PASSWORD: &str = "the owner's long passphrase";
const WINDOW: Duration = Duration::from_secs(15);

async fn auth_server() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut cfg = sessiongate_auth::AuthConfig::new(dir.path().to_path_buf(), &base);
    cfg.login_window = WINDOW;
    let auth = sessiongate_auth::AuthServer::open(cfg).unwrap();
    auth.set_password(PASSWORD).unwrap();
    let app = auth.router();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    (base, dir)
}

/// A browser at `from` (a loopback address) that has opened the login page.
struct Browser {
    http: reqwest::Client,
    base: String,
    fields: Vec<(String, String)>,
    cookies: Cookies,
}

impl Browser {
    async fn open(flow: &Flow, from: &str) -> Browser {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(from.parse::<IpAddr>().unwrap())
            .build()
            .unwrap();
        let page = http.get(flow.authorize_url(&[])).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let mut cookies = Cookies::default();
        cookies.keep(page.headers());
        let fields = hidden_fields(&page.text().await.unwrap());
        Browser {
            http,
            base: flow.base.clone(),
            fields,
            cookies,
        }
    }

    /// Submits the login form; returns the status, Retry-After, whether a cookie was set, and
    /// the page.
    async fn login(&self, password: &str) -> (u16, Option<u64>, bool, String) {
        let mut form = self.fields.clone();
        form.push(("password".into(), password.into()));
        let r = self
            .http
            .post(format!("{}/authorize/login", self.base))
            .header("cookie", self.cookies.header())
            .form(&form)
            .send()
            .await
            .unwrap();
        let retry = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().parse().unwrap());
        let cookie = r.headers().contains_key("set-cookie");
        (r.status().as_u16(), retry, cookie, r.text().await.unwrap())
    }

    /// Waits out the lockout: retries the right password until it is accepted.
    async fn log_in_after_the_window(&self) {
        for _ in 0..120 {
            let (status, _, cookie, _) = self.login(PASSWORD).await;
            if status == 303 {
                assert!(cookie);
                return;
            }
            assert_eq!(status, 429);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("the owner never got back in");
    }
}

#[tokio::test]
async fn an_address_is_locked_out_and_the_owner_gets_back_in() {
    let (base, _dir) = auth_server().await;
    let flow = Flow::register(&base).await;
    let attacker = Browser::open(&flow, "127.0.0.2").await;
    for i in 0..5 {
        let (status, retry, cookie, page) = attacker.login(&format!("guess {i}")).await;
        assert_eq!((status, retry, cookie), (401, None, false), "attempt {i}");
        assert!(page.contains("Wrong password."));
    }
    // The sixth attempt is throttled, and so is the right password from that address.
    for password in ["guess 5", PASSWORD] {
        let (status, retry, cookie, page) = attacker.login(password).await;
        assert_eq!(status, 429, "{password}");
        assert!(!cookie, "a throttled login set a cookie");
        let retry = retry.expect("Retry-After");
        assert!(
            (1..=WINDOW.as_secs()).contains(&retry),
            "Retry-After {retry}"
        );
        assert!(page.contains("Too many failed attempts."), "{page}");
    }
    // The owner, elsewhere, is not locked out by someone else's guessing.
    let owner = Browser::open(&flow, "127.0.0.1").await;
    let (status, _, cookie, _) = owner.login(PASSWORD).await;
    assert_eq!((status, cookie), (303, true));
    // After the window, the locked address may log in again (the owner on the road).
    attacker.log_in_after_the_window().await;
}

#[tokio::test]
async fn guessing_from_many_addresses_locks_the_account_until_the_window_ends() {
    let (base, _dir) = auth_server().await;
    let flow = Flow::register(&base).await;
    // Four addresses, five guesses each: twenty failures for the account.
    for host in 3..7 {
        let b = Browser::open(&flow, &format!("127.0.0.{host}")).await;
        for i in 0..5 {
            let (status, ..) = b.login(&format!("guess {host}.{i}")).await;
            assert_eq!(status, 401);
        }
    }
    // A fresh address with the right password is throttled too: the account is locked.
    let owner = Browser::open(&flow, "127.0.0.10").await;
    let (status, retry, cookie, _) = owner.login(PASSWORD).await;
    assert_eq!((status, cookie), (429, false));
    assert!(retry.is_some());
    owner.log_in_after_the_window().await;
}

/// Sends the wrong password from every browser at once; returns the statuses.
async fn all_at_once(browsers: &[Browser]) -> Vec<u16> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, b) in browsers.iter().enumerate() {
        let (http, base, cookies) = (b.http.clone(), b.base.clone(), b.cookies.header());
        let mut form = b.fields.clone();
        form.push(("password".into(), format!("guess {i}")));
        tasks.spawn(async move {
            let r = http
                .post(format!("{base}/authorize/login"))
                .header("cookie", cookies)
                .form(&form)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            if status == 429 {
                assert!(r.headers().contains_key("retry-after"));
            }
            status
        });
    }
    tasks.join_all().await
}

/// Whether a status is a real password check (a refusal before the check is a 429).
fn checked(statuses: &[u16]) -> usize {
    statuses.iter().filter(|&&s| s != 429).count()
}

#[tokio::test]
async fn guesses_sent_at_once_are_counted_before_they_are_checked() {
    let (base, _dir) = auth_server().await;
    let flow = Flow::register(&base).await;
    // Forty guesses at once from one address: at most five are checked.
    let mut one_address = Vec::new();
    for _ in 0..40 {
        one_address.push(Browser::open(&flow, "127.0.0.2").await);
    }
    let statuses = all_at_once(&one_address).await;
    assert!(
        statuses.iter().all(|s| [401, 429].contains(s)),
        "{statuses:?}"
    );
    assert!(checked(&statuses) <= 5, "{statuses:?}");
    // Sixty at once from sixty addresses: at most twenty checks for the account in all.
    let mut many = Vec::new();
    for i in 0..60 {
        many.push(Browser::open(&flow, &format!("127.0.1.{}", i + 1)).await);
    }
    let more = all_at_once(&many).await;
    assert!(more.iter().all(|s| [401, 429].contains(s)), "{more:?}");
    assert!(
        checked(&statuses) + checked(&more) <= 20,
        "{statuses:?} {more:?}"
    );
    // The owner, from an address of their own, gets in once the window has passed.
    let owner = Browser::open(&flow, "127.0.0.1").await;
    owner.log_in_after_the_window().await;
}
