//! The access-token cache: one fetch at a time, refreshed before expiry, invalidated when
//! DingTalk rejects it. A failed fetch is shared by every waiting caller and remembered
//! briefly, so bad credentials cost one token call a minute, not one per event.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::error::DingTalkError;
use crate::secret::Secret;

/// Refresh when less than this is left (the Python SDK uses 300 s).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// How long refused credentials are remembered before DingTalk is asked again.
const REFUSED_FOR: Duration = Duration::from_secs(60);
/// How long another failure (DingTalk unreachable, a timeout, a 5xx) is remembered.
const FAILED_FOR: Duration = Duration::from_secs(3);

/// A cached token and its refresh time.
#[derive(Clone)]
struct CachedToken {
    token: Secret,
    refresh_at: Instant,
}

#[derive(Default)]
struct Slot {
    token: Option<CachedToken>,
    failure: Option<(DingTalkError, Instant)>,
}

/// The cache. The mutex is held across the fetch, so concurrent callers wait for the one
/// fetch in flight instead of starting their own.
#[derive(Default)]
pub struct TokenCache {
    slot: Mutex<Slot>,
}

impl TokenCache {
    /// Returns the cached token (or the recent failure), or runs `fetch` (returning the
    /// token and its `expireIn`).
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<Secret, DingTalkError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(Secret, Duration), DingTalkError>>,
    {
        let mut slot = self.slot.lock().await;
        let now = Instant::now();
        if let Some(cached) = &slot.token {
            if now < cached.refresh_at {
                return Ok(cached.token.clone());
            }
        }
        if let Some((err, until)) = &slot.failure {
            if now < *until {
                return Err(err.clone());
            }
        }
        match fetch().await {
            Ok((token, expires_in)) => {
                let margin = REFRESH_MARGIN.min(expires_in / 2);
                slot.token = Some(CachedToken {
                    token: token.clone(),
                    refresh_at: Instant::now() + expires_in.saturating_sub(margin),
                });
                slot.failure = None;
                Ok(token)
            }
            Err(e) => {
                let remember = match e {
                    DingTalkError::Credentials(_) => REFUSED_FOR,
                    _ => FAILED_FOR,
                };
                log::warn!("DingTalk access token could not be fetched: {e}");
                slot.failure = Some((e.clone(), Instant::now() + remember));
                Err(e)
            }
        }
    }

    /// Forgets `rejected` (if it is still the cached one), so the next call fetches anew.
    pub async fn invalidate(&self, rejected: &Secret) {
        let mut slot = self.slot.lock().await;
        if slot.token.as_ref().is_some_and(|c| &c.token == rejected) {
            slot.token = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn refused_credentials_cost_one_fetch_a_minute() {
        let cache = TokenCache::default();
        let fetches = AtomicU32::new(0);
        let fetch = || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            Err::<(Secret, Duration), _>(DingTalkError::Credentials(
                "无效的clientId或者clientSecret".into(),
            ))
        };
        for _ in 0..5 {
            let e = cache.get(fetch).await.unwrap_err();
            assert!(e.to_string().contains("refused the app credentials"), "{e}");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        tokio::time::advance(REFUSED_FOR).await;
        let _ = cache.get(fetch).await;
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unreachable_token_endpoint_is_retried_after_a_few_seconds() {
        let cache = TokenCache::default();
        let fetches = AtomicU32::new(0);
        let fetch = || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            Err::<(Secret, Duration), _>(DingTalkError::Connect("connection refused".into()))
        };
        let _ = cache.get(fetch).await;
        let _ = cache.get(fetch).await;
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        tokio::time::advance(FAILED_FOR).await;
        let _ = cache.get(fetch).await;
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }
}
