//! Throttling of password attempts, per client address and for the owner's account as a whole.
//!
//! An attempt is charged *before* its password is checked ([`LoginLimiter::begin`] checks and
//! counts under one lock), so concurrent attempts cannot all pass the gate while the first
//! ones are still being checked. After [`MAX_FAILURES`] attempts within the window ([`WINDOW`]
//! unless configured), further attempts from that address (or, across all addresses, after
//! [`MAX_ACCOUNT_FAILURES`], for the account) are refused until the window has passed since
//! the first one. A success refunds its charge and clears the address's record; an attempt
//! whose password was never checked (the checker was busy) is refunded too.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Attempts allowed per window and address.
pub(crate) const MAX_FAILURES: u32 = 5;
/// Attempts allowed per window for the account, from all addresses together.
pub(crate) const MAX_ACCOUNT_FAILURES: u32 = 20;
/// The default window.
pub(crate) const WINDOW: Duration = Duration::from_secs(15 * 60);

/// A count of charged attempts and when the first of them was made.
type Entry = (u32, Instant);

#[derive(Debug, Default)]
struct Counts {
    by_addr: HashMap<IpAddr, Entry>,
    account: Option<Entry>,
}

/// The failed-login throttle.
#[derive(Debug)]
pub(crate) struct LoginLimiter {
    window: Duration,
    /// One lock for both counts, so that checking and charging is a single step.
    counts: Mutex<Counts>,
}

impl LoginLimiter {
    /// A limiter that remembers attempts for `window`.
    pub(crate) fn new(window: Duration) -> Self {
        LoginLimiter {
            window,
            counts: Mutex::default(),
        }
    }

    /// Charges an attempt from `addr` if it may try now; otherwise returns the seconds until it
    /// may. The caller must call [`LoginLimiter::succeeded`] or [`LoginLimiter::refund`] when
    /// the attempt did not fail.
    pub(crate) fn begin(&self, addr: IpAddr) -> Result<(), u64> {
        let now = Instant::now();
        let window = self.window;
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let wait = |entry: Option<&Entry>, max: u32| {
            entry.and_then(|&(n, first)| {
                let elapsed = now.duration_since(first);
                (n >= max && elapsed < window).then(|| (window - elapsed).as_secs().max(1))
            })
        };
        let blocked = wait(counts.by_addr.get(&addr), MAX_FAILURES)
            .max(wait(counts.account.as_ref(), MAX_ACCOUNT_FAILURES));
        if let Some(secs) = blocked {
            return Err(secs);
        }
        let bump = |e: &mut Entry| {
            if now.duration_since(e.1) >= window {
                *e = (0, now);
            }
            e.0 += 1;
        };
        if counts.by_addr.len() > 10_000 {
            counts
                .by_addr
                .retain(|_, e| now.duration_since(e.1) < window);
        }
        bump(counts.by_addr.entry(addr).or_insert((0, now)));
        bump(counts.account.get_or_insert((0, now)));
        Ok(())
    }

    /// Takes back the charge of an attempt whose password was never checked.
    pub(crate) fn refund(&self, addr: IpAddr) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = counts.by_addr.get_mut(&addr) {
            e.0 = e.0.saturating_sub(1);
        }
        if let Some(e) = counts.account.as_mut() {
            e.0 = e.0.saturating_sub(1);
        }
    }

    /// Records a success: the attempt is refunded to the account and the address starts afresh.
    pub(crate) fn succeeded(&self, addr: IpAddr) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.by_addr.remove(&addr);
        if let Some(e) = counts.account.as_mut() {
            e.0 = e.0.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn attempts_are_charged_before_they_are_checked() {
        let l = LoginLimiter::new(WINDOW);
        // Five attempts in flight at once from one address: the sixth is refused before any
        // of them has an outcome.
        for _ in 0..MAX_FAILURES {
            assert_eq!(l.begin(ip(2)), Ok(()));
        }
        assert!(l.begin(ip(2)).is_err());
        // A refund (the password was never checked) gives the attempt back.
        l.refund(ip(2));
        assert_eq!(l.begin(ip(2)), Ok(()));
        assert!(l.begin(ip(2)).is_err());
    }

    #[test]
    fn the_account_limit_holds_across_addresses_and_successes_refund() {
        let l = LoginLimiter::new(WINDOW);
        for n in 0..MAX_ACCOUNT_FAILURES {
            assert_eq!(l.begin(ip(n as u8 + 10)), Ok(()), "attempt {n}");
        }
        assert!(l.begin(ip(200)).is_err());
        // One of the attempts in flight was the owner's: its success frees a place.
        l.succeeded(ip(10));
        assert_eq!(l.begin(ip(201)), Ok(()));
        assert!(l.begin(ip(202)).is_err());
    }

    #[test]
    fn the_window_ends_the_lockout() {
        let l = LoginLimiter::new(Duration::ZERO);
        for _ in 0..3 * MAX_ACCOUNT_FAILURES {
            assert_eq!(l.begin(ip(2)), Ok(()));
        }
    }
}
