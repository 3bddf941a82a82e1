//! One DingTalk call: wait for the budget, count it, send it, read the answer, and teach the
//! budget and the quota from it; the access token it needs; and the new OpenAPI's calls with
//! that token (a rejected token is refreshed once, [`crate::retry::token_refresh`]).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use backon::Retryable;
use reqwest::Method;
use serde_json::{json, Value};

use super::caller::Caller;
use super::client::DingTalkClient;
use super::error::DingTalkError;
use super::stats::CallKind;
use super::transport::transport_error;
use crate::secret::Secret;

/// How an answer of the new OpenAPI (`api.dingtalk.com/v1.0/*`) reads.
fn classify_v1(status: u16, body: &str) -> Result<Value, DingTalkError> {
    if status == 200 {
        Ok(serde_json::from_str(body).unwrap_or(Value::Null))
    } else {
        Err(DingTalkError::from_response(status, body))
    }
}

impl DingTalkClient {
    /// Counts a failed call, in the totals and for the caller.
    pub(super) fn count_error(&self, err: &DingTalkError, caller: &Caller<'_>) {
        self.totals.record_failed();
        caller.stats.record_failed();
        if err.is_qps_limit() {
            self.totals.record_qps_limited();
            caller.stats.record_qps_limited();
        }
    }

    /// One call: waits for the budget, counts it, sends it, reads the answer with
    /// `classify`, and teaches the budget and the quota from it.
    pub(super) async fn send(
        &self,
        kind: CallKind,
        caller: &Caller<'_>,
        request: reqwest::RequestBuilder,
        classify: fn(u16, &str) -> Result<Value, DingTalkError>,
    ) -> Result<Value, DingTalkError> {
        let mut permit = self
            .budget
            .acquire(kind, caller.priority, caller.conversation)
            .await;
        if let Some(shared) = self.shared.get() {
            let (api_limit, app_limit) = self.budget.limits(kind, caller.priority);
            let urgent = caller.priority != super::budget::Priority::Intermediate;
            let counts = shared
                .wait_turn(
                    kind.name(),
                    super::budget::SPAN,
                    api_limit,
                    app_limit,
                    urgent,
                )
                .await;
            permit.set_shared(counts);
        }
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

    /// The access token: cached, or fetched with the app key and secret (refused
    /// credentials are typed as such).
    pub(super) async fn token(&self, caller: &Caller<'_>) -> Result<Secret, DingTalkError> {
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
    pub(super) async fn api(
        &self,
        kind: CallKind,
        method: Method,
        path: &str,
        caller: &Caller<'_>,
        body: &(dyn Fn() -> Value + Sync),
    ) -> Result<Value, DingTalkError> {
        let url = &format!("{}{}", self.api_base, path);
        let method = &method;
        // The first rejection invalidates the token for the one retry; a second rejection is
        // returned as it is.
        let first_attempt = &AtomicBool::new(true);
        (|| async move {
            let token = self.token(caller).await?;
            let request = self
                .http
                .request(method.clone(), url)
                .header("x-acs-dingtalk-access-token", token.expose())
                .json(&body());
            let result = self.send(kind, caller, request, classify_v1).await;
            if matches!(result, Err(DingTalkError::Token(_))) && first_attempt.swap(false, Relaxed)
            {
                self.tokens.invalidate(&token).await;
            }
            result
        })
        .retry(crate::retry::token_refresh())
        .when(|e| matches!(e, DingTalkError::Token(_)))
        .await
    }
}
