//! Images in `/v1/chat/completions` requests, read as the real gateway reads them.
//!
//! Source: openclaw `src/gateway/openai-http.ts` and `src/media/input-files.ts` (the version with image
//! support, openclaw/openclaw commit 00f34750757a): only the *active turn* counts, the last message whose
//! role is `user` or `tool` (`function` counts as `tool`); if it is a `user` message, its content parts
//! of `type` `image_url` give the images, `image_url` being a string or `{"url": string}` (trimmed; an empty
//! one is skipped). Images of earlier turns are not replayed. Other parts are ignored (text comes from
//! `text`/`input_text` parts). Then, in order:
//! - more than 8 image parts, a `data:` URL without `;base64`, with an empty payload, with a media type
//!   outside `image/jpeg`, `image/png`, `image/gif`, `image/webp` (no media type means `image/png`), an
//!   image over 10 MiB decoded, 20 MiB in total, or any non-`data:` URL while URL sources are off (the
//!   default, `images.allowUrl: false`) refuses the request: HTTP 400
//!   `{"error":{"message":"Invalid image_url content in \`messages\`.","type":"invalid_request_error"}}`;
//! - a request with images but no text is valid: the active user turn reads
//!   "User sent image(s) with no text.".
//!
//! Base64 is decoded as Node's `Buffer.from(s, "base64")` does: standard and URL-safe alphabets,
//! other characters skipped, decoding stops at `=`. With [`allow_image_urls`](super::FakeGatewayConfig::allow_image_urls)
//! an `http(s)` URL is fetched (10 s, at most 3 redirects, 10 MiB) and its `Content-Type` must be an
//! allowed image type, as the gateway does with `allowUrl: true`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The placeholder text of an image-only active user turn.
pub(crate) const IMAGE_ONLY_USER_MESSAGE: &str = "User sent image(s) with no text.";

const MAX_IMAGE_PARTS: usize = 8;
const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;
const MAX_TOTAL_IMAGE_BYTES: usize = 20 * 1024 * 1024;
const ALLOWED_MIMES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// How an image was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageUrlKind {
    /// A `data:<type>;base64,<data>` URL.
    DataUrl,
    /// An `http(s)` URL the fake fetched ([`allow_image_urls`](super::FakeGatewayConfig::allow_image_urls)).
    Url,
}

/// One image of a request's active user turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagePart {
    /// The media type (`image/png`, …).
    pub media_type: String,
    /// Decoded size in bytes.
    pub size: usize,
    /// SHA-256 of the decoded bytes, lower-case hex (to check that a picture arrived intact).
    pub sha256: String,
    /// Data URL or fetched URL.
    pub url_kind: ImageUrlKind,
}

/// The refusal message of any malformed image.
pub(crate) const INVALID_IMAGE: &str = "Invalid image_url content in `messages`.";

/// The image URLs of the active turn (empty when it is not a user message).
pub(crate) fn active_turn_urls(body: &Value) -> Vec<String> {
    let Some(list) = body.get("messages").and_then(Value::as_array) else {
        return Vec::new();
    };
    let active = list.iter().rev().find_map(|m| {
        let role = m.get("role")?.as_str()?.trim();
        match role {
            "user" => Some(Some(m)),
            "tool" | "function" => Some(None),
            _ => None,
        }
    });
    let Some(Some(message)) = active else {
        return Vec::new();
    };
    let Some(parts) = message.get("content").and_then(Value::as_array) else {
        return Vec::new();
    };
    parts
        .iter()
        .filter(|p| p.get("type").and_then(Value::as_str) == Some("image_url"))
        .filter_map(|p| {
            let url = match p.get("image_url")? {
                Value::String(s) => s.as_str(),
                Value::Object(o) => o.get("url")?.as_str()?,
                _ => return None,
            };
            let url = url.trim();
            (!url.is_empty()).then(|| url.to_string())
        })
        .collect()
}

