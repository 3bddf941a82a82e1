//! How one logical DingTalk call is retried: under the plugin's DingTalk policy
//! ([`crate::retry::DINGTALK`], exponential with jitter), bounded by attempts or by a
//! deadline, only for answers worth another attempt ([`DingTalkError::is_retryable`]),
//! remembering whether an earlier attempt may have been applied.
//!
//! A rate-limit answer is retried after a short pause only
//! ([`DINGTALK_RATE_LIMITED_PAUSE`]): the budget has already slowed that API down, so the
//! next attempt waits there for a slot. Every attempt must build a fresh request (a new
//! streaming `guid`): [`Retry::run`] calls the caller's request builder again.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use backon::Retryable;
use tokio::time::Instant;

use super::error::DingTalkError;
use crate::retry::{before, DINGTALK, DINGTALK_RATE_LIMITED_PAUSE};

/// The retry state of one logical call. Owned by the caller for that call; [`Retry::run`]
/// takes `&self`, so the caller can read [`Retry::ambiguous`] from inside its attempts.
#[derive(Debug)]
pub(crate) struct Retry {
    /// What is retried, for log lines.
    what: &'static str,
    /// Retries after the first attempt (`None`: until the deadline).
    retries: Option<usize>,
    /// No pause may end at or after this.
    deadline: Option<Instant>,
    /// An attempt failed in a way DingTalk may have applied.
    ambiguous: AtomicBool,
}

impl Retry {
    /// At most `max_attempts` attempts of `what` (for log lines).
    pub(crate) fn attempts(what: &'static str, max_attempts: u32) -> Retry {
        Retry {
            what,
            retries: Some(max_attempts.max(1) as usize - 1),
            deadline: None,
            ambiguous: AtomicBool::new(false),
        }
    }

    /// Attempts of `what` until `limit` has passed.
    pub(crate) fn for_at_most(what: &'static str, limit: Duration) -> Retry {
        Retry {
            what,
            retries: None,
            deadline: Some(Instant::now() + limit),
            ambiguous: AtomicBool::new(false),
        }
    }

    /// Whether an earlier attempt failed in a way that may have been applied by DingTalk.
    pub(crate) fn ambiguous(&self) -> bool {
        self.ambiguous.load(Relaxed)
    }

    /// Runs `call` (a fresh request each time) until it succeeds, fails in a way not worth
    /// retrying, or the attempts or the deadline are used up; returns the last answer.
    pub(crate) async fn run<T, F, Fut>(&self, call: F) -> Result<T, DingTalkError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, DingTalkError>>,
    {
        // backon counts the attempts; the pauses are DINGTALK's steps, of which a rate-limit
        // answer takes none.
        let mut steps = DINGTALK.steps();
        call.retry(crate::retry::attempts(self.retries))
            .when(|e: &DingTalkError| {
                if e.may_have_applied() {
                    self.ambiguous.store(true, Relaxed);
                }
                e.is_retryable()
            })
            .adjust(|e, attempt_left| {
                attempt_left?;
                let pause = if e.is_qps_limit() {
                    DINGTALK_RATE_LIMITED_PAUSE
                } else {
                    steps.next()?
                };
                before(self.deadline, pause)
            })
            .notify(|e, pause| {
                if !e.is_qps_limit() {
                    log::warn!("{} failed ({e}); retrying in {pause:?}", self.what);
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    /// Runs `retry` over `errors` (one per attempt, then success); returns the attempts made
    /// and when each began.
    async fn run_over(retry: &Retry, errors: &[DingTalkError]) -> Vec<Instant> {
        let calls = std::sync::Mutex::new(Vec::new());
        let n = AtomicU32::new(0);
        let _ = retry
            .run(|| async {
                calls.lock().unwrap().push(Instant::now());
                match errors.get(n.fetch_add(1, Relaxed) as usize) {
                    Some(e) => Err(e.clone()),
                    None => Ok(()),
                }
            })
            .await;
        calls.into_inner().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_back_off_with_jitter_and_ambiguity_is_remembered() {
        let r = Retry::attempts("x", 3);
        let refused = DingTalkError::Connect("refused".into());
        let at = run_over(
            &r,
            &[DingTalkError::GatewayTimeout, refused.clone(), refused],
        )
        .await;
        assert_eq!(at.len(), 3, "three attempts");
        let first = at[1] - at[0];
        assert!(
            first >= Duration::from_millis(150) && first <= Duration::from_millis(300),
            "{first:?}"
        );
        let second = at[2] - at[1];
        assert!(
            second >= Duration::from_millis(300) && second <= Duration::from_millis(600),
            "{second:?}"
        );
        assert!(r.ambiguous());
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limit_answers_pause_briefly_count_as_attempts_and_keep_the_backoff_step() {
        let qps = DingTalkError::QpsLimit {
            code: "Forbidden.AccessDenied.QpsLimitForApi".into(),
            message: "m".into(),
        };
        let r = Retry::attempts("x", 2);
        let at = run_over(&r, &[qps.clone(), qps.clone(), qps.clone()]).await;
        assert_eq!(at.len(), 2);
        assert_eq!(at[1] - at[0], DINGTALK_RATE_LIMITED_PAUSE);
        assert!(!r.ambiguous());
        let r = Retry::attempts("x", 5);
        let at = run_over(
            &r,
            &[qps.clone(), qps.clone(), qps, DingTalkError::GatewayTimeout],
        )
        .await;
        assert_eq!(at.len(), 5);
        let first_step = at[4] - at[3];
        assert!(
            first_step >= Duration::from_millis(150) && first_step <= Duration::from_millis(300),
            "{first_step:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn refusals_are_not_retried_and_a_deadline_ends_the_retries() {
        let r = Retry::attempts("x", 5);
        let param = DingTalkError::Param {
            code: "param.x".into(),
            message: "m".into(),
        };
        assert_eq!(run_over(&r, &[param]).await.len(), 1);
        assert!(!r.ambiguous());
        let r = Retry::for_at_most("x", Duration::from_secs(2));
        let at = run_over(&r, &vec![DingTalkError::GatewayTimeout; 100]).await;
        let retries = at.len() - 1;
        assert!((2..=5).contains(&retries), "{retries} retries in 2 s");
        assert!(*at.last().unwrap() - at[0] < Duration::from_secs(2));
    }
}
