//! The plugin's retry policies, in one place. Every retry that waits (a DingTalk OpenAPI
//! call, the gateway request before its first byte, the recovery of cards left in flight)
//! runs under [backon](https://docs.rs/backon) with one of the policies below; what counts as
//! worth another attempt stays with each caller (`dingtalk::retry`, `gateway::client`,
//! `card::recovery`).
//!
//! The exponential policies jitter each pause: pause *n* is drawn from
//! `[bound/2, bound)` where `bound = first · 2ⁿ`, capped at `max`, so concurrent replies that
//! failed together do not retry together.

use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ConstantBuilder, ExponentialBuilder};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// An exponential backoff with jitter (see the module docs). `Copy`; build one per call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exponential {
    /// Upper bound of the first pause.
    first: Duration,
    /// Upper bound of every pause.
    max: Duration,
}

impl Exponential {
    /// The backon builder for at most `retries` retries after the first attempt (`None`:
    /// as many as the caller's deadline allows).
    pub(crate) fn retries(self, retries: Option<usize>) -> ExponentialBuilder {
        let builder = ExponentialBuilder::new()
            .with_jitter()
            .with_factor(2.0)
            .with_min_delay(self.first / 2)
            .with_max_delay(self.max / 2);
        match retries {
            Some(n) => builder.with_max_times(n),
            None => builder.without_max_times(),
        }
    }

    /// The pauses of this policy, one per retry, without end (for a caller that counts
    /// attempts with [`attempts`] and takes a step only for some failures).
    pub(crate) fn steps(self) -> impl Iterator<Item = Duration> + Send + Sync {
        self.retries(None).build()
    }
}

/// Counts attempts only: at most `retries` retries (`None`: no limit), each with no pause of
/// its own (the caller's `adjust` decides the pause).
pub(crate) fn attempts(retries: Option<usize>) -> ConstantBuilder {
    let builder = ConstantBuilder::new().with_delay(Duration::ZERO);
    match retries {
        Some(n) => builder.with_max_times(n),
        None => builder.without_max_times(),
    }
}

/// DingTalk OpenAPI calls: 300 ms doubling to 8 s, jittered. The attempts or the deadline
/// come from the call (`dingtalk::retry::Retry`).
pub(crate) const DINGTALK: Exponential = Exponential {
    first: Duration::from_millis(300),
    max: Duration::from_secs(8),
};

/// The pause after a DingTalk rate-limit answer (`403 …QpsLimit…`), instead of the next
/// backoff step (which it does not use up): the budget has already slowed that API down,
/// and the next attempt waits there for its slot.
pub(crate) const DINGTALK_RATE_LIMITED_PAUSE: Duration = Duration::from_millis(20);

/// Attempts of one markdown message of a reply (the fallback when there is no card).
pub(crate) const MARKDOWN_REPLY_ATTEMPTS: u32 = 4;

/// Attempts of asking DingTalk for the download link of a user's picture or file (all of
/// them within `attachments.download_timeout_ms`).
pub(crate) const FILE_LINK_ATTEMPTS: u32 = 3;

/// How long a card's final update (and its `flowStatus` update) is retried.
pub(crate) const FINAL_UPDATE_DEADLINE: Duration = Duration::from_secs(60);

/// An access token DingTalk rejected is refreshed and the call sent again this many times,
/// at once.
pub(crate) fn token_refresh() -> ConstantBuilder {
    ConstantBuilder::new()
        .with_delay(Duration::ZERO)
        .with_max_times(1)
}

/// The gateway request, before the first byte of the stream: 250 ms doubling to 8 s,
/// jittered; the retries are `gateway.retries`.
pub(crate) const GATEWAY: Exponential = Exponential {
    first: Duration::from_millis(250),
    max: Duration::from_secs(8),
};

/// Cards an earlier process left in flight: retried in the background for this long.
pub(crate) const RECOVERY_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// The recovery of cards left in flight: a round every 20 s (no jitter: it is one task per
/// process, and operators read the 20 s in `docs/operations.md`), until
/// [`RECOVERY_DEADLINE`] says stop.
pub(crate) fn recovery() -> ConstantBuilder {
    ConstantBuilder::new()
        .with_delay(Duration::from_secs(20))
        .without_max_times()
}

/// The pause `pause`, or `None` (stop retrying) when it would end at or after `deadline`.
pub(crate) fn before(deadline: Option<Instant>, pause: Duration) -> Option<Duration> {
    match deadline {
        Some(deadline) if Instant::now() + pause >= deadline => None,
        _ => Some(pause),
    }
}

/// A backon sleeper that wakes early when `token` is cancelled.
pub(crate) fn sleep_unless_cancelled(
    token: CancellationToken,
) -> impl Fn(Duration) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + 'static {
    move |pause| {
        let token = token.clone();
        Box::pin(async move {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = token.cancelled_owned() => {}
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_pauses_are_jittered_below_their_doubling_bound() {
        for _ in 0..100 {
            let pauses: Vec<Duration> = DINGTALK.retries(Some(7)).build().collect();
            assert_eq!(pauses.len(), 7);
            let mut bound = Duration::from_millis(300);
            for pause in pauses {
                assert!(
                    pause >= bound / 2 && pause <= bound,
                    "{pause:?} vs {bound:?}"
                );
                bound = (bound * 2).min(Duration::from_secs(8));
            }
        }
        assert_eq!(GATEWAY.retries(Some(0)).build().next(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_and_cancellation_end_the_waits() {
        let deadline = Instant::now() + Duration::from_secs(1);
        assert_eq!(
            before(Some(deadline), Duration::from_millis(999)),
            Some(Duration::from_millis(999))
        );
        assert_eq!(before(Some(deadline), Duration::from_secs(1)), None);
        assert_eq!(before(None, Duration::MAX), Some(Duration::MAX));

        let token = CancellationToken::new();
        let sleep = sleep_unless_cancelled(token.clone());
        let t0 = Instant::now();
        let cancel = async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            token.cancel();
        };
        tokio::join!(sleep(Duration::from_secs(20)), cancel);
        assert_eq!(Instant::now() - t0, Duration::from_secs(3));
    }
}
