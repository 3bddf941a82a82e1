//! Gateway failures, typed, each carrying the gateway's own message where there is one.

use openclaw_skill_abi::OcFailureKind;

/// Which deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// TCP/TLS connect.
    Connect,
    /// Response head after sending the request.
    FirstByte,
    /// Silence between two SSE events.
    Idle,
    /// The whole reply.
    Total,
}

/// Why a gateway request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// An HTTP error before the stream began (400, 401, 404, 405, 413, 429, 5xx).
    #[error("gateway answered HTTP {status}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// `error.message` from the body, or the body text.
        message: String,
    },
    /// An error object sent inside the HTTP 200 stream.
    #[error("gateway error: {message}")]
    InStream {
        /// `error.message`.
        message: String,
        /// `error.type`, e.g. `api_error`.
        kind: String,
    },
    /// The stream ended without `data: [DONE]`.
    #[error("the gateway stream broke off before [DONE]")]
    Truncated,
    /// A deadline passed.
    #[error("gateway {0:?} deadline passed")]
    Timeout(Deadline),
    /// No connection to the gateway could be made (DNS, refused, TLS).
    #[error("cannot connect to the gateway: {0}")]
    Connect(String),
    /// The connection to the gateway failed after it was made.
    #[error("gateway connection failed: {0}")]
    Transport(String),
    /// The gateway sent something that is not the OpenAI chunk format.
    #[error("gateway sent malformed data: {0}")]
    Protocol(String),
}

impl GatewayError {
    /// The failure kind reported on the chunk stream.
    pub fn failure_kind(&self) -> OcFailureKind {
        match self {
            GatewayError::Status { .. }
            | GatewayError::InStream { .. }
            | GatewayError::Protocol(_) => OcFailureKind::GATEWAY,
            GatewayError::Truncated | GatewayError::Transport(_) | GatewayError::Connect(_) => {
                OcFailureKind::GATEWAY_UNREACHABLE
            }
            GatewayError::Timeout(_) => OcFailureKind::TIMEOUT,
        }
    }

    /// Whether a retry may help (only ever attempted before the first content byte).
    pub fn is_retryable(&self) -> bool {
        match self {
            GatewayError::Status { status, .. } => *status == 429 || *status >= 500,
            GatewayError::Transport(_)
            | GatewayError::Connect(_)
            | GatewayError::Timeout(Deadline::Connect | Deadline::FirstByte) => true,
            _ => false,
        }
    }

    /// A short reason for the user, shown on a failed card.
    pub fn user_reason(&self) -> String {
        match self {
            GatewayError::Status { status: 401, .. } => {
                "网关拒绝了认证 (gateway authentication failed)".into()
            }
            GatewayError::Status { status: 429, .. } => {
                "网关繁忙，请稍后再试 (gateway rate limited)".into()
            }
            GatewayError::Status { message, .. } | GatewayError::InStream { message, .. } => {
                format!("模型服务出错：{message}")
            }
            GatewayError::Connect(_) => {
                "无法连接模型服务 (could not connect to the model service)".into()
            }
            GatewayError::Truncated | GatewayError::Transport(_) => {
                "模型服务连接中断 (gateway connection lost)".into()
            }
            GatewayError::Timeout(_) => "模型服务响应超时 (gateway timed out)".into(),
            GatewayError::Protocol(_) => "模型服务返回了无法识别的数据".into(),
        }
    }
}
