//! Flow control: calls per app (and per API under [`QpsScope::PerApi`]) in fixed one-second windows.
//!
//! DingTalk's real algorithm is unpublished; the emulator uses Alibaba-style per-second flow control with
//! windows aligned to its own clock (window `n` covers `[n·1000, (n+1)·1000)` ms since start). Rejected
//! calls do not consume budget and are not applied. Every API of the app counts, the token endpoints and
//! the Stream-mode `connections/open` included (keyed by the `appKey`/`clientId` they name, before the
//! credentials are checked); session-webhook posts (no app token, oapi host), unknown APIs (404) and calls
//! with an invalid token (the app is unknown) do not.

use std::collections::HashMap;

use super::{
    reply::{ApiError, Reply},
    state::Shared,
    ApiKind, QpsScope,
};
use crate::clock::format_beijing;

/// Per-budget counters of the current window. Budgets are keyed by the app a call names (the token
/// endpoints name any app before the credentials are checked), so past this many budgets the stale ones
/// (of an earlier window, equivalent to none) are dropped.
const PRUNE_AT: usize = 256;

/// Per-budget counters of the current window.
#[derive(Debug, Default)]
pub(crate) struct QpsLimiter {
    windows: HashMap<(String, Option<ApiKind>), Window>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    index: u64,
    count: u32,
}

/// A call refused by flow control.
#[derive(Debug, Clone)]
pub(crate) struct QpsRejected {
    /// The error code of the configured scope.
    pub(crate) code: &'static str,
    /// When the current window ends, formatted for the message.
    pub(crate) until: String,
}

impl From<QpsRejected> for Reply {
    fn from(r: QpsRejected) -> Self {
        ApiError::qps_limit(r.code, &r.until).into()
    }
}

impl QpsLimiter {
    /// Counts one call at `at_ms`; false when the budget of this window is used up.
    fn admit(&mut self, app: &str, api: Option<ApiKind>, limit: u32, at_ms: u64) -> bool {
        let index = at_ms / 1000;
        let key = (app.to_string(), api);
        if self.windows.len() >= PRUNE_AT && !self.windows.contains_key(&key) {
            self.windows.retain(|_, w| w.index == index);
        }
        let window = self
            .windows
            .entry(key)
            .or_insert(Window { index, count: 0 });
        if window.index != index {
            *window = Window { index, count: 0 };
        }
        if window.count >= limit {
            return false;
        }
        window.count += 1;
        true
    }
}

/// Applies the configured limit to a call of `kind` made for `app` at `at_ms`.
pub(crate) fn admit(
    shared: &Shared,
    limiter: &mut QpsLimiter,
    app: &str,
    kind: ApiKind,
    at_ms: u64,
) -> Result<(), QpsRejected> {
    let Some(limit) = shared.config.qps_limit else {
        return Ok(());
    };
    let scope = shared.config.qps_scope;
    let api = (scope == QpsScope::PerApi).then_some(kind);
    if limiter.admit(app, api, limit, at_ms) {
        Ok(())
    } else {
        Err(rejection(shared, at_ms))
    }
}

/// The rejection a call at `at_ms` gets (also used by the `QpsLimit` fault).
pub(crate) fn rejection(shared: &Shared, at_ms: u64) -> QpsRejected {
    let window_end_ms = (at_ms / 1000 + 1) * 1000;
    QpsRejected {
        code: shared.config.qps_scope.error_code(),
        until: format_beijing(shared.clock.epoch_ms_at(window_end_ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_windows() {
        let mut l = QpsLimiter::default();
        assert!(l.admit("a", None, 2, 10));
        assert!(l.admit("a", None, 2, 999));
        assert!(!l.admit("a", None, 2, 999), "third call in window 0");
        assert!(l.admit("b", None, 2, 999), "other app has its own budget");
        assert!(
            l.admit("a", Some(ApiKind::GroupSend), 2, 999),
            "other API has its own budget"
        );
        assert!(l.admit("a", None, 2, 1000), "new window");
    }

    #[test]
    fn stale_budgets_are_dropped() {
        let mut l = QpsLimiter::default();
        let n = 10 * PRUNE_AT as u64;
        for i in 0..n {
            assert!(l.admit(&format!("app{i}"), None, 1, i * 1000));
        }
        assert!(l.windows.len() <= PRUNE_AT, "{}", l.windows.len());
        assert!(
            !l.admit(&format!("app{}", n - 1), None, 1, (n - 1) * 1000),
            "the current window's budget is kept"
        );
    }
}
