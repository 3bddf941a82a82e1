//! The HTTP entry point: checks shared by both modes, then the mode's flow.
//!
//! Order of the pre-stream checks (as in the gateway's source, `handleGatewayPostJsonEndpoint`): path →
//! method (405) → bearer token (401) → `Content-Type` other than `application/json` (415, gateway mode;
//! a missing header is allowed) → body over 20 MiB (413) → JSON (400 with V8's `JSON.parse` message; an
//! empty body counts as `{}`) → model/agent/session key → user message (400).

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, request::Parts, HeaderMap},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};

use super::{
    gateway_flow::{self, Job},
    images,
    reject::Rejection,
    request::{authorized, parse_gateway, parse_upstream},
    script::Script,
    sse::Framer,
    stream::{sse_response, Sink},
    upstream_flow::{self, UpstreamJob},
    v8json, App, GatewayMode, GatewayRequest, RequestOutcome,
};

/// The gateway's default body limit for `/v1/chat/completions` (20 MiB).
const MAX_BODY_BYTES: usize = 20 * 1024 * 1024;

/// The single entry point of the fake's router.
pub(crate) async fn handle(State(app): State<Arc<App>>, request: Request) -> Response {
    let at_ms = app.recorder.clock.now_ms();
    let (parts, body) = request.into_parts();
    if let Some(response) = probe(&app, &parts) {
        return response;
    }
    let record = GatewayRequest {
        seq: 0,
        at_ms,
        headers: redacted(&parts.headers),
        body: Value::Null,
        session_key: None,
        status: 0,
        outcome: RequestOutcome::InProgress,
        emitted_tokens: Vec::new(),
        images: Vec::new(),
    };
    let body = match read_json(&app, &parts, body).await {
        Ok(body) => body,
        Err((rejection, body)) => {
            return reject(&app, GatewayRequest { body, ..record }, rejection)
        }
    };
    match app.config.mode {
        GatewayMode::Gateway => gateway(app, &parts, GatewayRequest { body, ..record }).await,
        GatewayMode::Upstream => upstream(app, GatewayRequest { body, ..record }).await,
    }
}

async fn read_json(app: &App, parts: &Parts, body: Body) -> Result<Value, (Rejection, Value)> {
    let mode = app.config.mode;
    if parts.uri.path() != "/v1/chat/completions" {
        return Err((Rejection::NotFound, Value::Null));
    }
    if parts.method != "POST" {
        return Err((Rejection::MethodNotAllowed, Value::Null));
    }
    if !authorized(app.config.token.as_deref(), &parts.headers) {
        return Err((Rejection::unauthorized(mode), Value::Null));
    }
    if mode == GatewayMode::Gateway && !json_content_type(&parts.headers) {
        let message = "Unsupported Media Type. Expected application/json.".into();
        return Err((
            Rejection::Error {
                status: 415,
                message,
                kind: "invalid_request_error",
                code: None,
            },
            Value::Null,
        ));
    }
    let too_large = || Rejection::Error {
        status: 413,
        message: "Payload too large".into(),
        kind: "invalid_request_error",
        code: None,
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES) {
        return Err((too_large(), Value::Null));
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| (too_large(), Value::Null))?;
    let text = String::from_utf8_lossy(&bytes);
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(&text).map_err(|e| {
        let message = v8json::parse_error(&text).unwrap_or_else(|| e.to_string());
        (
            Rejection::invalid(&message),
            Value::String(text.into_owned()),
        )
    })
}

/// No `Content-Type`, or one whose media type is `application/json`.
fn json_content_type(headers: &HeaderMap) -> bool {
    match headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or_default())
    {
        None => true,
        Some(ct) => ct
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("application/json"),
    }
}

fn reject(app: &App, record: GatewayRequest, rejection: Rejection) -> Response {
    app.recorder.push(GatewayRequest {
        status: rejection.status(),
        outcome: RequestOutcome::Rejected,
        ..record
    });
    rejection.into_response(app.config.mode)
}

