//! Frame shapes of Stream mode (docs/dingtalk-events.md, "Frames", "ACK", "Ping and disconnect"): what the
//! server sends, and the check of what a client answers.

use serde_json::{json, Value};

/// Headers common to every server frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameHeaders<'a> {
    /// `appId`.
    pub(crate) app_id: &'a str,
    /// `connectionId`.
    pub(crate) connection_id: &'a str,
    /// `messageId`.
    pub(crate) message_id: &'a str,
    /// `time` (epoch ms, sent as a string).
    pub(crate) time_ms: i64,
}

fn frame(kind: &str, topic: &str, h: FrameHeaders<'_>, data: &str) -> String {
    json!({
        "specVersion": "1.0",
        "type": kind,
        "headers": {
            "appId": h.app_id,
            "connectionId": h.connection_id,
            "contentType": "application/json",
            "messageId": h.message_id,
            "time": h.time_ms.to_string(),
            "topic": topic,
        },
        "data": data,
    })
    .to_string()
}

/// A `CALLBACK` frame; `data` is the JSON *string* of the payload (docs/dingtalk-events.md, "Frames").
pub(crate) fn callback(topic: &str, h: FrameHeaders<'_>, data: &str) -> String {
    frame("CALLBACK", topic, h, data)
}

/// A `SYSTEM` `ping` frame carrying `{"opaque": …}` (docs/dingtalk-events.md, "Ping and disconnect").
pub(crate) fn ping(h: FrameHeaders<'_>, opaque: &str) -> (String, String) {
    let data = json!({ "opaque": opaque }).to_string();
    (frame("SYSTEM", "ping", h, &data), data)
}

/// A `SYSTEM` `disconnect` frame carrying `{"reason": …}` (docs/dingtalk-events.md, "Ping and disconnect").
pub(crate) fn disconnect(h: FrameHeaders<'_>, reason: &str) -> String {
    frame(
        "SYSTEM",
        "disconnect",
        h,
        &json!({ "reason": reason }).to_string(),
    )
}

/// A message id in DingTalk's form, e.g. `212ca9d7_974_1898c159aa6_1783b`.
pub(crate) fn new_message_id(time_ms: i64) -> String {
    let u = uuid::Uuid::new_v4();
    let b = u.as_bytes();
    format!(
        "{:08x}_{:x}_{:x}_{:x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]) & 0xfff,
        time_ms,
        u32::from_be_bytes([0, b[6], b[7], b[8]])
    )
}

/// A client frame answering a server frame (an ACK of a callback, or the reply to a ping), as read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClientReply {
    /// `code`, when it is an integer.
    pub(crate) code: Option<i64>,
    /// `headers.messageId`, when it is a string.
    pub(crate) message_id: Option<String>,
    /// `data`, when it is a string.
    pub(crate) data: Option<String>,
    /// Every way the frame departs from the documented shape (docs/dingtalk-events.md, "ACK").
    pub(crate) problems: Vec<String>,
}

/// Reads a client frame and lists its departures from `{"code":200,"headers":{"contentType":
/// "application/json","messageId":…},"message":"OK","data":"…"}`.
pub(crate) fn read_client_reply(text: &str) -> ClientReply {
    let mut problems = Vec::new();
    let value: Value = match serde_json::from_str(text) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return ClientReply {
                code: None,
                message_id: None,
                data: None,
                problems: vec!["not a JSON object".into()],
            }
        }
    };
    let code = value.get("code").and_then(Value::as_i64);
    match code {
        None => problems.push("`code` is missing or not an integer".into()),
        Some(200 | 404 | 500) => {}
        Some(c) => problems.push(format!("`code` {c} is not 200, 404 or 500")),
    }
    let headers = value.get("headers").and_then(Value::as_object);
    let message_id = headers
        .and_then(|h| h.get("messageId"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if message_id.is_none() {
        problems.push("`headers.messageId` is missing or not a string".into());
    }
    if headers
        .and_then(|h| h.get("contentType"))
        .and_then(Value::as_str)
        != Some("application/json")
    {
        problems.push("`headers.contentType` is not \"application/json\"".into());
    }
    if !value.get("message").is_some_and(Value::is_string) {
        problems.push("`message` is missing or not a string".into());
    }
    let data = value.get("data").and_then(Value::as_str).map(str::to_owned);
    if data.is_none() {
        problems.push("`data` is missing or not a string".into());
    }
    ClientReply {
        code,
        message_id,
        data,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: FrameHeaders<'static> = FrameHeaders {
        app_id: "app-1",
        connection_id: "conn-1",
        message_id: "m1",
        time_ms: 1_690_362_102_194,
    };

    #[test]
    fn callback_frame_has_the_documented_shape() {
        let f: Value =
            serde_json::from_str(&callback("/v1.0/im/bot/messages/get", H, r#"{"a":1}"#)).unwrap();
        assert_eq!(f["specVersion"], "1.0");
        assert_eq!(f["type"], "CALLBACK");
        assert_eq!(f["headers"]["messageId"], "m1");
        assert_eq!(f["headers"]["time"], "1690362102194");
        assert_eq!(f["headers"]["topic"], "/v1.0/im/bot/messages/get");
        assert_eq!(f["headers"]["contentType"], "application/json");
        assert_eq!(f["data"], r#"{"a":1}"#, "data is a JSON string");
    }

    #[test]
    fn system_frames() {
        let (p, data) = ping(H, "opaque-1");
        let p: Value = serde_json::from_str(&p).unwrap();
        assert_eq!(
            (p["type"].as_str(), p["headers"]["topic"].as_str()),
            (Some("SYSTEM"), Some("ping"))
        );
        assert_eq!(p["data"], data);
        assert_eq!(data, r#"{"opaque":"opaque-1"}"#);
        let d: Value = serde_json::from_str(&disconnect(H, "connection is expired")).unwrap();
        assert_eq!(d["headers"]["topic"], "disconnect");
        assert_eq!(d["data"], r#"{"reason":"connection is expired"}"#);
    }

    #[test]
    fn message_ids_look_like_dingtalks() {
        let id = new_message_id(0x1898c159aa6);
        let parts: Vec<&str> = id.split('_').collect();
        assert_eq!(parts.len(), 4, "{id}");
        assert_eq!(parts[2], "1898c159aa6");
        assert_ne!(id, new_message_id(0x1898c159aa6));
    }

    #[test]
    fn documented_ack_has_no_problems() {
        let ack = r#"{"code":200,"headers":{"contentType":"application/json","messageId":"m1"},"message":"OK","data":"{\"response\": null}"}"#;
        let r = read_client_reply(ack);
        assert_eq!(r.problems, Vec::<String>::new());
        assert_eq!(r.code, Some(200));
        assert_eq!(r.message_id.as_deref(), Some("m1"));
        assert_eq!(r.data.as_deref(), Some(r#"{"response": null}"#));
    }

    #[test]
    fn departures_are_listed() {
        let r = read_client_reply(r#"{"code":"200","headers":{"messageId":"m1"},"data":{}}"#);
        assert_eq!(r.problems.len(), 4, "{:?}", r.problems);
        assert_eq!(read_client_reply("[1]").problems, vec!["not a JSON object"]);
    }
}
