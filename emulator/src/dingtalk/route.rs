//! Which API a request addresses (routing is by method and path, like DingTalk's API gateway).

use axum::http::Method;

use super::ApiKind;

/// Path prefix of the emulator's control API.
pub(crate) const CONTROL_PREFIX: &str = "/__emulator/";

/// Classifies a request; unknown method/path pairs are [`ApiKind::Unknown`].
pub(crate) fn classify(method: &Method, path: &str) -> ApiKind {
    if path.starts_with(CONTROL_PREFIX) {
        return ApiKind::Control;
    }
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    match (method.as_str(), path) {
        ("POST", "/v1.0/oauth2/accessToken") => ApiKind::AccessToken,
        ("GET", "/gettoken") => ApiKind::LegacyAccessToken,
        ("POST", "/v1.0/card/instances/createAndDeliver") => ApiKind::CreateAndDeliver,
        ("POST", "/v1.0/card/instances") => ApiKind::CreateCard,
        ("PUT", "/v1.0/card/instances") => ApiKind::UpdateCardInstance,
        ("POST", "/v1.0/card/instances/deliver") => ApiKind::DeliverCard,
        ("PUT", "/v1.0/card/streaming") => ApiKind::StreamingUpdate,
        ("POST", "/robot/sendBySession") => ApiKind::SessionWebhook,
        ("POST", "/v1.0/robot/groupMessages/send") => ApiKind::GroupSend,
        ("POST", "/v1.0/robot/oToMessages/batchSend") => ApiKind::OtoSend,
        ("POST", "/v1.0/gateway/connections/open") => ApiKind::StreamConnectionOpen,
        ("POST", "/v1.0/robot/messageFiles/download") => ApiKind::MessageFileDownload,
        ("POST", "/media/upload") => ApiKind::MediaUpload,
        ("POST", "/v1.0/card/callbacks/register") => ApiKind::RegisterCardCallback,
        (_, p) if p.starts_with(super::files::OSS_PREFIX) => ApiKind::MessageFileGet,
        _ => ApiKind::Unknown,
    }
}

/// The permission scope a (token-protected) API requires, if any.
pub(crate) fn required_scope(kind: ApiKind) -> Option<&'static str> {
    match kind {
        ApiKind::CreateAndDeliver
        | ApiKind::CreateCard
        | ApiKind::DeliverCard
        | ApiKind::UpdateCardInstance
        | ApiKind::RegisterCardCallback => Some("Card.Instance.Write"),
        ApiKind::StreamingUpdate => Some("Card.Streaming.Write"),
        ApiKind::GroupSend | ApiKind::OtoSend | ApiKind::MessageFileDownload => {
            Some("qyapi_robot_sendmsg")
        }
        ApiKind::MediaUpload => Some("qyapi_base"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_method_and_path() {
        assert_eq!(
            classify(&Method::PUT, "/v1.0/card/streaming"),
            ApiKind::StreamingUpdate
        );
        assert_eq!(
            classify(&Method::POST, "/v1.0/card/streaming"),
            ApiKind::Unknown
        );
        assert_eq!(
            classify(&Method::POST, "/v1.0/card/instances"),
            ApiKind::CreateCard
        );
        assert_eq!(
            classify(&Method::PUT, "/v1.0/card/instances"),
            ApiKind::UpdateCardInstance
        );
        assert_eq!(
            classify(&Method::POST, "/v1.0/gateway/connections/open"),
            ApiKind::StreamConnectionOpen
        );
        assert_eq!(
            classify(&Method::GET, "/__emulator/calls"),
            ApiKind::Control
        );
    }
}
