//! Stream-mode frames (docs/dingtalk-events.md, "Frames", "ACK", "Ping and disconnect"): reading
//! what the server sends, and building the client's answers. Pure functions; nothing here panics on what the network delivers.

use serde_json::{json, Value};

/// The topic of robot messages (docs/dingtalk-events.md, "Stream mode").
pub const BOT_MESSAGE_TOPIC: &str = "/v1.0/im/bot/messages/get";
/// The topic of card callbacks (a user pressed a card's button, such as the stop button).
pub const CARD_CALLBACK_TOPIC: &str = "/v1.0/card/instances/callback";

/// A server frame, as far as the host needs to understand it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `type: CALLBACK`: must be ACKed at once; robot messages carry topic [`BOT_MESSAGE_TOPIC`].
    Callback {
        /// `headers.messageId`, echoed by the ACK.
        message_id: String,
        /// `headers.topic`.
        topic: String,
        /// `data`: the payload as a JSON string (handed to the skill untouched).
        data: String,
    },
    /// `type: EVENT`: ACKed with `{"status":"SUCCESS"}`; not used by this host.
    Event {
        /// `headers.messageId`.
        message_id: String,
        /// `headers.topic`.
        topic: String,
    },
    /// `SYSTEM` `ping`: answered with the same `messageId` and `data`.
    Ping {
        /// `headers.messageId`.
        message_id: String,
        /// `data` (`{"opaque":…}`), echoed verbatim.
        data: String,
    },
    /// `SYSTEM` `disconnect`: the server closes this socket about 10 s later.
    Disconnect {
        /// `data.reason`, or the raw `data`.
        reason: String,
    },
    /// Any other `SYSTEM` topic (`CONNECTED`, `REGISTERED`, `KEEPALIVE`, …): nothing to do.
    System {
        /// `headers.topic`.
        topic: String,
    },
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Not a JSON object.
    NotJson,
    /// A field the frame's type needs is missing or has the wrong type.
    Missing(&'static str),
    /// A `type` other than SYSTEM, EVENT, CALLBACK.
    UnknownType(String),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::NotJson => f.write_str("frame is not a JSON object"),
            FrameError::Missing(field) => {
                write!(f, "frame field `{field}` is missing or not a string")
            }
            FrameError::UnknownType(t) => write!(f, "unknown frame type {t:?}"),
        }
    }
}

