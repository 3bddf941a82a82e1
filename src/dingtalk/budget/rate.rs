//! A learned call rate: additive increase, multiplicative decrease, like TCP's congestion
//! window but counted in calls per [`SPAN`](super::window::SPAN).
//!
//! - A budget nobody has measured yet opens by slow start: four calls, then one more for
//!   every call DingTalk accepted while the budget was full, up to its ceiling. So a tenant
//!   whose real limit is far below `dingtalk.api_qps` costs one or two `403`s, not a burst.
//! - `403 …QpsLimit…` lowers the rate at once to [`DECREASE`] of what was really sent in
//!   the last window, at most once per window (calls already in flight under the old rate
//!   do not count again).
//! - While calls succeed with the budget full, the rate probes back up slowly: a tenth of a
//!   call per second at first, doubling every [`PROBE_DOUBLING`] without a `403`, so a
//!   rate that was cut by a short storm recovers within minutes, while one sitting just
//!   under the real limit touches it rarely.

use std::time::Duration;

use tokio::time::Instant;

/// Calls a budget nobody has measured may start with (DingTalk tenants are reported at
/// 20 calls/s per API and more; four leaves room for a first reply's calls at once).
const INITIAL: f64 = 4.0;
/// The factor a `403` cuts the rate to.
pub(crate) const DECREASE: f64 = 0.7;
/// Growth per second of full use right after a decrease (calls per second).
const PROBE_GAIN: f64 = 0.1;
/// The probe gain doubles every this long without a `403` ...
const PROBE_DOUBLING: Duration = Duration::from_secs(30);
/// ... up to this gain (calls per second, per second).
const PROBE_GAIN_MAX: f64 = 2.0;
/// No budget goes below one call per window.
const FLOOR: f64 = 1.0;

/// One learned rate. Threads: owned by the budget's mutex.
#[derive(Debug, Clone)]
pub(crate) struct Rate {
    /// Calls allowed per window (fractional: it grows in small steps).
    window: f64,
    /// Below this the rate is in slow start.
    threshold: f64,
    /// Never above this (the manifest's setting; infinite when there is none).
    ceiling: f64,
    /// When the rate was last cut.
    decreased_at: Option<Instant>,
}

impl Rate {
    /// A rate nobody has measured: slow start up to `ceiling`.
    pub(crate) fn unmeasured(ceiling: f64) -> Rate {
        Rate {
            window: INITIAL.min(ceiling).max(FLOOR),
            threshold: ceiling,
            ceiling,
            decreased_at: None,
        }
    }

    /// A rate learned earlier (read back from the state directory), kept under `ceiling`.
    pub(crate) fn learned(rate: f64, ceiling: f64) -> Rate {
        let window = rate.clamp(FLOOR, ceiling.max(FLOOR));
        Rate {
            window,
            threshold: window,
            ceiling,
            decreased_at: Some(Instant::now()),
        }
    }

    /// Calls allowed in one window now.
    pub(crate) fn limit(&self) -> usize {
        self.window.floor().max(FLOOR) as usize
    }

    /// The rate in calls per second (for `info` and `/metrics`).
    pub(crate) fn per_second(&self) -> f64 {
        self.window
    }

    /// Whether a `403` has taught this rate something (worth keeping across restarts).
    pub(crate) fn was_learned(&self) -> bool {
        self.threshold < self.ceiling
    }

    /// A call sent while the budget was full (`saturated`) was accepted.
    pub(crate) fn accepted(&mut self, saturated: bool, now: Instant) {
        if !saturated {
            return;
        }
        if self.window < self.threshold {
            self.window += 1.0;
        } else {
            let quiet = self
                .decreased_at
                .map_or(Duration::MAX, |t| now.saturating_duration_since(t));
            let doublings = (quiet.as_secs_f64() / PROBE_DOUBLING.as_secs_f64()).floor();
            let gain = (PROBE_GAIN * 2f64.powf(doublings.min(8.0))).min(PROBE_GAIN_MAX);
            // About `window` calls go out per second at full use: spread the gain over them.
            self.window += gain / self.window.max(FLOOR);
        }
        self.window = self.window.min(self.ceiling);
    }

