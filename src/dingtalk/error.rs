//! DingTalk OpenAPI errors, typed from the documented error bodies (`docs/dingtalk.md`,
//! "Errors").

/// Why a DingTalk call failed. Never contains tokens or secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DingTalkError {
    /// `403 Forbidden.AccessDenied.QpsLimit…`: over DingTalk's rate limit.
    #[error("DingTalk rate limit ({code}): {message}")]
    QpsLimit {
        /// The error code.
        code: String,
        /// DingTalk's message.
        message: String,
    },
    /// A permission (scope) is missing from the app.
    #[error("DingTalk permission denied ({code}); the app needs scope(s) {}", scopes.join(", "))]
    PermissionDenied {
        /// The error code.
        code: String,
        /// `accessdenieddetail.requiredScopes`.
        scopes: Vec<String>,
    },
    /// The access token was rejected (HTTP 400 `InvalidAuthentication`, 401, errcode 40014).
    #[error("DingTalk rejected the access token: {0}")]
    Token(String),
    /// The app key / secret were refused.
    #[error("DingTalk refused the app credentials: {0}")]
    Credentials(String),
    /// A parameter error (`param.*`, `invalidParameter.*`), e.g. an unknown template.
    #[error("DingTalk parameter error {code}: {message}")]
    Param {
        /// The error code, e.g. `param.templateNotExist`.
        code: String,
        /// DingTalk's message.
        message: String,
    },
    /// 504: DingTalk did not answer within its own 3 s.
    #[error("DingTalk gateway timeout (504)")]
    GatewayTimeout,
    /// Another 5xx.
    #[error("DingTalk server error {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// DingTalk's message.
        message: String,
    },
    /// A legacy API answered with a non-zero `errcode`.
    #[error("DingTalk error {errcode}: {errmsg}")]
    Business {
        /// `errcode`.
        errcode: i64,
        /// `errmsg`.
        errmsg: String,
    },
    /// Any other HTTP error.
    #[error("DingTalk answered HTTP {status} ({code}): {message}")]
    Other {
        /// HTTP status.
        status: u16,
        /// Error code when present.
        code: String,
        /// Message.
        message: String,
    },
    /// The month's API call quota of the organisation is used up (`errcode 90020`,
    /// `Forbidden.AccessDenied.ApiCountLimitForOrg`).
    #[error("DingTalk monthly API call quota exhausted: {0}")]
    QuotaExhausted(String),
    /// No connection could be made (the request never reached DingTalk).
    #[error("cannot connect to DingTalk: {0}")]
    Connect(String),
    /// The request was sent but no complete answer came back (timeout, connection lost):
    /// DingTalk may have applied it.
    #[error("DingTalk unreachable: {0}")]
    Transport(String),
    /// The plugin refused to send (e.g. a session webhook on a foreign host).
    #[error("refused: {0}")]
    Refused(String),
}

