//! The request pipeline: classify → (fault) → authenticate → monthly quota → flow control → scope →
//! handler → (applied timeout) → record.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Query, Request, State},
    http::{request::Parts, Uri},
    response::Response,
};
use serde_json::{Map, Value};

use super::{
    card_callbacks, card_create, card_update, control,
    fault::FaultResponse,
    files, media, qps, quota,
    reply::{new_request_id, ApiError, Reply},
    robot, route,
    state::Shared,
    stream, tokens, ApiKind, Call,
};

/// Largest request body read (larger bodies are refused as an invalid parameter).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Header carrying the v1.0 access token.
const TOKEN_HEADER: &str = "x-acs-dingtalk-access-token";

/// The single entry point of the emulator's router.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    if request.uri().path() == stream::CONNECT_PATH {
        return stream::upgrade(shared, request).await;
    }
    let (parts, body) = request.into_parts();
    let kind = route::classify(&parts.method, parts.uri.path());
    if kind == ApiKind::Control {
        return control::handle(&shared, &parts, body).await;
    }
    if kind == ApiKind::MessageFileGet {
        return files::serve(&shared, parts).await;
    }
    let at_ms = shared.clock.now_ms();
    let seq = shared.next_seq();
    let request_id = new_request_id();
    let query = query_object(&parts.uri);
    let input = read_input(&parts, body, kind).await;
    let recorded = match (&input, parts.method.as_str()) {
        (Input::Upload(upload), _) => upload.summary(&query),
        (_, "GET") => query.clone(),
        (Input::Json(v), _) => v.clone(),
        (Input::Text(t), _) => Value::String(t.clone()),
        (Input::Unreadable, _) => Value::Null,
    };
    let mut call = Call {
        seq,
        at_ms,
        took_ms: 0,
        kind,
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        status: 0,
        error_code: None,
        out_track_id: recorded
            .get("outTrackId")
            .and_then(Value::as_str)
            .map(str::to_string),
        request: recorded,
        app_key: None,
    };
    let reply = process(&shared, &parts, &input, &query, &mut call).await;
    call.status = reply.status;
    call.error_code = reply.error_code.clone();
    call.took_ms = shared.clock.now_ms().saturating_sub(at_ms);
    log::debug!(
        "dingtalk emulator: {} {} -> {}",
        call.method,
        call.path,
        call.status
    );
    shared.record(call);
    reply.into_response(&request_id)
}

/// A request body as read.
enum Input {
    Json(Value),
    Text(String),
    Unreadable,
    /// The multipart body of `POST /media/upload`.
    Upload(media::Upload),
}

impl Input {
    fn json(&self) -> Result<&Value, ApiError> {
        match self {
            Input::Json(v @ Value::Object(_)) => Ok(v),
            _ => Err(ApiError::invalid("body")),
        }
    }
}

/// Largest `POST /media/upload` body read (an upload over it is answered errcode 40006).
const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

