//! Files users send to the robot: `downloadCode` → temporary URL → bytes.
//!
//! * [`DingTalkEmulator::add_file`] registers bytes and returns the `downloadCode` a picture, file or
//!   rich-text message carries ([`Content::PictureCode`](crate::event::Content::PictureCode), …).
//! * `POST /v1.0/robot/messageFiles/download {downloadCode, robotCode}` (token header; permission
//!   `qyapi_robot_sendmsg`, metered and flow-controlled like every token call; DingTalk page
//!   "download-the-file-content-of-the-robot-receiving-message") → `{"downloadUrl":"http://127.0.0.1:PORT/oss/…"}`.
//! * `GET` on that URL is a plain request to the storage (Alibaba OSS at DingTalk), without a token: the
//!   URL is an OSS v1 signed URL, `?Expires=<epoch s>&OSSAccessKeyId=…&Signature=…` with
//!   `Signature = Base64(HMAC-SHA1(secret, "GET\n" + Content-MD5 + "\n" + Content-Type + "\n" + Expires +
//!   "\n/" + bucket + "/" + object))` (OSS "Add signatures to URLs"). So, as at OSS, a request that adds a
//!   `Content-Type` (or `Content-MD5`) header changes the string to sign and is refused with HTTP 403 and
//!   OSS's XML `SignatureDoesNotMatch` body (a DingTalk plugin broke this way: a default
//!   `Content-Type: application/json` on its HTTP client, DingTalk-Real-AI/dingtalk-openclaw-connector PR
//!   #300). After `Expires` the answer is 403 `AccessDenied` "Request has expired.".
//!
//! Emulator choices where DingTalk is silent:
//! - an unknown `downloadCode` (never registered, e.g. the code invented for a
//!   [`Content::Picture`](crate::event::Content::Picture), or evicted by
//!   [`record_limit`](super::EmulatorConfig::record_limit)) is HTTP 400 `invalidParameter.downloadCode.invalid`,
//!   an empty one `invalidParameter.downloadCode.empty`, and a missing or foreign `robotCode`
//!   `invalidParameter.robotCode.empty` / `invalidParameter.robotCode.invalid`: the `invalidParameter.<field>.<problem>`
//!   family the robot APIs use for their own parameters (docs/dingtalk.md, "Plain replies"); the real codes
//!   are unpublished;
//! - download codes do not expire; a URL lives [`MediaConfig::download_url_ttl`](super::MediaConfig::download_url_ttl)
//!   (60 s by default: DingTalk publishes no lifetime, so a short one catches clients that keep URLs);
//! - the file `GET` is recorded as an [`ApiKind::MessageFileGet`] call, is neither metered nor flow-controlled
//!   (it is storage traffic, not an OpenAPI call), and takes only faults that name
//!   [`ApiKind::MessageFileGet`]: a [`Latency`](super::FaultResponse::Latency) delays the answer (to test a
//!   client's download timeout), `ServerError` is 500 `InternalError`, `QpsLimit` 503 `ServiceUnavailable`
//!   and the two gateway timeouts 504, all in OSS's XML shape.

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{header, request::Parts, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha1::Sha1;

use super::{
    fault::FaultResponse,
    params::optional_str,
    reply::{new_request_id, ApiError},
    robot::check_robot_code,
    state::{Inner, Shared},
    ApiKind, Call, DingTalkEmulator,
};
use crate::bounded::BoundedMap;

/// Path prefix of the storage URLs.
pub(crate) const OSS_PREFIX: &str = "/oss/";
/// The bucket the emulator's storage URLs name.
const BUCKET: &str = "dingtalk-emulator-files";
/// The access key id in the storage URLs.
const ACCESS_KEY_ID: &str = "LTAI5tEmulatorFileKey00";

/// One registered file.
#[derive(Debug, Clone)]
struct StoredFile {
    /// Object key inside the bucket (`robot/<id>`).
    object: String,
    content_type: String,
    bytes: Bytes,
}

/// Registered files by `downloadCode` (at most [`record_limit`](super::EmulatorConfig::record_limit);
/// the oldest go first), plus the object key → code index of the storage.
#[derive(Debug)]
pub(crate) struct FileStore {
    by_code: BoundedMap<String, StoredFile>,
    by_object: std::collections::HashMap<String, String>,
    /// The storage's signing secret (random per emulator).
    secret: String,
}

impl FileStore {
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Self {
            by_code: BoundedMap::new(limit),
            by_object: std::collections::HashMap::new(),
            secret: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    /// Registers a file; returns its download code.
    fn add(&mut self, content_type: &str, bytes: Bytes) -> String {
        let code = new_download_code();
        let object = format!("robot/{}", uuid::Uuid::new_v4().simple());
        self.by_object.insert(object.clone(), code.clone());
        let file = StoredFile {
            object,
            content_type: content_type.to_string(),
            bytes,
        };
        for (_, evicted) in self.by_code.insert(code.clone(), file) {
            self.by_object.remove(&evicted.object);
        }
        code
    }

    fn signature(
        &self,
        content_md5: &str,
        content_type: &str,
        expires: &str,
        object: &str,
    ) -> String {
        let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(self.secret.as_bytes())
            .expect("HMAC takes any key length");
        mac.update(string_to_sign(content_md5, content_type, expires, object).as_bytes());
        B64.encode(mac.finalize().into_bytes())
    }
}

fn string_to_sign(content_md5: &str, content_type: &str, expires: &str, object: &str) -> String {
    format!("GET\n{content_md5}\n{content_type}\n{expires}\n/{BUCKET}/{object}")
}

/// A download code in DingTalk's form (long, base64 with `+`, `/` and `=`).
fn new_download_code() -> String {
    let bytes: Vec<u8> = (0..4)
        .flat_map(|_| *uuid::Uuid::new_v4().as_bytes())
        .collect();
    B64.encode(bytes)
}

impl DingTalkEmulator {
    /// Registers a file a user sends to the robot and returns its `downloadCode`, for
    /// [`Content::PictureCode`](crate::event::Content::PictureCode),
    /// [`Content::FileCode`](crate::event::Content::FileCode),
    /// [`RichPart::PictureCode`](crate::event::RichPart::PictureCode) and the quoted variants.
    /// `POST /v1.0/robot/messageFiles/download` turns the code into a temporary URL that serves `bytes`
    /// with `Content-Type: content_type`. `name` is only for the message (`fileName`); the storage does
    /// not know it. Bounded by [`record_limit`](super::EmulatorConfig::record_limit).
    pub fn add_file(&self, name: &str, content_type: &str, bytes: Vec<u8>) -> String {
        let _ = name;
        self.shared
            .lock()
            .files
            .add(content_type, Bytes::from(bytes))
    }
}

/// Registers a file (control API).
pub(crate) fn add(shared: &Shared, content_type: &str, bytes: Vec<u8>) -> String {
    shared.lock().files.add(content_type, Bytes::from(bytes))
}

/// `POST /v1.0/robot/messageFiles/download {downloadCode, robotCode}` → `{"downloadUrl"}` (see the module
/// docs for the error codes).
pub(crate) fn download_url(
    shared: &Shared,
    inner: &mut Inner,
    at_ms: u64,
    body: &Value,
) -> Result<Value, ApiError> {
    let code = optional_str(body, "downloadCode")?.unwrap_or_default();
    if code.is_empty() {
        return Err(ApiError::param(
            "invalidParameter.downloadCode.empty",
            "downloadCode is empty",
        ));
    }
    check_robot_code(shared, body)?;
    let Some(file) = inner.files.by_code.get(code) else {
        return Err(ApiError::param(
            "invalidParameter.downloadCode.invalid",
            "downloadCode is invalid",
        ));
    };
    let ttl_s = shared.config.media.download_url_ttl.as_secs().max(1);
    let expires = (shared.clock.epoch_ms_at(at_ms) / 1000 + ttl_s as i64).to_string();
    let signature = inner.files.signature("", "", &expires, &file.object);
    let url = format!(
        "{}{OSS_PREFIX}{BUCKET}/{}?Expires={expires}&OSSAccessKeyId={ACCESS_KEY_ID}&Signature={}",
        shared.base_url(),
        file.object,
        percent_encode(&signature)
    );
    Ok(json!({ "downloadUrl": url }))
}

/// Percent-encodes everything but unreserved characters (so `+`, `/`, `=` survive form decoding).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Answers a `GET /oss/<bucket>/<object>?Expires=&OSSAccessKeyId=&Signature=` and records it. The work
/// runs in its own task, so a client that gives up (a download timeout) still leaves a record, with the
/// `took_ms` it would have taken.
pub(crate) async fn serve(shared: &Arc<Shared>, parts: Parts) -> Response {
    let task = tokio::spawn(serve_recorded(shared.clone(), parts));
    task.await
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn serve_recorded(shared: Arc<Shared>, parts: Parts) -> Response {
    let (shared, parts) = (&shared, &parts);
    let at_ms = shared.clock.now_ms();
    let seq = shared.next_seq();
    let query = super::dispatch::query_object(&parts.uri);
    let request_id = new_request_id().replace('-', "");
    let fault = shared.lock().faults.take(ApiKind::MessageFileGet);
    let answer = match fault {
        Some(FaultResponse::Latency(delay)) => {
            tokio::time::sleep(delay).await;
            get(shared, parts, &query, &request_id)
        }
        Some(FaultResponse::ServerError) => oss_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
            &request_id,
            &[],
        ),
        Some(FaultResponse::QpsLimit) => oss_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "Please reduce your request rate.",
            &request_id,
            &[],
        ),
        Some(FaultResponse::GatewayTimeout | FaultResponse::AppliedGatewayTimeout) => {
            Answer::error(StatusCode::GATEWAY_TIMEOUT, "GatewayTimeout", Body::empty())
        }
        None => get(shared, parts, &query, &request_id),
    };
    let call = Call {
        seq,
        at_ms,
        took_ms: shared.clock.now_ms().saturating_sub(at_ms),
        kind: ApiKind::MessageFileGet,
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        status: answer.status.as_u16(),
        error_code: answer.error_code.clone(),
        request: query,
        out_track_id: None,
        app_key: None,
    };
    shared.record(call);
    let mut response = (answer.status, answer.body).into_response();
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-oss-request-id", v);
    }
    response
}

