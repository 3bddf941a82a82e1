//! `POST /media/upload?access_token=…&type=image|voice|video|file` (oapi, multipart field `media`): media the
//! app uploads, e.g. an image to show in an AI card (`![](@lADP…)`) or to send as `sampleImageMsg`.
//!
//! Documented behaviour ("上传媒体文件", open.dingtalk.com `upload-media-files`; docs/dingtalk.md, "Access
//! tokens"): the token is the `access_token` query parameter (v1.0 and `gettoken` tokens are
//! interchangeable), permission `qyapi_base`; `type` is `image` (≤ 20 MB; jpg, gif, png, bmp), `voice`
//! (≤ 2 MB; amr, mp3, wav), `video` (≤ 20 MB; mp4) or `file` (≤ 20 MB; doc, docx, xls, xlsx, ppt, pptx, zip,
//! pdf, rar) (limits in [`MediaConfig`](super::MediaConfig)); a bad `type` is errcode 40004 "不合法的媒体文件类型"
//! (the page's own note). The answer is the legacy shape, HTTP 200:
//! `{"errcode":0,"errmsg":"ok","media_id":"@lADP…","type":"image","created_at":<epoch ms>}` (as captured by
//! several clients, e.g. `created_at=1726589815213`); a bad token is errcode 40014 "不合法的access_token".
//!
//! Emulator choices where the page is silent (legacy codes from DingTalk's global errcode table, which
//! follows the WeChat-derived numbering the emulator already uses, e.g. 40035):
//! - `type` may also come as a form field (the page lists it in the body; clients send it in the URL);
//! - no `media` file part (or no multipart body) is errcode 41005 "缺少多媒体文件数据";
//! - a format outside the type's list is errcode 40005 "不合法的文件类型": the part's file name must end in
//!   one of the listed extensions (`jpeg` counts as jpg) and an image must also *be* one (PNG, JPEG, GIF or
//!   BMP by its first bytes);
//! - a file over the limit is errcode 40006 "不合法的文件大小";
//! - a missing or unknown token is errcode 40014; a token without `qyapi_base` is errcode 88 with
//!   `sub_code` "60011" "没有调用该接口的权限" (the documented legacy permission error); flow control is
//!   errcode 90018 and the monthly quota errcode 90020, as for the other legacy calls;
//! - `media_id`s start with `@lADP` (images, videos), `@lAXP` (voice) or `@lAz` (files), the prefixes seen
//!   in real answers, followed by URL-safe base64.
//!
//! Uploads are recorded ([`DingTalkEmulator::media`], bounded by
//! [`record_limit`](super::EmulatorConfig::record_limit)) and their bytes are served at the control path
//! `GET /__emulator/media/<media_id>`, so a simulator page can show an uploaded image.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{qps, quota, reply::Reply, state::Shared, ApiKind, DingTalkEmulator};
use crate::bounded::BoundedMap;

/// One uploaded media file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    /// The `media_id` answered.
    pub media_id: String,
    /// `image`, `voice`, `video` or `file`.
    pub media_type: String,
    /// Size in bytes.
    pub size: usize,
    /// The `Content-Type` of the multipart part, if it had one.
    pub content_type: Option<String>,
    /// The part's file name.
    pub file_name: Option<String>,
    /// When it was uploaded, in ms since the emulator started.
    pub at_ms: u64,
}

/// Uploaded media by id, oldest first (at most [`record_limit`](super::EmulatorConfig::record_limit)).
#[derive(Debug, Default)]
pub(crate) struct MediaStore {
    items: BoundedMap<String, (Media, Bytes)>,
}

impl MediaStore {
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Self {
            items: BoundedMap::new(limit),
        }
    }

    pub(crate) fn all(&self) -> Vec<Media> {
        self.items.values().map(|(m, _)| m.clone()).collect()
    }

    /// The bytes and content type to serve for `media_id`.
    pub(crate) fn content(&self, media_id: &str) -> Option<(String, Bytes)> {
        let (media, bytes) = self.items.get(media_id)?;
        let content_type = media
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into());
        Some((content_type, bytes.clone()))
    }
}

