//! HTTP callback mode: one `POST` route at `ingress.http.path` on `ingress.http.listen`.
//!
//! What a request goes through, outermost first (the limits are tower / tower-http layers on
//! the route):
//! 1. hyper's header read timeout (`ingress.http.read_timeout_ms`): a client that does not send
//!    a whole request head in time (or keeps an idle connection) is disconnected;
//! 2. the refusal log: every refusal is counted in `openclaw_http_callback_rejected_total
//!    {status,reason}` and logged, at most one line per source address and reason a minute;
//! 3. a concurrency limit (`ingress.http.max_connections` callbacks at once; more wait);
//! 4. a deadline for the rest of the request, that is reading the body (`read_timeout_ms`; 408);
//! 5. the `timestamp`/`sign` check, before the body is read (401 missing, 403 wrong or out of
//!    `ingress.http.signature_window_secs`), and the replay check (403 when the same pair was
//!    accepted before);
//! 6. the body limit (`ingress.http.max_body_bytes`; 413);
//! 7. the handler: the event goes to the skill, `200 {"success":true}` as soon as the skill
//!    has taken it (the reply runs afterwards).
//!
//! Another path gets axum's 404, another method on the path its 405.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::{
    extract::{ConnectInfo, Request, State},
    http::StatusCode,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::limit::ConcurrencyLimitLayer;
use tower::ServiceExt;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use super::refusal_log::{RefusalLog, PERIOD};
use super::replay::{ReplayGuard, DEFAULT_CAPACITY};
use super::signature;
use super::{Dispatcher, Refusal, Source};
use crate::host_manifest::{HttpIngress, IngressSettings};
use crate::metrics::Metrics;
use crate::secret::Secret;

/// The refusal metric.
const REJECTED: &str = "openclaw_http_callback_rejected_total";

/// What the route needs.
struct Callback {
    app_secret: Secret,
    window_ms: i64,
    read_timeout: Duration,
    dispatcher: Dispatcher,
    metrics: Arc<Metrics>,
    replay: Arc<ReplayGuard>,
    refusals: RefusalLog,
}

/// Why a callback was refused: set on the refusal's response by the layer or handler that
/// refused it, read by the refusal log.
#[derive(Debug, Clone)]
struct Refused {
    /// The metric's `reason` label.
    kind: &'static str,
    /// What the log line and the answer say.
    reason: String,
}

/// Serves callbacks until `intake` is cancelled (then stops accepting and lets requests in
/// progress finish, within the read timeout).
pub async fn run(
    settings: &IngressSettings,
    dispatcher: Dispatcher,
    metrics: Arc<Metrics>,
    intake: CancellationToken,
) -> Result<()> {
    let http = &settings.http;
    if !http.path.starts_with('/') {
        anyhow::bail!("ingress.http.path must start with '/': {:?}", http.path);
    }
    let listener = TcpListener::bind(&http.listen)
        .await
        .with_context(|| format!("ingress.http.listen: cannot listen on {}", http.listen))?;
    log::info!(
        "http callback mode: listening on http://{}{} (body limit {} bytes, read timeout {} ms, \
         {} callbacks at once, signature window {} s)",
        listener.local_addr()?,
        http.path,
        http.max_body_bytes,
        http.read_timeout_ms,
        http.max_connections,
        http.signature_window_secs,
    );
    let window_ms = i64::try_from(http.signature_window_secs.saturating_mul(1000))
        .unwrap_or(signature::MAX_SKEW_MS);
    let read_timeout = Duration::from_millis(http.read_timeout_ms.max(1));
    let state = Arc::new(Callback {
        app_secret: settings.app_secret.clone(),
        window_ms,
        read_timeout,
        dispatcher,
        metrics,
        replay: ReplayGuard::new(window_ms, DEFAULT_CAPACITY),
        refusals: RefusalLog::new(PERIOD),
    });
    let app = router(state.clone(), http);
    let connections = TaskTracker::new();
    let flusher = tokio::spawn(flush_refusals(state.clone(), intake.clone()));
    loop {
        let (stream, peer) = tokio::select! {
            _ = intake.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, do not spin.
                    log::warn!("http callback server: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        connections.spawn(serve_connection(
            stream,
            peer,
            app.clone(),
            read_timeout,
            intake.clone(),
        ));
    }
    drop(listener);
    connections.close();
    // Every request is bounded by the read timeout (head and body); the skill answers at once.
    if tokio::time::timeout(read_timeout + Duration::from_secs(1), connections.wait())
        .await
        .is_err()
    {
        log::warn!("http callback server: connections still open at shutdown were dropped");
    }
    flusher.abort();
    for line in state.refusals.flush(Instant::now() + PERIOD) {
        log::warn!("{line}");
    }
    Ok(())
}

/// The route with its limits.
fn router(state: Arc<Callback>, http: &HttpIngress) -> Router {
    let route = post(handle)
        .route_layer(RequestBodyLimitLayer::new(http.max_body_bytes))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            check_signature,
        ))
        .route_layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.read_timeout,
        ))
        .route_layer(ConcurrencyLimitLayer::new(http.max_connections.max(1)))
        .route_layer(middleware::from_fn_with_state(state.clone(), log_refusal));
    Router::new().route(&http.path, route).with_state(state)
}

