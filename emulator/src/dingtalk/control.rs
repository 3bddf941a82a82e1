//! The `/__emulator/*` control API, for out-of-process users (benchmarks, Node tests).
//!
//! | request | answer |
//! |---|---|
//! | `GET /__emulator/calls` | `[Call…]` (`seq`, `at_ms` arrival, `took_ms` until the answer, `kind`, …) |
//! | `GET /__emulator/cards` | `[Card…]` |
//! | `GET /__emulator/messages` | `[SentMessage…]` |
//! | `GET /__emulator/applied-timeouts` | `[seq…]`: calls applied, then answered 504 |
//! | `GET /__emulator/monthly-calls` | `{"calls": n}`: the app's metered calls this month |
//! | `POST /__emulator/faults` with a [`Fault`](super::Fault) | `{"ok":true}` |
//! | `POST /__emulator/revoke-tokens` | `{"ok":true}` |
//! | `POST /__emulator/session-webhooks {"conversationId"}` | `{"url","expiresAt"}` |
//! | `POST /__emulator/expire-session-webhooks` | `{"ok":true}` |
//! | `POST /__emulator/bot-messages` with a [`MessageSpec`](crate::event::MessageSpec) | the inbound payload |
//! | `POST /__emulator/stream/push` with a [`MessageSpec`](crate::event::MessageSpec) (+ optional `lose_acks`) | a [`PushReceipt`](super::PushReceipt) `{"msg_id","message_id"}` |
//! | `POST /__emulator/stream/disconnect` `{"reason"?, "grace_ms"?}` | `{"connections": n}` |
//! | `POST /__emulator/stream/freeze` | `{"connections": n}` |
//! | `GET /__emulator/stream/frames` | `[StreamFrame…]` |
//! | `GET /__emulator/stream/connections` | `[StreamConnection…]` |
//! | `GET /__emulator/media` | `[Media…]`: uploads (`POST /media/upload`) |
//! | `GET /__emulator/media/<media_id>` | the uploaded bytes, with the part's `Content-Type` (404 if unknown) |
//! | `POST /__emulator/cards/press {"outTrackId","userId","actionId","params"?}` | a [`PressReceipt`](super::PressReceipt), or 400 `{"error"}` (see [`press_card`](super::DingTalkEmulator::press_card)) |
//! | `GET /__emulator/card-presses` | `[CardPress…]` |
//! | `GET /__emulator/card-callback-routes` | `[CardCallbackRoute…]` |
//! | `POST /__emulator/files {"name","contentType","base64"}` | `{"downloadCode"}`: a file a user sends (see [`add_file`](super::DingTalkEmulator::add_file)) |
//!
//! Control requests are not DingTalk calls: they are excluded from [`calls`](super::DingTalkEmulator::calls)
//! and not subject to tokens, faults or flow control. Records use the Rust field names (snake_case).

