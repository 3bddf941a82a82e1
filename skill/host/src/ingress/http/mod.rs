//! HTTP callback mode: one `POST` route at `ingress.http.path` on `ingress.http.listen`.
//!
//! This module owns the listener and the connections: hyper's HTTP/1 connection with a header
//! read timeout (`ingress.http.read_timeout_ms`: a client that does not send a whole request
//! head in time, or keeps an idle connection, is disconnected) serves the route (`route.rs`:
//! limits, the gate's checks, the handler). Callbacks are checked and handed to the skill through
//! one [`CallbackGate`] (`gate.rs`), which asks the plugin (`ingress/plugin_rules.rs`).

mod answer;
mod gate;
mod refusal_log;
mod refusals;
mod route;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::{extract::ConnectInfo, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

pub use gate::{CallbackGate, CallbackRefusal, Rejected};
pub use route::Limits;

use super::dispatch::Dispatcher;
use crate::metrics::Metrics;
use refusals::Refusals;

/// Where and how callbacks are received.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Listen address (port 0 picks a free port; the log says which).
    pub listen: String,
    /// The callback path (starts with `/`).
    pub path: String,
    /// The route's limits (`read_timeout` is also the header read timeout).
    pub limits: Limits,
}

/// Serves callbacks until `intake` is cancelled (then stops accepting and lets requests in
/// progress finish, within the read timeout).
pub async fn run(
    config: &HttpConfig,
    gate: Arc<dyn CallbackGate>,
    dispatcher: Dispatcher,
    metrics: Arc<Metrics>,
    intake: CancellationToken,
) -> Result<()> {
    if !config.path.starts_with('/') {
        anyhow::bail!("ingress.http.path must start with '/': {:?}", config.path);
    }
    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("ingress.http.listen: cannot listen on {}", config.listen))?;
    let limits = &config.limits;
    log::info!(
        "http callback mode: listening on http://{}{} (body limit {} bytes, read timeout {} ms, \
         {} callbacks at once, {})",
        listener.local_addr()?,
        config.path,
        limits.max_body_bytes,
        limits.read_timeout.as_millis(),
        limits.max_connections,
        gate.describe(),
    );
    let read_timeout = limits.read_timeout.max(Duration::from_millis(1));
    let refusals = Refusals::new(metrics, read_timeout);
    let limits = Limits {
        read_timeout,
        ..limits.clone()
    };
    let app = route::router(&config.path, &limits, gate, dispatcher, refusals.clone());
    let connections = TaskTracker::new();
    let flusher = tokio::spawn(refusals::flush_periodically(
        refusals.clone(),
        intake.clone(),
    ));
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
    refusals.flush_all();
    Ok(())
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
