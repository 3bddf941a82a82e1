//! The reconnect policy: exponential backoff with jitter between 1 s and 60 s (backon's
//! [`ExponentialBuilder`]), started over once a connection has served for [`HEALTHY_AFTER`].

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// A connection that served this long starts the delays over.
pub const HEALTHY_AFTER: Duration = Duration::from_secs(30);
/// The first delay is at least this.
const FIRST: Duration = Duration::from_secs(1);
/// No delay is longer than this.
const CAP: Duration = Duration::from_secs(60);

/// The delays before the next connection attempts. Owned by the connection manager.
#[derive(Debug)]
pub struct Reconnect {
    builder: ExponentialBuilder,
    delays: ExponentialBackoff,
}

impl Reconnect {
    /// Delays from 1 s, doubling, never above 60 s.
    ///
    /// backon's jitter adds a random part of up to the base delay again (a delay is in
    /// `[base, 2·base)`), so the base doubles from 1 s and stops at half the cap: delays are in
    /// `[1, 2) s`, `[2, 4) s`, … `[16, 32) s`, then `[30, 60) s` for every further attempt.
    pub fn new() -> Reconnect {
        Reconnect::with(
            ExponentialBuilder::new()
                .with_min_delay(FIRST)
                .with_max_delay(CAP / 2)
                .with_factor(2.0)
                .with_jitter()
                .without_max_times(),
        )
    }

    /// Delays from `builder`.
    fn with(builder: ExponentialBuilder) -> Reconnect {
        Reconnect {
            builder,
            delays: builder.build(),
        }
    }

    /// The delay before the next attempt, counting one more failure.
    pub fn next_delay(&mut self) -> Duration {
        self.delays.next().unwrap_or(CAP).min(CAP)
    }

    /// A connection ended after serving for `served`: a healthy one starts the delays over.
    pub fn connection_ended(&mut self, served: Duration) {
        if served >= HEALTHY_AFTER {
            self.delays = self.builder.build();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded(seed: u64) -> Reconnect {
        let mut r = Reconnect::new();
        r.builder = r.builder.with_jitter_seed(seed);
        r.delays = r.builder.build();
        r
    }

    /// The lower bound of the n-th delay (0-based): 1 s doubling, at most 30 s.
    fn base(n: usize) -> Duration {
        FIRST.saturating_mul(1 << n.min(6)).min(CAP / 2)
    }

    #[test]
    fn doubles_from_one_second_with_jitter_never_above_the_cap() {
        let mut spread = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let mut r = seeded(seed);
            for n in 0..12 {
                let d = r.next_delay();
                assert!(
                    d >= base(n) && d < base(n) * 2 && d <= CAP,
                    "seed {seed}, attempt {n}: {d:?}"
                );
                if n == 0 {
                    spread.insert(d.as_millis() / 100);
                }
            }
        }
        assert!(spread.len() >= 5, "the first delay is jittered: {spread:?}");
    }

    #[test]
    fn a_healthy_connection_starts_over_a_short_one_does_not() {
        let mut r = seeded(7);
        for _ in 0..4 {
            r.next_delay();
        }
        r.connection_ended(HEALTHY_AFTER - Duration::from_millis(1));
        assert!(r.next_delay() >= base(4));
        r.connection_ended(HEALTHY_AFTER);
        assert!(r.next_delay() < base(1));
    }
}
