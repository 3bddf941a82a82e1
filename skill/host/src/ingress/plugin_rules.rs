//! The ingress rules the host takes from the plugin: the Stream `connections/open` request
//! (URL from the host settings, body from `stream_open_request`) and the HTTP callback gate
//! (`verify_callback` before the body is read, `handle_callback` with it). The host keeps no
//! copy of DingTalk's signature rules.

use std::borrow::Cow;
use std::sync::Arc;

use anyhow::Result;
use axum::http::{HeaderMap, StatusCode};
use openclaw_skill_abi::{ChunkStream, Refusal, Skill};
use reqwest::Url;

use super::http::{CallbackGate, CallbackRefusal, Rejected};
use super::stream::OpenRequest;
use crate::host_manifest::HostSettings;
use crate::redact;

/// The `connections/open` request of every app of `skill`, with the app's key (for log
/// lines): one Stream connection each. A plugin that predates several apps gives one.
pub fn open_requests(settings: &HostSettings, skill: &Skill) -> Result<Vec<(String, OpenRequest)>> {
    let url = |url: &str| {
        Url::parse(url).map_err(|e| anyhow::anyhow!("Stream open URL {}: {e}", redact::url(url)))
    };
    if settings.apps.is_empty() {
        let body = skill
            .stream_open_request()
            .map_err(|e| anyhow::anyhow!("the plugin's Stream open request: {}", e.message))?;
        let open = OpenRequest {
            url: url(&settings.ingress.stream.open_url)?,
            body,
        };
        return Ok(vec![(settings.app_key.clone(), open)]);
    }
    settings
        .apps
        .iter()
        .map(|app| {
            let body = skill.stream_open_request_app(&app.name).map_err(|e| {
                anyhow::anyhow!(
                    "the plugin's Stream open request of app {}: {}",
                    app.name,
                    e.message
                )
            })?;
            let open = OpenRequest {
                url: url(&app.open_url)?,
                body,
            };
            let who = if settings.apps.len() > 1 {
                format!("{} ({})", app.name, app.app_key)
            } else {
                app.app_key.clone()
            };
            Ok((who, open))
        })
        .collect()
}

/// Callbacks checked by the plugin and handed to it.
pub struct PluginGate {
    skill: Arc<Skill>,
    window_secs: u64,
}

impl PluginGate {
    /// The gate of `skill` (`window_secs` is only for the start-up log line).
    pub fn shared(skill: Arc<Skill>, settings: &HostSettings) -> Arc<dyn CallbackGate> {
        Arc::new(PluginGate {
            skill,
            window_secs: settings.ingress.http.signature_window_secs,
        })
    }
}

/// The request's headers as `(name, value)` pairs (values that are not text are left out).
fn pairs(headers: &HeaderMap) -> Vec<(&str, &str)> {
    headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect()
}

fn refusal(http_status: u16, kind: &'static str, reason: String) -> CallbackRefusal {
    CallbackRefusal {
        status: StatusCode::from_u16(http_status).unwrap_or(StatusCode::FORBIDDEN),
        kind: Cow::Borrowed(kind),
        reason,
    }
}

impl CallbackGate for PluginGate {
    fn verify(&self, headers: &HeaderMap) -> Result<(), CallbackRefusal> {
        match self.skill.verify_callback(pairs(headers)) {
            Ok(()) => Ok(()),
            Err(Refusal::Callback {
                http_status,
                kind,
                reason,
            }) => Err(refusal(http_status, kind, reason)),
            Err(Refusal::Plugin(e)) => Err(CallbackRefusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "plugin_error",
                e.message,
            )),
        }
    }

    fn accept(&self, headers: &HeaderMap, event: &str) -> Result<ChunkStream, Rejected> {
        self.skill
            .handle_callback(pairs(headers), event)
            .map_err(|r| match r {
                Refusal::Callback {
                    http_status,
                    kind,
                    reason,
                } => Rejected::Refused(refusal(http_status, kind, reason)),
                Refusal::Plugin(e) => Rejected::Skill(e),
            })
    }

    fn describe(&self) -> String {
        format!(
            "signatures checked by the plugin, window {} s, each signed timestamp accepted once",
            self.window_secs
        )
    }
}
