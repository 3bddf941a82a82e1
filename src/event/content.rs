//! What a message says, per `msgtype`: text for the model, or pictures and files with the
//! text that came with them (`docs/dingtalk-events.md`, "Inbound robot message").

use serde_json::{Map, Value};

use super::{content_object, EventError};

/// What the user said, as far as it can be forwarded to a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Text for the model (from text, richText without pictures, markdown, or audio's speech
    /// recognition).
    Text(String),
    /// Pictures or files to fetch, with the text that came with them: a rich text's words
    /// with a `[图片]` placeholder where each picture was, or just the placeholder of a lone
    /// picture (`[图片]`) or file (`[文件 报告.pdf]`). Never empty.
    Media {
        /// The text, with a `[label]` placeholder per attachment, in order.
        text: String,
        /// The pictures and files, in the order of their placeholders.
        attachments: Vec<Attachment>,
    },
    /// A message type that cannot be forwarded (video, audio without recognition, cards, …).
    Unsupported {
        /// The DingTalk `msgtype`.
        msgtype: String,
    },
}

/// A picture or file the user sent (or quoted); it is fetched with its download code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Picture or file.
    pub kind: AttachmentKind,
    /// The code `messageFiles/download` turns into a temporary URL.
    pub download_code: DownloadCode,
    /// How the text and the notes name it: `图片`, `图片2`, `文件 报告.pdf`, `引用的图片`.
    pub label: String,
}

/// What kind of attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachmentKind {
    /// A picture (`msgtype` picture, or a picture inside rich text).
    Picture,
    /// A file (`msgtype` file).
    File {
        /// `fileName`, cleaned of line breaks and control characters.
        name: String,
    },
}

impl Attachment {
    /// Whether this is a picture.
    pub fn is_picture(&self) -> bool {
        self.kind == AttachmentKind::Picture
    }
}

/// A `downloadCode`. With the app's token it fetches the user's file, so `Debug` shows only
/// its length.
#[derive(Clone, PartialEq, Eq)]
pub struct DownloadCode(pub String);

impl std::fmt::Debug for DownloadCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DownloadCode({} chars)", self.0.chars().count())
    }
}

/// The label of the `n`-th (1-based) of `count` pictures: `图片` alone, else `图片1`, `图片2`, …
pub(super) fn picture_label(prefix: &str, n: usize, count: usize) -> String {
    if count == 1 {
        format!("{prefix}图片")
    } else {
        format!("{prefix}图片{n}")
    }
}

/// A file name as it may appear in the prompt and on the card: one line, no control
/// characters, at most 120 characters.
pub(super) fn clean_file_name(name: Option<&str>) -> String {
    let name: String = name
        .unwrap_or("")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    match name.trim() {
        "" => "未命名文件".to_owned(),
        trimmed => trimmed.to_owned(),
    }
}

/// A non-empty `downloadCode` of `obj`.
pub(super) fn download_code(obj: &Map<String, Value>) -> Option<DownloadCode> {
    obj.get("downloadCode")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| DownloadCode(c.to_owned()))
}

/// The content of a message of type `msgtype`.
pub(super) fn parse_content(
    obj: &Map<String, Value>,
    msgtype: &str,
) -> Result<Content, EventError> {
    let missing = |field: &str| EventError::Field {
        field: field.into(),
        problem: "is missing",
    };
    let unsupported = || Content::Unsupported {
        msgtype: msgtype.to_owned(),
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
        // Without speech recognition there are no words to forward.
        "audio" => match content_object(obj).and_then(|c| {
            c.get("recognition")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }) {
            Some(recognition) => recognition,
            None => return Ok(unsupported()),
        },
        "richText" => {
            let content = content_object(obj).ok_or_else(|| missing("content"))?;
            let parts = content
                .get("richText")
                .and_then(Value::as_array)
                .ok_or_else(|| missing("content.richText"))?;
            let (text, attachments) = rich_text(parts, "");
            let text = text.trim().to_owned();
            return Ok(match (text.is_empty(), attachments.is_empty()) {
                (true, true) => unsupported(),
                (_, true) => Content::Text(text),
                (_, false) => Content::Media { text, attachments },
            });
        }
        "picture" => {
            return Ok(content_object(obj)
                .and_then(|c| download_code(&c))
                .map_or_else(unsupported, |code| {
                    let label = picture_label("", 1, 1);
                    Content::Media {
                        text: format!("[{label}]"),
                        attachments: vec![Attachment {
                            kind: AttachmentKind::Picture,
                            download_code: code,
                            label,
                        }],
                    }
                }))
        }
        "file" => {
            let Some(content) = content_object(obj) else {
                return Ok(unsupported());
            };
            return Ok(download_code(&content).map_or_else(unsupported, |code| {
                let name = clean_file_name(content.get("fileName").and_then(Value::as_str));
                let label = format!("文件 {name}");
                Content::Media {
                    text: format!("[{label}]"),
                    attachments: vec![Attachment {
                        kind: AttachmentKind::File { name },
                        download_code: code,
                        label,
                    }],
                }
            }));
        }
        _ => return Ok(unsupported()),
    };
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Ok(unsupported());
    }
    Ok(Content::Text(text))
}

