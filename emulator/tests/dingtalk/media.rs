//! `POST /media/upload` (oapi, multipart): limits, legacy error codes, the record and the control path
//! that serves the bytes.

use openclaw_dingtalk_emulator::dingtalk::{ApiKind, EmulatorConfig, MediaConfig};
use serde_json::Value;

use crate::common::{client, Dt};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

/// A `media` part: file name, content type, bytes.
type File<'a> = (&'a str, &'a str, &'a [u8]);

/// A multipart body with an optional `type` field and a `media` part.
fn multipart(type_field: Option<&str>, media: Option<File>) -> (String, Vec<u8>) {
    let boundary = "----emulatortestboundary";
    let mut body = Vec::new();
    if let Some(t) = type_field {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\n{t}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, content_type, bytes)) = media {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(dt: &Dt, query: &str, type_field: Option<&str>, media: Option<File<'_>>) -> Value {
    let (content_type, body) = multipart(type_field, media);
    let resp = client()
        .post(dt.url(&format!("/media/upload?{query}")))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "legacy answers are HTTP 200");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn an_image_upload_answers_a_media_id_and_is_served_back() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let query = format!("access_token={}&type=image", dt.token);
    let answer = upload(&dt, &query, None, Some(("chart.png", "image/png", PNG))).await;
    assert_eq!(answer["errcode"], 0, "{answer}");
    assert_eq!(answer["errmsg"], "ok");
    assert_eq!(answer["type"], "image");
    let media_id = answer["media_id"].as_str().unwrap();
    assert!(media_id.starts_with("@lADP"), "{media_id}");
    assert!(answer["created_at"].as_i64().unwrap() > 1_600_000_000_000);
    let media = dt.emu.media();
    assert_eq!(media.len(), 1);
    assert_eq!(media[0].media_id, media_id);
    assert_eq!(media[0].media_type, "image");
    assert_eq!(media[0].size, PNG.len());
    assert_eq!(media[0].content_type.as_deref(), Some("image/png"));
    assert_eq!(media[0].file_name.as_deref(), Some("chart.png"));
    assert_eq!(dt.emu.media_bytes(media_id).unwrap(), PNG);
    let served = client()
        .get(dt.url(&format!("/__emulator/media/{media_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);
    let listed: Value = client()
        .get(dt.url("/__emulator/media"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["media_id"], media_id);
    // Recorded as a call, without the bytes; metered.
    let call = dt.emu.calls().last().cloned().unwrap();
    assert_eq!(call.kind, ApiKind::MediaUpload);
    assert_eq!(call.request["media"]["size"], PNG.len());
    assert_eq!(
        call.app_key.as_deref(),
        Some(dt.emu.config().app_key.as_str())
    );
    assert_eq!(dt.emu.monthly_calls(), 1);
}

#[tokio::test]
async fn the_documented_limits_and_legacy_error_codes() {
    let dt = Dt::start(EmulatorConfig {
        media: MediaConfig {
            max_image_bytes: 16,
            ..MediaConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let token = dt.token.clone();
    let big = [PNG, &[0u8; 16]].concat();
    let cases: Vec<(String, Option<File>, i64)> = vec![
        // Forged token.
        (
            "access_token=nope&type=image".into(),
            Some(("a.png", "image/png", PNG)),
            40014,
        ),
        // No token at all.
        (
            "type=image".into(),
            Some(("a.png", "image/png", PNG)),
            40014,
        ),
        // Unknown type, and no type.
        (
            format!("access_token={token}&type=sticker"),
            Some(("a.png", "image/png", PNG)),
            40004,
        ),
        (
            format!("access_token={token}"),
            Some(("a.png", "image/png", PNG)),
            40004,
        ),
        // No media part.
        (format!("access_token={token}&type=image"), None, 41005),
        // Formats outside the list: webp by name, a "png" that is not an image, a video that is not mp4.
        (
            format!("access_token={token}&type=image"),
            Some(("a.webp", "image/webp", b"RIFF")),
            40005,
        ),
        (
            format!("access_token={token}&type=image"),
            Some(("a.png", "image/png", b"hello")),
            40005,
        ),
        (
            format!("access_token={token}&type=video"),
            Some(("a.mov", "video/quicktime", b"x")),
            40005,
        ),
        // Over the (configured) image limit.
        (
            format!("access_token={token}&type=image"),
            Some(("big.png", "image/png", &big)),
            40006,
        ),
    ];
    for (query, media, errcode) in cases {
        let answer = upload(&dt, &query, None, media).await;
        assert_eq!(answer["errcode"], errcode, "{query}: {answer}");
        assert!(answer["errmsg"].is_string());
        assert!(answer.get("media_id").is_none());
    }
    assert!(dt.emu.media().is_empty());
    // `type` as a form field; voice and file ids have their own prefixes.
    let voice = upload(
        &dt,
        &format!("access_token={token}"),
        Some("voice"),
        Some(("hi.mp3", "audio/mpeg", b"ID3")),
    )
    .await;
    assert_eq!(voice["errcode"], 0, "{voice}");
    assert!(voice["media_id"].as_str().unwrap().starts_with("@lAXP"));
    let file = upload(
        &dt,
        &format!("access_token={token}&type=file"),
        None,
        Some(("报告.PDF", "application/pdf", b"%PDF")),
    )
    .await;
    assert!(file["media_id"].as_str().unwrap().starts_with("@lAz"));
    assert_eq!(dt.emu.media().len(), 2);
}

#[tokio::test]
async fn without_qyapi_base_the_legacy_permission_error() {
    let mut config = EmulatorConfig::default();
    config.granted_scopes.retain(|s| s != "qyapi_base");
    let dt = Dt::start(config).await;
    let answer = upload(
        &dt,
        &format!("access_token={}&type=image", dt.token),
        None,
        Some(("a.png", "image/png", PNG)),
    )
    .await;
    assert_eq!(answer["errcode"], 88);
    assert_eq!(answer["sub_code"], "60011");
}

#[tokio::test]
async fn the_record_is_bounded() {
    let dt = Dt::start(EmulatorConfig {
        record_limit: Some(2),
        ..EmulatorConfig::default()
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let answer = upload(
            &dt,
            &format!("access_token={}&type=image", dt.token),
            None,
            Some((&format!("{i}.png"), "image/png", PNG)),
        )
        .await;
        ids.push(answer["media_id"].as_str().unwrap().to_string());
    }
    let kept: Vec<String> = dt.emu.media().into_iter().map(|m| m.media_id).collect();
    assert_eq!(kept, ids[1..]);
    assert!(dt.emu.media_bytes(&ids[0]).is_none());
}
