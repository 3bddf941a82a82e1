//! Refusal accounting, the route's outermost layer: every refused callback is counted in
//! `openclaw_http_callback_rejected_total{status,reason}` and logged, at most one line per source
//! address and reason a period (`refusal_log.rs`); refusals made by the tower-http layers (413 on
//! a declared length, 408) get the route's answer shape here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::StatusCode,
    middleware::Next,
    response::Response,
};
use tokio_util::sync::CancellationToken;

use super::answer::answer;
use super::gate::CallbackRefusal;
use super::refusal_log::{RefusalLog, PERIOD};
use crate::metrics::Metrics;

/// What the refusal layer needs; shared by every connection.
pub struct Refusals {
    metrics: Arc<Metrics>,
    log: RefusalLog,
    read_timeout: Duration,
}

impl Refusals {
    /// Refusals counted in `metrics`; `read_timeout` is named in the 408 answer.
    pub fn new(metrics: Arc<Metrics>, read_timeout: Duration) -> Arc<Refusals> {
        Arc::new(Refusals {
            metrics,
            log: RefusalLog::new(PERIOD),
            read_timeout,
        })
    }

    /// Logs the summary lines of the periods that are over at `now`.
    fn flush(&self, now: Instant) {
        for line in self.log.flush(now) {
            log::warn!("{line}");
        }
    }

    /// Logs every summary line still pending (at exit).
    pub fn flush_all(&self) {
        self.flush(Instant::now() + PERIOD);
    }

    /// The refusal that a response without one attached stands for.
    fn implied(&self, status: StatusCode) -> CallbackRefusal {
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => {
                CallbackRefusal::new(status, "body_too_large", "body too large")
            }
            StatusCode::REQUEST_TIMEOUT => CallbackRefusal::new(
                status,
                "body_timeout",
                format!(
                    "body not received within {} ms (ingress.http.read_timeout_ms)",
                    self.read_timeout.as_millis()
                ),
            ),
            other => CallbackRefusal::new(
                other,
                "other",
                other.canonical_reason().unwrap_or("refused"),
            ),
        }
    }
}

/// The layer: counts and logs (rate limited) every refusal.
pub async fn count_and_log(
    State(refusals): State<Arc<Refusals>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status == StatusCode::OK {
        return response;
    }
    let (response, refused) = match response.extensions().get::<CallbackRefusal>().cloned() {
        Some(refused) => (response, refused),
        None => {
            let refused = refusals.implied(status);
            (answer(status, &refused.reason), refused)
        }
    };
    refusals
        .metrics
        .callback_rejected(status.as_u16(), &refused.kind);
    if let Some(line) = refusals.log.refused(
        peer.ip(),
        status.as_u16(),
        &refused.kind,
        &refused.reason,
        Instant::now(),
    ) {
        log::warn!("{line}");
    }
    response
}

/// Writes the summary lines of the refusal log once a period is over, until `intake` stops.
pub async fn flush_periodically(refusals: Arc<Refusals>, intake: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = intake.cancelled() => return,
            _ = tick.tick() => refusals.flush(Instant::now()),
        }
    }
}