use axum::{
    body::Body,
    http::{request::Parts, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use std::{sync::Arc, time::Duration};

use serde::{de::DeserializeOwned, Deserialize};
use serde_json::{json, Value};

use base64::{engine::general_purpose::STANDARD as B64, Engine};

use super::{card_callbacks, files, state::Shared, stream, Fault, PushOptions};
use crate::event::{build_bot_message, MessageSpec};

/// Serves one control request.
pub(crate) async fn handle(shared: &Arc<Shared>, parts: &Parts, body: Body) -> Response {
    // Large enough for a base64 file of the upload limit (20 MB).
    let bytes = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let ok = || Json(json!({ "ok": true })).into_response();
    match (parts.method.as_str(), parts.uri.path()) {
        ("GET", "/__emulator/calls") => Json(shared.calls()).into_response(),
        ("GET", "/__emulator/cards") => Json(shared.lock().cards.all()).into_response(),
        ("GET", "/__emulator/messages") => Json(shared.sent_messages()).into_response(),
        ("GET", "/__emulator/applied-timeouts") => Json(shared.applied_timeouts()).into_response(),
        ("GET", "/__emulator/monthly-calls") => {
            Json(json!({ "calls": shared.monthly_calls() })).into_response()
        }
        ("POST", "/__emulator/faults") => match parse::<Fault>(&bytes) {
            Ok(fault) => {
                shared.inject(fault);
                ok()
            }
            Err(e) => *e,
        },
        ("POST", "/__emulator/revoke-tokens") => {
            shared.revoke_tokens();
            ok()
        }
        ("POST", "/__emulator/session-webhooks") => match parse::<Value>(&bytes) {
            Ok(v) => match v.get("conversationId").and_then(Value::as_str) {
                Some(cid) => {
                    let (url, expires_at) = shared.new_session_webhook(cid);
                    Json(json!({ "url": url, "expiresAt": expires_at })).into_response()
                }
                None => bad_request("conversationId (string) is required"),
            },
            Err(e) => *e,
        },
        ("POST", "/__emulator/expire-session-webhooks") => {
            shared.expire_session_webhooks();
            ok()
        }
        ("POST", "/__emulator/bot-messages") => match parse::<MessageSpec>(&bytes) {
            Ok(spec) => Json(build_bot_message(shared, spec)).into_response(),
            Err(e) => *e,
        },
        ("POST", "/__emulator/stream/push") => match parse::<StreamPush>(&bytes) {
            Ok(p) => Json(stream::control::push(shared, p.spec, p.options)).into_response(),
            Err(e) => *e,
        },
        ("POST", "/__emulator/stream/disconnect") => {
            let request = if bytes.is_empty() {
                Ok(StreamDisconnect::default())
            } else {
                parse::<StreamDisconnect>(&bytes)
            };
            match request {
                Ok(d) => {
                    let n = stream::control::disconnect(
                        shared,
                        d.reason.as_deref(),
                        d.grace_ms.map(Duration::from_millis),
                    );
                    Json(json!({ "connections": n })).into_response()
                }
                Err(e) => *e,
            }
        }
        ("POST", "/__emulator/stream/freeze") => {
            Json(json!({ "connections": stream::control::freeze(shared) })).into_response()
        }
        ("GET", "/__emulator/stream/frames") => {
            Json(stream::control::frames(shared)).into_response()
        }
        ("GET", "/__emulator/media") => Json(shared.lock().media.all()).into_response(),
        ("GET", path) if path.starts_with("/__emulator/media/") => {
            let id = &path["/__emulator/media/".len()..];
            match shared.lock().media.content(id) {
                Some((content_type, bytes)) => {
                    ([(axum::http::header::CONTENT_TYPE, content_type)], bytes).into_response()
                }
                None => (
                    StatusCode::NOT_FOUND,
                    Json(json!({ "error": "unknown media_id" })),
                )
                    .into_response(),
            }
        }
        ("POST", "/__emulator/cards/press") => match parse::<Press>(&bytes) {
            Ok(p) => match card_callbacks::press(
                shared,
                &p.out_track_id,
                &p.user_id,
                &p.action_id,
                p.params,
            ) {
                Ok(receipt) => Json(receipt).into_response(),
                Err(e) => bad_request(&e.to_string()),
            },
            Err(e) => *e,
        },
        ("GET", "/__emulator/card-presses") => {
            Json(shared.lock().presses.iter().cloned().collect::<Vec<_>>()).into_response()
        }
        ("GET", "/__emulator/card-callback-routes") => Json(
            shared
                .lock()
                .card_routes
                .values()
                .cloned()
                .collect::<Vec<_>>(),
        )
        .into_response(),
        ("POST", "/__emulator/files") => match parse::<AddFile>(&bytes) {
            Ok(f) => match B64.decode(f.base64.as_bytes()) {
                Ok(data) => {
                    Json(json!({ "downloadCode": files::add(shared, &f.content_type, data) }))
                        .into_response()
                }
                Err(e) => bad_request(&format!("base64: {e}")),
            },
            Err(e) => *e,
        },
        ("GET", "/__emulator/stream/connections") => {
            Json(stream::control::connections(shared)).into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "unknown control endpoint" })),
        )
            .into_response(),
    }
}

/// `POST /__emulator/stream/push`: a message spec plus push options, side by side.
#[derive(Deserialize)]
struct StreamPush {
    #[serde(flatten)]
    spec: MessageSpec,
    #[serde(flatten)]
    options: PushOptions,
}

/// `POST /__emulator/cards/press`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Press {
    out_track_id: String,
    user_id: String,
    action_id: String,
    #[serde(default)]
    params: Value,
}

/// `POST /__emulator/files`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddFile {
    #[allow(dead_code)]
    name: String,
    content_type: String,
    base64: String,
}

/// `POST /__emulator/stream/disconnect`.
#[derive(Default, Deserialize)]
struct StreamDisconnect {
    reason: Option<String>,
    grace_ms: Option<u64>,
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(bytes).map_err(|e| Box::new(bad_request(&e.to_string())))
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}
