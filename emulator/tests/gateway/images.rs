//! Images in chat requests: accepted and refused as the real gateway does, recorded, and described at
//! the start of the answer.

use std::time::Duration;

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use openclaw_dingtalk_emulator::gateway::{
    FakeGatewayConfig, GatewayMode, ImageDescription, ImageUrlKind, RequestOutcome,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{content, Gw};

fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(len, 7);
    bytes
}

fn image(media_type: &str, bytes: &[u8]) -> Value {
    json!({"type": "image_url", "image_url": {"url": format!("data:{media_type};base64,{}", B64.encode(bytes))}})
}

fn ask(parts: Value) -> Value {
    json!({"model": "openclaw", "stream": true, "user": "dingtalk:img",
           "messages": [{"role": "user", "content": parts}]})
}

#[tokio::test]
async fn an_image_is_recorded_and_described_before_the_answer() {
    let g = Gw::fast().await;
    let bytes = png(12_345);
    let body = ask(json!([{"type": "text", "text": "这是什么？"}, image("image/png", &bytes)]));
    let resp = g.post().json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let text = content(&resp.text().await.unwrap());
    assert_eq!(
        text,
        "I received 1 image: image/png, 12 345 bytes. Hello from the fake gateway. You said: 这是什么？. Turn 1."
    );
    let record = &g.gw.requests()[0];
    assert_eq!(record.images.len(), 1);
    let part = &record.images[0];
    assert_eq!(part.media_type, "image/png");
    assert_eq!(part.size, 12_345);
    assert_eq!(part.url_kind, ImageUrlKind::DataUrl);
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(part.sha256, digest);
}

#[tokio::test]
async fn image_only_turns_string_image_urls_and_unsupported_parts() {
    let g = Gw::fast().await;
    // An image alone: the turn reads as the gateway's placeholder. `image_url` may be a bare string;
    // parts the gateway does not know are ignored.
    let url = format!(
        "data:image/jpeg;base64,{}",
        B64.encode([0xff, 0xd8, 0xff, 0xe0])
    );
    let body = json!({"model": "openclaw", "stream": false, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": url},
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    ]}]});
    let resp = g.post().json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "I received 1 image: image/jpeg, 4 bytes. Hello from the fake gateway. You said: User sent image(s) with no text.. Turn 1."
    );
    // Only the newest turn's images count; earlier ones are not replayed.
    let body = json!({"model": "openclaw", "stream": false, "messages": [
        {"role": "user", "content": [image("image/png", &png(10))]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "and now?"}]});
    let answer: Value = g
        .post()
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hello from the fake gateway. You said: and now?. Turn 1."
    );
    assert!(g.gw.requests()[1].images.is_empty());
    // Two images.
    let body = ask(json!([
        image("image/gif", b"GIF89a"),
        image("image/webp", &[1u8; 2_000])
    ]));
    let text = content(
        &g.post()
            .json(&body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert!(
        text.starts_with("I received 2 images: image/gif, 6 bytes; image/webp, 2 000 bytes. Hello"),
        "{text}"
    );
}

#[tokio::test]
async fn malformed_images_are_refused_like_the_gateway() {
    let g = Gw::fast().await;
    let too_many: Vec<Value> = (0..9).map(|_| image("image/png", &png(9))).collect();
    let cases = [
        json!([{"type": "image_url", "image_url": {"url": "data:image/png,notbase64"}}]),
        json!([{"type": "image_url", "image_url": {"url": "data:image/png;base64,   "}}]),
        json!([{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]),
        json!([image("image/bmp", b"BM")]),
        json!([image("image/svg+xml", b"<svg/>")]),
        Value::Array(too_many),
        json!([image("image/png", &png(10 * 1024 * 1024 + 1))]),
    ];
    for parts in cases {
        let resp = g.post().json(&ask(parts.clone())).send().await.unwrap();
        assert_eq!(
            resp.status(),
            400,
            "{}",
            &parts.to_string()[..80.min(parts.to_string().len())]
        );
        assert_eq!(
            resp.headers()["content-type"],
            "application/json; charset=utf-8"
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            body,
            json!({"error": {"message": "Invalid image_url content in `messages`.", "type": "invalid_request_error"}})
        );
    }
    let records = g.gw.requests();
    assert!(records
        .iter()
        .all(|r| r.outcome == RequestOutcome::Rejected && r.images.is_empty()));
    // Three images of 8 MiB each pass one by one, but their base64 is over the 20 MiB body limit, which
    // the gateway checks first (so the 20 MiB image total cannot be reached with data URLs).
    let big = png(8 * 1024 * 1024);
    let parts = json!([
        image("image/png", &big),
        image("image/png", &big),
        image("image/png", &big)
    ]);
    let resp = g.post().json(&ask(parts)).send().await.unwrap();
    assert_eq!(resp.status(), 413);
}

#[tokio::test]
async fn urls_are_fetched_only_when_allowed() {
    let server = crate::common::serve_bytes("image/png", png(300)).await;
    let g = Gw::start(FakeGatewayConfig {
        token_interval: Duration::from_millis(1),
        allow_image_urls: true,
        ..FakeGatewayConfig::default()
    })
    .await;
    let parts = json!([{"type": "text", "text": "看"}, {"type": "image_url", "image_url": {"url": server}}]);
    let text = content(
        &g.post()
            .json(&ask(parts))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert!(
        text.starts_with("I received 1 image: image/png, 300 bytes."),
        "{text}"
    );
    assert_eq!(g.gw.requests()[0].images[0].url_kind, ImageUrlKind::Url);
}

#[tokio::test]
async fn the_fake_model_describes_forwarded_images_too() {
    let g = Gw::start(FakeGatewayConfig {
        mode: GatewayMode::Upstream,
        token_interval: Duration::from_millis(1),
        ..FakeGatewayConfig::default()
    })
    .await;
    let body = json!({"model": "fake-model", "stream": false, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "[Tue 2026-11-24 18:06 UTC] 看图"}, image("image/png", &png(64))]}]});
    let answer: Value = g
        .post()
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        text.starts_with("I received 1 image: image/png, 64 bytes. "),
        "{text}"
    );
    assert_eq!(g.gw.requests()[0].images.len(), 1);
}

#[tokio::test]
async fn in_chinese_the_description_names_size_and_sha256_and_text_only_turns_are_unchanged() {
    for mode in [GatewayMode::Gateway, GatewayMode::Upstream] {
        let g = Gw::start(FakeGatewayConfig {
            mode,
            token_interval: Duration::from_millis(1),
            image_description: ImageDescription::Chinese,
            ..FakeGatewayConfig::default()
        })
        .await;
        let bytes = png(1_229);
        let prefix: String = Sha256::digest(&bytes)
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect();
        let body =
            ask(json!([{"type": "text", "text": "这张图里是什么？"}, image("image/png", &bytes)]));
        let text = content(
            &g.post()
                .json(&body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
        let expected = format!(
            "我看到了 1 张图片：image/png，1.2 KB（sha256 前 8 位 {prefix}）。\n\n\
             Hello from the fake gateway. You said: 这张图里是什么？. Turn 1."
        );
        assert_eq!(text, expected, "{mode:?}");
        assert_eq!(g.gw.requests()[0].images[0].sha256[..8], prefix);

        // A text-only turn says nothing about images.
        let body = ask(json!([{"type": "text", "text": "没有图片的问题"}]));
        let text = content(
            &g.post()
                .json(&body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
        assert!(
            text.starts_with("Hello from the fake gateway. You said: 没有图片的问题."),
            "{mode:?}: {text}"
        );
    }
}
