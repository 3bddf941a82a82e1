//! HTTP callback mode (dingtalk-api.md §3): one POST endpoint at `ingress.http.path` on
//! `ingress.http.listen`. The `timestamp`/`sign` headers are checked before the body is read
//! (401 when missing, 403 when wrong or more than an hour off); the body is capped at
//! `ingress.http.max_body_bytes` (413); a good callback is answered `200 {"success":true}` as
//! soon as the skill has taken the event, and the reply runs afterwards.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::{header, Method, StatusCode},
    response::{IntoResponse, Response},
    Json, Router,
};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::signature;
use super::{Dispatcher, Refusal, Source};
use crate::host_manifest::IngressSettings;
use crate::metrics::Metrics;
use crate::secret::Secret;

/// What the handler needs.
struct Callback {
    path: String,
    app_secret: Secret,
    max_body_bytes: usize,
    dispatcher: Dispatcher,
    metrics: Arc<Metrics>,
}

/// Serves callbacks until `intake` is cancelled (then stops accepting and lets requests in
/// progress finish).
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
        "http callback mode: listening on http://{}{} (body limit {} bytes)",
        listener.local_addr()?,
        http.path,
        http.max_body_bytes
    );
    let state = Arc::new(Callback {
        path: http.path.clone(),
        app_secret: settings.app_secret.clone(),
        max_body_bytes: http.max_body_bytes,
        dispatcher,
        metrics,
    });
    let app = Router::new().fallback(handle).with_state(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(intake.cancelled_owned())
    .await
    .context("http callback server")
}

fn answer(status: StatusCode, message: &str) -> Response {
    let body = if status == StatusCode::OK {
        json!({ "success": true })
    } else {
        json!({ "success": false, "message": message })
    };
    (status, Json(body)).into_response()
}

fn epoch_ms_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn handle(
    State(cb): State<Arc<Callback>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    if parts.uri.path() != cb.path {
        return answer(StatusCode::NOT_FOUND, "not found");
    }
    if parts.method != Method::POST {
        return answer(StatusCode::METHOD_NOT_ALLOWED, "use POST");
    }
    let refuse = |status: StatusCode, why: &str| {
        cb.metrics.inc(
            "openclaw_http_callback_rejected_total",
            &[("status", status.as_str())],
        );
        log::warn!(
            "http callback from {peer} refused with {}: {why}",
            status.as_u16()
        );
        answer(status, why)
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(e) = signature::verify(
        cb.app_secret.expose(),
        header("timestamp"),
        header("sign"),
        epoch_ms_now(),
    ) {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::FORBIDDEN);
        return refuse(status, e.reason());
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > cb.max_body_bytes) {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
    }
    // The only error `to_bytes` reports for a request we still can answer is the limit.
    let bytes = match axum::body::to_bytes(Body::new(body), cb.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => return refuse(StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
    };
    let Ok(event) = std::str::from_utf8(&bytes) else {
        return refuse(StatusCode::BAD_REQUEST, "body is not UTF-8");
    };
    match cb.dispatcher.deliver(Source::Http, event) {
        Ok(()) => answer(StatusCode::OK, ""),
        Err(Refusal::Invalid(why)) => refuse(StatusCode::BAD_REQUEST, &why),
        Err(Refusal::ShuttingDown) => refuse(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
        Err(Refusal::Failed(why)) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &why),
    }
}
