//! A sliding window of call start times: at most `limit` calls start in any `SPAN`.
//!
//! DingTalk counts calls per second in windows it does not publish. A sliding window of
//! slightly more than one second bounds every one-second window DingTalk may use, whatever
//! its alignment, while still letting `limit` calls go at once after a quiet second.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// The window length: one second plus a margin for network jitter between our clock and
/// DingTalk's (a call sent 1.00 s after another may arrive 0.98 s after it).
pub(crate) const SPAN: Duration = Duration::from_millis(1050);

/// Start times of the calls of the last [`SPAN`]. Threads: owned by the budget's mutex.
#[derive(Debug, Default)]
pub(crate) struct Window {
    starts: VecDeque<Instant>,
}

impl Window {
    fn prune(&mut self, now: Instant) {
        while self.starts.front().is_some_and(|&t| t + SPAN <= now) {
            self.starts.pop_front();
        }
    }

    /// Calls started in the last [`SPAN`].
    pub(crate) fn count(&mut self, now: Instant) -> usize {
        self.prune(now);
        self.starts.len()
    }

    /// The earliest instant (`now` or later) at which one more call keeps at most `limit`
    /// calls in any [`SPAN`].
    pub(crate) fn free_at(&mut self, now: Instant, limit: usize) -> Instant {
        self.prune(now);
        let limit = limit.max(1);
        if self.starts.len() < limit {
            now
        } else {
            self.starts[self.starts.len() - limit] + SPAN
        }
    }

    /// Records a call starting at `at`.
    pub(crate) fn record(&mut self, at: Instant) {
        self.starts.push_back(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_window_allows_a_burst_of_limit_then_waits_a_span() {
        let t0 = Instant::now();
        let mut w = Window::default();
        for _ in 0..5 {
            assert_eq!(w.free_at(t0, 5), t0);
            w.record(t0);
        }
        assert_eq!(w.free_at(t0, 5), t0 + SPAN, "the sixth call waits a span");
        assert_eq!(w.count(t0 + SPAN), 0, "the burst has left the window");
        assert_eq!(w.free_at(t0 + SPAN, 5), t0 + SPAN);
    }

    #[test]
    fn the_free_slot_follows_the_oldest_call_that_must_leave() {
        let t0 = Instant::now();
        let mut w = Window::default();
        w.record(t0);
        w.record(t0 + Duration::from_millis(400));
        w.record(t0 + Duration::from_millis(800));
        let now = t0 + Duration::from_millis(900);
        assert_eq!(w.free_at(now, 2), t0 + Duration::from_millis(400) + SPAN);
        assert_eq!(w.free_at(now, 3), t0 + SPAN);
        assert_eq!(w.free_at(now, 4), now);
    }
}
