//! The DingTalk OpenAPI client: access token, AI Card create / stream / data, plain replies
//! through the session webhook or the robot send APIs (`dingtalk-api.md` §1, §5, §6).
//!
//! Every call goes through the app-wide [`ApiBudget`] and is counted in [`CallStats`].

mod error;
mod stats;
mod token;

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Url};
use serde_json::{json, Map, Value};

pub use error::DingTalkError;
pub use stats::{CallKind, CallStats};
use token::TokenCache;

use crate::event::SessionWebhook;
use crate::limiter::ApiBudget;
use crate::manifest::DingTalkConfig;
use crate::secret::Secret;

/// Where a card goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardSpace {
    /// A group, by `openConversationId`.
    Group(String),
    /// The robot's 1:1 chat with a staff member, by `senderStaffId`.
    Direct(String),
}

/// Where a plain (non-card) reply goes.
#[derive(Debug, Clone)]
pub struct ReplyTarget {
    /// The event's session webhook, preferred while it is valid.
    pub webhook: Option<SessionWebhook>,
    /// The conversation (`cid…`), for the group send API.
    pub conversation_id: String,
    /// Group or 1:1.
    pub group: bool,
    /// The sender's staff id, for the 1:1 send API.
    pub staff_id: Option<String>,
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
    budget: Arc<ApiBudget>,
    totals: Arc<CallStats>,
}

fn origin(url: &Url) -> String {
    format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""))
        + &url.port().map(|p| format!(":{p}")).unwrap_or_default()
}