impl DingTalkEmulator {
    /// Every media upload accepted so far (the newest [`record_limit`](super::EmulatorConfig::record_limit)
    /// ones), in order. The bytes are served at `GET /__emulator/media/<media_id>`.
    pub fn media(&self) -> Vec<Media> {
        self.shared.lock().media.all()
    }

    /// The bytes of an uploaded media file.
    pub fn media_bytes(&self, media_id: &str) -> Option<Vec<u8>> {
        self.shared
            .lock()
            .media
            .content(media_id)
            .map(|(_, b)| b.to_vec())
    }
}

/// The multipart body of an upload, as read.
#[derive(Debug, Default)]
pub(crate) struct Upload {
    /// The `type` form field, if any.
    pub(crate) type_field: Option<String>,
    /// The `media` file part.
    pub(crate) media: Option<Part>,
    /// The body could not be read whole (larger than the read limit).
    pub(crate) too_large: bool,
}

/// The `media` part.
#[derive(Debug)]
pub(crate) struct Part {
    pub(crate) file_name: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) bytes: Bytes,
}

impl Upload {
    /// What the call record shows (no bytes).
    pub(crate) fn summary(&self, query: &Value) -> Value {
        let mut v = query.clone();
        if let Value::Object(map) = &mut v {
            if let Some(t) = &self.type_field {
                map.insert("typeField".into(), t.clone().into());
            }
            map.insert(
                "media".into(),
                match &self.media {
                    Some(p) => json!({ "fileName": p.file_name, "contentType": p.content_type, "size": p.bytes.len() }),
                    None => Value::Null,
                },
            );
        }
        v
    }
}

/// Reads a multipart body (`multer`); anything else yields an upload without a `media` part.
pub(crate) async fn read(content_type: Option<&str>, body: Bytes) -> Upload {
    let mut upload = Upload::default();
    let Some(boundary) = content_type.and_then(|ct| multer::parse_boundary(ct).ok()) else {
        return upload;
    };
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = multipart.next_field().await {
        let name = field.name().map(str::to_string);
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(|m| m.to_string());
        let Ok(bytes) = field.bytes().await else {
            break;
        };
        match name.as_deref() {
            Some("media") if upload.media.is_none() => {
                upload.media = Some(Part {
                    file_name,
                    content_type,
                    bytes,
                })
            }
            Some("type") => upload.type_field = Some(String::from_utf8_lossy(&bytes).into_owned()),
            _ => {}
        }
    }
    upload
}

/// Allowed extensions per type (DingTalk's lists; `jpeg` as jpg).
fn extensions(media_type: &str) -> &'static [&'static str] {
    match media_type {
        "image" => &["jpg", "jpeg", "gif", "png", "bmp"],
        "voice" => &["amr", "mp3", "wav"],
        "video" => &["mp4"],
        "file" => &[
            "doc", "docx", "xls", "xlsx", "ppt", "pptx", "zip", "pdf", "rar",
        ],
        _ => &[],
    }
}

/// True for PNG, JPEG, GIF and BMP data.
fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x89PNG\r\n\x1a\n")
        || bytes.starts_with(&[0xFF, 0xD8, 0xFF])
        || bytes.starts_with(b"GIF87a")
        || bytes.starts_with(b"GIF89a")
        || bytes.starts_with(b"BM")
}

