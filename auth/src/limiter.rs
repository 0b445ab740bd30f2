//! Throttling of failed logins, per client address and for the owner's account as a whole.
//!
//! After [`MAX_FAILURES`] failures within the window ([`WINDOW`] unless configured), further
//! attempts from that address (or, across all addresses, for the account) are refused until
//! the window has passed since the first failure. A success clears the address's record.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per window and address.
pub(crate) const MAX_FAILURES: u32 = 5;
/// Failures allowed per window for the account, from all addresses together.
pub(crate) const MAX_ACCOUNT_FAILURES: u32 = 20;
/// The default window.
pub(crate) const WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug)]
pub(crate) struct LoginLimiter {
    window: Duration,
    by_addr: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    account: Mutex<Option<(u32, Instant)>>,
}

impl LoginLimiter {
    /// A limiter that remembers failures for `window`.
    pub(crate) fn new(window: Duration) -> Self {
        LoginLimiter {
            window,
            by_addr: Mutex::default(),
            account: Mutex::default(),
        }
    }

    /// Seconds until `addr` may try again, or `None` if it may try now.
    pub(crate) fn blocked_for(&self, addr: IpAddr) -> Option<u64> {
        let now = Instant::now();
        let window = self.window;
        let check = |entry: Option<(u32, Instant)>, max: u32| {
            entry.and_then(|(n, first)| {
                let elapsed = now.duration_since(first);
                (n >= max && elapsed < window).then(|| (window - elapsed).as_secs().max(1))
            })
        };
        let a = check(
            self.by_addr
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&addr)
                .copied(),
            MAX_FAILURES,
        );
        let b = check(
            *self.account.lock().unwrap_or_else(|p| p.into_inner()),
            MAX_ACCOUNT_FAILURES,
        );
        a.max(b)
    }

    /// Records a failed attempt.
    pub(crate) fn failed(&self, addr: IpAddr) {
        let now = Instant::now();
        let window = self.window;
        let bump = |e: &mut (u32, Instant)| {
            if now.duration_since(e.1) >= window {
                *e = (0, now);
            }
            e.0 += 1;
        };
        let mut map = self.by_addr.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, e| now.duration_since(e.1) < window);
        }
        bump(map.entry(addr).or_insert((0, now)));
        drop(map);
        let mut acct = self.account.lock().unwrap_or_else(|p| p.into_inner());
        bump(acct.get_or_insert((0, now)));
    }

    /// Records a success.
    pub(crate) fn succeeded(&self, addr: IpAddr) {
        self.by_addr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&addr);
    }
}