impl DingTalkClient {
    /// Builds the client from `dingtalk:`; `totals` receives every call's count.
    pub fn new(
        config: &DingTalkConfig,
        totals: Arc<CallStats>,
    ) -> Result<DingTalkClient, DingTalkError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| DingTalkError::Transport(e.to_string()))?;
        let webhook_origins = [&config.oapi_base_url, &config.api_base_url]
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .map(|u| origin(&u))
            .collect();
        Ok(DingTalkClient {
            http,
            api_base: config.api_base_url.trim_end_matches('/').to_owned(),
            webhook_origins,
            app_key: config.app_key.clone(),
            app_secret: config.app_secret.clone(),
            robot_code: config.robot_code.clone(),
            tokens: TokenCache::default(),
            budget: Arc::new(ApiBudget::new(config.api_qps)),
            totals,
        })
    }

    fn count(&self, kind: CallKind, reply: &CallStats) {
        self.totals.record(kind);
        reply.record(kind);
    }

    fn count_error(&self, err: &DingTalkError, reply: &CallStats) {
        self.totals.record_failed();
        reply.record_failed();
        if err.is_qps_limit() {
            self.totals.record_qps_limited();
            reply.record_qps_limited();
        }
    }

    async fn send(
        &self,
        kind: CallKind,
        request: reqwest::RequestBuilder,
        reply: &CallStats,
    ) -> Result<(u16, String), DingTalkError> {
        self.budget.acquire().await;
        self.count(kind, reply);
        let response = request
            .send()
            .await
            .map_err(|e| DingTalkError::Transport(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| DingTalkError::Transport(e.without_url().to_string()))?;
        Ok((status, body))
    }

    async fn token(&self, reply: &CallStats) -> Result<Secret, DingTalkError> {
        self.tokens
            .get(|| async {
                let url = format!("{}/v1.0/oauth2/accessToken", self.api_base);
                let body = json!({"appKey": self.app_key, "appSecret": self.app_secret.expose()});
                let (status, text) = self
                    .send(CallKind::Token, self.http.post(url).json(&body), reply)
                    .await?;
                if status != 200 {
                    let err = DingTalkError::from_response(status, &text);
                    return Err(match err {
                        DingTalkError::Param { message, .. } | DingTalkError::Token(message) => {
                            DingTalkError::Credentials(message)
                        }
                        other => other,
                    });
                }
                let v: Value = serde_json::from_str(&text).unwrap_or_default();
                let token = v
                    .get("accessToken")
                    .and_then(Value::as_str)
                    .ok_or_else(|| DingTalkError::Other {
                        status,
                        code: "accessToken".into(),
                        message: "token answer without accessToken".into(),
                    })?;
                let expire_in = v.get("expireIn").and_then(Value::as_u64).unwrap_or(7200);
                Ok((Secret::new(token), Duration::from_secs(expire_in)))
            })
            .await
    }

    /// One call to the new OpenAPI with the access token; a rejected token is refreshed and
    /// the call retried once.
    async fn api(
        &self,
        kind: CallKind,
        method: Method,
        path: &str,
        body: &Value,
        reply: &CallStats,
    ) -> Result<Value, DingTalkError> {
        let url = format!("{}{}", self.api_base, path);
        let mut refreshed = false;
        loop {
            let token = match self.token(reply).await {
                Ok(t) => t,
                Err(e) => {
                    self.count_error(&e, reply);
                    return Err(e);
                }
            };
            let request = self
                .http
                .request(method.clone(), &url)
                .header("x-acs-dingtalk-access-token", token.expose())
                .json(body);
            let result = match self.send(kind, request, reply).await {
                Ok((200, text)) => Ok(serde_json::from_str(&text).unwrap_or(Value::Null)),
                Ok((status, text)) => Err(DingTalkError::from_response(status, &text)),
                Err(e) => Err(e),
            };
            match result {
                Err(DingTalkError::Token(_)) if !refreshed => {
                    self.tokens.invalidate(&token).await;
                    refreshed = true;
                }
                Err(e) => {
                    self.count_error(&e, reply);
                    return Err(e);
                }
                Ok(v) => return Ok(v),
            }
        }
    }

    /// Creates an AI Card and delivers it to `space` in one call.
    pub async fn create_and_deliver(
        &self,
        out_track_id: &str,
        template_id: &str,
        space: &CardSpace,
        params: &Map<String, Value>,
        reply: &CallStats,
    ) -> Result<(), DingTalkError> {
        let mut body = json!({
            "cardTemplateId": template_id,
            "outTrackId": out_track_id,
            "cardData": {"cardParamMap": params},
            "callbackType": "STREAM",
            "userIdType": 1,
        });
        match space {
            CardSpace::Group(cid) => {
                body["openSpaceId"] = json!(format!("dtv1.card//IM_GROUP.{cid}"));
                body["imGroupOpenSpaceModel"] = json!({"supportForward": true});
                body["imGroupOpenDeliverModel"] = json!({"robotCode": self.robot_code});
            }
            CardSpace::Direct(staff_id) => {
                body["openSpaceId"] = json!(format!("dtv1.card//IM_ROBOT.{staff_id}"));
                body["imRobotOpenSpaceModel"] = json!({"supportForward": true});
                body["imRobotOpenDeliverModel"] =
                    json!({"spaceType": "IM_ROBOT", "robotCode": self.robot_code});
            }
        }
        let v = self
            .api(
                CallKind::CreateCard,
                Method::POST,
                "/v1.0/card/instances/createAndDeliver",
                &body,
                reply,
            )
            .await?;
        let failed = v
            .pointer("/result/deliverResults")
            .and_then(Value::as_array)
            .and_then(|results| {
                results
                    .iter()
                    .find(|r| r.get("success").and_then(Value::as_bool) == Some(false))
            });
        if let Some(r) = failed {
            return Err(DingTalkError::Param {
                code: "deliverResults".into(),
                message: r
                    .get("errorMsg")
                    .and_then(Value::as_str)
                    .unwrap_or("delivery failed")
                    .to_owned(),
            });
        }
        Ok(())
    }

    /// `PUT /v1.0/card/streaming` with the full markdown (`isFull: true`) and a fresh `guid`.
    pub async fn stream_card(
        &self,
        out_track_id: &str,
        key: &str,
        content: &str,
        finalize: bool,
        error: bool,
        reply: &CallStats,
    ) -> Result<(), DingTalkError> {
        let body = streaming_body(out_track_id, key, content, finalize, error);
        self.api(
            CallKind::StreamingUpdate,
            Method::PUT,
            "/v1.0/card/streaming",
            &body,
            reply,
        )
        .await
        .map(drop)
    }

    /// `PUT /v1.0/card/instances`, merging `params` into the card data by key.
    pub async fn update_card_data(
        &self,
        out_track_id: &str,
        params: &Map<String, Value>,
        reply: &CallStats,
    ) -> Result<(), DingTalkError> {
        let body = json!({
            "outTrackId": out_track_id,
            "cardData": {"cardParamMap": params},
            "cardUpdateOptions": {"updateCardDataByKey": true},
            "userIdType": 1,
        });
        self.api(
            CallKind::UpdateInstance,
            Method::PUT,
            "/v1.0/card/instances",
            &body,
            reply,
        )
        .await
        .map(drop)
    }

    /// Sends a markdown message: through the session webhook while it is valid, else through
    /// the robot send API.
    pub async fn send_markdown(
        &self,
        target: &ReplyTarget,
        title: &str,
        text: &str,
        reply: &CallStats,
    ) -> Result<(), DingTalkError> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        if let Some(hook) = &target.webhook {
            if hook.expires_at_ms == 0 || hook.expires_at_ms > now_ms + 5_000 {
                match self.post_webhook(&hook.url, title, text, reply).await {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        log::warn!("session webhook not used ({e}); using the robot send API")
                    }
                }
            }
        }
        self.robot_send(target, title, text, reply).await
    }

    async fn post_webhook(
        &self,
        url: &str,
        title: &str,
        text: &str,
        reply: &CallStats,
    ) -> Result<(), DingTalkError> {
        let parsed = Url::parse(url)
            .map_err(|_| DingTalkError::Refused("the session webhook is not a URL".into()))?;
        if !self.webhook_origins.contains(&origin(&parsed)) {
            let e = DingTalkError::Refused(format!(
                "session webhook host {} is not a configured DingTalk host",
                parsed.host_str().unwrap_or("?")
            ));
            self.count_error(&e, reply);
            return Err(e);
        }
        let body = json!({"msgtype": "markdown", "markdown": {"title": title, "text": text}});
        let result = match self
            .send(
                CallKind::SessionWebhook,
                self.http.post(parsed).json(&body),
                reply,
            )
            .await
        {
            Ok((200, text)) => {
                let v: Value = serde_json::from_str(&text).unwrap_or_default();
                match v.get("errcode").and_then(Value::as_i64) {
                    Some(0) | None => Ok(()),
                    Some(errcode) => Err(DingTalkError::Business {
                        errcode,
                        errmsg: v
                            .get("errmsg")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                    }),
                }
            }
            Ok((status, text)) => Err(DingTalkError::from_response(status, &text)),
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            self.count_error(e, reply);
        }
        result
    }

    async fn robot_send(
        &self,
        target: &ReplyTarget,
        title: &str,
        text: &str,
        reply: &CallStats,
    ) -> Result<(), DingTalkError> {
        let msg_param = json!({"title": title, "text": text}).to_string();
        if target.group {
            let body = json!({
                "robotCode": self.robot_code,
                "openConversationId": target.conversation_id,
                "msgKey": "sampleMarkdown",
                "msgParam": msg_param,
            });
            self.api(
                CallKind::RobotSend,
                Method::POST,
                "/v1.0/robot/groupMessages/send",
                &body,
                reply,
            )
            .await
            .map(drop)
        } else {
            let staff_id = target.staff_id.as_deref().ok_or_else(|| {
                DingTalkError::Refused("no staff id to send a 1:1 message to".into())
            })?;
            let body = json!({
                "robotCode": self.robot_code,
                "userIds": [staff_id],
                "msgKey": "sampleMarkdown",
                "msgParam": msg_param,
            });
            self.api(
                CallKind::RobotSend,
                Method::POST,
                "/v1.0/robot/oToMessages/batchSend",
                &body,
                reply,
            )
            .await
            .map(drop)
        }
    }
}

/// The body of `PUT /v1.0/card/streaming`: the full markdown (`isFull: true`, required for
/// markdown variables) with a fresh `guid` (DingTalk's idempotency key).
pub fn streaming_body(
    out_track_id: &str,
    key: &str,
    content: &str,
    finalize: bool,
    error: bool,
) -> Value {
    json!({
        "outTrackId": out_track_id,
        "guid": uuid::Uuid::new_v4().to_string(),
        "key": key,
        "content": content,
        "isFull": true,
        "isFinalize": finalize,
        "isError": error,
    })
}

/// Retries `call` while it fails with a retryable error, with exponential backoff from
/// 500 ms up to `attempts` tries. Each try builds a fresh request (new `guid`).
pub async fn with_retries<T, F, Fut>(
    attempts: u32,
    what: &str,
    mut call: F,
) -> Result<T, DingTalkError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, DingTalkError>>,
{
    let mut delay = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if e.is_retryable() && attempt < attempts => {
                log::warn!(
                    "{what} failed ({e}); retry {attempt}/{} in {delay:?}",
                    attempts - 1
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(8));
                attempt += 1;
            }
            other => return other,
        }
    }
}
