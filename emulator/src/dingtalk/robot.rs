//! Plain robot replies: the `sessionWebhook` and the robot OpenAPI sends (docs/dingtalk.md, "Plain replies";
//! the message bodies in docs/dingtalk-events.md, "Reply bodies").

use serde_json::{json, Map, Value};

use super::{
    params::{optional_str, required_str},
    quota,
    reply::{ApiError, Reply},
    state::{Inner, Shared},
    webhooks::WebhookError,
    ApiKind, SentMessage,
};

/// Errcode for an unknown or expired session (emulator choice: DingTalk's robot "token does not exist"
/// family, 300001; the real code for an expired `sessionWebhook` is unpublished).
pub const SESSION_INVALID_ERRCODE: i64 = 300001;

/// `POST /robot/sendBySession?session=<id>` (no token): legacy answers, HTTP 200 with `errcode`.
///
/// Accepts `text` (`text.content`) and `markdown` (`markdown.title` + `markdown.text`), plus the other
/// webhook types `link`, `actionCard` and `feedCard`; anything else (e.g. cards) is errcode 400105
/// "不支持的消息类型". A missing field is errcode 40035. A post to a valid session counts towards the
/// configured app's monthly quota; over it the answer is errcode 90020 (see `quota`) and nothing is sent.
pub(crate) fn send_by_session(
    shared: &Shared,
    inner: &mut Inner,
    at_ms: u64,
    query: &Value,
    body: &Value,
) -> Reply {
    let session = query
        .get("session")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let now = shared.clock.epoch_ms_at(at_ms);
    let conversation = match inner.webhooks.lookup(session, now) {
        Ok(c) => c.to_string(),
        Err(WebhookError::Unknown | WebhookError::Expired) => {
            return Reply::legacy(SESSION_INVALID_ERRCODE, "session不存在或已过期", Map::new());
        }
    };
    if let Err(over) = quota::meter(shared, &mut inner.monthly, &shared.config.app_key, at_ms) {
        return Reply::legacy(quota::OVER_QUOTA_ERRCODE, &over.message(), Map::new());
    }
    let field = |path: &[&str]| -> Option<String> {
        path.iter()
            .try_fold(body, |v, k| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let missing = |name: &str| Reply::legacy(40035, &format!("缺少参数 {name}"), Map::new());
    let Some(msgtype) = field(&["msgtype"]) else {
        return missing("msgtype");
    };
    let (title, text) = match msgtype.as_str() {
        "text" => match field(&["text", "content"]) {
            Some(t) => (None, t),
            None => return missing("text.content"),
        },
        "markdown" => match (field(&["markdown", "title"]), field(&["markdown", "text"])) {
            (Some(title), Some(text)) => (Some(title), text),
            (None, _) => return missing("markdown.title"),
            (_, None) => return missing("markdown.text"),
        },
        "link" | "actionCard" | "feedCard" => (
            field(&[&msgtype, "title"]),
            body.get(&msgtype).map(Value::to_string).unwrap_or_default(),
        ),
        _ => return Reply::legacy(400105, "不支持的消息类型", Map::new()),
    };
    inner.push_message(SentMessage {
        at_ms,
        via: ApiKind::SessionWebhook,
        target: conversation,
        msgtype,
        title,
        text,
    });
    Reply::legacy(0, "ok", Map::new())
}

/// `POST /v1.0/robot/groupMessages/send {robotCode, openConversationId, msgKey, msgParam}` →
/// `{"processQueryKey"}`.
pub(crate) fn group_send(
    shared: &Shared,
    inner: &mut Inner,
    at_ms: u64,
    body: &Value,
) -> Result<Value, ApiError> {
    check_robot_code(shared, body)?;
    let conversation = optional_str(body, "openConversationId")?.unwrap_or_default();
    // A group the robot is not in is refused like an unknown one (emulator choice of code).
    if !conversation.starts_with("cid") || !inner.robot_groups.contains(conversation) {
        return Err(ApiError::param(
            "invalidParameter.openConversationId.invalid",
            "openConversationId is invalid",
        ));
    }
    let (msg_key, title, text) = message(body)?;
    inner.push_message(SentMessage {
        at_ms,
        via: ApiKind::GroupSend,
        target: conversation.to_string(),
        msgtype: msg_key,
        title,
        text,
    });
    Ok(json!({ "processQueryKey": process_query_key() }))
}

/// `POST /v1.0/robot/oToMessages/batchSend {robotCode, userIds, msgKey, msgParam}` →
/// `{"processQueryKey","invalidStaffIdList":[],"flowControlledStaffIdList":[]}`.
pub(crate) fn oto_send(
    shared: &Shared,
    inner: &mut Inner,
    at_ms: u64,
    body: &Value,
) -> Result<Value, ApiError> {
    check_robot_code(shared, body)?;
    let user_ids = match body.get("userIds") {
        Some(Value::Array(ids)) if !ids.is_empty() => ids,
        Some(Value::Array(_)) | None | Some(Value::Null) => {
            return Err(ApiError::param(
                "invalidParameter.userIds.empty",
                "userIds is empty",
            ))
        }
        Some(_) => {
            return Err(ApiError::param(
                "invalidParameter.userIds.invalid",
                "userIds is invalid",
            ))
        }
    };
    let ids: Option<Vec<&str>> = user_ids
        .iter()
        .map(|v| v.as_str().filter(|s| !s.is_empty()))
        .collect();
    let ids = ids
        .ok_or_else(|| ApiError::param("invalidParameter.userIds.invalid", "userIds is invalid"))?;
    let (msg_key, title, text) = message(body)?;
    inner.push_message(SentMessage {
        at_ms,
        via: ApiKind::OtoSend,
        target: ids.join(","),
        msgtype: msg_key,
        title,
        text,
    });
    Ok(
        json!({ "processQueryKey": process_query_key(), "invalidStaffIdList": [], "flowControlledStaffIdList": [] }),
    )
}

/// `robotCode` must be the app's: `invalidParameter.robotCode.empty` / `.invalid` otherwise.
pub(crate) fn check_robot_code(shared: &Shared, body: &Value) -> Result<(), ApiError> {
    match optional_str(body, "robotCode")? {
        None | Some("") => Err(ApiError::param(
            "invalidParameter.robotCode.empty",
            "robotCode is empty",
        )),
        Some(code) if code != shared.config.robot_code => Err(ApiError::param(
            "invalidParameter.robotCode.invalid",
            "robotCode is invalid",
        )),
        Some(_) => Ok(()),
    }
}

/// Message keys of the robot API (`msgParam` is a JSON *string* with the listed fields).
const MSG_KEYS: [&str; 10] = [
    "sampleText",
    "sampleMarkdown",
    "sampleImageMsg",
    "sampleLink",
    "sampleActionCard",
    "sampleActionCard2",
    "sampleActionCard3",
    "sampleAudio",
    "sampleFile",
    "sampleVideo",
];

/// `(msgKey, title, text)` from `msgKey` + the JSON-string `msgParam`.
fn message(body: &Value) -> Result<(String, Option<String>, String), ApiError> {
    let msg_key = required_str(body, "msgKey")?;
    if !MSG_KEYS.contains(&msg_key) {
        return Err(ApiError::param(
            "invalidParameter.msgKey.invalid",
            "msgKey is invalid",
        ));
    }
    let raw = required_str(body, "msgParam")?;
    let invalid = || ApiError::param("invalidParameter.msgParam.invalid", "msgParam is invalid");
    let param: Value = serde_json::from_str(raw).map_err(|_| invalid())?;
    if !param.is_object() {
        return Err(invalid());
    }
    let get = |k: &str| param.get(k).and_then(Value::as_str).map(str::to_string);
    let (title, text) = match msg_key {
        "sampleText" => (None, get("content").ok_or_else(invalid)?),
        "sampleMarkdown" => (
            Some(get("title").ok_or_else(invalid)?),
            get("text").ok_or_else(invalid)?,
        ),
        _ => (get("title"), get("text").unwrap_or_else(|| raw.to_string())),
    };
    Ok((msg_key.to_string(), title, text))
}

fn process_query_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
