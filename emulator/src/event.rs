//! Inbound robot messages as DingTalk delivers them (docs/dingtalk-events.md, "Inbound robot message"), and
//! HTTP-callback signing ("HTTP callbacks" there).
//!
//! [`DingTalkEmulator::bot_message`] builds the `data` of a Stream-mode `/v1.0/im/bot/messages/get` frame
//! (the same JSON is the body of an HTTP callback). Its `sessionWebhook` is a live URL on the emulator.

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::dingtalk::{state::Shared, DingTalkEmulator};

/// Where a message was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Chat {
    /// A group chat (`conversationType` "2"); the bot was @-mentioned.
    Group {
        /// The group's `cid…` id (openConversationId).
        conversation_id: String,
        /// `conversationTitle`.
        title: String,
    },
    /// A one-to-one chat with the bot (`conversationType` "1"); its `cid…` id is derived from the sender.
    Direct,
}

/// Who sent a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    /// `senderStaffId` (the org userId).
    pub staff_id: String,
    /// `senderNick`.
    pub nick: String,
}

impl Default for Sender {
    fn default() -> Self {
        Self {
            staff_id: "016650123456789".into(),
            nick: "测试用户".into(),
        }
    }
}

/// What was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Content {
    /// `msgtype` text.
    Text(String),
    /// `msgtype` markdown: `content {title, text}`.
    Markdown {
        /// Markdown title.
        title: String,
        /// Markdown text.
        text: String,
    },
    /// `msgtype` audio: `content {downloadCode, recognition}`.
    Audio {
        /// The ASR text plugins use as the user's words.
        recognition: String,
    },
    /// `msgtype` picture: `content {downloadCode}` with an invented code (it names no file: downloading it
    /// is refused as unknown).
    Picture,
    /// `msgtype` picture whose `downloadCode` names a file registered with
    /// [`DingTalkEmulator::add_file`].
    PictureCode(String),
    /// `msgtype` video: `content {downloadCode}`.
    Video,
    /// `msgtype` file: `content {downloadCode, fileName, spaceId, fileId}` with an invented code.
    File {
        /// `fileName`.
        name: String,
    },
    /// `msgtype` file whose `downloadCode` names a file registered with [`DingTalkEmulator::add_file`].
    FileCode {
        /// `fileName`.
        name: String,
        /// The code [`DingTalkEmulator::add_file`] returned.
        download_code: String,
    },
    /// `msgtype` text quoting an earlier message (`text.isReplyMsg` + `text.repliedMsg`, see [`Quoted`]).
    Reply {
        /// The user's own text.
        text: String,
        /// What is quoted.
        quoted: Quoted,
    },
    /// `msgtype` richText: `content {richText:[…]}`.
    RichText(Vec<RichPart>),
    /// Any other `msgtype` (e.g. `interactiveCard`, `chatRecord`, `unknownMsgType`), without content.
    Unknown(String),
}

/// One element of a rich-text message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RichPart {
    /// `{"text":…}`.
    Text(String),
    /// `{"type":"picture","downloadCode":…}` with an invented code.
    Picture,
    /// `{"type":"picture","downloadCode":…}` with a code from [`DingTalkEmulator::add_file`].
    PictureCode(String),
    /// `{"type":"at","atName":…,"atUserId":…}`.
    At {
        /// `atName`.
        name: String,
    },
}

/// The quoted message of a [`Content::Reply`]: `text.repliedMsg {msgType, msgId, senderId, createdAt,
/// content}` in the shapes DingTalk uses per type (the payloads captured in @soimy/dingtalk's tests,
/// `tests/unit/message-utils.test.ts`; docs/dingtalk-events.md, "Quoted messages"). A `download_code` of
/// `None` invents one (unknown to `messageFiles/download`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Quoted {
    /// `msgType` text: `content {content}` (as [`MessageSpec::quoted_text`]).
    Text(String),
    /// `msgType` picture: `content {downloadCode}`.
    Picture {
        /// The picture's code (e.g. from [`DingTalkEmulator::add_file`]).
        #[serde(default)]
        download_code: Option<String>,
    },
    /// `msgType` file: `content {spaceId, fileName, downloadCode, fileId}`.
    File {
        /// `fileName`.
        name: String,
        /// The file's code.
        #[serde(default)]
        download_code: Option<String>,
    },
    /// `msgType` richText: `content {richText:[…]}`, whose parts use the quote form
    /// `{"msgType":"text","content":…}` / `{"msgType":"picture","downloadCode":…}` (an @mention is a text
    /// part `@name`), not the `type`/`text` form of a live rich-text message.
    RichText(Vec<RichPart>),
    /// A quote DingTalk reports without content (older clients, quoted files and videos):
    /// `repliedMsg {msgType:"unknownMsgType", msgId, createdAt}` plus the message's top-level
    /// `originalMsgId`.
    Unknown,
}

