//! The DingTalk robot message, where the flow
//! `event → conversation → reply → gateway stream → card-sync → DingTalk client` starts: the
//! Stream frame's `data`, or an HTTP callback body (`docs/dingtalk-events.md`, "Inbound robot
//! message"). Parsing never panics; a malformed event is an error naming the field.

use serde_json::{Map, Value};

/// Why an event could not be read. Names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not JSON at all.
    #[error("event is not valid JSON: {0}")]
    NotJson(String),
    /// A required field is missing or has the wrong type.
    #[error("event field `{field}` {problem}")]
    Field {
        /// Dotted field path, e.g. `text.content`.
        field: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// Where a message was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chat {
    /// A group; the robot was @-mentioned.
    Group {
        /// Group title (`conversationTitle`).
        title: String,
    },
    /// A 1:1 chat with the robot.
    Direct,
}

/// Who wrote the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// Encrypted sender id (`senderId`), always present.
    pub id: String,
    /// Organisation user id (`senderStaffId`); absent for users outside the robot's org.
    pub staff_id: Option<String>,
    /// Display name (`senderNick`).
    pub nick: String,
}

/// What the user said, as far as it can be forwarded to a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Text for the model (from text, richText, markdown, or audio's speech recognition).
    Text(String),
    /// A message type that cannot be forwarded (picture, video, file, …).
    Unsupported {
        /// The DingTalk `msgtype`.
        msgtype: String,
    },
}

/// One inbound robot message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotMessage {
    /// Message id, the dedup key.
    pub msg_id: String,
    /// The conversation id (`cid…`), the space cards and group sends go to.
    pub conversation_id: String,
    /// Group or 1:1.
    pub chat: Chat,
    /// Who wrote it.
    pub sender: Sender,
    /// What was said.
    pub content: Content,
    /// Text of the quoted message, when the user replied to one.
    pub quoted: Option<String>,
    /// `sessionWebhook` and its expiry (epoch ms), for plain replies.
    pub session_webhook: Option<SessionWebhook>,
    /// Robot code from the event, if present.
    pub robot_code: Option<String>,
}

/// The reply URL DingTalk attaches to an event. Its query carries a credential (`session=`):
/// `Debug` shows the URL without it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionWebhook {
    /// URL to POST a text/markdown reply to.
    pub url: String,
    /// Expiry, epoch milliseconds (0 when unknown).
    pub expires_at_ms: i64,
}

impl std::fmt::Debug for SessionWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = match self.url.split_once('?') {
            Some((base, _)) => format!("{base}?***"),
            None => self.url.clone(),
        };
        let shown = match shown.split_once("://").and_then(|(s, rest)| {
            rest.split_once('@')
                .filter(|(userinfo, _)| !userinfo.contains('/'))
                .map(|(_, host)| format!("{s}://***@{host}"))
        }) {
            Some(redacted) => redacted,
            None => shown,
        };
        f.debug_struct("SessionWebhook")
            .field("url", &shown)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

impl BotMessage {
    /// Parses the event JSON.
    pub fn parse(json: &str) -> Result<BotMessage, EventError> {
        let value: Value =
            serde_json::from_str(json).map_err(|e| EventError::NotJson(e.to_string()))?;
        let obj = value.as_object().ok_or(EventError::Field {
            field: "(root)".into(),
            problem: "must be a JSON object",
        })?;
        let msg_id = req_str(obj, "msgId")?;
        let conversation_id = req_str(obj, "conversationId")?;
        let chat = match req_str(obj, "conversationType")?.as_str() {
            "1" => Chat::Direct,
            "2" => Chat::Group {
                title: opt_str(obj, "conversationTitle").unwrap_or_default(),
            },
            _ => {
                return Err(EventError::Field {
                    field: "conversationType".into(),
                    problem: "must be \"1\" (1:1) or \"2\" (group)",
                })
            }
        };
        let sender = Sender {
            id: req_str(obj, "senderId")?,
            staff_id: opt_str(obj, "senderStaffId").filter(|s| !s.is_empty()),
            nick: opt_str(obj, "senderNick").unwrap_or_default(),
        };
        let msgtype = req_str(obj, "msgtype")?;
        let content = parse_content(obj, &msgtype)?;
        let session_webhook = opt_str(obj, "sessionWebhook")
            .filter(|u| !u.is_empty())
            .map(|url| SessionWebhook {
                url,
                expires_at_ms: obj
                    .get("sessionWebhookExpiredTime")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
            });
        Ok(BotMessage {
            msg_id,
            conversation_id,
            chat,
            sender,
            content,
            quoted: quoted_text(obj),
            session_webhook,
            robot_code: opt_str(obj, "robotCode"),
        })
    }

