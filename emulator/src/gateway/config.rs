//! Fake gateway configuration.

use std::{path::PathBuf, time::Duration};

use super::images::ImageDescription;

/// How the fake gateway is set up.
#[derive(Debug, Clone)]
pub struct FakeGatewayConfig {
    /// Act as the OpenClaw gateway (default) or as the upstream model behind a real gateway.
    pub mode: GatewayMode,
    /// Bearer token required when `Some`. Default `Some("fake-gateway-token")`.
    pub token: Option<String>,
    /// Known agent ids (the first is the default agent). Default `["main"]`; `default` is always an alias
    /// of the default agent.
    pub agents: Vec<String>,
    /// Pause before each content token. Default 20 ms.
    pub token_interval: Duration,
    /// Gateway mode: silence before an in-stream upstream error (`FAIL500`, `FAILMID`). Default 1 s; the
    /// real gateway is silent for 80–95 s while it retries (docs/gateway.md, "In-stream errors"),
    /// shortened here so tests stay fast. Set it to 80 s for a faithful timing.
    pub failure_silence: Duration,
    /// Append every request as one JSON line to this file.
    pub record_path: Option<PathBuf>,
    /// Gateway mode: after a `FAIL401`, every request fails at once with the "temporarily disabled" error
    /// for this long, as the real gateway disables the provider key for about a minute
    /// (docs/gateway.md, "In-stream errors"). Default 60 s; zero turns it off.
    pub upstream_key_cooldown: Duration,
    /// Keeps the records of a long session bounded: with `Some(n)` (an `n` of 0 counts as 1) only the
    /// newest `n` [`requests`](super::FakeGateway::requests) are kept, and each session's history keeps its
    /// newest `n` turns (the turn count in replies goes on counting). Sessions without a key (no
    /// `x-openclaw-session-key`, no `user`: a fresh random session per request) are forgotten once their
    /// request ends. The JSONL record file still gets every request. Default `None`: everything is kept.
    pub record_limit: Option<usize>,
    /// Gateway mode: accept `image_url` parts with `http(s)` URLs (fetched by the fake), like the
    /// gateway's `gateway.http.endpoints.chatCompletions.images.allowUrl`. Default `false`, the gateway's
    /// default: only `data:` URLs; any other URL refuses the request (see `images`).
    pub allow_image_urls: bool,
    /// The language of the sentence that describes a request's images before the answer (both modes).
    /// Default [`ImageDescription::English`] (`I received 1 image: image/png, 12 345 bytes.`);
    /// [`ImageDescription::Chinese`] says `我看到了 1 张图片：image/png，12.1 KB（sha256 前 8 位 …）。`
    /// for Chinese demos.
    pub image_description: ImageDescription,
}

impl Default for FakeGatewayConfig {
    fn default() -> Self {
        Self {
            mode: GatewayMode::Gateway,
            token: Some("fake-gateway-token".into()),
            agents: vec!["main".into()],
            token_interval: Duration::from_millis(20),
            failure_silence: Duration::from_secs(1),
            record_path: None,
            upstream_key_cooldown: Duration::from_secs(60),
            record_limit: None,
            allow_image_urls: false,
            image_description: ImageDescription::English,
        }
    }
}

/// Which peer the fake plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GatewayMode {
    /// The OpenClaw gateway 2026.9.6 `/v1/chat/completions` endpoint (docs/gateway.md).
    #[default]
    Gateway,
    /// An OpenAI-compatible model server behind a real gateway (docs/gateway.md,
    /// "Fake upstream model").
    Upstream,
}
