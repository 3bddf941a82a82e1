//! The manifest's ingress settings as hosts need them: resolved, defaults applied, no secrets.

use serde_json::{json, Value};

use crate::manifest::{DingTalkConfig, IngressMode, Manifest};

/// The path of the Stream-mode `connections/open` call under `dingtalk.api_base_url`
/// (docs/dingtalk-events.md, "Opening a connection").
pub(crate) const STREAM_OPEN_PATH: &str = "/v1.0/gateway/connections/open";

/// The JSON a host gets from `host_settings` (described on `OcSkillVTable::host_settings`).
pub(crate) fn host_settings(manifest: &Manifest) -> Value {
    let ingress = &manifest.ingress;
    json!({
        "ingress": {
            "mode": match ingress.mode {
                IngressMode::Stream => "stream",
                IngressMode::Http => "http",
            },
            "http": {
                "listen": ingress.http.listen,
                "path": ingress.http.path,
                "max_body_bytes": ingress.http.max_body_bytes,
                "read_timeout_ms": ingress.http.read_timeout_ms,
                "max_connections": ingress.http.max_connections,
                "signature_window_secs": ingress.http.signature_window_secs,
            },
            "stream": {
                "open_url": open_url(&manifest.apps[0]),
                "silence_timeout_ms": ingress.stream.silence_timeout_ms,
            },
            "metrics_listen": ingress.metrics_listen.as_deref().filter(|s| !s.is_empty()),
        },
        "network": {
            "ca_file": manifest.ca_file().map(|f| f.display().to_string()),
        },
        "app_key": manifest.apps[0].app_key,
        "apps": manifest.apps.iter().map(|app| json!({
            "name": app.name,
            "app_key": app.app_key,
            "robot_code": app.robot_code,
            "open_url": open_url(app),
        })).collect::<Vec<_>>(),
        "state_dir": manifest.state_dir().display().to_string(),
    })
}

/// Where `app` opens its Stream connection.
fn open_url(app: &DingTalkConfig) -> String {
    format!(
        "{}{STREAM_OPEN_PATH}",
        app.api_base_url.trim_end_matches('/')
    )
}
