//! Fake OpenClaw gateway, also usable as the fake *upstream model* behind a real gateway.
//!
//! Gateway mode imitates `POST /v1/chat/completions` of openclaw 2026.9.6 (docs/gateway.md): SSE
//! framing byte for byte, the pre-stream error table, sessions keyed by `x-openclaw-session-key` / `user`
//! with history, the new-session concurrency caveat, and upstream failures reported in-stream with HTTP 200.
//! Upstream mode is an OpenAI-compatible model server ("Fake upstream model" there). What is said is chosen
//! by trigger words in the user messages (see `script`), or, for a failure, queued for the next request with
//! [`FakeGateway::fail_next`]. Images (`image_url` parts of the active user turn) are accepted and refused
//! exactly as the gateway does (see `images`), recorded ([`GatewayRequest::images`]), and described in a
//! first sentence of the answer (`I received 1 image: image/png, 12 345 bytes.`, or in Chinese with
//! [`FakeGatewayConfig::image_description`]). Every request is recorded
//! ([`FakeGateway::requests`]); probes (`/health`, `/readyz`, `/v1/models`, …) are answered but not recorded.

mod chart;
mod config;
mod gateway_flow;
mod handler;
mod images;
mod record;
mod reject;
mod reply_text;
mod request;
mod script;
mod session;
pub(crate) mod sse;
mod stream;
mod upstream_flow;
mod v8json;

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::Router;

pub use chart::chart_png;
pub use config::{FakeGatewayConfig, GatewayMode};
pub use images::{ImageDescription, ImagePart, ImageUrlKind};
pub use record::{GatewayRequest, RequestOutcome};
pub use script::ScriptedFailure;

use crate::http::HttpServer;
use record::Recorder;
use session::Sessions;

/// State shared by the handle and the request handlers.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) config: FakeGatewayConfig,
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) sessions: Sessions,
    key_disabled_until: Mutex<Option<Instant>>,
    /// Failures queued by [`FakeGateway::fail_next`], oldest first.
    queued_failures: Mutex<VecDeque<ScriptedFailure>>,
}

impl App {
    /// Takes the oldest failure queued by [`FakeGateway::fail_next`] for the request at hand.
    pub(crate) fn take_queued_failure(&self) -> Option<ScriptedFailure> {
        self.queued_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }

    /// True within `upstream_key_cooldown` after a `FAIL401`.
    pub(crate) fn upstream_key_disabled(&self) -> bool {
        let until = *self
            .key_disabled_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        until.is_some_and(|t| Instant::now() < t)
    }

    /// Starts the post-401 cooldown (`upstream_key_cooldown`).
    pub(crate) fn disable_upstream_key(&self) {
        let cooldown = self.config.upstream_key_cooldown;
        if !cooldown.is_zero() {
            *self
                .key_disabled_until
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + cooldown);
        }
    }
}

/// A running fake gateway. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct FakeGateway {
    app: Arc<App>,
    server: Arc<HttpServer>,
}

impl FakeGateway {
    /// Starts on `127.0.0.1` with an ephemeral port.
    pub async fn start(config: FakeGatewayConfig) -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts on `addr`, which must be a loopback address (anything else is `InvalidInput`).
    pub async fn start_on(addr: SocketAddr, config: FakeGatewayConfig) -> std::io::Result<Self> {
        let recorder = Arc::new(Recorder::new(
            config.record_path.as_deref(),
            config.record_limit,
        )?);
        let app = Arc::new(App {
            sessions: Sessions::new(config.record_limit),
            config,
            recorder,
            key_disabled_until: Mutex::new(None),
            queued_failures: Mutex::default(),
        });
        let router = Router::new()
            .fallback(handler::handle)
            .with_state(app.clone());
        let server = HttpServer::bind(addr, router).await?;
        Ok(Self {
            app,
            server: Arc::new(server),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The instant the record clock started: every `at_ms` in the records counts from it.
    pub fn started_at(&self) -> Instant {
        self.app.recorder.clock.started_at()
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &FakeGatewayConfig {
        &self.app.config
    }

    /// Makes a future request fail as `failure`'s trigger word would, whatever its text says. Each call
    /// queues one failure for one request; queued failures go to the next chat requests in arrival order.
    /// A request takes one once it is valid (past the pre-stream 4xx checks) and, in gateway mode, admitted
    /// to its session (the new-session race's `internal error` takes none). Thread-safe.
    pub fn fail_next(&self, failure: ScriptedFailure) {
        self.app
            .queued_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(failure);
    }

    /// Every recorded request (the newest [`record_limit`](FakeGatewayConfig::record_limit) ones), in order.
    pub fn requests(&self) -> Vec<GatewayRequest> {
        self.app.recorder.all()
    }

    /// A change feed for observers: a version number bumped after every change to
    /// [`requests`](Self::requests) (a new request, each token written, the outcome). Several changes may
    /// show as one; read the records after waking. `changed()` fails once the gateway is gone.
    pub fn subscribe_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.app.recorder.feed.subscribe()
    }

    /// Waits until `pred(requests)` holds, re-checking after every change; false on timeout.
    pub async fn wait_for(
        &self,
        pred: impl Fn(&[GatewayRequest]) -> bool,
        timeout: Duration,
    ) -> bool {
        self.app.recorder.wait_for(pred, timeout).await
    }
}
