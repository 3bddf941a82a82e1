//! Stream mode (docs/dingtalk-events.md, "Stream mode").
//!
//! One connection serves at a time: the `connections/open` request (`open.rs`; its body, with
//! the credentials and the robot-message subscription, comes from the request's provider) gives
//! an endpoint and a single-use ticket, then the WebSocket `endpoint?ticket=…` (`socket.rs`)
//! carries frames (`session.rs`). The manager (`manager.rs`) replaces a connection on a
//! `disconnect` frame and reconnects after errors with backoff and jitter (`reconnect.rs`: 1 s →
//! 60 s, started over after a healthy period); a socket silent for longer than the silence limit
//! (`liveness.rs`: the host probes it with a WebSocket ping at a third of that) is dead.

mod liveness;
mod manager;
mod open;
mod proxy;
mod reconnect;
mod session;
mod socket;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

pub use open::OpenRequest;

use super::dispatch::Dispatcher;
use crate::metrics::Metrics;
use crate::redact;
use liveness::MIN_SILENCE;
use manager::Manager;
use open::Opener;
use session::Serving;
use socket::is_loopback_test_url;

/// What the Stream client needs.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// The `connections/open` request, from its provider.
    pub open: OpenRequest,
    /// Who connects, for the start-up log line (the app key: not a secret).
    pub client_id: String,
    /// A socket silent for longer than this is dead (`ingress.stream.silence_timeout_ms`; at
    /// least 300 ms).
    pub silence: Duration,
    /// Extra CAs for `connections/open` and the WebSocket.
    pub network: super::network::Network,
}

/// Serves one Stream connection per app, each on its own (one app's reconnects never wait
/// for another's), until `intake` is cancelled. With one app, fails when DingTalk refuses its
/// credentials at the very first connection (a configuration error). With several, an app
/// whose credentials are refused is logged as an error and left out while the others serve;
/// it fails only when every app's were refused.
pub async fn run_apps(
    configs: Vec<StreamConfig>,
    dispatcher: Dispatcher,
    metrics: Arc<Metrics>,
    intake: CancellationToken,
) -> Result<()> {
    let several = configs.len() > 1;
    let runs = configs.into_iter().map(|config| {
        let client_id = config.client_id.clone();
        let run = run(config, dispatcher.clone(), metrics.clone(), intake.clone());
        async move {
            let result = run.await;
            if let (true, Err(e)) = (several, &result) {
                log::error!("stream: app {client_id} stopped: {e:#}; the other apps go on");
            }
            result
        }
    });
    let results = futures_util::future::join_all(runs).await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    if failed == results.len() {
        if let Some(Err(e)) = results.into_iter().next() {
            return Err(e);
        }
    }
    Ok(())
}

/// Serves one app's Stream connection until `intake` is cancelled. Fails only when DingTalk
/// refuses the credentials of the very first connection (a configuration error).
pub async fn run(
    config: StreamConfig,
    dispatcher: Dispatcher,
    metrics: Arc<Metrics>,
    intake: CancellationToken,
) -> Result<()> {
    let silence = config.silence.max(MIN_SILENCE);
    let plain_ws_allowed = is_loopback_test_url(&config.open.url);
    log::info!(
        "stream mode: app {} via {} (silence limit {} ms)",
        config.client_id,
        redact::url(config.open.url.as_str()),
        silence.as_millis()
    );
    let serving = Serving {
        dispatcher,
        metrics,
        intake,
        silence,
        app_key: config.client_id.clone(),
    };
    Manager::new(
        Opener::new(config.open, config.network)?,
        serving,
        plain_ws_allowed,
    )
    .serve()
    .await
}
