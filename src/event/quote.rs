//! The message a user quoted (replied to): `text.isReplyMsg` with `text.repliedMsg`
//! (`docs/dingtalk-events.md`, "Quoted messages"). Quoted text, markdown and rich text keep
//! their words; quoted pictures and files carry a download code when DingTalk includes one.

use serde_json::{Map, Value};

use super::content::{
    clean_file_name, download_code, picture_label, rich_text, Attachment, AttachmentKind,
};

/// The label prefix of what a quote carries (`引用的图片`, `引用的文件 x.log`).
const QUOTED: &str = "引用的";

/// What the user quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quote {
    /// The quoted message's words (with a `[label]` placeholder per picture or file) and
    /// its pictures and files that can be fetched.
    Said {
        /// The quoted words; placeholders for attachments. Never empty.
        text: String,
        /// Pictures and files of the quoted message, in order.
        attachments: Vec<Attachment>,
    },
    /// DingTalk did not include what was quoted (quotes of videos, voice, cards, files
    /// without a code, or from older clients that send only `originalMsgId`).
    Unavailable {
        /// What kind of message it was, in words for the model: `消息`, `文件 x.pdf`, `视频`.
        what: String,
    },
}

/// The quote of a message, if it replies to one.
pub(super) fn parse(obj: &Map<String, Value>) -> Option<Quote> {
    let text = obj.get("text")?;
    if !text
        .get("isReplyMsg")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return None;
    }
    let unavailable = |what: &str| Quote::Unavailable {
        what: what.to_owned(),
    };
    let Some(replied) = text.get("repliedMsg").and_then(Value::as_object) else {
        return Some(unavailable("消息"));
    };
    let empty = Map::new();
    let content = replied
        .get("content")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let msg_type = replied.get("msgType").and_then(Value::as_str).unwrap_or("");
    let quote = match msg_type {
        "picture" => match download_code(content) {
            Some(code) => {
                let label = picture_label(QUOTED, 1, 1);
                Quote::Said {
                    text: format!("[{label}]"),
                    attachments: vec![Attachment {
                        kind: AttachmentKind::Picture,
                        download_code: code,
                        label,
                    }],
                }
            }
            None => unavailable("图片"),
        },
        "file" => {
            let name = clean_file_name(content.get("fileName").and_then(Value::as_str));
            match download_code(content) {
                Some(code) => {
                    let label = format!("{QUOTED}文件 {name}");
                    Quote::Said {
                        text: format!("[{label}]"),
                        attachments: vec![Attachment {
                            kind: AttachmentKind::File { name },
                            download_code: code,
                            label,
                        }],
                    }
                }
                None => unavailable(&format!("文件 {name}")),
            }
        }
        "richText" => {
            let parts = content
                .get("richText")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let (text, attachments) = rich_text(parts, QUOTED);
            let text = text.trim().to_owned();
            if text.is_empty() {
                unavailable("消息")
            } else {
                Quote::Said { text, attachments }
            }
        }
        "video" => unavailable("视频"),
        "audio" => unavailable("语音"),
        _ => {
            let words = content
                .get("content")
                .or_else(|| content.get("text"))
                .and_then(Value::as_str)
                .map(str::trim)
                .unwrap_or("");
            if words.is_empty() {
                unavailable("消息")
            } else {
                Quote::Said {
                    text: words.to_owned(),
                    attachments: Vec::new(),
                }
            }
        }
    };
    Some(quote)
}

#[cfg(test)]
mod tests {
    use super::super::tests::base;
    use super::super::BotMessage;
    use super::*;
    use serde_json::json;

    fn quote_of(replied: Value) -> Option<Quote> {
        let m = BotMessage::parse(&base(json!({"text":{
            "content":" 这是什么？","isReplyMsg":true,"repliedMsg":replied}})))
        .unwrap();
        m.quoted
    }

    #[test]
    fn quoted_text_and_markdown_keep_their_words() {
        assert_eq!(
            quote_of(json!({"msgType":"text","content":{"content":"原始消息"}})),
            Some(Quote::Said {
                text: "原始消息".into(),
                attachments: vec![]
            })
        );
        assert_eq!(
            quote_of(json!({"msgType":"markdown","content":{"text":"## 周报"}})),
            Some(Quote::Said {
                text: "## 周报".into(),
                attachments: vec![]
            })
        );
    }

    #[test]
    fn a_quoted_picture_or_file_with_a_code_is_an_attachment() {
        let Some(Quote::Said { text, attachments }) =
            quote_of(json!({"msgType":"picture","msgId":"m","content":{"downloadCode":"qp"}}))
        else {
            panic!("no picture quote")
        };
        assert_eq!(text, "[引用的图片]");
        assert_eq!(attachments[0].download_code.0, "qp");
        let Some(Quote::Said { text, attachments }) = quote_of(json!({"msgType":"file","content":{
            "spaceId":"21","fileName":"服务日志.log","downloadCode":"qf","fileId":"f"}}))
        else {
            panic!("no file quote")
        };
        assert_eq!(text, "[引用的文件 服务日志.log]");
        assert_eq!(
            attachments[0].kind,
            AttachmentKind::File {
                name: "服务日志.log".into()
            }
        );
    }

    #[test]
    fn quoted_rich_text_uses_the_quote_form_of_its_parts() {
        let Some(Quote::Said { text, attachments }) =
            quote_of(json!({"msgType":"richText","content":{"richText":[
                {"msgType":"text","content":"截图如下"},{"msgType":"picture","downloadCode":"q1"},
                {"msgType":"text","content":"@小李"}]}}))
        else {
            panic!("no rich text quote")
        };
        assert_eq!(text, "截图如下[引用的图片]@小李");
        assert_eq!(attachments.len(), 1);
        assert_eq!(attachments[0].label, "引用的图片");
    }

    #[test]
    fn a_quote_without_content_is_unavailable_not_dropped() {
        assert_eq!(
            quote_of(json!({"msgType":"unknownMsgType","msgId":"m","createdAt":1})),
            Some(Quote::Unavailable {
                what: "消息".into()
            })
        );
        assert_eq!(
            quote_of(json!({"msgType":"file","content":{"fileName":"合同.pdf"}})),
            Some(Quote::Unavailable {
                what: "文件 合同.pdf".into()
            })
        );
        assert_eq!(
            quote_of(json!({"msgType":"video","content":{"downloadCode":"v"}})),
            Some(Quote::Unavailable {
                what: "视频".into()
            })
        );
        let m = BotMessage::parse(&base(json!({"originalMsgId":"msgOld",
            "text":{"content":" 继续","isReplyMsg":true}})))
        .unwrap();
        assert_eq!(
            m.quoted,
            Some(Quote::Unavailable {
                what: "消息".into()
            })
        );
        assert_eq!(m.content, super::super::Content::Text("继续".into()));
    }
}
