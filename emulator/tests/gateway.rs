//! Fake gateway behaviour, through HTTP as a client sees it.

mod common;

#[path = "gateway/errors.rs"]
mod errors;
#[path = "gateway/images.rs"]
mod images;
#[path = "gateway/sessions.rs"]
mod sessions;
#[path = "gateway/stream.rs"]
mod stream;
#[path = "gateway/upstream.rs"]
mod upstream;

use std::time::Duration;

use openclaw_dingtalk_emulator::gateway::{FakeGateway, FakeGatewayConfig};
use serde_json::{json, Value};

/// A fake gateway with fast failures, and a client.
pub struct Gw {
    pub gw: FakeGateway,
    pub http: reqwest::Client,
}

impl Gw {
    pub async fn start(config: FakeGatewayConfig) -> Self {
        Self {
            gw: FakeGateway::start(config)
                .await
                .expect("fake gateway starts"),
            http: common::client(),
        }
    }

    pub async fn fast() -> Self {
        Self::start(FakeGatewayConfig {
            token_interval: Duration::from_millis(1),
            failure_silence: Duration::from_millis(50),
            ..FakeGatewayConfig::default()
        })
        .await
    }

    pub fn url(&self) -> String {
        format!("{}/v1/chat/completions", self.gw.base_url())
    }

    /// An authorized POST.
    pub fn post(&self) -> reqwest::RequestBuilder {
        self.http.post(self.url()).bearer_auth("fake-gateway-token")
    }

    /// Streams `text` as the user of conversation `user`; returns the whole body.
    pub async fn ask(&self, user: &str, text: &str) -> String {
        let body = json!({"model": "openclaw/default", "stream": true, "user": user, "messages": [{"role": "user", "content": text}]});
        let resp = self.post().json(&body).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    }
}

/// The `data:` payloads of an SSE body (asserting the framing).
pub fn events(body: &str) -> Vec<String> {
    assert!(!body.contains('\r'), "no CR in the stream");
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(end) = rest.find("\n\n") {
        let event = &rest[..end];
        assert!(
            event.starts_with("data: ") && !event.contains('\n'),
            "one data line per event: {event:?}"
        );
        out.push(event["data: ".len()..].to_string());
        rest = &rest[end + 2..];
    }
    assert!(rest.is_empty(), "trailing bytes {rest:?}");
    out
}

/// Parsed JSON events (without `[DONE]`).
pub fn json_events(body: &str) -> Vec<Value> {
    events(body)
        .iter()
        .filter(|e| *e != "[DONE]")
        .map(|e| serde_json::from_str(e).unwrap())
        .collect()
}

/// The concatenated content deltas.
pub fn content(body: &str) -> String {
    json_events(body)
        .iter()
        .filter_map(|e| {
            e.pointer("/choices/0/delta/content")?
                .as_str()
                .map(str::to_string)
        })
        .collect()
}
