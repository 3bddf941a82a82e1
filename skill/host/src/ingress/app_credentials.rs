//! What the host builds from the app's credentials (`dingtalk.app_key` / `app_secret`) while the
//! plugin does not provide it: the Stream `connections/open` request and the HTTP callback gate.
//! The two providers [`super::serve`] takes its ingress from.

use std::sync::Arc;

use anyhow::Result;
use openclaw_skill_abi::Skill;
use reqwest::Url;
use serde_json::json;

use super::frames::BOT_MESSAGE_TOPIC;
use super::http::{CallbackGate, SignedCallbacks};
use super::stream::OpenRequest;
use crate::host_manifest::IngressSettings;
use crate::redact;
use crate::secret::Secret;

/// `POST {dingtalk.api_base_url}/v1.0/gateway/connections/open` with the app's credentials and
/// the robot-message subscription (docs/dingtalk-events.md, "Stream mode").
pub fn open_request(settings: &IngressSettings) -> Result<OpenRequest> {
    let url = format!("{}/v1.0/gateway/connections/open", settings.api_base_url);
    let url = Url::parse(&url).map_err(|e| {
        anyhow::anyhow!(
            "dingtalk.api_base_url {}: {e}",
            redact::url(&settings.api_base_url)
        )
    })?;
    let body = json!({
        "clientId": settings.app_key,
        "clientSecret": settings.app_secret.expose(),
        "subscriptions": [{"type": "CALLBACK", "topic": BOT_MESSAGE_TOPIC}],
        "ua": concat!("openclaw-skill/", env!("CARGO_PKG_VERSION")),
    });
    Ok(OpenRequest {
        url,
        body: Secret::new(body.to_string()),
    })
}

/// Callbacks signed with the app secret, within `ingress.http.signature_window_secs`, each
/// signed pair accepted once, handed to `skill`.
pub fn callback_gate(settings: &IngressSettings, skill: Arc<Skill>) -> Arc<dyn CallbackGate> {
    Arc::new(SignedCallbacks::new(
        settings.app_secret.clone(),
        settings.http.signature_window_secs,
        skill,
    ))
}