async fn gateway(app: Arc<App>, parts: &Parts, record: GatewayRequest) -> Response {
    let mut request = match parse_gateway(&app.config, &parts.headers, &record.body) {
        Ok(r) => r,
        Err(rejection) => return reject(&app, record, rejection),
    };
    request.images = match images::resolve(&record.body, app.config.allow_image_urls).await {
        Ok(images) => images,
        Err(()) => return reject(&app, record, Rejection::invalid(images::INVALID_IMAGE)),
    };
    if !request.images.is_empty() && request.last_user_text().is_empty() {
        match request.user_texts.last_mut() {
            Some(last) => *last = images::IMAGE_ONLY_USER_MESSAGE.into(),
            None => request
                .user_texts
                .push(images::IMAGE_ONLY_USER_MESSAGE.into()),
        }
    }
    let admission = app
        .sessions
        .admit(&request.session_key, request.ephemeral_session);
    let session_key = Some(request.session_key.clone());
    let seq = app.recorder.push(GatewayRequest {
        session_key,
        status: 200,
        images: request.images.clone(),
        ..record
    });
    let framer = Framer::new(&request.model, false);
    let stream = request.stream;
    let mut script = Script::parse(&request.user_texts);
    if admission.is_some() {
        script.failure = app.take_queued_failure().or(script.failure);
    }
    let job = Job {
        app: app.clone(),
        seq,
        framer,
        script,
        request,
        admission,
    };
    if stream {
        let (sink, body) = Sink::new(app.recorder.clone(), seq);
        let recorder = app.recorder.clone();
        tokio::spawn(async move { recorder.finish(seq, gateway_flow::stream(job, sink).await) });
        return sse_response(body, true);
    }
    finish_json(&app, seq, gateway_flow::json(job)).await
}

async fn upstream(app: Arc<App>, record: GatewayRequest) -> Response {
    let request = parse_upstream(&record.body);
    let mut script = Script::parse(&request.user_texts);
    script.failure = app.take_queued_failure().or(script.failure);
    if let Some((status, response)) = upstream_flow::early_failure(&script) {
        app.recorder.push(GatewayRequest {
            status,
            outcome: RequestOutcome::Rejected,
            ..record
        });
        return response;
    }
    let seq = app.recorder.push(GatewayRequest {
        status: 200,
        images: request.images.clone(),
        ..record
    });
    let framer = Framer::new(&request.model, true);
    let stream = request.stream;
    let job = UpstreamJob {
        app: app.clone(),
        seq,
        framer,
        script,
        request,
    };
    if stream {
        let (sink, body) = Sink::new(app.recorder.clone(), seq);
        let recorder = app.recorder.clone();
        tokio::spawn(async move { recorder.finish(seq, upstream_flow::stream(job, sink).await) });
        return sse_response(body, false);
    }
    finish_json(&app, seq, upstream_flow::json(job)).await
}

/// Runs a non-streaming answer; if the client leaves first (the future is dropped) the record says so.
async fn finish_json(
    app: &App,
    seq: u64,
    answer: impl std::future::Future<Output = (Response, RequestOutcome)>,
) -> Response {
    struct Guard<'a>(&'a App, u64, bool);
    impl Drop for Guard<'_> {
        fn drop(&mut self) {
            if self.2 {
                self.0
                    .recorder
                    .finish(self.1, RequestOutcome::ClientDisconnected);
            }
        }
    }
    let mut guard = Guard(app, seq, true);
    let (response, outcome) = answer.await;
    guard.2 = false;
    let status = response.status().as_u16();
    app.recorder.update(seq, |r| r.status = status);
    app.recorder.finish(seq, outcome);
    response
}

/// Readiness probes and the model list (not recorded). Probes need no auth; `/v1/models` does.
fn probe(app: &App, parts: &Parts) -> Option<Response> {
    if parts.method != "GET" {
        return None;
    }
    let uptime_ms = app.recorder.clock.now_ms();
    let response = match parts.uri.path() {
        "/health" | "/healthz" => Json(json!({ "ok": true, "status": "live" })).into_response(),
        "/readyz" | "/ready" => {
            Json(json!({ "ready": true, "failing": [], "uptimeMs": uptime_ms })).into_response()
        }
        "/v1/models" => {
            if !authorized(app.config.token.as_deref(), &parts.headers) {
                return Some(
                    Rejection::unauthorized(app.config.mode).into_response(app.config.mode),
                );
            }
            let ids: Vec<String> = match app.config.mode {
                GatewayMode::Gateway => ["openclaw".to_string(), "openclaw/default".to_string()]
                    .into_iter()
                    .chain(app.config.agents.iter().map(|a| format!("openclaw/{a}")))
                    .collect(),
                GatewayMode::Upstream => vec!["fake-model".into()],
            };
            let data: Vec<Value> =
                ids.iter().map(|id| json!({ "id": id, "object": "model", "created": 0, "owned_by": "openclaw" })).collect();
            Json(json!({ "object": "list", "data": data })).into_response()
        }
        _ => return None,
    };
    Some(response)
}

/// Lower-case header names; the `authorization` value redacted to `Bearer ***`.
fn redacted(headers: &HeaderMap) -> std::collections::BTreeMap<String, String> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = if name == header::AUTHORIZATION {
                let v = value.to_str().unwrap_or_default().trim();
                if v.get(..7)
                    .is_some_and(|p| p.eq_ignore_ascii_case("bearer "))
                {
                    "Bearer ***"
                } else {
                    "***"
                }
                .to_string()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name.as_str().to_string(), value)
        })
        .collect()
}