/// Handles an upload (see the module docs for the order of checks and the codes).
pub(crate) fn upload(
    shared: &Shared,
    at_ms: u64,
    query: &Value,
    upload: &Upload,
    app_key: &mut Option<String>,
) -> Reply {
    let empty = Map::new;
    let token = query
        .get("access_token")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut inner = shared.lock();
    let now = shared.clock.now_ms();
    let Some(app) = inner.tokens.validate(token, now).map(str::to_string) else {
        return Reply::legacy(40014, "不合法的access_token", empty());
    };
    *app_key = Some(app.clone());
    if let Err(over) = quota::meter(shared, &mut inner.monthly, &app, at_ms) {
        return Reply::legacy(quota::OVER_QUOTA_ERRCODE, &over.message(), empty());
    }
    if let Err(rejected) = qps::admit(shared, &mut inner.qps, &app, ApiKind::MediaUpload, at_ms) {
        let msg = format!(
            "当前应用调用该接口次数超过了限制，处罚将在 {} 结束",
            rejected.until
        );
        return Reply::legacy(90018, &msg, empty());
    }
    if !shared
        .config
        .granted_scopes
        .iter()
        .any(|s| s == "qyapi_base")
    {
        let mut extra = Map::new();
        extra.insert("sub_code".into(), "60011".into());
        extra.insert("sub_msg".into(), "没有调用该接口的权限".into());
        extra.insert("request_id".into(), super::reply::new_request_id().into());
        return Reply::legacy(
            88,
            "ding talk error[subcode=60011,submsg=没有调用该接口的权限]",
            extra,
        );
    }
    let media_type = query
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| upload.type_field.clone())
        .unwrap_or_default();
    let config = &shared.config.media;
    let limit = match media_type.as_str() {
        "image" => config.max_image_bytes,
        "voice" => config.max_voice_bytes,
        "video" => config.max_video_bytes,
        "file" => config.max_file_bytes,
        _ => return Reply::legacy(40004, "不合法的媒体文件类型", empty()),
    };
    if upload.too_large {
        return Reply::legacy(40006, "不合法的文件大小", empty());
    }
    let Some(part) = &upload.media else {
        return Reply::legacy(41005, "缺少多媒体文件数据", empty());
    };
    let extension = part
        .file_name
        .as_deref()
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let format_ok = extensions(&media_type).contains(&extension.as_str())
        && (media_type != "image" || is_image(&part.bytes));
    if !format_ok {
        return Reply::legacy(40005, "不合法的文件类型", empty());
    }
    if part.bytes.len() > limit {
        return Reply::legacy(40006, "不合法的文件大小", empty());
    }
    let prefix = match media_type.as_str() {
        "voice" => "@lAXP",
        "file" => "@lAz",
        _ => "@lADP",
    };
    let media_id = format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
    );
    let media = Media {
        media_id: media_id.clone(),
        media_type: media_type.clone(),
        size: part.bytes.len(),
        content_type: part.content_type.clone(),
        file_name: part.file_name.clone(),
        at_ms,
    };
    inner
        .media
        .items
        .insert(media_id.clone(), (media, part.bytes.clone()));
    let mut extra = Map::new();
    extra.insert("media_id".into(), media_id.into());
    extra.insert("type".into(), media_type.into());
    extra.insert("created_at".into(), shared.clock.epoch_ms_at(at_ms).into());
    Reply::legacy(0, "ok", extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_the_media_part_and_the_type_field() {
        let body = "--b\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nimage\r\n--b\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n--b--\r\n";
        let u = read(Some("multipart/form-data; boundary=b"), Bytes::from(body)).await;
        assert_eq!(u.type_field.as_deref(), Some("image"));
        let p = u.media.unwrap();
        assert_eq!(p.file_name.as_deref(), Some("a.png"));
        assert_eq!(p.content_type.as_deref(), Some("image/png"));
        assert_eq!(p.bytes.as_ref(), b"PNGDATA");
        let none = read(Some("application/json"), Bytes::from("{}")).await;
        assert!(none.media.is_none());
    }

    #[test]
    fn image_formats_by_their_bytes() {
        assert!(is_image(b"\x89PNG\r\n\x1a\n..."));
        assert!(is_image(&[0xFF, 0xD8, 0xFF, 0xE0]));
        assert!(is_image(b"GIF89a"));
        assert!(!is_image(b"RIFF....WEBP"));
    }
}