/// Resolves the active turn's images; `Err(())` is the gateway's 400 refusal.
pub(crate) async fn resolve(body: &Value, allow_urls: bool) -> Result<Vec<ImagePart>, ()> {
    let urls = active_turn_urls(body);
    if urls.len() > MAX_IMAGE_PARTS {
        return Err(());
    }
    let mut images = Vec::new();
    let mut total = 0usize;
    for url in urls {
        let (media_type, bytes, kind) = match parse_data_url(&url) {
            Some(data) => {
                let (media_type, bytes) = data?;
                (media_type, bytes, ImageUrlKind::DataUrl)
            }
            None if allow_urls => {
                let (media_type, bytes) = fetch(&url).await?;
                (media_type, bytes, ImageUrlKind::Url)
            }
            None => return Err(()),
        };
        if !ALLOWED_MIMES.contains(&media_type.as_str()) || bytes.len() > MAX_IMAGE_BYTES {
            return Err(());
        }
        total += bytes.len();
        if total > MAX_TOTAL_IMAGE_BYTES {
            return Err(());
        }
        images.push(ImagePart {
            media_type,
            size: bytes.len(),
            sha256: hex(&Sha256::digest(&bytes)),
            url_kind: kind,
        });
    }
    Ok(images)
}

/// Lenient reading for upstream mode: the images of the active turn that parse, nothing refused.
pub(crate) fn lenient(body: &Value) -> Vec<ImagePart> {
    active_turn_urls(body)
        .iter()
        .filter_map(|u| parse_data_url(u)?.ok())
        .map(|(media_type, bytes)| ImagePart {
            media_type,
            size: bytes.len(),
            sha256: hex(&Sha256::digest(&bytes)),
            url_kind: ImageUrlKind::DataUrl,
        })
        .collect()
}

/// `None` when `url` is not a `data:` URL; else its media type and bytes, or `Err` when malformed.
#[allow(clippy::type_complexity)]
fn parse_data_url(url: &str) -> Option<Result<(String, Vec<u8>), ()>> {
    if !url
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("data:"))
    {
        return None;
    }
    let Some((metadata, data)) = url[5..].split_once(',') else {
        return Some(Err(()));
    };
    let parts: Vec<&str> = metadata
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if !parts.iter().any(|p| p.eq_ignore_ascii_case("base64")) || data.trim().is_empty() {
        return Some(Err(()));
    }
    let media_type = parts
        .iter()
        .find(|p| p.contains('/'))
        .map(|p| p.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "image/png".into());
    Some(Ok((media_type, node_base64(data))))
}