/// Reads a text frame.
pub fn parse(text: &str) -> Result<Frame, FrameError> {
    let value: Value = serde_json::from_str(text).map_err(|_| FrameError::NotJson)?;
    if !value.is_object() {
        return Err(FrameError::NotJson);
    }
    let header = |name: &str| {
        value
            .get("headers")
            .and_then(|h| h.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    // `data` is documented as a JSON string; accept an inline object too.
    let data = match value.get("data") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(v @ Value::Object(_)) => Some(v.to_string()),
        _ => None,
    };
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or(FrameError::Missing("type"))?;
    let message_id = || header("messageId").ok_or(FrameError::Missing("headers.messageId"));
    let topic = || header("topic").ok_or(FrameError::Missing("headers.topic"));
    match kind {
        "CALLBACK" => Ok(Frame::Callback {
            message_id: message_id()?,
            topic: topic()?,
            data: data.ok_or(FrameError::Missing("data"))?,
        }),
        "EVENT" => Ok(Frame::Event {
            message_id: message_id()?,
            topic: topic().unwrap_or_default(),
        }),
        "SYSTEM" => match topic()?.as_str() {
            "ping" => Ok(Frame::Ping {
                message_id: message_id()?,
                data: data.unwrap_or_default(),
            }),
            "disconnect" => {
                let data = data.unwrap_or_default();
                let reason = serde_json::from_str::<Value>(&data)
                    .ok()
                    .and_then(|v| v.get("reason").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or(data);
                Ok(Frame::Disconnect { reason })
            }
            other => Ok(Frame::System {
                topic: other.to_owned(),
            }),
        },
        other => Err(FrameError::UnknownType(other.to_owned())),
    }
}

fn reply(message_id: &str, data: &str) -> String {
    json!({
        "code": 200,
        "headers": {"contentType": "application/json", "messageId": message_id},
        "message": "OK",
        "data": data,
    })
    .to_string()
}

/// The ACK of a CALLBACK frame, exactly as documented (docs/dingtalk-events.md, "ACK"):
/// `{"code":200,"headers":{"contentType":"application/json","messageId":…},"message":"OK","data":"{\"response\": null}"}`.
pub fn ack(message_id: &str) -> String {
    reply(message_id, r#"{"response": null}"#)
}

/// The ACK of an EVENT frame (its `data` must carry a status; docs/dingtalk-events.md, "ACK").
pub fn event_ack(message_id: &str) -> String {
    reply(message_id, r#"{"status":"SUCCESS","message":"ignored"}"#)
}

/// The answer to a ping: code 200 with the same `messageId` and `data` (docs/dingtalk-events.md, "Ping and disconnect").
pub fn pong(message_id: &str, data: &str) -> String {
    reply(message_id, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_callback_frame() {
        let text = r#"{"specVersion":"1.0","type":"CALLBACK","headers":{"appId":"1305d5f5","connectionId":"c1","contentType":"application/json","messageId":"212ca9d7_974_1898c159aa6_1783b","time":"1690362102194","topic":"/v1.0/im/bot/messages/get"},"data":"{\"conversationId\":\"cidAsXSBLnA==\",\"msgId\":\"m1\"}"}"#;
        assert_eq!(
            parse(text),
            Ok(Frame::Callback {
                message_id: "212ca9d7_974_1898c159aa6_1783b".into(),
                topic: BOT_MESSAGE_TOPIC.into(),
                data: r#"{"conversationId":"cidAsXSBLnA==","msgId":"m1"}"#.into(),
            })
        );
    }

    #[test]
    fn reads_system_frames() {
        let ping = r#"{"specVersion":"1.0","type":"SYSTEM","headers":{"appId":"a","connectionId":"c","contentType":"application/json","messageId":"213661cf_dba_18d5875eda1_23bf2a0","time":"1707286661313","topic":"ping"},"data":"{\"opaque\":\"95dae637\"}"}"#;
        assert_eq!(
            parse(ping),
            Ok(Frame::Ping {
                message_id: "213661cf_dba_18d5875eda1_23bf2a0".into(),
                data: r#"{"opaque":"95dae637"}"#.into()
            })
        );
        let disconnect = r#"{"type":"SYSTEM","headers":{"messageId":"x","topic":"disconnect"},"data":"{\"reason\":\"connection is expired\"}"}"#;
        assert_eq!(
            parse(disconnect),
            Ok(Frame::Disconnect {
                reason: "connection is expired".into()
            })
        );
        assert_eq!(
            parse(r#"{"type":"SYSTEM","headers":{"topic":"KEEPALIVE"}}"#),
            Ok(Frame::System {
                topic: "KEEPALIVE".into()
            })
        );
    }

    #[test]
    fn refuses_malformed_frames_without_panicking() {
        assert_eq!(parse("not json"), Err(FrameError::NotJson));
        assert_eq!(parse("[1,2]"), Err(FrameError::NotJson));
        assert_eq!(parse("{}"), Err(FrameError::Missing("type")));
        assert_eq!(
            parse(r#"{"type":"CALLBACK","headers":{"topic":"t"},"data":"{}"}"#),
            Err(FrameError::Missing("headers.messageId"))
        );
        assert_eq!(
            parse(r#"{"type":"CALLBACK","headers":{"topic":"t","messageId":"m"}}"#),
            Err(FrameError::Missing("data"))
        );
        assert_eq!(
            parse(r#"{"type":"WHAT","headers":{}}"#),
            Err(FrameError::UnknownType("WHAT".into()))
        );
    }

    #[test]
    fn answers_have_the_documented_shape() {
        let a: Value = serde_json::from_str(&ack("m1")).unwrap();
        assert_eq!(
            a,
            json!({"code":200,"headers":{"contentType":"application/json","messageId":"m1"},"message":"OK","data":"{\"response\": null}"})
        );
        let p: Value = serde_json::from_str(&pong("m2", r#"{"opaque":"o"}"#)).unwrap();
        assert_eq!(p["headers"]["messageId"], "m2");
        assert_eq!(p["data"], r#"{"opaque":"o"}"#);
        assert_eq!(p["code"], 200);
        let e: Value = serde_json::from_str(&event_ack("m3")).unwrap();
        let data: Value = serde_json::from_str(e["data"].as_str().unwrap()).unwrap();
        assert_eq!(data["status"], "SUCCESS");
    }
}

/// Bad input never panics: structured frames built from the real field names, and any text.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn frame_value() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("specVersion"),
            Just("type"),
            Just("headers"),
            Just("data"),
            Just("messageId"),
            Just("topic"),
            Just("contentType"),
            Just("time"),
            Just("opaque"),
            Just("reason"),
            Just("eventType"),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            prop_oneof![
                Just("CALLBACK".to_owned()),
                Just("SYSTEM".to_owned()),
                Just("EVENT".to_owned()),
                Just("ping".to_owned()),
                Just("disconnect".to_owned()),
                Just(BOT_MESSAGE_TOPIC.to_owned()),
                ".*"
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 48, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key.clone(), inner, 0..8).prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        })
    }

    proptest! {
        #![proptest_config(crate::proptest_config::config())]

        #[test]
        fn structured_frames_never_panic(v in frame_value()) {
            let _ = parse(&v.to_string());
        }

        #[test]
        fn any_text_never_panics(text in ".*") {
            let _ = parse(&text);
        }

        #[test]
        fn acks_and_pongs_echo_ids_and_data_exactly(id in ".*", data in ".*") {
            let ack: Value = serde_json::from_str(&ack(&id)).unwrap();
            prop_assert_eq!(ack["headers"]["messageId"].as_str(), Some(id.as_str()));
            let pong: Value = serde_json::from_str(&pong(&id, &data)).unwrap();
            prop_assert_eq!(pong["headers"]["messageId"].as_str(), Some(id.as_str()));
            prop_assert_eq!(pong["data"].as_str(), Some(data.as_str()));
        }
    }
}