impl DingTalkError {
    /// Worth retrying with backoff (and a new `guid`).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            DingTalkError::QpsLimit { .. }
                | DingTalkError::GatewayTimeout
                | DingTalkError::Server { .. }
                | DingTalkError::Transport(_)
                | DingTalkError::Connect(_)
        ) || matches!(self, DingTalkError::Business { errcode, .. } if *errcode == 90018 || *errcode == 90002 || *errcode == -1)
    }

    /// Whether DingTalk may have applied the call although it failed: a 504 (DingTalk's
    /// own 3 s timeout), another 5xx, or a request sent without a complete answer.
    pub fn may_have_applied(&self) -> bool {
        matches!(
            self,
            DingTalkError::GatewayTimeout
                | DingTalkError::Server { .. }
                | DingTalkError::Transport(_)
        )
    }

    /// A value was refused as too large (`param.stream.content` "content is too large", or a
    /// card data value over DingTalk's unpublished size limit).
    pub fn is_too_large(&self) -> bool {
        match self {
            DingTalkError::Param { code, message } => {
                let (code, message) = (code.to_ascii_lowercase(), message.to_ascii_lowercase());
                code == "param.stream.content"
                    || code.contains("toolarge")
                    || code.contains("toolong")
                    || message.contains("too large")
                    || message.contains("too long")
            }
            _ => false,
        }
    }

    /// A create was refused because a card with this `outTrackId` exists: an earlier
    /// attempt that looked failed was applied.
    pub fn card_already_exists(&self) -> bool {
        matches!(self, DingTalkError::Param { code, .. } if code == "param.cardAlreadyExist")
    }

    /// The monthly call quota is used up.
    pub fn is_quota_exhausted(&self) -> bool {
        matches!(self, DingTalkError::QuotaExhausted(_))
            || matches!(self, DingTalkError::Business { errcode: 90020, .. })
    }

    /// Whether this is a rate-limit answer.
    pub fn is_qps_limit(&self) -> bool {
        matches!(self, DingTalkError::QpsLimit { .. })
            || matches!(self, DingTalkError::Business { errcode, .. } if *errcode == 90018 || *errcode == 90002)
    }

    /// Whether this says the card does not exist / the template cannot be used / a scope is
    /// missing: creating cards will not work, fall back to plain messages.
    pub fn means_cards_unavailable(&self) -> bool {
        match self {
            DingTalkError::PermissionDenied { .. } => true,
            DingTalkError::Param { code, .. } => {
                code.contains("template") || code.contains("openSpaceId")
            }
            _ => false,
        }
    }

    /// Classifies an HTTP answer from the new OpenAPI (`api.dingtalk.com`).
    pub fn from_response(status: u16, body: &str) -> DingTalkError {
        let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let code = v
            .get("code")
            .and_then(|c| c.as_str())
            .unwrap_or("")
            .to_owned();
        let message = v
            .get("message")
            .and_then(|c| c.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| body.chars().take(200).collect());
        if code.contains("QpsLimit") || (status == 429) {
            return DingTalkError::QpsLimit { code, message };
        }
        if code.contains("ApiCountLimit") {
            return DingTalkError::QuotaExhausted(format!("{code}: {message}"));
        }
        if code == "InvalidAuthentication" || status == 401 {
            return DingTalkError::Token(message);
        }
        if code == "invalidClientIdOrSecret" || code == "authFailed" {
            return DingTalkError::Credentials(message);
        }
        if status == 403
            && (code.contains("PermissionDenied") || code.starts_with("Forbidden.AccessDenied"))
        {
            let scopes = v
                .get("accessdenieddetail")
                .and_then(|d| d.get("requiredScopes"))
                .and_then(|s| s.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            return DingTalkError::PermissionDenied { code, scopes };
        }
        match status {
            504 => DingTalkError::GatewayTimeout,
            500..=599 => DingTalkError::Server { status, message },
            400 if code.starts_with("param")
                || code.starts_with("invalidParameter")
                || !code.is_empty() =>
            {
                DingTalkError::Param { code, message }
            }
            _ => DingTalkError::Other {
                status,
                code,
                message,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_error_bodies_are_classified() {
        let qps = DingTalkError::from_response(
            403,
            r#"{"code":"Forbidden.AccessDenied.QpsLimitForApi","requestid":"r","message":"请求过于频繁"}"#,
        );
        assert!(qps.is_qps_limit() && qps.is_retryable());
        let perm = DingTalkError::from_response(
            403,
            r#"{"code":"Forbidden.AccessDenied.AccessTokenPermissionDenied","requestid":"r","message":"m","accessdenieddetail":{"requiredScopes":["Card.Streaming.Write"]}}"#,
        );
        assert_eq!(
            perm,
            DingTalkError::PermissionDenied {
                code: "Forbidden.AccessDenied.AccessTokenPermissionDenied".into(),
                scopes: vec!["Card.Streaming.Write".into()]
            }
        );
        assert!(perm.means_cards_unavailable() && !perm.is_retryable());
        assert!(matches!(
            DingTalkError::from_response(
                400,
                r#"{"code":"InvalidAuthentication","message":"不合法的access_token"}"#
            ),
            DingTalkError::Token(_)
        ));
        assert!(DingTalkError::from_response(
            400,
            r#"{"code":"param.templateNotExist","message":"x"}"#
        )
        .means_cards_unavailable());
        assert_eq!(
            DingTalkError::from_response(504, ""),
            DingTalkError::GatewayTimeout
        );
        assert!(
            DingTalkError::from_response(500, r#"{"code":"system.busy","message":"busy"}"#)
                .is_retryable()
        );
        let quota = DingTalkError::from_response(
            403,
            r#"{"code":"Forbidden.AccessDenied.ApiCountLimitForOrg","message":"您的企业本月api调用量已超过限制"}"#,
        );
        assert!(quota.is_quota_exhausted() && !quota.is_retryable());
        assert!(!quota.means_cards_unavailable());
        let big = DingTalkError::from_response(
            400,
            r#"{"code":"param.stream.content","message":"content is too large"}"#,
        );
        assert!(big.is_too_large() && !big.is_retryable());
        assert!(DingTalkError::from_response(
            400,
            r#"{"code":"param.cardAlreadyExist","message":"card already exist"}"#
        )
        .card_already_exists());
        assert!(DingTalkError::GatewayTimeout.may_have_applied());
        assert!(!DingTalkError::Connect("refused".into()).may_have_applied());
    }
}
