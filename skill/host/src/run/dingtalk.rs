//! `run --events dingtalk`: the `/metrics` endpoint, the signal watcher and the ingress
//! `ingress.mode` names, then the graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use openclaw_skill_abi::Skill;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::host_manifest::HostSettings;
use crate::ingress::{self, Dispatcher};
use crate::metrics::{self, Metrics};
use crate::runtime::shutdown_signal;

/// Options of `run --events dingtalk`.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long the skill may take to finalize replies in flight at shutdown.
    pub shutdown_deadline: Duration,
    /// Overrides `ingress.metrics_listen`.
    pub metrics_listen: Option<String>,
}

/// Receives DingTalk events until SIGINT/SIGTERM (or a fatal ingress error), then shuts the skill
/// down gracefully. Returns `Ok` after a signal.
pub async fn run(settings: HostSettings, skill: Arc<Skill>, options: Options) -> Result<()> {
    let metrics = Metrics::new();
    let stop_metrics = CancellationToken::new();
    let metrics_listen = options
        .metrics_listen
        .clone()
        .or_else(|| settings.ingress.metrics_listen.clone());
    let metrics_task = match metrics_listen {
        Some(addr) => {
            let listener = TcpListener::bind(&addr)
                .await
                .with_context(|| format!("metrics: cannot listen on {addr}"))?;
            log::info!(
                "metrics listening on http://{}/metrics",
                listener.local_addr()?
            );
            Some(tokio::spawn(metrics::serve(
                listener,
                metrics.clone(),
                skill.clone(),
                stop_metrics.clone(),
            )))
        }
        None => None,
    };
    let dispatcher = Dispatcher::new(skill.clone(), metrics.clone());
    let intake = CancellationToken::new();
    let signals = tokio::spawn(watch_signals(intake.clone()));
    let served = ingress::serve(
        &settings,
        dispatcher.clone(),
        metrics.clone(),
        intake.clone(),
    )
    .await;
    intake.cancel();
    let finished = ingress::finish(skill, &dispatcher, options.shutdown_deadline).await;
    signals.abort();
    stop_metrics.cancel();
    if let Some(task) = metrics_task {
        let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    }
    served.and(finished)
}

/// Cancels `intake` on the first SIGINT/SIGTERM; a second signal exits at once (status 130).
async fn watch_signals(intake: CancellationToken) {
    shutdown_signal().await;
    log::info!("signal received: stopping intake, finalizing replies in flight");
    intake.cancel();
    shutdown_signal().await;
    log::warn!("second signal: exiting without waiting for replies in flight");
    std::process::exit(130);
}