/// Decodes base64 as Node's `Buffer.from(s, "base64")`: both alphabets, other characters skipped, stops
/// at the first `=`.
pub(crate) fn node_base64(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

async fn fetch(url: &str) -> Result<(String, Vec<u8>), ()> {
    let parsed = reqwest::Url::parse(url).map_err(|_| ())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(());
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .map_err(|_| ())?;
    let response = client.get(parsed).send().await.map_err(|_| ())?;
    if !response.status().is_success() {
        return Err(());
    }
    let media_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "application/octet-stream".into());
    let bytes = response.bytes().await.map_err(|_| ())?;
    Ok((media_type, bytes.to_vec()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `tokens` after the words of [`describe`] (English: and a space; Chinese: and a blank line, so
/// the sentence is a paragraph of its own); unchanged without images.
pub(crate) fn with_description(
    images: &[ImagePart],
    language: ImageDescription,
    tokens: Vec<String>,
) -> Vec<String> {
    if images.is_empty() {
        return tokens;
    }
    let gap = match language {
        ImageDescription::English => " ",
        ImageDescription::Chinese => "\n\n",
    };
    let mut all = super::reply_text::word_tokens(&format!("{}{gap}", describe(images, language)));
    all.extend(tokens);
    all
}

/// The language of the sentence that describes a request's images at the start of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageDescription {
    /// `I received 1 image: image/png, 12 345 bytes.` (sizes with a space every three digits).
    #[default]
    English,
    /// `我看到了 1 张图片：image/png，12.1 KB（sha256 前 8 位 3f2a9c01）。`: sizes in bytes (字节)
    /// below 1 KiB, else in KB or MB (1024-based, one decimal), and the first 8 hex digits of each
    /// image's SHA-256, so a reader can tell which picture arrived.
    Chinese,
}

/// The sentence describing `images` (not empty) in `language` (see [`ImageDescription`]).
pub(crate) fn describe(images: &[ImagePart], language: ImageDescription) -> String {
    match language {
        ImageDescription::English => {
            let list: Vec<String> = images
                .iter()
                .map(|i| format!("{}, {} bytes", i.media_type, grouped(i.size)))
                .collect();
            let noun = if images.len() == 1 { "image" } else { "images" };
            format!("I received {} {noun}: {}.", images.len(), list.join("; "))
        }
        ImageDescription::Chinese => {
            let list: Vec<String> = images
                .iter()
                .map(|i| {
                    let prefix: String = i.sha256.chars().take(8).collect();
                    format!(
                        "{}，{}（sha256 前 8 位 {prefix}）",
                        i.media_type,
                        size_zh(i.size)
                    )
                })
                .collect();
            format!("我看到了 {} 张图片：{}。", images.len(), list.join("；"))
        }
    }
}

/// `104 字节`, `1.2 KB`, `3.4 MB` (1024-based, one decimal).
fn size_zh(n: usize) -> String {
    const KIB: f64 = 1024.0;
    let bytes = n as f64;
    if n < 1024 {
        format!("{n} 字节")
    } else if bytes < KIB * KIB {
        format!("{:.1} KB", bytes / KIB)
    } else {
        format!("{:.1} MB", bytes / (KIB * KIB))
    }
}

fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64_like_node() {
        assert_eq!(node_base64("aGVsbG8="), b"hello");
        assert_eq!(node_base64("aGVs\nbG8"), b"hello");
        assert_eq!(node_base64("aGVs!!bG8"), b"hello", "junk is skipped");
        assert_eq!(node_base64("_-8"), [0xff, 0xef]);
    }

    #[test]
    fn only_the_active_user_turn_counts() {
        let img = |u: &str| json!({"type": "image_url", "image_url": {"url": u}});
        let body = json!({"messages": [
            {"role": "user", "content": [img("data:image/png;base64,AAAA")]},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "x"}, img(" data:image/gif;base64,R0lG "), {"type": "image_url", "image_url": "  "}]},
            {"role": "system", "content": "s"}]});
        assert_eq!(active_turn_urls(&body), ["data:image/gif;base64,R0lG"]);
        let tool_last = json!({"messages": [{"role": "user", "content": [img("data:x")]}, {"role": "function", "content": "r"}]});
        assert!(active_turn_urls(&tool_last).is_empty());
    }

    #[test]
    fn data_urls() {
        assert_eq!(
            parse_data_url("data:image/PNG;base64,aGk=")
                .unwrap()
                .unwrap(),
            ("image/png".to_string(), b"hi".to_vec())
        );
        assert_eq!(
            parse_data_url("data:;base64,aGk=").unwrap().unwrap().0,
            "image/png"
        );
        assert!(
            parse_data_url("data:image/png,aGk=").unwrap().is_err(),
            "not base64"
        );
        assert!(
            parse_data_url("data:image/png;base64,  ").unwrap().is_err(),
            "empty"
        );
        assert!(parse_data_url("https://x/y.png").is_none());
    }

    #[test]
    fn descriptions() {
        let part = |t: &str, size, sha: &str| ImagePart {
            media_type: t.into(),
            size,
            sha256: sha.into(),
            url_kind: ImageUrlKind::DataUrl,
        };
        let en = ImageDescription::English;
        assert_eq!(
            describe(&[part("image/png", 12_345, "")], en),
            "I received 1 image: image/png, 12 345 bytes."
        );
        assert_eq!(
            describe(
                &[
                    part("image/png", 999, ""),
                    part("image/jpeg", 1_234_567, "")
                ],
                en
            ),
            "I received 2 images: image/png, 999 bytes; image/jpeg, 1 234 567 bytes."
        );
        let zh = ImageDescription::Chinese;
        assert_eq!(
            describe(&[part("image/png", 1_229, "3f2a9c01deadbeef")], zh),
            "我看到了 1 张图片：image/png，1.2 KB（sha256 前 8 位 3f2a9c01）。"
        );
        assert_eq!(
            describe(
                &[
                    part("image/gif", 104, "0123456789abcdef"),
                    part("image/webp", 3_565_158, "fedcba9876543210")
                ],
                zh
            ),
            "我看到了 2 张图片：image/gif，104 字节（sha256 前 8 位 01234567）；\
             image/webp，3.4 MB（sha256 前 8 位 fedcba98）。"
        );
        assert_eq!(size_zh(1023), "1023 字节");
        assert_eq!(size_zh(1024), "1.0 KB");
        let tokens = with_description(
            &[part("image/png", 104, "0123456789abcdef")],
            zh,
            vec!["你好".into()],
        );
        assert_eq!(
            tokens.concat(),
            "我看到了 1 张图片：image/png，104 字节（sha256 前 8 位 01234567）。\n\n你好"
        );
        assert_eq!(with_description(&[], zh, vec!["你好".into()]), ["你好"]);
    }
}