async fn read_input(parts: &Parts, body: Body, kind: ApiKind) -> Input {
    if kind == ApiKind::MediaUpload {
        let content_type = parts
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        return Input::Upload(match axum::body::to_bytes(body, MAX_UPLOAD_BYTES).await {
            Ok(bytes) => media::read(content_type, bytes).await,
            Err(_) => media::Upload {
                too_large: true,
                ..media::Upload::default()
            },
        });
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return Input::Unreadable;
    };
    if bytes.is_empty() && parts.method == "GET" {
        return Input::Json(Value::Null);
    }
    match serde_json::from_slice(&bytes) {
        Ok(v) => Input::Json(v),
        Err(_) => Input::Text(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

pub(crate) fn query_object(uri: &Uri) -> Value {
    let pairs = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default();
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect::<Map<_, _>>(),
    )
}

async fn process(
    shared: &Shared,
    parts: &Parts,
    input: &Input,
    query: &Value,
    call: &mut Call,
) -> Reply {
    let kind = call.kind;
    if kind == ApiKind::Unknown {
        return ApiError::not_found().into();
    }
    let fault = shared.lock().faults.take(kind);
    let mut timeout = false;
    match fault {
        Some(FaultResponse::Latency(delay)) => tokio::time::sleep(delay).await,
        Some(FaultResponse::ServerError) => return ApiError::system_busy().into(),
        Some(FaultResponse::GatewayTimeout) => return ApiError::gateway_timeout().into(),
        Some(FaultResponse::AppliedGatewayTimeout) => timeout = true,
        Some(FaultResponse::QpsLimit) => return qps::rejection(shared, call.at_ms).into(),
        None => {}
    }
    let reply = handle_call(shared, parts, input, query, call, &mut timeout);
    if !timeout {
        return reply;
    }
    // The ambiguous failure: whatever was done stays done, the client only sees a 504.
    if reply.status == 200 {
        shared.lock().push_applied_timeout(call.seq);
    }
    ApiError::gateway_timeout().into()
}

/// Handles a call normally; sets `timeout` when `applied_timeout_every` picks it.
fn handle_call(
    shared: &Shared,
    parts: &Parts,
    input: &Input,
    query: &Value,
    call: &mut Call,
    timeout: &mut bool,
) -> Reply {
    let now = shared.clock.now_ms();
    match call.kind {
        ApiKind::AccessToken => match input.json() {
            Ok(body) => tokens::access_token(shared, call.at_ms, body, &mut call.app_key),
            Err(e) => e.into(),
        },
        ApiKind::StreamConnectionOpen => match input.json() {
            Ok(body) => stream::connections_open(shared, call.at_ms, body, &mut call.app_key),
            Err(e) => e.into(),
        },
        ApiKind::LegacyAccessToken => {
            tokens::legacy_token(shared, call.at_ms, query, &mut call.app_key)
        }
        ApiKind::MediaUpload => match input {
            Input::Upload(upload) => {
                media::upload(shared, call.at_ms, query, upload, &mut call.app_key)
            }
            _ => Reply::legacy(41005, "缺少多媒体文件数据", Map::new()),
        },
        ApiKind::SessionWebhook => {
            let body = match input {
                Input::Json(v) => v,
                _ => return Reply::legacy(40035, "不合法的参数", Map::new()),
            };
            robot::send_by_session(shared, &mut shared.lock(), now, query, body)
        }
        _ => authorized(shared, parts, input, now, call, timeout).unwrap_or_else(Reply::from),
    }
}

/// True for the card calls `applied_timeout_every` counts.
fn is_card_call(kind: ApiKind) -> bool {
    matches!(
        kind,
        ApiKind::CreateAndDeliver
            | ApiKind::CreateCard
            | ApiKind::DeliverCard
            | ApiKind::StreamingUpdate
            | ApiKind::UpdateCardInstance
    )
}

/// Calls that need a valid `x-acs-dingtalk-access-token`.
///
/// A missing header is `Missingx-acs-dingtalk-access-token` (the API gateway's missing-parameter form);
/// an unknown, expired or revoked token is HTTP 400 `InvalidAuthentication` (docs/dingtalk.md, "Errors").
/// Then, in order: the monthly quota (see `quota`), flow control, the permission scope; a card call that
/// gets this far counts for `applied_timeout_every` (the Nth such call is handled and answered 504; if its
/// handler refused it, nothing was applied and it is still answered 504).
fn authorized(
    shared: &Shared,
    parts: &Parts,
    input: &Input,
    now: u64,
    call: &mut Call,
    timeout: &mut bool,
) -> Result<Reply, ApiError> {
    let token = parts
        .headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if token.is_empty() {
        return Err(ApiError::missing(TOKEN_HEADER));
    }
    let mut inner = shared.lock();
    let app = inner
        .tokens
        .validate(token, now)
        .ok_or_else(ApiError::invalid_authentication)?
        .to_string();
    call.app_key = Some(app.clone());
    if let Err(over) = quota::meter(shared, &mut inner.monthly, &app, call.at_ms) {
        return Err(over.api_error());
    }
    // Flow control counts arrivals (a latency fault delays handling, not the accounting).
    if let Err(rejected) = qps::admit(shared, &mut inner.qps, &app, call.kind, call.at_ms) {
        return Ok(rejected.into());
    }
    if let Some(scope) = route::required_scope(call.kind) {
        if !shared.config.granted_scopes.iter().any(|s| s == scope) {
            return Err(ApiError::permission_denied(scope));
        }
    }
    if let (Some(every), true) = (shared.config.applied_timeout_every, is_card_call(call.kind)) {
        inner.card_calls += 1;
        if every > 0 && inner.card_calls.is_multiple_of(u64::from(every)) {
            *timeout = true;
        }
    }
    let body = input.json()?;
    let result = match call.kind {
        ApiKind::CreateAndDeliver => card_create::create_and_deliver(shared, &mut inner, now, body),
        ApiKind::CreateCard => card_create::create(shared, &mut inner, now, body),
        ApiKind::DeliverCard => card_create::deliver(shared, &mut inner, body),
        ApiKind::StreamingUpdate => card_update::streaming(shared, &mut inner, now, body),
        ApiKind::UpdateCardInstance => card_update::update_instance(shared, &mut inner, now, body),
        ApiKind::GroupSend => robot::group_send(shared, &mut inner, now, body),
        ApiKind::OtoSend => robot::oto_send(shared, &mut inner, now, body),
        ApiKind::MessageFileDownload => files::download_url(shared, &mut inner, call.at_ms, body),
        ApiKind::RegisterCardCallback => card_callbacks::register(&mut inner, call.at_ms, body),
        _ => Err(ApiError::not_found()),
    };
    Ok(result.map_or_else(Reply::from, Reply::ok))
}
