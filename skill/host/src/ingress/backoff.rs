//! Reconnect delays: exponential from 1 s to 60 s with ±30 % jitter, reset after a healthy period.

use std::time::Duration;

/// Exponential backoff with jitter.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
}

/// Relative jitter: each delay is scaled by a factor in `[1 − JITTER, 1 + JITTER]`.
pub const JITTER: f64 = 0.3;

impl Backoff {
    /// Delays start at `initial` and double up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            failures: 0,
        }
    }

    /// The reconnect policy: 1 s → 60 s.
    pub fn reconnect() -> Backoff {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
    }

    /// The delay before the next attempt (given a uniform sample `u` in `[0, 1)`), counting one
    /// more failure. Never above `max`.
    pub fn next_with(&mut self, u: f64) -> Duration {
        let exp = self
            .initial
            .saturating_mul(1u32.checked_shl(self.failures.min(31)).unwrap_or(u32::MAX))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        let factor = 1.0 - JITTER + 2.0 * JITTER * u.clamp(0.0, 1.0);
        exp.mul_f64(factor).min(self.max)
    }

    /// [`Backoff::next_with`] with a random sample.
    pub fn next_delay(&mut self) -> Duration {
        self.next_with(rand::random::<f64>())
    }

    /// Forgets past failures (after a connection stayed healthy).
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failures counted since the last reset.
    #[cfg(test)]
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_bounded_jitter() {
        let mut b = Backoff::reconnect();
        let mids: Vec<u64> = (0..9)
            .map(|_| b.next_with(0.5).as_millis() as u64)
            .collect();
        assert_eq!(
            mids,
            [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]
        );
        let mut low = Backoff::reconnect();
        assert_eq!(low.next_with(0.0), Duration::from_millis(700));
        let mut high = Backoff::reconnect();
        assert_eq!(high.next_with(1.0), Duration::from_millis(1300));
        for _ in 0..10 {
            high.next_with(1.0);
        }
        assert_eq!(
            high.next_with(1.0),
            Duration::from_secs(60),
            "never above the cap"
        );
        for _ in 0..100 {
            let d = Backoff::reconnect().next_delay();
            assert!((700..=1300).contains(&(d.as_millis() as u64)), "{d:?}");
        }
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::reconnect();
        b.next_with(0.5);
        b.next_with(0.5);
        assert_eq!(b.failures(), 2);
        b.reset();
        assert_eq!(b.next_with(0.5), Duration::from_secs(1));
    }
}
