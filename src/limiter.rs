//! The app-wide DingTalk API budget, shared by every conversation.
//!
//! A GCRA limiter (governor) spaces calls evenly; a FIFO-fair mutex in front of it serves
//! waiting calls in arrival order. So when N cards want more than the budget, each one's
//! updates stretch evenly instead of some of them failing with `403 QpsLimit`.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Calls are spaced 5 % wider than `1 s / qps`: at most `qps` calls start in any 1.05 s
/// window, so up to 50 ms of network jitter cannot land `qps + 1` calls in one DingTalk
/// second (its counting window is not published).
const JITTER_MARGIN: f64 = 1.05;

/// A shared call budget. Threads: any; `acquire` from the plugin runtime.
pub struct ApiBudget {
    turn: tokio::sync::Mutex<()>,
    gcra: DefaultDirectRateLimiter,
}

impl ApiBudget {
    /// A budget of `qps` calls per second (at least 1).
    pub fn new(qps: u32) -> ApiBudget {
        let qps = qps.max(1);
        let period = Duration::from_secs_f64(JITTER_MARGIN / f64::from(qps));
        let quota = Quota::with_period(period)
            .expect("period is positive")
            .allow_burst(NonZeroU32::MIN);
        ApiBudget {
            turn: tokio::sync::Mutex::new(()),
            gcra: RateLimiter::direct(quota),
        }
    }

    /// Waits for this caller's turn (first come, first served), then for a free slot.
    pub async fn acquire(&self) {
        let _turn = self.turn.lock().await;
        self.gcra.until_ready().await;
    }
}
