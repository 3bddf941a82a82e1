//! The access-token cache: one fetch at a time, refreshed before expiry, invalidated when
//! DingTalk rejects it.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::secret::Secret;

/// Refresh when less than this is left (the Python SDK uses 300 s).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// A cached token and its refresh time.
#[derive(Clone)]
pub struct CachedToken {
    /// The token.
    pub token: Secret,
    /// When to fetch a new one.
    pub refresh_at: Instant,
}

/// The cache. The mutex is held across the fetch, so concurrent callers wait for the one
/// fetch in flight instead of starting their own.
#[derive(Default)]
pub struct TokenCache {
    slot: Mutex<Option<CachedToken>>,
}

impl TokenCache {
    /// Returns the cached token, or runs `fetch` (returning the token and its `expireIn`).
    pub async fn get<F, Fut, E>(&self, fetch: F) -> Result<Secret, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(Secret, Duration), E>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(cached) = slot.as_ref() {
            if Instant::now() < cached.refresh_at {
                return Ok(cached.token.clone());
            }
        }
        let (token, expires_in) = fetch().await?;
        let margin = REFRESH_MARGIN.min(expires_in / 2);
        *slot = Some(CachedToken {
            token: token.clone(),
            refresh_at: Instant::now() + expires_in.saturating_sub(margin),
        });
        Ok(token)
    }

    /// Forgets `rejected` (if it is still the cached one), so the next call fetches anew.
    pub async fn invalidate(&self, rejected: &Secret) {
        let mut slot = self.slot.lock().await;
        if slot.as_ref().is_some_and(|c| &c.token == rejected) {
            *slot = None;
        }
    }
}
