//! Answers that end a request before any completion starts, in each mode's error shape.
//!
//! Gateway mode (docs/gateway.md, "Pre-stream errors"): `{"error":{"message","type"}}` with
//! `Content-Type: application/json; charset=utf-8`, except 405 (`text/plain`, `Allow: POST`). Upstream mode:
//! the OpenAI shape `{"error":{"message","type","param","code"}}`.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::GatewayMode;

/// A pre-stream refusal.
#[derive(Debug, Clone)]
pub(crate) enum Rejection {
    /// Not POST on the endpoint: 405 `Method Not Allowed`.
    MethodNotAllowed,
    /// Unknown path: 404 `Not Found`.
    NotFound,
    /// A JSON error.
    Error {
        status: u16,
        message: String,
        kind: &'static str,
        code: Option<&'static str>,
    },
}

impl Rejection {
    /// HTTP 400 `invalid_request_error`.
    pub(crate) fn invalid(message: &str) -> Self {
        Self::Error {
            status: 400,
            message: message.into(),
            kind: "invalid_request_error",
            code: None,
        }
    }

    /// HTTP 401 for a missing or wrong bearer token.
    pub(crate) fn unauthorized(mode: GatewayMode) -> Self {
        match mode {
            GatewayMode::Gateway => Self::Error {
                status: 401,
                message: "Unauthorized".into(),
                kind: "unauthorized",
                code: None,
            },
            GatewayMode::Upstream => Self::Error {
                status: 401,
                message: "Incorrect API key provided.".into(),
                kind: "invalid_request_error",
                code: Some("invalid_api_key"),
            },
        }
    }

    /// The HTTP status.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Rejection::MethodNotAllowed => 405,
            Rejection::NotFound => 404,
            Rejection::Error { status, .. } => *status,
        }
    }

    /// Renders the response in the mode's shape.
    pub(crate) fn into_response(self, mode: GatewayMode) -> Response {
        let mut response = match self {
            Rejection::MethodNotAllowed => {
                let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
                r
            }
            Rejection::NotFound => text(StatusCode::NOT_FOUND, "Not Found"),
            Rejection::Error {
                status,
                message,
                kind,
                code,
            } => {
                let body = match mode {
                    GatewayMode::Gateway => {
                        json!({ "error": { "message": message, "type": kind } })
                    }
                    GatewayMode::Upstream => {
                        json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })
                    }
                };
                json_response(status, body.to_string())
            }
        };
        if mode == GatewayMode::Gateway {
            add_gateway_headers(&mut response);
        }
        response
    }
}

/// A JSON response (`application/json; charset=utf-8`).
pub(crate) fn json_response(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

fn text(status: StatusCode, body: &'static str) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The security headers the real gateway puts on every HTTP response (docs/gateway.md,
/// "Streaming").
pub(crate) fn add_gateway_headers(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(self), geolocation=()"),
    );
}