/// Everything needed to build one inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSpec {
    /// Group or direct chat.
    pub chat: Chat,
    /// The sender.
    pub sender: Sender,
    /// The message content.
    pub content: Content,
    /// For a text message: the quoted message's text (`text.isReplyMsg` + `text.repliedMsg`).
    pub quoted_text: Option<String>,
    /// A fixed `msgId` (e.g. to provoke a duplicate); random and unique when `None`.
    pub msg_id: Option<String>,
}

impl MessageSpec {
    /// A text message @-mentioning the bot in a group.
    pub fn group_text(conversation_id: &str, text: &str) -> Self {
        Self {
            chat: Chat::Group {
                conversation_id: conversation_id.into(),
                title: "测试群".into(),
            },
            sender: Sender::default(),
            content: Content::Text(text.into()),
            quoted_text: None,
            msg_id: None,
        }
    }

    /// A text message in a one-to-one chat with the bot.
    pub fn direct_text(text: &str) -> Self {
        Self {
            chat: Chat::Direct,
            ..Self::group_text("", text)
        }
    }
}

impl DingTalkEmulator {
    /// A realistic inbound robot-message payload for `spec` (docs/dingtalk-events.md,
    /// "Inbound robot message"), with a live `sessionWebhook` on this emulator.
    pub fn bot_message(&self, spec: MessageSpec) -> Value {
        build_bot_message(&self.shared, spec)
    }
}