/// A storage answer before it is rendered.
struct Answer {
    status: StatusCode,
    error_code: Option<String>,
    headers: Vec<(header::HeaderName, String)>,
    body: Body,
}

impl Answer {
    fn error(status: StatusCode, code: &str, body: Body) -> Self {
        Self {
            status,
            error_code: Some(code.to_string()),
            headers: Vec::new(),
            body,
        }
    }
}

fn get(shared: &Shared, parts: &Parts, query: &Value, request_id: &str) -> Answer {
    if parts.method != "GET" && parts.method != "HEAD" {
        return oss_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            request_id,
            &[],
        );
    }
    let q = |name: &str| {
        query
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (expires, key_id, provided) = (q("Expires"), q("OSSAccessKeyId"), q("Signature"));
    let object = parts
        .uri
        .path()
        .strip_prefix(OSS_PREFIX)
        .and_then(|p| p.strip_prefix(BUCKET))
        .and_then(|p| p.strip_prefix('/'))
        .unwrap_or_default()
        .to_string();
    if expires.is_empty() || key_id.is_empty() || provided.is_empty() {
        return oss_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "You have no right to access this object because of bucket acl.",
            request_id,
            &[],
        );
    }
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default()
    };
    let (content_md5, content_type) = (
        header(header::HeaderName::from_static("content-md5")),
        header(header::CONTENT_TYPE),
    );
    let inner = shared.lock();
    let expected = inner
        .files
        .signature(&content_md5, &content_type, &expires, &object);
    if key_id != ACCESS_KEY_ID || provided != expected {
        let to_sign = string_to_sign(&content_md5, &content_type, &expires, &object);
        let bytes: Vec<String> = to_sign.bytes().map(|b| format!("{b:02X}")).collect();
        return oss_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            request_id,
            &[
                ("OSSAccessKeyId", key_id),
                ("SignatureProvided", provided),
                ("StringToSign", to_sign),
                ("StringToSignBytes", bytes.join(" ")),
            ],
        );
    }
    let now_s = shared.clock.epoch_now() / 1000;
    match expires.parse::<i64>() {
        Ok(e) if now_s <= e => {}
        _ => {
            return oss_error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "Request has expired.",
                request_id,
                &[
                    ("Expires", iso8601(expires.parse().unwrap_or(0))),
                    ("ServerTime", iso8601(now_s)),
                ],
            )
        }
    }
    let file = inner
        .files
        .by_object
        .get(&object)
        .and_then(|code| inner.files.by_code.get(code));
    let Some(file) = file else {
        return oss_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
            request_id,
            &[("Key", object)],
        );
    };
    let body = if parts.method == "HEAD" {
        Body::empty()
    } else {
        Body::from(file.bytes.clone())
    };
    Answer {
        status: StatusCode::OK,
        error_code: None,
        headers: vec![
            (header::CONTENT_TYPE, file.content_type.clone()),
            (header::CONTENT_LENGTH, file.bytes.len().to_string()),
        ],
        body,
    }
}

