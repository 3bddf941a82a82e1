//! The DingTalk OpenAPI client: access token, AI Card create / stream / data, plain replies
//! through the session webhook or the robot send APIs (`docs/dingtalk.md`).
//!
//! Every call waits for its slot in the [`Budget`] (one learned rate per API, priorities),
//! is counted in [`CallStats`] and against the [`MonthlyQuota`], and DingTalk's answer
//! teaches the budget (`403 …QpsLimit…` lowers the API's rate).

pub mod budget;
mod cards;
mod error;
mod messages;
pub mod quota;
pub mod retry;
mod saved;
mod stats;
mod token;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Url};
use serde_json::{json, Value};

pub use budget::{Budget, BudgetConfig, Priority};
pub use cards::{streaming_body, CardSpace, StreamEnd};
pub use error::DingTalkError;
pub use messages::ReplyTarget;
pub use quota::{MonthlyQuota, Stretch};
pub use retry::{with_retries, Retry};
pub use stats::{CallKind, CallStats};
use token::TokenCache;

use crate::manifest::DingTalkConfig;
use crate::secret::Secret;
use saved::{Saved, SavedFile};

/// Whom a call is for: the reply's counters, how urgent it is, and its conversation (the
/// budget gives intermediate updates of different conversations turns).
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// The reply's call counters.
    pub stats: &'a CallStats,
    /// How urgent the call is.
    pub priority: Priority,
    /// The conversation key.
    pub conversation: &'a str,
}

impl<'a> Caller<'a> {
    /// The same caller at another priority.
    pub fn at(self, priority: Priority) -> Caller<'a> {
        Caller { priority, ..self }
    }
}

/// The client. Cheap to share behind an `Arc`; threads: any.
pub struct DingTalkClient {
    http: reqwest::Client,
    api_base: String,
    webhook_origins: Vec<String>,
    app_key: String,
    app_secret: Secret,
    robot_code: String,
    tokens: TokenCache,
    budget: Budget,
    quota: MonthlyQuota,
    saved: Option<SavedFile>,
    totals: Arc<CallStats>,
}

fn origin(url: &Url) -> String {
    format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""))
        + &url.port().map(|p| format!(":{p}")).unwrap_or_default()
}

/// A transport failure: never applied when no connection was made.
fn transport_error(e: reqwest::Error) -> DingTalkError {
    let (connect, timeout) = (e.is_connect(), e.is_timeout());
    let text = crate::net_error::describe(e);
    if connect {
        DingTalkError::Connect(text)
    } else if timeout {
        DingTalkError::Transport(format!(
            "no answer within {} s: {text}",
            CALL_TIMEOUT.as_secs()
        ))
    } else {
        DingTalkError::Transport(text)
    }
}

/// Deadline of one DingTalk call (DingTalk itself answers 504 after 3 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How an answer of the new OpenAPI (`api.dingtalk.com/v1.0/*`) reads.
fn classify_v1(status: u16, body: &str) -> Result<Value, DingTalkError> {
    if status == 200 {
        Ok(serde_json::from_str(body).unwrap_or(Value::Null))
    } else {
        Err(DingTalkError::from_response(status, body))
    }
}

impl DingTalkClient {
    /// Builds the client from `dingtalk:`; `totals` receives every call's count. With a
    /// `state_dir`, learned rates and the month's call count are read from it (and saved
    /// there by [`DingTalkClient::save_state`]).
    pub fn new(
        config: &DingTalkConfig,
        totals: Arc<CallStats>,
        state_dir: Option<&Path>,
    ) -> Result<DingTalkClient, DingTalkError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(transport_error)?;
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
        })
    }

    /// The monthly quota counter (card-sync stretches intervals by it).
    pub fn quota(&self) -> &MonthlyQuota {
        &self.quota
    }

    /// Rates, learning and the month's calls, for `info`.
    pub fn budget_snapshot(&self) -> Value {
        let mut v = self.budget.snapshot();
        v["month"] = self.quota.snapshot();
        v
    }

    /// Writes learned rates and the month's count to the state directory if they changed.
    /// Blocking file I/O: call it off the runtime's worker threads.
    pub fn save_state(&self) {
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

    fn count_error(&self, err: &DingTalkError, caller: &Caller<'_>) {
        self.totals.record_failed();
        caller.stats.record_failed();
        if err.is_qps_limit() {
            self.totals.record_qps_limited();
            caller.stats.record_qps_limited();
        }
    }

    /// One call: waits for the budget, counts it, sends it, reads the answer with
    /// `classify`, and teaches the budget and the quota from it.
    async fn send(
        &self,
        kind: CallKind,
        caller: &Caller<'_>,
        request: reqwest::RequestBuilder,
        classify: fn(u16, &str) -> Result<Value, DingTalkError>,
    ) -> Result<Value, DingTalkError> {
        let permit = self
            .budget
            .acquire(kind, caller.priority, caller.conversation)
            .await;
        self.totals.record(kind);
        caller.stats.record(kind);
        self.quota.count_call();
        let result = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.text().await {
                    Ok(body) => classify(status, &body),
                    Err(e) => Err(transport_error(e)),
                }
            }
            Err(e) => Err(transport_error(e)),
        };
        match &result {
            Err(e) if e.is_qps_limit() => self.budget.limited(&permit),
            Err(e) if e.is_quota_exhausted() => self.quota.exhausted(&e.to_string()),
            Err(DingTalkError::Connect(_) | DingTalkError::Transport(_)) => {}
            _ => self.budget.accepted(&permit),
        }
        if let Err(e) = &result {
            self.count_error(e, caller);
        }
        result
    }

    async fn token(&self, caller: &Caller<'_>) -> Result<Secret, DingTalkError> {
        self.tokens
            .get(|| async {
                let url = format!("{}/v1.0/oauth2/accessToken", self.api_base);
                let body = json!({"appKey": self.app_key, "appSecret": self.app_secret.expose()});
                let v = self
                    .send(
                        CallKind::Token,
                        caller,
                        self.http.post(url).json(&body),
                        classify_v1,
                    )
                    .await
                    .map_err(|e| match e {
                        DingTalkError::Param { message, .. } | DingTalkError::Token(message) => {
                            DingTalkError::Credentials(message)
                        }
                        other => other,
                    })?;
                let token = v
                    .get("accessToken")
                    .and_then(Value::as_str)
                    .ok_or_else(|| DingTalkError::Other {
                        status: 200,
                        code: "accessToken".into(),
                        message: "token answer without accessToken".into(),
                    })?;
                let expire_in = v.get("expireIn").and_then(Value::as_u64).unwrap_or(7200);
                Ok((Secret::new(token), Duration::from_secs(expire_in)))
            })
            .await
    }

    /// One call to the new OpenAPI with the access token; a rejected token is refreshed and
    /// the call sent again once, with a body built anew (`body` is called per attempt, so a
    /// streaming update gets a fresh `guid`).
    async fn api(
        &self,
        kind: CallKind,
        method: Method,
        path: &str,
        caller: &Caller<'_>,
        body: &(dyn Fn() -> Value + Sync),
    ) -> Result<Value, DingTalkError> {
        let url = format!("{}{}", self.api_base, path);
        let mut refreshed = false;
        loop {
            let token = self.token(caller).await?;
            let request = self
                .http
                .request(method.clone(), &url)
                .header("x-acs-dingtalk-access-token", token.expose())
                .json(&body());
            match self.send(kind, caller, request, classify_v1).await {
                Err(DingTalkError::Token(_)) if !refreshed => {
                    self.tokens.invalidate(&token).await;
                    refreshed = true;
                }
                other => return other,
            }
        }
    }
}
