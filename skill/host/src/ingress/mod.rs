//! DingTalk ingress: receive robot events (Stream mode or signed HTTP callbacks), hand each raw
//! event to the skill, and follow its reply for logs and metrics; at shutdown let the skill
//! finalize its cards within the deadline.

mod dispatch;
mod event;
mod follow;
mod frames;
mod http;
mod network;
mod plugin_rules;
mod stream;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use openclaw_skill_abi::Skill;
use tokio_util::sync::CancellationToken;

pub use dispatch::Dispatcher;
#[cfg(feature = "demo")]
pub use follow::{NoteKind, ReplyNote};

use crate::host_manifest::{HostSettings, IngressMode};
use crate::metrics::Metrics;

/// Receives events the way `ingress.mode` says (Stream mode or HTTP callbacks) and hands them to
/// `dispatcher` until `intake` is cancelled or a fatal ingress error (refused credentials, a
/// listen address in use). Does not shut the skill down: see [`finish`].
pub async fn serve(
    settings: &HostSettings,
    dispatcher: Dispatcher,
    metrics: Arc<Metrics>,
    intake: CancellationToken,
) -> Result<()> {
    match settings.ingress.mode {
        IngressMode::Stream => {
            let network = network::Network::from_settings(&settings.network)?;
            let silence = Duration::from_millis(settings.ingress.stream.silence_timeout_ms);
            let configs = plugin_rules::open_requests(settings, dispatcher.skill())?
                .into_iter()
                .map(|(client_id, open)| stream::StreamConfig {
                    open,
                    client_id,
                    silence,
                    network: network.clone(),
                })
                .collect();
            stream::run_apps(configs, dispatcher, metrics, intake).await
        }
        IngressMode::Http => {
            let http = &settings.ingress.http;
            let config = http::HttpConfig {
                listen: http.listen.clone(),
                path: http.path.clone(),
                limits: http::Limits {
                    max_body_bytes: http.max_body_bytes,
                    read_timeout: Duration::from_millis(http.read_timeout_ms),
                    max_connections: http.max_connections,
                },
            };
            let gate = plugin_rules::PluginGate::shared(dispatcher.skill().clone(), settings);
            http::run(&config, gate, dispatcher, metrics, intake).await
        }
    }
}

/// Lets the skill finalize replies in flight (it blocks, so on a blocking thread) while the
/// followers keep logging, then waits briefly for the followers.
pub async fn finish(skill: Arc<Skill>, dispatcher: &Dispatcher, deadline: Duration) -> Result<()> {
    log::info!(
        "shutting down: finalizing replies in flight (deadline {} ms)",
        deadline.as_millis()
    );
    let shut = tokio::task::spawn_blocking(move || skill.shutdown(deadline))
        .await
        .context("shutdown task")?;
    if !dispatcher.wait_followers(Duration::from_secs(2)).await {
        log::warn!("some replies were still being followed at exit");
    }
    shut.map_err(|e| anyhow::anyhow!("skill shutdown: {}", e.message))
}