/// OSS's XML error body (Alibaba Cloud OSS, "Troubleshoot signature errors").
fn oss_error(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
    extra: &[(&str, String)],
) -> Answer {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>{code}</Code>\n  <Message>{}</Message>\n  <RequestId>{request_id}</RequestId>\n  <HostId>{BUCKET}.oss-cn-hangzhou.aliyuncs.com</HostId>\n",
        xml_escape(message)
    );
    for (name, value) in extra {
        xml.push_str(&format!("  <{name}>{}</{name}>\n", xml_escape(value)));
    }
    xml.push_str("</Error>\n");
    Answer {
        status,
        error_code: Some(code.to_string()),
        headers: vec![(header::CONTENT_TYPE, "application/xml".to_string())],
        body: Body::from(xml),
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\n', "\\n")
}

/// `2026-01-22T15:49:20.000Z` for epoch seconds.
fn iso8601(epoch_s: i64) -> String {
    let days = epoch_s.div_euclid(86_400);
    let secs = epoch_s.rem_euclid(86_400);
    let (y, m, d) = crate::clock::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The default lifetime of a download URL.
pub(crate) const DEFAULT_URL_TTL: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_content_type_and_expiry() {
        let store = FileStore::new(None);
        let a = store.signature("", "", "100", "robot/x");
        assert_eq!(a, store.signature("", "", "100", "robot/x"));
        assert_ne!(a, store.signature("", "application/json", "100", "robot/x"));
        assert_ne!(a, store.signature("", "", "101", "robot/x"));
        assert_eq!(
            string_to_sign("", "text/plain", "7", "robot/x"),
            "GET\n\ntext/plain\n7\n/dingtalk-emulator-files/robot/x"
        );
    }

    #[test]
    fn percent_encoding_keeps_base64_intact() {
        assert_eq!(percent_encode("a+b/c=="), "a%2Bb%2Fc%3D%3D");
        assert_eq!(iso8601(1_642_866_560), "2022-01-22T15:49:20.000Z");
    }
}
