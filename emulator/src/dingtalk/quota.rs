//! The monthly call quota: calls per org (app) per calendar month (docs/dingtalk.md, "Monthly quota").
//!
//! DingTalk meters paid-API calls per org per month; over the quota a new-API call gets HTTP 403
//! `Forbidden.AccessDenied.ApiCountLimitForOrg` and a legacy oapi call errcode 90020, both with the message
//! "您的企业本月api调用量已超过限制，调用量:<n>次，额度:<q>次". What exactly is metered is not published, so
//! the emulator makes these choices (strict where it can be):
//!
//! - every call that names a known app counts: token-protected new-API calls once their token is valid
//!   (including calls that flow control or the quota itself then refuses, so `<n>` keeps growing), and
//!   session-webhook posts to a known session (counted for the configured app);
//! - the token endpoints (`/v1.0/oauth2/accessToken`, `/gettoken`) and the Stream-mode
//!   `connections/open` are neither counted nor refused: without a token the bridge could not even learn
//!   that it is over quota;
//! - calls refused before the app is known (bad or missing token, unknown API, injected faults) and
//!   inbound callbacks (Stream pushes, HTTP-callback payloads) are not counted, although a third-party
//!   answer says callbacks count too: the emulator meters only what it serves;
//! - months are calendar months in Beijing time (UTC+8) on the emulator's wall clock.

use std::collections::HashMap;

use super::{reply::ApiError, state::Shared};
use crate::clock::beijing_month;

/// Calls per (app, month).
#[derive(Debug, Default)]
pub(crate) struct MonthlyCalls {
    counts: HashMap<(String, (i64, i64)), u64>,
}

/// A call refused because the org's monthly quota is used up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OverQuota {
    /// The org's calls this month, including the refused one.
    pub(crate) count: u64,
    /// The configured quota.
    pub(crate) quota: u64,
}

impl OverQuota {
    /// The message DingTalk shows (qidian help article 1061621972).
    pub(crate) fn message(&self) -> String {
        format!(
            "您的企业本月api调用量已超过限制，调用量:{}次，额度:{}次",
            self.count, self.quota
        )
    }

    /// The new-API answer: HTTP 403 `Forbidden.AccessDenied.ApiCountLimitForOrg`.
    pub(crate) fn api_error(&self) -> ApiError {
        ApiError::new(
            403,
            "Forbidden.AccessDenied.ApiCountLimitForOrg",
            self.message(),
        )
    }
}

/// The legacy errcode of a call over the monthly quota.
pub(crate) const OVER_QUOTA_ERRCODE: i64 = 90020;

impl MonthlyCalls {
    /// Counts one call of `app` at epoch `epoch_ms`; its count this month afterwards.
    fn count(&mut self, app: &str, epoch_ms: i64) -> u64 {
        let n = self
            .counts
            .entry((app.to_string(), beijing_month(epoch_ms)))
            .or_default();
        *n += 1;
        *n
    }

    /// Calls of `app` in the month of epoch `epoch_ms`.
    pub(crate) fn get(&self, app: &str, epoch_ms: i64) -> u64 {
        self.counts
            .get(&(app.to_string(), beijing_month(epoch_ms)))
            .copied()
            .unwrap_or(0)
    }
}

/// Counts a call of `app` arriving at `at_ms` and applies the configured quota.
pub(crate) fn meter(
    shared: &Shared,
    calls: &mut MonthlyCalls,
    app: &str,
    at_ms: u64,
) -> Result<(), OverQuota> {
    let count = calls.count(app, shared.clock.epoch_ms_at(at_ms));
    match shared.config.monthly_call_quota {
        Some(quota) if count > quota => Err(OverQuota { count, quota }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_app_and_month() {
        let mut m = MonthlyCalls::default();
        let march = 1_774_972_799_000; // 2026-03-31 23:59:59 Beijing
        let april = march + 1_000;
        assert_eq!(m.count("a", march), 1);
        assert_eq!(m.count("a", march), 2);
        assert_eq!(m.count("b", march), 1, "per app");
        assert_eq!(m.count("a", april), 1, "a new month starts from zero");
        assert_eq!(m.get("a", march), 2);
        let over = OverQuota {
            count: 10001,
            quota: 10000,
        };
        assert_eq!(
            over.message(),
            "您的企业本月api调用量已超过限制，调用量:10001次，额度:10000次"
        );
    }
}