/// `Base64(HmacSHA256(key = appSecret, message = timestamp + "\n" + appSecret))`, without URL-encoding:
/// the `sign` header of an HTTP-mode callback (docs/dingtalk-events.md, "HTTP callbacks").
pub fn callback_signature(app_secret: &str, timestamp_ms: i64) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(app_secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(format!("{timestamp_ms}\n{app_secret}").as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// `Base64(HmacSHA256(key = apiSecret, message = timestamp_ms as decimal text))`: the
/// `x-ddpaas-signature` header of an HTTP-mode *card* callback, sent with `x-ddpaas-signature-timestamp`
/// when the route was registered with an `apiSecret` (open.dingtalk.com "事件回调" `event-callback-card`,
/// "回调签名验证"; its `calcSignature(apiSecret, ts)`).
pub fn card_callback_signature(api_secret: &str, timestamp_ms: i64) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(api_secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(timestamp_ms.to_string().as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// The headers DingTalk sends with an HTTP-mode callback: `content-type`, `timestamp`, `sign`.
pub fn callback_headers(app_secret: &str, timestamp_ms: i64) -> Vec<(String, String)> {
    vec![
        (
            "content-type".into(),
            "application/json; charset=utf-8".into(),
        ),
        ("timestamp".into(), timestamp_ms.to_string()),
        ("sign".into(), callback_signature(app_secret, timestamp_ms)),
    ]
}

/// The `conversationId` of the one-to-one chat between the robot and `staff_id`, as the emulator
/// puts it in that user's robot messages (stable for a user).
pub fn direct_conversation_id(staff_id: &str) -> String {
    format!("cid{}", &hash_b64(&format!("dm:{staff_id}"))[..22])
}

/// The corp id the emulated app belongs to.
const CORP_ID: &str = "dingemulatorcorp0001";

/// Builds the payload (shared by the handle API and the control API).
pub(crate) fn build_bot_message(shared: &Shared, spec: MessageSpec) -> Value {
    let config = &shared.config;
    let created = shared.clock.epoch_now();
    let ttl_ms = i64::try_from(config.session_webhook_ttl.as_millis()).unwrap_or(i64::MAX);
    let expires = created.saturating_add(ttl_ms);
    let bot_id = lwcp_id(&format!("bot:{}", config.robot_code));
    let (conversation_id, group_title) = match &spec.chat {
        Chat::Group {
            conversation_id,
            title,
        } => (conversation_id.clone(), Some(title.clone())),
        Chat::Direct => (direct_conversation_id(&spec.sender.staff_id), None),
    };
    if group_title.is_some() {
        // A robot gets @-mentions only in groups it is a member of.
        shared.note_robot_group(&conversation_id);
    }
    let webhook = shared.session_webhook_until(&conversation_id, expires);
    let mut m = Map::new();
    m.insert("conversationId".into(), conversation_id.into());
    m.insert("chatbotCorpId".into(), CORP_ID.into());
    m.insert("chatbotUserId".into(), bot_id.clone().into());
    m.insert(
        "msgId".into(),
        spec.msg_id
            .clone()
            .unwrap_or_else(|| format!("msg{}", random_b64()))
            .into(),
    );
    m.insert("senderNick".into(), spec.sender.nick.clone().into());
    m.insert("isAdmin".into(), false.into());
    m.insert("senderStaffId".into(), spec.sender.staff_id.clone().into());
    m.insert("sessionWebhookExpiredTime".into(), expires.into());
    m.insert("createAt".into(), created.into());
    m.insert("senderCorpId".into(), CORP_ID.into());
    m.insert(
        "senderId".into(),
        lwcp_id(&format!("user:{}", spec.sender.staff_id)).into(),
    );
    m.insert("sessionWebhook".into(), webhook.into());
    m.insert("robotCode".into(), config.robot_code.clone().into());
    match group_title {
        Some(title) => {
            m.insert("conversationType".into(), "2".into());
            m.insert("conversationTitle".into(), title.into());
            m.insert("isInAtList".into(), true.into());
            let mut at_users = vec![json!({ "dingtalkId": bot_id })];
            if let Content::RichText(parts) = &spec.content {
                for part in parts {
                    if let RichPart::At { name } = part {
                        at_users.push(json!({ "dingtalkId": lwcp_id(&format!("user:{name}")) }));
                    }
                }
            }
            m.insert("atUsers".into(), at_users.into());
        }
        None => {
            m.insert("conversationType".into(), "1".into());
        }
    }
    let in_group = matches!(spec.chat, Chat::Group { .. });
    insert_content(&mut m, &spec, in_group, &bot_id, created);
    Value::Object(m)
}

/// `msgtype` and its content fields. In a group the text starts with a space where the @mention was.
fn insert_content(
    m: &mut Map<String, Value>,
    spec: &MessageSpec,
    in_group: bool,
    bot_id: &str,
    created: i64,
) {
    let (msgtype, content) = match &spec.content {
        Content::Text(text) => {
            let shown = if in_group {
                format!(" {text}")
            } else {
                text.clone()
            };
            let mut t = json!({ "content": shown });
            if let Some(quoted) = &spec.quoted_text {
                t["isReplyMsg"] = true.into();
                t["repliedMsg"] = json!({
                    "msgType": "text",
                    "msgId": format!("msg{}", random_b64()),
                    "senderId": bot_id,
                    "createdAt": created - 60_000,
                    "content": { "content": quoted },
                });
            }
            m.insert("text".into(), t);
            return m.extend([("msgtype".into(), "text".into())]);
        }
        Content::Markdown { title, text } => ("markdown", json!({ "title": title, "text": text })),
        Content::Audio { recognition } => (
            "audio",
            json!({ "downloadCode": download_code(), "recognition": recognition }),
        ),
        Content::Reply { text, quoted } => {
            let shown = if in_group {
                format!(" {text}")
            } else {
                text.clone()
            };
            let replied = replied_msg(m, quoted, bot_id, created);
            m.insert(
                "text".into(),
                json!({ "content": shown, "isReplyMsg": true, "repliedMsg": replied }),
            );
            return m.extend([("msgtype".into(), "text".into())]);
        }
        Content::Picture => ("picture", json!({ "downloadCode": download_code() })),
        Content::PictureCode(code) => ("picture", json!({ "downloadCode": code })),
        Content::Video => ("video", json!({ "downloadCode": download_code() })),
        Content::File { name } => (
            "file",
            json!({ "downloadCode": download_code(), "fileName": name, "spaceId": "2100000001", "fileId": random_b64() }),
        ),
        Content::FileCode {
            name,
            download_code,
        } => (
            "file",
            json!({ "downloadCode": download_code, "fileName": name, "spaceId": "2100000001", "fileId": random_b64() }),
        ),
        Content::RichText(parts) => {
            let items: Vec<Value> = parts
                .iter()
                .map(|p| match p {
                    RichPart::Text(t) => json!({ "text": t }),
                    RichPart::Picture => json!({ "type": "picture", "downloadCode": download_code() }),
                    RichPart::PictureCode(code) => json!({ "type": "picture", "downloadCode": code }),
                    RichPart::At { name } => {
                        json!({ "type": "at", "atName": name, "atUserId": lwcp_id(&format!("user:{name}")) })
                    }
                })
                .collect();
            ("richText", json!({ "richText": items }))
        }
        Content::Unknown(msgtype) => {
            m.insert("msgtype".into(), msgtype.clone().into());
            return;
        }
    };
    m.insert("msgtype".into(), msgtype.into());
    m.insert("content".into(), content);
}

/// The `repliedMsg` of a quote (and, for [`Quoted::Unknown`], the top-level `originalMsgId`).
fn replied_msg(
    m: &mut Map<String, Value>,
    quoted: &Quoted,
    sender_id: &str,
    created: i64,
) -> Value {
    let msg_id = format!("msg{}", random_b64());
    let created_at = created - 60_000;
    let (msg_type, content) = match quoted {
        Quoted::Text(text) => ("text", json!({ "content": text })),
        Quoted::Picture { download_code } => (
            "picture",
            json!({ "downloadCode": download_code.clone().unwrap_or_else(self::download_code) }),
        ),
        Quoted::File {
            name,
            download_code,
        } => (
            "file",
            json!({ "spaceId": "2100000001", "fileName": name,
                    "downloadCode": download_code.clone().unwrap_or_else(self::download_code),
                    "fileId": random_b64() }),
        ),
        Quoted::RichText(parts) => {
            let items: Vec<Value> = parts
                .iter()
                .map(|p| match p {
                    RichPart::Text(t) => json!({ "msgType": "text", "content": t }),
                    RichPart::Picture => {
                        json!({ "msgType": "picture", "downloadCode": download_code() })
                    }
                    RichPart::PictureCode(code) => {
                        json!({ "msgType": "picture", "downloadCode": code })
                    }
                    RichPart::At { name } => {
                        json!({ "msgType": "text", "content": format!("@{name}") })
                    }
                })
                .collect();
            ("richText", json!({ "richText": items }))
        }
        Quoted::Unknown => {
            m.insert("originalMsgId".into(), msg_id.clone().into());
            return json!({ "msgType": "unknownMsgType", "msgId": msg_id, "createdAt": created_at });
        }
    };
    json!({ "msgType": msg_type, "msgId": msg_id, "senderId": sender_id, "createdAt": created_at, "content": content })
}

/// An encrypted-looking, stable id: `$:LWCP_v1:$<base64>`.
fn lwcp_id(seed: &str) -> String {
    format!("$:LWCP_v1:${}", &hash_b64(seed)[..32])
}

fn hash_b64(seed: &str) -> String {
    B64.encode(Sha256::digest(seed.as_bytes()))
}

fn random_b64() -> String {
    B64.encode(uuid::Uuid::new_v4().as_bytes())
}

fn download_code() -> String {
    format!("{}{}", random_b64(), random_b64()).replace('=', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_test_vectors() {
        // Produced independently with:
        // python3 -c 'import hmac,hashlib,base64; s="emulator-app-secret"; t=1577262236757;
        //   print(base64.b64encode(hmac.new(s.encode(), (str(t)+"\n"+s).encode(), hashlib.sha256).digest()).decode())'
        assert_eq!(
            callback_signature("emulator-app-secret", 1_577_262_236_757),
            "sCjh/XYDgAUEl/dteutk5kgSqJ7v0txVWX/JZKCDKX8="
        );
        // Same command with s="this is secret", t=1700000000000.
        assert_eq!(
            callback_signature("this is secret", 1_700_000_000_000),
            "sSFWELbV2YwjdDQhWZwTcWlX5BWUx5J6TPpsZmuPii0="
        );
    }
}
