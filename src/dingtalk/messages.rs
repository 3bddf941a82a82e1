//! Plain (non-card) replies: the event's session webhook while it is valid, else the robot
//! send APIs (`docs/dingtalk.md`, "Plain replies").

use reqwest::{Method, Url};
use serde_json::{json, Value};

use super::caller::Caller;
use super::client::DingTalkClient;
use super::error::DingTalkError;
use super::stats::CallKind;
use super::targets::ReplyTarget;
use super::transport::origin;

/// How a session-webhook answer reads: HTTP 200 with `errcode` 0 is success; other
/// `errcode`s are business errors (90020: the monthly quota).
pub(super) fn classify_webhook(status: u16, body: &str) -> Result<Value, DingTalkError> {
    if status != 200 {
        return Err(DingTalkError::from_response(status, body));
    }
    let v: Value = serde_json::from_str(body).unwrap_or_default();
    match v.get("errcode").and_then(Value::as_i64) {
        Some(0) | None => Ok(v),
        Some(errcode) => {
            let errmsg = v
                .get("errmsg")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            Err(if errcode == 90020 {
                DingTalkError::QuotaExhausted(format!("errcode 90020: {errmsg}"))
            } else {
                DingTalkError::Business { errcode, errmsg }
            })
        }
    }
}

/// The only path a session webhook may have.
const SESSION_SEND_PATH: &str = "/robot/sendBySession";

/// Whether a host is a loopback address (a local test stand-in for DingTalk).
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

impl DingTalkClient {
    /// A session webhook is used only on a configured DingTalk origin, over `https` (plain
    /// `http` only when that origin is a loopback test stand-in), and only on the session
    /// send path: an event cannot make the plugin post its replies anywhere else.
    fn webhook_allowed(&self, url: &Url) -> Result<(), String> {
        let host = url.host_str().unwrap_or("?");
        if !self.webhook_origins.contains(&origin(url)) {
            return Err(format!("host {host} is not a configured DingTalk host"));
        }
        if url.scheme() != "https" && !is_loopback(url) {
            return Err(format!("{}:// is not https", url.scheme()));
        }
        if url.path() != SESSION_SEND_PATH {
            return Err(format!("path {} is not {SESSION_SEND_PATH}", url.path()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("the URL carries credentials".into());
        }
        Ok(())
    }

    /// Sends a markdown message: through the session webhook while it is valid, else through
    /// the robot send API.
    pub async fn send_markdown(
        &self,
        caller: &Caller<'_>,
        target: &ReplyTarget,
        title: &str,
        text: &str,
    ) -> Result<(), DingTalkError> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        if let Some(hook) = &target.webhook {
            if hook.expires_at_ms == 0 || hook.expires_at_ms > now_ms + 5_000 {
                match self.post_webhook(caller, &hook.url, title, text).await {
                    Ok(()) => return Ok(()),
                    Err(e) if e.is_quota_exhausted() => return Err(e),
                    Err(e) => {
                        log::warn!("session webhook not used ({e}); using the robot send API")
                    }
                }
            }
        }
        self.robot_send(caller, target, title, text).await
    }

    async fn post_webhook(
        &self,
        caller: &Caller<'_>,
        url: &str,
        title: &str,
        text: &str,
    ) -> Result<(), DingTalkError> {
        let parsed = Url::parse(url)
            .map_err(|_| DingTalkError::Refused("the session webhook is not a URL".into()))?;
        if let Err(why) = self.webhook_allowed(&parsed) {
            let e = DingTalkError::Refused(format!("session webhook not used: {why}"));
            self.count_error(&e, caller);
            return Err(e);
        }
        let body = json!({"msgtype": "markdown", "markdown": {"title": title, "text": text}});
        self.send(
            CallKind::SessionWebhook,
            caller,
            self.http.post(parsed).json(&body),
            classify_webhook,
        )
        .await
        .map(drop)
    }

    async fn robot_send(
        &self,
        caller: &Caller<'_>,
        target: &ReplyTarget,
        title: &str,
        text: &str,
    ) -> Result<(), DingTalkError> {
        let msg_param = json!({"title": title, "text": text}).to_string();
        let (path, body) = if target.group {
            (
                "/v1.0/robot/groupMessages/send",
                json!({
                    "robotCode": self.robot_code,
                    "openConversationId": target.conversation_id,
                    "msgKey": "sampleMarkdown",
                    "msgParam": msg_param,
                }),
            )
        } else {
            let staff_id = target.staff_id.as_deref().ok_or_else(|| {
                DingTalkError::Refused("no staff id to send a 1:1 message to".into())
            })?;
            (
                "/v1.0/robot/oToMessages/batchSend",
                json!({
                    "robotCode": self.robot_code,
                    "userIds": [staff_id],
                    "msgKey": "sampleMarkdown",
                    "msgParam": msg_param,
                }),
            )
        };
        self.api(CallKind::RobotSend, Method::POST, path, caller, &|| {
            body.clone()
        })
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_answers_are_classified() {
        assert!(classify_webhook(200, r#"{"errcode":0,"errmsg":"ok"}"#).is_ok());
        assert!(classify_webhook(
            200,
            r#"{"errcode":90020,"errmsg":"您的企业本月api调用量已超过限制"}"#
        )
        .unwrap_err()
        .is_quota_exhausted());
        assert!(classify_webhook(200, r#"{"errcode":90018,"errmsg":"x"}"#)
            .unwrap_err()
            .is_qps_limit());
    }
}