/// One connection: HTTP/1 with a header read timeout, the router as its service.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    read_timeout: Duration,
    intake: CancellationToken,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request.map(axum::body::Body::new))
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(read_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = intake.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // A head not received in time (a slow client, or an idle kept-alive connection) or a
        // broken connection: nothing the operator has to act on.
        log::debug!("http callback connection from {peer} closed: {e}");
    }
}

/// Writes the summary lines of the refusal log once a period is over.
async fn flush_refusals(state: Arc<Callback>, intake: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = intake.cancelled() => return,
            _ = tick.tick() => {
                for line in state.refusals.flush(Instant::now()) {
                    log::warn!("{line}");
                }
            }
        }
    }
}

fn answer(status: StatusCode, message: &str) -> Response {
    let body = if status == StatusCode::OK {
        json!({ "success": true })
    } else {
        json!({ "success": false, "message": message })
    };
    (status, Json(body)).into_response()
}

/// A refusal answer that tells the refusal log why.
fn refusal(status: StatusCode, kind: &'static str, reason: String) -> Response {
    let mut response = answer(status, &reason);
    response.extensions_mut().insert(Refused { kind, reason });
    response
}

fn epoch_ms_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Counts and logs (rate limited) every refusal; gives the refusals made by the tower-http
/// layers (413 on a declared length, 408) the route's answer shape.
async fn log_refusal(
    State(cb): State<Arc<Callback>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status == StatusCode::OK {
        return response;
    }
    let (response, refused) = match response.extensions().get::<Refused>().cloned() {
        Some(refused) => (response, refused),
        None => {
            let refused = match status {
                StatusCode::PAYLOAD_TOO_LARGE => Refused {
                    kind: "body_too_large",
                    reason: "body too large".into(),
                },
                StatusCode::REQUEST_TIMEOUT => Refused {
                    kind: "body_timeout",
                    reason: format!(
                        "body not received within {} ms (ingress.http.read_timeout_ms)",
                        cb.read_timeout.as_millis()
                    ),
                },
                other => Refused {
                    kind: "other",
                    reason: other.canonical_reason().unwrap_or("refused").to_owned(),
                },
            };
            (answer(status, &refused.reason), refused)
        }
    };
    cb.metrics.inc(
        REJECTED,
        &[("status", status.as_str()), ("reason", refused.kind)],
    );
    if let Some(line) = cb.refusals.refused(
        peer.ip(),
        status.as_u16(),
        refused.kind,
        &refused.reason,
        Instant::now(),
    ) {
        log::warn!("{line}");
    }
    response
}

/// Checks `timestamp`/`sign` before the body is read, and accepts each signed pair once.
async fn check_signature(
    State(cb): State<Arc<Callback>>,
    request: Request,
    next: Next,
) -> Response {
    let now = epoch_ms_now();
    // (A block: the request is not `Sync`, so no borrow of it may live across the await below.)
    let verified = {
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
        signature::verify(
            cb.app_secret.expose(),
            header("timestamp"),
            header("sign"),
            now,
            cb.window_ms,
        )
    };
    let verified = match verified {
        Ok(verified) => verified,
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::FORBIDDEN);
            return refusal(status, e.kind(), e.reason(cb.window_ms));
        }
    };
    let Some(claim) = cb.replay.claim(verified, now) else {
        return refusal(
            StatusCode::FORBIDDEN,
            "replay",
            "replayed callback: this timestamp and sign were accepted before".into(),
        );
    };
    let response = next.run(request).await;
    // Only a callback the skill took keeps its pair; any other outcome (and a request dropped
    // by the timeout) gives it back, so that DingTalk may send it again.
    if response.status() == StatusCode::OK {
        claim.keep();
    }
    response
}

/// Whether a body error is the body limit's.
fn is_length_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

async fn handle(State(cb): State<Arc<Callback>>, request: Request) -> Response {
    // The body limit layer caps the body (a declared length over it never gets here).
    let bytes = match axum::body::to_bytes(request.into_body(), usize::MAX).await {
        Ok(b) => b,
        Err(e) if is_length_limit(&e) => {
            return refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "body too large".into(),
            )
        }
        Err(e) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "body_unreadable",
                format!("cannot read the body: {e}"),
            )
        }
    };
    let Ok(event) = std::str::from_utf8(&bytes) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "not_utf8",
            "body is not UTF-8".into(),
        );
    };
    match cb.dispatcher.deliver(Source::Http, event) {
        Ok(()) => answer(StatusCode::OK, ""),
        Err(Refusal::Invalid(why)) => refusal(StatusCode::BAD_REQUEST, "invalid_event", why),
        Err(Refusal::ShuttingDown) => refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "shutting down".into(),
        ),
        Err(Refusal::Failed(why)) => refusal(StatusCode::INTERNAL_SERVER_ERROR, "failed", why),
    }
}
