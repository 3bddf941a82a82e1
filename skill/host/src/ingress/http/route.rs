//! The callback route, its limits and its handler. What a request goes through, outermost
//! first (tower / tower-http layers on the route):
//! 1. the refusal accounting (`refusals.rs`);
//! 2. a concurrency limit (`ingress.http.max_connections` callbacks at once; more wait);
//! 3. a deadline for the rest of the request, that is reading the body (`read_timeout_ms`; 408);
//! 4. the gate's header check, before the body is read (`CallbackGate::verify`: 401 missing
//!    signature, 403 wrong, stale or replayed);
//! 5. the body limit (`ingress.http.max_body_bytes`; 413);
//! 6. the handler: the gate hands the event to the skill (`CallbackGate::accept`), `200
//!    {"success":true}` as soon as the skill has taken it (the reply runs afterwards).
//!
//! Another path gets axum's 404, another method on the path its 405.

use std::sync::Arc;
use std::time::Duration;

use axum::{
    extract::{Request, State},
    http::StatusCode,
    middleware::{self, Next},
    response::Response,
    routing::post,
    Router,
};
use tokio::time::Instant;
use tower::limit::ConcurrencyLimitLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use super::answer::{answer, refusal};
use super::gate::{CallbackGate, CallbackRefusal, Rejected};
use super::refusals::{count_and_log, Refusals};
use crate::ingress::dispatch::{Dispatcher, Refusal};
use crate::ingress::event::Source;

/// The route's limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Deadline for reading the body.
    pub read_timeout: Duration,
    /// Callbacks handled at once.
    pub max_connections: usize,
}

/// What the gate layer and the handler share.
struct Callback {
    gate: Arc<dyn CallbackGate>,
    dispatcher: Dispatcher,
}

/// The route at `path` with its limits and layers.
pub fn router(
    path: &str,
    limits: &Limits,
    gate: Arc<dyn CallbackGate>,
    dispatcher: Dispatcher,
    refusals: Arc<Refusals>,
) -> Router {
    let state = Arc::new(Callback { gate, dispatcher });
    let route = post(handle)
        .route_layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
        .route_layer(middleware::from_fn_with_state(state.clone(), verify))
        .route_layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.read_timeout,
        ))
        .route_layer(ConcurrencyLimitLayer::new(limits.max_connections.max(1)))
        .route_layer(middleware::from_fn_with_state(refusals, count_and_log));
    Router::new().route(path, route).with_state(state)
}

/// The gate's header check, before the body is read.
async fn verify(State(cb): State<Arc<Callback>>, request: Request, next: Next) -> Response {
    match cb.gate.verify(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refused) => refusal(refused),
    }
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

/// Reads the body and has the gate hand the event to the skill; answers at once.
async fn handle(State(cb): State<Arc<Callback>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // The body limit layer caps the body (a declared length over it never gets here).
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) if is_length_limit(&e) => {
            return refusal(CallbackRefusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "body too large",
            ))
        }
        Err(e) => {
            return refusal(CallbackRefusal::new(
                StatusCode::BAD_REQUEST,
                "body_unreadable",
                format!("cannot read the body: {e}"),
            ))
        }
    };
    let Ok(event) = std::str::from_utf8(&bytes) else {
        return refusal(CallbackRefusal::new(
            StatusCode::BAD_REQUEST,
            "not_utf8",
            "body is not UTF-8",
        ));
    };
    let received = Instant::now();
    let taken = match cb.gate.accept(&parts.headers, event) {
        Ok(stream) => Ok(stream),
        Err(Rejected::Skill(e)) => Err(e),
        Err(Rejected::Refused(refused)) => return refusal(refused),
    };
    match cb.dispatcher.taken(Source::Http, event, received, taken) {
        Ok(()) => answer(StatusCode::OK, ""),
        Err(Refusal::Invalid(why)) => refusal(CallbackRefusal::new(
            StatusCode::BAD_REQUEST,
            "invalid_event",
            why,
        )),
        Err(Refusal::ShuttingDown) => refusal(CallbackRefusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "shutting down",
        )),
        Err(Refusal::Failed(why)) => refusal(CallbackRefusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed",
            why,
        )),
    }
}
