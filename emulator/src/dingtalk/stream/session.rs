//! The WebSocket side: the `/connect?ticket=…` handshake and one task per connection.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use axum::{
    body::Body,
    extract::{Query, Request},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::{sync::mpsc, time::Instant};
use tokio_tungstenite::{
    tungstenite::{handshake::derive_accept_key, protocol::Role, Message},
    WebSocketStream,
};

use super::{
    super::state::Shared, client_frame, connection_closed, connection_opened, disconnect, ping,
    Closer, Command, StreamConfig,
};

/// Answers `GET /connect?ticket=…`: checks the WebSocket handshake and the ticket, then upgrades.
pub(crate) async fn upgrade(shared: Arc<Shared>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let Some(key) = websocket_key(&parts.method, &parts.headers) else {
        return reject(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "a WebSocket upgrade (version 13) is required",
        );
    };
    let ticket = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .ok()
        .and_then(|q| q.0.into_iter().find(|(k, _)| k == "ticket").map(|(_, v)| v))
        .unwrap_or_default();
    let ttl_ms = u64::try_from(shared.config.stream.ticket_ttl.as_millis()).unwrap_or(u64::MAX);
    let now = shared.clock.now_ms();
    let redeemed = shared.lock().stream.tickets.redeem(&ticket, now, ttl_ms);
    let ticket = match redeemed {
        Ok(t) => t,
        Err(e) => return reject(StatusCode::UNAUTHORIZED, "invalidTicket", e.reason()),
    };
    let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
        return reject(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "this connection cannot be upgraded",
        );
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let (id, _) = connection_opened(&shared, ticket, tx);
    let weak = Arc::downgrade(&shared);
    let config = shared.config.stream.clone();
    let task = async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                serve(weak, id, ws, rx, config).await;
            }
            Err(e) => {
                log::debug!("dingtalk emulator: stream upgrade failed: {e}");
                if let Some(shared) = weak.upgrade() {
                    connection_closed(&shared, id, Closer::Client);
                }
            }
        }
    };
    {
        let mut inner = shared.lock();
        shared.spawn_stream_task(&mut inner.stream.tasks, task);
    }
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "Upgrade")
        .header(
            header::SEC_WEBSOCKET_ACCEPT,
            derive_accept_key(key.as_bytes()),
        )
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The `Sec-WebSocket-Key` of a valid WebSocket handshake request.
fn websocket_key(method: &axum::http::Method, headers: &HeaderMap) -> Option<String> {
    let has = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let ok = method == axum::http::Method::GET
        && has(header::UPGRADE, "websocket")
        && has(header::CONNECTION, "upgrade")
        && has(header::SEC_WEBSOCKET_VERSION, "13");
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?.to_str().ok()?;
    (ok && !key.is_empty()).then(|| key.to_owned())
}

fn reject(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}

/// Longest wait for writing the close frame to a peer that may not read.
const CLOSE_WRITE_LIMIT: Duration = Duration::from_secs(1);

/// Serves one connection until either side closes it or the emulator goes away.
async fn serve<S>(
    shared: Weak<Shared>,
    id: u64,
    mut ws: WebSocketStream<S>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    config: StreamConfig,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let far = Instant::now() + Duration::from_secs(365 * 24 * 3600);
    let mut next_ping = config.ping_interval.map(|d| Instant::now() + d);
    let mut rebalance_at = config.disconnect_every.map(|d| Instant::now() + d);
    let mut close_at: Option<Instant> = None;
    let mut frozen = false;
    let closer = loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => break Closer::Server,
                Some(Command::Send(text)) => {
                    if !frozen && ws.send(Message::text(text)).await.is_err() {
                        break Closer::Client;
                    }
                }
                Some(Command::Disconnect { frame, grace }) => {
                    rebalance_at = None;
                    close_at = Some(Instant::now() + grace);
                    if !frozen && ws.send(Message::text(frame)).await.is_err() {
                        break Closer::Client;
                    }
                }
                Some(Command::Freeze) => frozen = true,
            },
            message = ws.next(), if !frozen => match message {
                Some(Ok(Message::Text(text))) => match shared.upgrade() {
                    Some(shared) => client_frame(&shared, id, text.as_str()),
                    None => break Closer::Server,
                },
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break Closer::Client,
                Some(Ok(_)) => {}
            },
            _ = tokio::time::sleep_until(next_ping.unwrap_or(far)), if next_ping.is_some() && !frozen => {
                next_ping = config.ping_interval.map(|d| Instant::now() + d);
                let Some(shared) = shared.upgrade() else { break Closer::Server };
                if let Some(frame) = ping(&shared, id) {
                    if ws.send(Message::text(frame)).await.is_err() {
                        break Closer::Client;
                    }
                }
            },
            _ = tokio::time::sleep_until(rebalance_at.unwrap_or(far)), if rebalance_at.is_some() => {
                rebalance_at = None;
                let Some(shared) = shared.upgrade() else { break Closer::Server };
                // Queues the frame to this task like `disconnect_all` does.
                disconnect(&shared, Some(id), "connection is expired", config.disconnect_grace);
            },
            _ = tokio::time::sleep_until(close_at.unwrap_or(far)), if close_at.is_some() => {
                if !frozen {
                    let _ = tokio::time::timeout(CLOSE_WRITE_LIMIT, ws.close(None)).await;
                }
                break Closer::Server;
            },
        }
    };
    drop(ws);
    if let Some(shared) = shared.upgrade() {
        connection_closed(&shared, id, closer);
    }
}