    /// DingTalk answered `403 …QpsLimit…` to a call sent at `sent_at`, while `observed`
    /// calls of this budget had started in the last window. Returns whether the rate was cut.
    pub(crate) fn limited(&mut self, sent_at: Instant, observed: usize, now: Instant) -> bool {
        let base = self.window.min(observed as f64);
        self.cut(sent_at, base, now)
    }

    /// [`Rate::limited`] for a budget the hosts of an app share: `observed` is every host's
    /// calls in the window (as the shared window counted them), and the cut is from those,
    /// whatever this host's own part or its own rate was: the rate becomes the app's, which
    /// the other hosts adopt.
    pub(crate) fn limited_shared(
        &mut self,
        sent_at: Instant,
        observed: usize,
        now: Instant,
    ) -> bool {
        self.cut(sent_at, (observed as f64).min(self.ceiling), now)
    }

    fn cut(&mut self, sent_at: Instant, base: f64, now: Instant) -> bool {
        if let Some(at) = self.decreased_at {
            if sent_at < at || now < at + super::window::SPAN {
                return false;
            }
        }
        self.window = (base.max(FLOOR) * DECREASE).max(FLOOR);
        self.threshold = self.window;
        self.decreased_at = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_grows_by_one_per_accepted_call_up_to_the_ceiling() {
        let now = Instant::now();
        let mut r = Rate::unmeasured(20.0);
        assert_eq!(r.limit(), 4);
        for _ in 0..30 {
            r.accepted(true, now);
        }
        assert_eq!(r.limit(), 20);
        assert!(!r.was_learned());
    }

    #[test]
    fn a_limit_cuts_to_seventy_percent_of_what_was_sent_once_per_window() {
        let t0 = Instant::now();
        let mut r = Rate::unmeasured(20.0);
        for _ in 0..2 {
            r.accepted(true, t0);
        }
        assert_eq!(r.limit(), 6);
        assert!(r.limited(t0, 6, t0));
        assert_eq!(r.limit(), 4, "6 × 0.7 = 4.2");
        assert!(!r.limited(t0, 6, t0), "a call sent before the cut");
        let later = t0 + Duration::from_millis(10);
        assert!(!r.limited(later, 6, later), "within the same window");
        assert!(r.was_learned());
    }

    #[test]
    fn the_probe_is_slow_right_after_a_cut_and_faster_after_quiet_minutes() {
        let t0 = Instant::now();
        let mut r = Rate::learned(5.0, 20.0);
        let mut calls = 0;
        while r.limit() < 6 {
            r.accepted(true, t0);
            calls += 1;
        }
        assert!(calls >= 45, "about ten seconds of full use: {calls} calls");
        let mut quiet = Rate::learned(5.0, 20.0);
        let later = t0 + Duration::from_secs(120);
        let mut calls = 0;
        while quiet.limit() < 6 {
            quiet.accepted(true, later);
            calls += 1;
        }
        assert!(calls <= 8, "after two quiet minutes: {calls} calls");
    }

    #[test]
    fn calls_sent_below_the_limit_do_not_raise_it() {
        let mut r = Rate::learned(5.0, 20.0);
        for _ in 0..1000 {
            r.accepted(false, Instant::now());
        }
        assert_eq!(r.limit(), 5);
    }

    #[test]
    fn without_a_ceiling_slow_start_goes_on_while_the_budget_is_full() {
        let mut r = Rate::unmeasured(f64::INFINITY);
        assert_eq!(r.limit(), 4);
        for _ in 0..100 {
            r.accepted(true, Instant::now());
        }
        assert_eq!(r.limit(), 104);
    }
}
