//! Handler answers and DingTalk's error shapes.
//!
//! New API (`api.dingtalk.com/v1.0/*`): HTTP 4xx/5xx with `{"code","requestid","message"}` (+ `accessdenieddetail`
//! on permission errors). Legacy oapi: HTTP 200 with `{"errcode":N,"errmsg":…}` (docs/dingtalk.md, "Errors").

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{json, Map, Value};

/// A DingTalk error of the new API.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    status: u16,
    code: String,
    message: String,
    detail: Option<Value>,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            detail: None,
        }
    }

    /// `code: message`, for records.
    pub(crate) fn describe(&self) -> String {
        format!("{}: {}", self.code, self.message)
    }

    /// HTTP 400 with a `param.*` style code.
    pub(crate) fn param(code: &str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    /// A required parameter is absent or empty (Alibaba POP form: `Missing<name>`).
    pub(crate) fn missing(name: &str) -> Self {
        Self::new(
            400,
            &format!("Missing{name}"),
            format!("{name} is mandatory for this action."),
        )
    }

    /// A parameter has the wrong type or form.
    pub(crate) fn invalid(name: &str) -> Self {
        Self::new(
            400,
            "InvalidParameter",
            format!("The parameter {name} is invalid."),
        )
    }

    /// Forged, malformed, expired or revoked token: HTTP 400, not 401 (docs/dingtalk.md, "Errors").
    pub(crate) fn invalid_authentication() -> Self {
        Self::new(400, "InvalidAuthentication", "不合法的access_token")
    }

    /// The token's app lacks `scope` (docs/dingtalk.md, "Errors"; docs/dingtalk-events.md, "Card calls").
    pub(crate) fn permission_denied(scope: &str) -> Self {
        let mut e = Self::new(
            403,
            "Forbidden.AccessDenied.AccessTokenPermissionDenied",
            format!("没有调用该接口的权限，接口权限申请参考：https://open.dingtalk.com/document/orgapp-server/add-api-permission (requiredScopes: {scope})"),
        );
        e.detail = Some(json!({ "requiredScopes": [scope] }));
        e
    }

    /// Flow control rejected the call; `until` is the window end as shown to users.
    pub(crate) fn qps_limit(code: &str, until: &str) -> Self {
        Self::new(403, code, format!("请求过于频繁，限制将在 {until} 结束"))
    }

    /// The documented transient server error.
    pub(crate) fn system_busy() -> Self {
        Self::new(500, "system.busy", "系统繁忙，请稍后重试")
    }

    /// DingTalk did not answer in time (emulator choice of code/message; the body is unpublished).
    pub(crate) fn gateway_timeout() -> Self {
        Self::new(
            504,
            "GatewayTimeout",
            "The request has timed out at the gateway.",
        )
    }

    /// No such API (Alibaba POP form).
    pub(crate) fn not_found() -> Self {
        Self::new(
            404,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        )
    }
}

/// A handler's answer; error bodies get their `requestid` when rendered.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) error_code: Option<String>,
    api_error: bool,
}

impl Reply {
    /// HTTP 200 with `body`.
    pub(crate) fn ok(body: Value) -> Self {
        Self {
            status: 200,
            body,
            error_code: None,
            api_error: false,
        }
    }

    /// A legacy oapi answer: HTTP 200 `{"errcode","errmsg",…extra}`.
    pub(crate) fn legacy(errcode: i64, errmsg: &str, extra: Map<String, Value>) -> Self {
        let mut body = extra;
        body.insert("errcode".into(), errcode.into());
        body.insert("errmsg".into(), errmsg.into());
        let error_code = (errcode != 0).then(|| errcode.to_string());
        Self {
            status: 200,
            body: Value::Object(body),
            error_code,
            api_error: false,
        }
    }

    /// Renders with the call's request id.
    pub(crate) fn into_response(self, request_id: &str) -> Response {
        let mut body = self.body;
        if self.api_error {
            if let Value::Object(map) = &mut body {
                map.insert("requestid".into(), request_id.into());
            }
        }
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=utf-8"),
        );
        if let Ok(v) = HeaderValue::from_str(request_id) {
            headers.insert("x-acs-request-id", v);
        }
        response
    }
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Self {
        let mut body = json!({ "code": e.code, "message": e.message });
        if let (Some(detail), Value::Object(map)) = (e.detail, &mut body) {
            map.insert("accessdenieddetail".into(), detail);
        }
        Self {
            status: e.status,
            body,
            error_code: Some(e.code),
            api_error: true,
        }
    }
}

/// A new request id in DingTalk's form (upper-case UUID).
pub(crate) fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_uppercase()
}