    /// Whether this came from a group.
    pub fn is_group(&self) -> bool {
        matches!(self.chat, Chat::Group { .. })
    }
}

fn req_str(obj: &Map<String, Value>, key: &'static str) -> Result<String, EventError> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::String(_)) => Err(EventError::Field {
            field: key.into(),
            problem: "is empty",
        }),
        Some(_) => Err(EventError::Field {
            field: key.into(),
            problem: "must be a string",
        }),
        None => Err(EventError::Field {
            field: key.into(),
            problem: "is missing",
        }),
    }
}

fn opt_str(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// `content` is an object in Stream mode; some deliveries carry it as a JSON string.
fn content_object(obj: &Map<String, Value>) -> Option<Map<String, Value>> {
    match obj.get("content")? {
        Value::Object(m) => Some(m.clone()),
        Value::String(s) => serde_json::from_str::<Value>(s).ok()?.as_object().cloned(),
        _ => None,
    }
}

fn parse_content(obj: &Map<String, Value>, msgtype: &str) -> Result<Content, EventError> {
    let missing = |field: &str| EventError::Field {
        field: field.into(),
        problem: "is missing",
    };
    let text = match msgtype {
        "text" => obj
            .get("text")
            .and_then(|t| t.get("content"))
            .and_then(Value::as_str)
            .ok_or_else(|| missing("text.content"))?
            .to_owned(),
        "markdown" => obj
            .get("markdown")
            .and_then(|m| m.get("text"))
            .or_else(|| obj.get("content").and_then(|c| c.get("text")))
            .and_then(Value::as_str)
            .ok_or_else(|| missing("markdown.text"))?
            .to_owned(),
        "audio" => content_object(obj)
            .and_then(|c| {
                c.get("recognition")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| missing("content.recognition"))?,
        "richText" => {
            let content = content_object(obj).ok_or_else(|| missing("content"))?;
            let parts = content
                .get("richText")
                .and_then(Value::as_array)
                .ok_or_else(|| missing("content.richText"))?;
            rich_text(parts)
        }
        other => {
            return Ok(Content::Unsupported {
                msgtype: other.to_owned(),
            })
        }
    };
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Ok(Content::Unsupported {
            msgtype: msgtype.to_owned(),
        });
    }
    Ok(Content::Text(text))
}

fn rich_text(parts: &[Value]) -> String {
    let mut out = String::new();
    for part in parts {
        if let Some(t) = part.get("text").and_then(Value::as_str) {
            out.push_str(t);
        } else {
            match part.get("type").and_then(Value::as_str) {
                Some("picture") => out.push_str("[图片]"),
                Some("at") => {
                    if let Some(name) = part.get("atName").and_then(Value::as_str) {
                        out.push('@');
                        out.push_str(name);
                    }
                }
                _ => {}
            }
        }
    }
    out
}

fn quoted_text(obj: &Map<String, Value>) -> Option<String> {
    let text = obj.get("text")?;
    if !text
        .get("isReplyMsg")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return None;
    }
    let replied = text.get("repliedMsg")?;
    let content = replied.get("content")?;
    let quoted = content
        .get("content")
        .or_else(|| content.get("text"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())?;
    Some(quoted.to_owned())
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_session_webhook_debug_hides_its_credentials() {
        let hook = SessionWebhook {
            url: "https://user:pw@oapi.dingtalk.com/robot/sendBySession?session=SECRET".into(),
            expires_at_ms: 1,
        };
        let shown = format!("{hook:?}");
        assert!(
            !shown.contains("SECRET") && !shown.contains("pw"),
            "{shown}"
        );
        assert!(
            shown.contains("oapi.dingtalk.com/robot/sendBySession?***"),
            "{shown}"
        );
    }

    use super::*;
    use serde_json::json;

    fn base(extra: Value) -> String {
        let mut v = json!({
            "conversationId":"cidAsXSBLnA==","chatbotUserId":"$:LWCP_v1:$bot","msgId":"msgLICYe==",
            "senderNick":"用户","isAdmin":true,"senderStaffId":"16650698","sessionWebhookExpiredTime":1690367502152i64,
            "createAt":1690362101894i64,"conversationType":"2","senderId":"$:LWCP_v1:$u","conversationTitle":"测试群",
            "isInAtList":true,"sessionWebhook":"https://oapi.dingtalk.com/robot/sendBySession?session=76da",
            "text":{"content":" 测试数据 "},"robotCode":"dingrobot","msgtype":"text"
        });
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        v.to_string()
    }

    #[test]
    fn the_official_example_parses_and_the_mention_gap_is_trimmed() {
        let m = BotMessage::parse(&base(json!({}))).unwrap();
        assert_eq!(m.content, Content::Text("测试数据".into()));
        assert_eq!(
            m.chat,
            Chat::Group {
                title: "测试群".into()
            }
        );
        assert_eq!(m.sender.staff_id.as_deref(), Some("16650698"));
        assert_eq!(m.session_webhook.unwrap().expires_at_ms, 1690367502152);
    }

    #[test]
    fn audio_uses_the_recognition_and_rich_text_is_joined() {
        let m = BotMessage::parse(&base(
            json!({"msgtype":"audio","content":{"downloadCode":"x","recognition":"你好"}}),
        ))
        .unwrap();
        assert_eq!(m.content, Content::Text("你好".into()));
        let m = BotMessage::parse(&base(json!({"msgtype":"richText","content":{"richText":[{"text":"看 "},{"type":"picture","downloadCode":"d"},{"text":" 这个"}]}}))).unwrap();
        assert_eq!(m.content, Content::Text("看 [图片] 这个".into()));
    }

    #[test]
    fn pictures_and_files_are_unsupported_not_errors() {
        for t in ["picture", "video", "file", "interactiveCard"] {
            let m = BotMessage::parse(&base(json!({"msgtype":t,"content":{"downloadCode":"x"}})))
                .unwrap();
            assert_eq!(m.content, Content::Unsupported { msgtype: t.into() });
        }
    }

    #[test]
    fn quoted_text_is_extracted() {
        let m = BotMessage::parse(&base(json!({"text":{"content":" 解释一下","isReplyMsg":true,"repliedMsg":{"msgType":"text","content":{"content":"原始消息"}}}}))).unwrap();
        assert_eq!(m.quoted.as_deref(), Some("原始消息"));
    }

    #[test]
    fn errors_name_the_field() {
        let err = BotMessage::parse(r#"{"msgtype":"text"}"#).unwrap_err();
        assert_eq!(err.to_string(), "event field `msgId` is missing");
        let err = BotMessage::parse(&base(json!({"text":{"nope":1}}))).unwrap_err();
        assert_eq!(err.to_string(), "event field `text.content` is missing");
        let err = BotMessage::parse(&base(json!({"conversationType":"7"}))).unwrap_err();
        assert!(err.to_string().contains("conversationType"));
        assert!(matches!(
            BotMessage::parse("{not json").unwrap_err(),
            EventError::NotJson(_)
        ));
        assert!(BotMessage::parse("[]").is_err());
    }
}
