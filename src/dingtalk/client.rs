//! The DingTalk client: its construction from `dingtalk:` and the state it keeps across
//! restarts (learned rates, the month's call count). The calls themselves are in
//! [`call`](super::call), [`cards`](super::cards) and [`messages`](super::messages).

use crate::network::Network;
use std::path::Path;
use std::sync::Arc;

use reqwest::Url;
use serde_json::Value;

use super::budget::{Budget, BudgetConfig, BudgetShare, SharedWindow};
use super::error::DingTalkError;
use super::quota::MonthlyQuota;
use super::saved::{Saved, SavedFile};
use super::stats::CallStats;
use super::token::TokenCache;
use super::transport::{http_client, origin};
use crate::manifest::DingTalkConfig;
use crate::secret::Secret;

/// The client. Shared behind an `Arc` by card-sync, the reply pipeline and the skill's
/// housekeeping; threads: any. Its fields are read by the call modules of `dingtalk`.
pub(crate) struct DingTalkClient {
    /// The HTTP client (timeouts, no redirects).
    pub(super) http: reqwest::Client,
    /// `dingtalk.api_base_url`, without a trailing `/`.
    pub(super) api_base: String,
    /// `dingtalk.oapi_base_url`, without a trailing `/` (legacy APIs: media upload).
    pub(super) oapi_base: String,
    /// Origins a session webhook may be on (`oapi_base_url`, `api_base_url`).
    pub(super) webhook_origins: Vec<String>,
    /// `dingtalk.app_key`.
    pub(super) app_key: String,
    /// `dingtalk.app_secret`.
    pub(super) app_secret: Secret,
    /// `dingtalk.robot_code`.
    pub(super) robot_code: String,
    /// The access token.
    pub(super) tokens: TokenCache,
    /// Learned per-API rates and the priority scheduler every call waits in.
    pub(super) budget: Budget,
    /// The month's call count against `dingtalk.monthly_call_quota`.
    pub(super) quota: MonthlyQuota,
    /// Where learned rates and the month's count are saved, if anywhere.
    saved: Option<SavedFile>,
    /// Every call of the process, for `info`.
    pub(super) totals: Arc<CallStats>,
    /// The windows the hosts of this app share, with `shared_state:`.
    pub(super) shared: std::sync::OnceLock<Arc<dyn SharedWindow>>,
}

impl DingTalkClient {
    /// Builds the client from `dingtalk:` (trusting `network`'s CAs); `totals` receives every
    /// call's count. With a
    /// `state_dir`, learned rates and the month's call count are read from it (and saved
    /// there by [`DingTalkClient::save_state`]).
    pub(crate) fn new(
        config: &DingTalkConfig,
        totals: Arc<CallStats>,
        state_dir: Option<&Path>,
        network: &Network,
    ) -> Result<DingTalkClient, DingTalkError> {
        let http = http_client(network)?;
        let webhook_origins = [&config.oapi_base_url, &config.api_base_url]
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .map(|u| origin(&u))
            .collect();
        let saved_file = state_dir.map(SavedFile::new);
        let saved = saved_file.as_ref().map(SavedFile::load).unwrap_or_default();
        if !saved.rates.is_empty() {
            log::info!(
                "DingTalk budget: starting from learned rates {}",
                saved
                    .rates
                    .iter()
                    .map(|(k, v)| format!("{k}={v:.1}/s"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        Ok(DingTalkClient {
            http,
            api_base: config.api_base_url.trim_end_matches('/').to_owned(),
            oapi_base: config.oapi_base_url.trim_end_matches('/').to_owned(),
            webhook_origins,
            app_key: config.app_key.clone(),
            app_secret: config.app_secret.clone(),
            robot_code: config.robot_code.clone(),
            tokens: TokenCache::default(),
            budget: Budget::new(
                BudgetConfig {
                    api_qps: config.api_qps,
                    app_qps: config.app_qps,
                },
                &saved.rates,
            ),
            quota: MonthlyQuota::new(config.monthly_call_quota, saved.month),
            saved: saved_file,
            totals,
            shared: std::sync::OnceLock::new(),
        })
    }

    /// Shares this app's budget with other hosts: every call also takes its turn in
    /// `window`, and the local limits are divided by `share` while it cannot be reached.
    pub(crate) fn share_budget(&self, share: BudgetShare, window: Arc<dyn SharedWindow>) {
        self.budget.share_with(share);
        let _ = self.shared.set(window);
    }

    /// The rates this host learned (for other hosts), and the lower ones other hosts learned.
    pub(crate) fn learned_rates(&self) -> super::budget::LearnedRates {
        self.budget.learned()
    }

    /// Takes the rates other hosts learned where lower than this host's.
    pub(crate) fn adopt_lower_rates(&self, rates: &super::budget::LearnedRates) {
        self.budget.adopt_lower(rates);
    }

    /// The monthly quota counter (card-sync stretches intervals by it).
    pub(crate) fn quota(&self) -> &MonthlyQuota {
        &self.quota
    }

    /// Rates, learning and the month's calls, for `info`.
    pub(crate) fn budget_snapshot(&self) -> Value {
        let mut v = self.budget.snapshot();
        v["month"] = self.quota.snapshot();
        v
    }

    /// Writes learned rates and the month's count to the state directory if they changed.
    /// Blocking file I/O: call it off the runtime's worker threads.
    pub(crate) fn save_state(&self) {
        let Some(file) = &self.saved else {
            return;
        };
        let rates = self.budget.take_changed();
        let month = self.quota.take_changed();
        if rates.is_none() && month.is_none() {
            return;
        }
        let saved = Saved {
            rates: rates.unwrap_or_else(|| self.budget.learned()),
            month: month.unwrap_or_else(|| self.quota.count()),
        };
        if let Err(e) = file.save(&saved) {
            log::warn!("cannot save the learned DingTalk rates: {e}");
        }
    }
}
