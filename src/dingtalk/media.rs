//! Uploading an image of the answer so a card can show it: `POST <oapi>/media/upload?type=image`
//! with the access token as the `access_token` query parameter (the v1.0 token is accepted
//! there) and the image as the multipart part `media` (`docs/dingtalk.md`, "Media upload").
//! DingTalk answers the legacy shape `{"errcode":0,…,"media_id":"@lADP…"}`; a card shows the
//! image as `![alt](@lADP…)`.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use backon::Retryable;
use reqwest::multipart::{Form, Part};
use reqwest::Url;
use serde_json::Value;

use super::caller::Caller;
use super::client::DingTalkClient;
use super::error::DingTalkError;
use super::messages::classify_webhook;
use super::stats::CallKind;

/// Legacy errcodes that say the access token is not (or no longer) valid.
const TOKEN_ERRCODES: [i64; 2] = [40014, 42001];

/// One image to upload.
#[derive(Debug, Clone)]
pub(crate) struct UploadImage<'a> {
    /// The image's bytes (PNG, JPEG, GIF or BMP).
    pub(crate) bytes: &'a [u8],
    /// Its MIME type, e.g. `image/png`.
    pub(crate) mime: &'a str,
    /// The file extension DingTalk checks, e.g. `png`.
    pub(crate) extension: &'a str,
}

/// How a media-upload answer reads: a legacy answer, whose token errcodes are typed as a
/// rejected token (so the token is refreshed once).
fn classify_upload(status: u16, body: &str) -> Result<Value, DingTalkError> {
    match classify_webhook(status, body) {
        Err(DingTalkError::Business { errcode, errmsg }) if TOKEN_ERRCODES.contains(&errcode) => {
            Err(DingTalkError::Token(format!("errcode {errcode}: {errmsg}")))
        }
        other => other,
    }
}

impl DingTalkClient {
    /// Uploads `image`; answers its `media_id`. One attempt (retries are the caller's
    /// [`Retry`](super::Retry)); a rejected token is refreshed and the upload sent once more.
    pub(crate) async fn upload_image(
        &self,
        caller: &Caller<'_>,
        image: &UploadImage<'_>,
    ) -> Result<String, DingTalkError> {
        let url = &format!("{}/media/upload", self.oapi_base);
        let first_attempt = &AtomicBool::new(true);
        let v = (|| async move {
            let token = self.token(caller).await?;
            let part = Part::bytes(image.bytes.to_vec())
                .file_name(format!("image.{}", image.extension))
                .mime_str(image.mime)
                .map_err(|_| DingTalkError::Refused(format!("bad MIME type {}", image.mime)))?;
            let mut url = Url::parse(url).map_err(|_| {
                DingTalkError::Refused("dingtalk.oapi_base_url is not a URL".into())
            })?;
            url.query_pairs_mut()
                .append_pair("access_token", token.expose())
                .append_pair("type", "image");
            let request = self
                .http
                .post(url)
                .multipart(Form::new().part("media", part));
            let result = self
                .send(CallKind::MediaUpload, caller, request, classify_upload)
                .await;
            if matches!(result, Err(DingTalkError::Token(_))) && first_attempt.swap(false, Relaxed)
            {
                self.tokens.invalidate(&token).await;
            }
            result
        })
        .retry(crate::retry::token_refresh())
        .when(|e| matches!(e, DingTalkError::Token(_)))
        .await?;
        v.get("media_id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| DingTalkError::Other {
                status: 200,
                code: "media_id".into(),
                message: "media/upload answered without a media_id".into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_answers_are_classified() {
        let ok = classify_upload(
            200,
            r#"{"errcode":0,"errmsg":"ok","media_id":"@lADPabc","type":"image"}"#,
        )
        .unwrap();
        assert_eq!(ok["media_id"], "@lADPabc");
        assert!(matches!(
            classify_upload(200, r#"{"errcode":40014,"errmsg":"不合法的access_token"}"#),
            Err(DingTalkError::Token(_))
        ));
        let too_big =
            classify_upload(200, r#"{"errcode":40006,"errmsg":"不合法的文件大小"}"#).unwrap_err();
        assert!(!too_big.is_retryable());
        assert!(classify_upload(200, r#"{"errcode":90018,"errmsg":"x"}"#)
            .unwrap_err()
            .is_qps_limit());
    }
}
