//! The callback route's answers: `{"success":true}`, or `{"success":false,"message":…}` with
//! the refusal attached for the refusal log.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use super::gate::CallbackRefusal;

/// The answer with `status` (`message` is shown on a refusal only).
pub fn answer(status: StatusCode, message: &str) -> Response {
    let body = if status == StatusCode::OK {
        json!({ "success": true })
    } else {
        json!({ "success": false, "message": message })
    };
    (status, Json(body)).into_response()
}

/// The answer to a refused callback; the refusal rides along as a response extension for the
/// refusal log.
pub fn refusal(refused: CallbackRefusal) -> Response {
    let mut response = answer(refused.status, &refused.reason);
    response.extensions_mut().insert(refused);
    response
}
