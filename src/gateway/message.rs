//! The user message of a request: its text and the pictures sent with it, in the OpenAI chat
//! format the gateway reads (`docs/gateway.md`, "Pictures"): a plain string without pictures;
//! with pictures, an array of the text part first and one `image_url` part per picture,
//! each a base64 `data:` URL (the gateway refuses remote URLs unless configured to fetch
//! them).

use base64::Engine;
use serde_json::{json, Value};

/// The user message: text, then pictures in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserMessage {
    /// What the model reads.
    pub text: String,
    /// The pictures, in the order the text names them.
    pub images: Vec<ImagePart>,
}

impl UserMessage {
    /// A message of text only.
    pub fn text(text: impl Into<String>) -> UserMessage {
        UserMessage {
            text: text.into(),
            images: Vec::new(),
        }
    }

    /// The message's `content`: the text as a string, or with pictures the parts array
    /// (text part first).
    pub fn content(&self) -> Value {
        if self.images.is_empty() {
            return Value::String(self.text.clone());
        }
        let mut parts = vec![json!({"type": "text", "text": self.text})];
        parts.extend(
            self.images
                .iter()
                .map(|image| json!({"type": "image_url", "image_url": {"url": image.data_url}})),
        );
        Value::Array(parts)
    }
}

impl From<&str> for UserMessage {
    fn from(text: &str) -> UserMessage {
        UserMessage::text(text)
    }
}

/// One picture as a `data:` URL. `Debug` shows its type and size, not the data.
#[derive(Clone, PartialEq, Eq)]
pub struct ImagePart {
    /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
    pub media_type: &'static str,
    /// The picture's size in bytes (before base64).
    pub bytes: usize,
    /// `data:<media_type>;base64,<data>`.
    data_url: String,
}

impl ImagePart {
    /// The picture `data` of type `media_type`.
    pub fn new(media_type: &'static str, data: &[u8]) -> ImagePart {
        let mut data_url = format!("data:{media_type};base64,");
        base64::engine::general_purpose::STANDARD.encode_string(data, &mut data_url);
        ImagePart {
            media_type,
            bytes: data.len(),
            data_url,
        }
    }
}

impl std::fmt::Debug for ImagePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ImagePart({}, {} bytes)", self.media_type, self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_alone_stays_a_plain_string() {
        assert_eq!(
            UserMessage::text("你好，帮我看看").content(),
            json!("你好，帮我看看")
        );
    }

    #[test]
    fn pictures_follow_the_text_part_as_base64_data_urls() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let message = UserMessage {
            text: "[DingTalk 1:1 | 小张]\n这张图里是什么？[图片]".into(),
            images: vec![
                ImagePart::new("image/png", png),
                ImagePart::new("image/jpeg", b"\xff\xd8\xff\xe0"),
            ],
        };
        assert_eq!(
            message.content(),
            json!([
                {"type": "text", "text": "[DingTalk 1:1 | 小张]\n这张图里是什么？[图片]"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="}},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4A=="}},
            ])
        );
        assert_eq!(
            format!("{:?}", message.images[0]),
            "ImagePart(image/png, 16 bytes)"
        );
    }
}
