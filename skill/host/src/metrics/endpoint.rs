//! `GET /metrics`: the host's series and, read at each scrape, the skill's.

use std::sync::Arc;

use axum::{extract::State, http::header, response::IntoResponse, routing::get, Router};
use openclaw_skill_abi::Skill;
use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::host::Metrics;

/// What a scrape reads.
#[derive(Clone)]
struct ScrapeState {
    metrics: Arc<Metrics>,
    skill: Arc<Skill>,
}

/// One scrape: the skill's `info` now, then the exposition text.
async fn scrape(State(state): State<ScrapeState>) -> impl IntoResponse {
    let info = state
        .skill
        .info()
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok());
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.metrics.render(info.as_ref()),
    )
}

/// Serves `GET /metrics` on `listener` until `stop` is cancelled.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    skill: Arc<Skill>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(ScrapeState { metrics, skill });
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
}
