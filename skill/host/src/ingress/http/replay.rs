//! Replayed HTTP callbacks. DingTalk's `sign` covers the timestamp only, so one captured
//! `(timestamp, sign)` pair would authenticate any body for as long as the timestamp is inside
//! the signature window. The guard remembers every accepted pair until its timestamp leaves the
//! window and refuses the pair when it comes again.
//!
//! A pair already accepted is refused before the body is read ([`ReplayGuard::seen`]). It is
//! *claimed* when the event is handed to the skill (so two copies sent at once cannot both
//! pass), and the claim is kept only when the skill took the event: a callback refused (body
//! too large, too slow, shutting down, …) leaves its pair free, so DingTalk's own retry of it is
//! not taken for a replay.
//!
//! Memory is bounded: entries leave when their timestamp is out of the window, and at most
//! `capacity` are kept (oldest timestamp first out; hitting the cap is logged once).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::signature::Verified;

/// How many accepted pairs are remembered at most: an hour of 27 callbacks per second, a few
/// MB of memory.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// The remembered pairs, oldest timestamp first.
#[derive(Debug)]
pub struct ReplayGuard {
    window_ms: i64,
    capacity: usize,
    seen: Mutex<BTreeSet<(i64, [u8; 32])>>,
    cap_logged: AtomicBool,
}

/// A claimed pair: given back on drop unless [`Claim::keep`] was called.
#[derive(Debug)]
pub struct Claim {
    guard: Arc<ReplayGuard>,
    key: (i64, [u8; 32]),
    kept: bool,
}

impl Claim {
    /// The callback was accepted: the pair stays remembered.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.kept {
            self.guard.lock().remove(&self.key);
        }
    }
}

impl ReplayGuard {
    /// A guard for a signature window of `window_ms` keeping at most `capacity` pairs.
    pub fn new(window_ms: i64, capacity: usize) -> Arc<ReplayGuard> {
        Arc::new(ReplayGuard {
            window_ms,
            capacity: capacity.max(1),
            seen: Mutex::new(BTreeSet::new()),
            cap_logged: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<(i64, [u8; 32])>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `pair` was accepted before (and is still remembered). Changes nothing.
    pub fn seen(&self, pair: &Verified) -> bool {
        self.lock().contains(&(pair.at, pair.mac))
    }

    /// Claims a verified pair at local time `now_ms`; `None` when it was accepted before (a
    /// replay).
    pub fn claim(self: &Arc<Self>, pair: Verified, now_ms: i64) -> Option<Claim> {
        let key = (pair.at, pair.mac);
        let mut seen = self.lock();
        // Pairs whose timestamp is out of the window are refused as stale anyway.
        let oldest_useful = now_ms.saturating_sub(self.window_ms);
        while seen.first().is_some_and(|(at, _)| *at < oldest_useful) {
            seen.pop_first();
        }
        if seen.contains(&key) {
            return None;
        }
        while seen.len() >= self.capacity {
            seen.pop_first();
            if !self.cap_logged.swap(true, Ordering::Relaxed) {
                log::warn!(
                    "http callbacks: more than {} signed callbacks within the signature window; \
                     the oldest are forgotten early from now on (a replay of a forgotten one \
                     would not be recognised; a narrower ingress.http.signature_window_secs \
                     helps). Logged once.",
                    self.capacity
                );
            }
        }
        seen.insert(key);
        Some(Claim {
            guard: self.clone(),
            key,
            kept: false,
        })
    }

    /// Pairs remembered now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(at: i64, tag: u8) -> Verified {
        Verified { at, mac: [tag; 32] }
    }

    #[test]
    fn a_kept_pair_is_refused_again_until_it_leaves_the_window() {
        let guard = ReplayGuard::new(60_000, 10);
        let now = 1_000_000;
        guard.claim(pair(now, 1), now).expect("first").keep();
        assert!(guard.seen(&pair(now, 1)));
        assert!(guard.claim(pair(now, 1), now + 5).is_none(), "replay");
        assert!(!guard.seen(&pair(now, 2)));
        assert!(guard.claim(pair(now, 2), now + 5).is_some(), "another pair");
        // Out of the window: forgotten (the signature check refuses it as stale by then).
        guard
            .claim(pair(now + 70_000, 3), now + 70_000)
            .unwrap()
            .keep();
        assert_eq!(guard.len(), 1);
    }

    #[test]
    fn a_claim_not_kept_is_given_back() {
        let guard = ReplayGuard::new(60_000, 10);
        let claim = guard.claim(pair(5, 1), 5).expect("first");
        assert!(guard.claim(pair(5, 1), 5).is_none(), "claimed meanwhile");
        drop(claim);
        assert!(!guard.seen(&pair(5, 1)));
        assert!(guard.claim(pair(5, 1), 5).is_some(), "given back");
    }

    #[test]
    fn the_cap_forgets_the_oldest_first() {
        let guard = ReplayGuard::new(3_600_000, 3);
        for at in [10, 30, 20, 40] {
            guard.claim(pair(at, 0), 50).unwrap().keep();
        }
        assert_eq!(guard.len(), 3);
        assert!(guard.claim(pair(10, 0), 50).is_some(), "the oldest went");
        assert!(guard.claim(pair(40, 0), 50).is_none());
        assert!(guard.cap_logged.load(Ordering::Relaxed));
    }
}