/// The words of rich text with a `[label]` placeholder per picture, and the pictures that
/// carry a download code, in order. Reads both the live form (`{"text"}`, `{"type":"picture"}`,
/// `{"type":"at","atName"}`) and the form inside a quote (`{"msgType":"text","content"}`,
/// `{"msgType":"picture","downloadCode"}`). `prefix` starts every label (`引用的` in a quote).
pub(super) fn rich_text(parts: &[Value], prefix: &str) -> (String, Vec<Attachment>) {
    let kind_of = |part: &Value| {
        part.get("type")
            .or_else(|| part.get("msgType"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let pictures = parts
        .iter()
        .filter(|p| kind_of(p).as_deref() == Some("picture"))
        .filter(|p| p.as_object().and_then(download_code).is_some())
        .count();
    let mut out = String::new();
    let mut attachments = Vec::new();
    for part in parts {
        let words = part
            .get("text")
            .or_else(|| part.get("content"))
            .and_then(Value::as_str);
        match kind_of(part).as_deref() {
            Some("picture") => match part.as_object().and_then(download_code) {
                Some(code) => {
                    let label = picture_label(prefix, attachments.len() + 1, pictures);
                    out.push_str(&format!("[{label}]"));
                    attachments.push(Attachment {
                        kind: AttachmentKind::Picture,
                        download_code: code,
                        label,
                    });
                }
                None => out.push_str(&format!("[{prefix}图片]")),
            },
            Some("at") => {
                if let Some(name) = part.get("atName").and_then(Value::as_str) {
                    out.push('@');
                    out.push_str(name);
                }
            }
            _ => {
                if let Some(t) = words {
                    out.push_str(t);
                }
            }
        }
    }
    (out, attachments)
}

#[cfg(test)]
mod tests {
    use super::super::tests::base;
    use super::super::BotMessage;
    use super::*;
    use serde_json::json;

    fn media(m: &BotMessage) -> (&str, &[Attachment]) {
        match &m.content {
            Content::Media { text, attachments } => (text, attachments),
            other => panic!("not media: {other:?}"),
        }
    }

    #[test]
    fn a_picture_is_one_attachment_named_in_the_text() {
        let m = BotMessage::parse(&base(
            json!({"msgtype":"picture","content":{"downloadCode":"mIofN681YE3f/+m+NntqpR5d"}}),
        ))
        .unwrap();
        let (text, attachments) = media(&m);
        assert_eq!(text, "[图片]");
        assert_eq!(attachments.len(), 1);
        assert_eq!(attachments[0].kind, AttachmentKind::Picture);
        assert_eq!(attachments[0].download_code.0, "mIofN681YE3f/+m+NntqpR5d");
        assert_eq!(attachments[0].label, "图片");
    }

    #[test]
    fn a_file_keeps_its_chinese_name_on_one_line() {
        let m = BotMessage::parse(&base(json!({"msgtype":"file","content":{
            "downloadCode":"code-1","fileName":"季度报告\n> 伪造.pdf","spaceId":"21","fileId":"f"}})))
        .unwrap();
        let (text, attachments) = media(&m);
        assert_eq!(text, "[文件 季度报告 > 伪造.pdf]");
        assert_eq!(
            attachments[0].kind,
            AttachmentKind::File {
                name: "季度报告 > 伪造.pdf".into()
            }
        );
        // `content` as a JSON string (some deliveries) and a missing name.
        let m = BotMessage::parse(&base(
            json!({"msgtype":"file","content":"{\"downloadCode\":\"c\"}"}),
        ))
        .unwrap();
        assert_eq!(media(&m).0, "[文件 未命名文件]");
    }

    #[test]
    fn rich_text_keeps_its_words_and_its_pictures_in_order() {
        let m = BotMessage::parse(&base(json!({"msgtype":"richText","content":{"richText":[
            {"text":"先看这张 "},{"type":"picture","downloadCode":"p1"},
            {"text":" 再和这张比较 "},{"type":"picture","downloadCode":"p2"},
            {"type":"at","atName":"小王"},{"text":" 哪个更清楚？"}]}})))
        .unwrap();
        let (text, attachments) = media(&m);
        assert_eq!(
            text,
            "先看这张 [图片1] 再和这张比较 [图片2]@小王 哪个更清楚？"
        );
        let codes: Vec<&str> = attachments
            .iter()
            .map(|a| a.download_code.0.as_str())
            .collect();
        assert_eq!(codes, ["p1", "p2"]);
        assert_eq!(attachments[1].label, "图片2");
    }

    #[test]
    fn a_picture_without_a_code_stays_a_placeholder() {
        let m = BotMessage::parse(&base(json!({"msgtype":"richText","content":{"richText":[
            {"text":"看 "},{"type":"picture"},{"text":" 这个"}]}})))
        .unwrap();
        assert_eq!(m.content, Content::Text("看 [图片] 这个".into()));
        let m = BotMessage::parse(&base(json!({"msgtype":"picture","content":{}}))).unwrap();
        assert_eq!(
            m.content,
            Content::Unsupported {
                msgtype: "picture".into()
            }
        );
    }

    #[test]
    fn video_audio_without_recognition_and_cards_stay_unsupported() {
        for t in ["video", "audio", "interactiveCard", "chatRecord"] {
            let m = BotMessage::parse(&base(json!({"msgtype":t,"content":{"downloadCode":"x"}})))
                .unwrap();
            assert_eq!(m.content, Content::Unsupported { msgtype: t.into() });
        }
        let m = BotMessage::parse(&base(
            json!({"msgtype":"audio","content":{"downloadCode":"x","recognition":" "}}),
        ))
        .unwrap();
        assert_eq!(
            m.content,
            Content::Unsupported {
                msgtype: "audio".into()
            }
        );
    }

    #[test]
    fn a_download_code_is_not_shown_by_debug() {
        let m = BotMessage::parse(&base(
            json!({"msgtype":"picture","content":{"downloadCode":"机密下载码"}}),
        ))
        .unwrap();
        let shown = format!("{m:?}");
        assert!(!shown.contains("机密下载码"), "{shown}");
        assert!(shown.contains("DownloadCode(5 chars)"), "{shown}");
    }
}
