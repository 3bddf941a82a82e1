//! Retrying one logical DingTalk call: exponential backoff with full jitter, bounded by
//! attempts or by a deadline, remembering whether an earlier attempt may have been applied.
//!
//! A rate-limit answer is retried without backoff: the budget has already slowed that API
//! down, so the next attempt waits there for a slot. Every attempt must build a fresh
//! request (a new streaming `guid`): callers call their request builder again.

use std::time::Duration;

use tokio::time::Instant;

use super::error::DingTalkError;

/// First backoff step.
const FIRST_DELAY: Duration = Duration::from_millis(300);
/// Longest backoff step.
const MAX_DELAY: Duration = Duration::from_secs(8);
/// Pause after a rate-limit answer (the budget does the real waiting).
const QPS_PAUSE: Duration = Duration::from_millis(20);

/// The retry state of one logical call.
#[derive(Debug)]
pub struct Retry {
    what: &'static str,
    attempt: u32,
    max_attempts: u32,
    deadline: Option<Instant>,
    step: Duration,
    ambiguous: bool,
}

impl Retry {
    /// At most `max_attempts` attempts of `what` (for log lines).
    pub fn attempts(what: &'static str, max_attempts: u32) -> Retry {
        Retry {
            what,
            attempt: 1,
            max_attempts: max_attempts.max(1),
            deadline: None,
            step: FIRST_DELAY,
            ambiguous: false,
        }
    }

    /// Attempts of `what` until `limit` has passed.
    pub fn for_at_most(what: &'static str, limit: Duration) -> Retry {
        Retry {
            deadline: Some(Instant::now() + limit),
            ..Retry::attempts(what, u32::MAX)
        }
    }

    /// Whether an earlier attempt failed in a way that may have been applied by DingTalk.
    pub fn ambiguous(&self) -> bool {
        self.ambiguous
    }

    /// After a failed attempt: waits and returns true when another attempt is worth it.
    pub async fn again(&mut self, err: &DingTalkError) -> bool {
        self.ambiguous |= err.may_have_applied();
        if !err.is_retryable() || self.attempt >= self.max_attempts {
            return false;
        }
        let pause = if err.is_qps_limit() {
            QPS_PAUSE
        } else {
            let jittered = self.step.mul_f64(0.5 + fastrand::f64() * 0.5);
            self.step = (self.step * 2).min(MAX_DELAY);
            jittered
        };
        if self.deadline.is_some_and(|d| Instant::now() + pause >= d) {
            return false;
        }
        if !err.is_qps_limit() {
            log::warn!("{} failed ({err}); retrying in {pause:?}", self.what);
        }
        self.attempt += 1;
        tokio::time::sleep(pause).await;
        true
    }
}

/// Runs `call` (a fresh request each time) with [`Retry::attempts`].
pub async fn with_retries<T, F, Fut>(
    what: &'static str,
    attempts: u32,
    mut call: F,
) -> Result<T, DingTalkError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, DingTalkError>>,
{
    let mut retry = Retry::attempts(what, attempts);
    loop {
        match call().await {
            Err(e) if retry.again(&e).await => {}
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn transient_errors_back_off_and_ambiguity_is_remembered() {
        let mut r = Retry::attempts("x", 3);
        let t0 = Instant::now();
        assert!(r.again(&DingTalkError::GatewayTimeout).await);
        let first = Instant::now() - t0;
        assert!(
            first >= FIRST_DELAY / 2 && first <= FIRST_DELAY,
            "{first:?}"
        );
        assert!(r.ambiguous());
        assert!(r.again(&DingTalkError::Connect("refused".into())).await);
        assert!(
            !r.again(&DingTalkError::Connect("refused".into())).await,
            "three attempts"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn refusals_are_not_retried_and_a_deadline_ends_the_retries() {
        let mut r = Retry::attempts("x", 5);
        let param = DingTalkError::Param {
            code: "param.x".into(),
            message: "m".into(),
        };
        assert!(!r.again(&param).await);
        assert!(!r.ambiguous());
        let mut r = Retry::for_at_most("x", Duration::from_secs(2));
        let mut n = 0;
        while r.again(&DingTalkError::GatewayTimeout).await {
            n += 1;
        }
        assert!((2..=5).contains(&n), "{n} retries in 2 s");
    }
}
