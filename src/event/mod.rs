//! The DingTalk robot message, where the flow
//! `event → conversation → reply → gateway stream → card-sync → DingTalk client` starts: the
//! Stream frame's `data`, or an HTTP callback body (`docs/dingtalk-events.md`, "Inbound robot
//! message"). Parsing never panics; a malformed event is an error naming the field. What a
//! message says is in [`content`] (text, pictures, files), what it quoted in [`quote`]. A
//! press of a card's button arrives the same way ([`card_press`]); a prompt the robot answers
//! on its own becomes a message from the robot ([`proactive`]).

mod card_press;
mod content;
mod proactive;
mod quote;

use serde_json::{Map, Value};

pub use card_press::CardPress;
pub use content::{Attachment, AttachmentKind, Content};
pub use proactive::{ProactivePrompt, Target, ROBOT_SENDER};
pub use quote::Quote;

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

/// Which of the skill's DingTalk apps an event is for: its index in the manifest's apps (the
/// `dingtalk:` block is 0). Events are parsed as app 0; the skill sets the real one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AppId(pub usize);

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
    /// The quoted message, when the user replied to one.
    pub quoted: Option<Quote>,
    /// `sessionWebhook` and its expiry (epoch ms), for plain replies.
    pub session_webhook: Option<SessionWebhook>,
    /// Robot code from the event, if present.
    pub robot_code: Option<String>,
    /// The app the event is for (set by the skill from the robot code).
    pub app: AppId,
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
        let content = content::parse_content(obj, &msgtype)?;
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
            quoted: quote::parse(obj),
            session_webhook,
            robot_code: opt_str(obj, "robotCode"),
            app: AppId::default(),
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

    /// The official example event with `extra` fields replaced.
    pub(super) fn base(extra: Value) -> String {
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
    fn audio_uses_the_recognition_and_markdown_its_text() {
        let m = BotMessage::parse(&base(
            json!({"msgtype":"audio","content":{"downloadCode":"x","recognition":"你好"}}),
        ))
        .unwrap();
        assert_eq!(m.content, Content::Text("你好".into()));
        let m = BotMessage::parse(&base(
            json!({"msgtype":"markdown","markdown":{"title":"t","text":"# 标题"}}),
        ))
        .unwrap();
        assert_eq!(m.content, Content::Text("# 标题".into()));
        assert_eq!(m.quoted, None);
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
