//! The host's view of the manifest's `dingtalk` credentials and `ingress:` section.

use std::path::Path;

use anyhow::{Context, Result};
use openclaw_skill_abi::manifest_text::interpolate_env;
use serde::Deserialize;

use crate::secret::Secret;

/// What ingress needs from the manifest (`dingtalk.app_key`/`app_secret`/`api_base_url` and
/// `ingress:`), after `${VAR}` interpolation. Defaults match the plugin's manifest model.
#[derive(Debug, Clone)]
pub struct IngressSettings {
    /// AppKey (clientId).
    pub app_key: String,
    /// AppSecret (clientSecret): the Stream credential and the HTTP callback signing key.
    pub app_secret: Secret,
    /// New OpenAPI base (`connections/open` lives there). Default `https://api.dingtalk.com`.
    pub api_base_url: String,
    /// `ingress.mode`.
    pub mode: IngressMode,
    /// `ingress.http`.
    pub http: HttpIngress,
    /// `ingress.stream`.
    pub stream: StreamIngress,
    /// `ingress.metrics_listen`: where `/metrics` is served, if anywhere.
    pub metrics_listen: Option<String>,
}

/// `ingress.mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IngressMode {
    /// DingTalk Stream mode (an outbound WebSocket; no public address needed).
    #[default]
    Stream,
    /// Signed HTTP callbacks (DingTalk POSTs to a public HTTPS URL that reaches this listener).
    Http,
}

/// `ingress.http`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct HttpIngress {
    /// Listen address. Default `127.0.0.1:8790` (port 0 picks a free port; the log says which).
    pub listen: String,
    /// Callback path. Default `/dingtalk/callback`.
    pub path: String,
    /// Largest accepted body. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Largest accepted distance between a callback's `timestamp` and the local clock, in
    /// seconds; an accepted `(timestamp, sign)` pair is remembered this long and refused when it
    /// comes again. Default 3600 (DingTalk's own rule; the plugin accepts 60..=3600).
    pub signature_window_secs: u64,
    /// Deadline for reading a request's head (hyper's header read timeout, also between two
    /// requests of a kept-alive connection) and for reading its body. Default 10 000 ms.
    pub read_timeout_ms: u64,
    /// Callbacks handled at once; more wait for a slot. Default 256.
    pub max_connections: usize,
}

impl Default for HttpIngress {
    fn default() -> Self {
        HttpIngress {
            listen: "127.0.0.1:8790".into(),
            path: "/dingtalk/callback".into(),
            max_body_bytes: 1024 * 1024,
            signature_window_secs: 3600,
            read_timeout_ms: 10_000,
            max_connections: 256,
        }
    }
}

/// `ingress.stream`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct StreamIngress {
    /// A socket silent for longer than this is dead. Default 90 000 ms.
    pub silence_timeout_ms: u64,
}

impl Default for StreamIngress {
    fn default() -> Self {
        StreamIngress {
            silence_timeout_ms: 90_000,
        }
    }
}

/// The raw shape read from YAML (unknown keys ignored: the plugin validates).
#[derive(Deserialize)]
struct RawManifest {
    dingtalk: RawDingTalk,
    #[serde(default)]
    ingress: RawIngress,
}

#[derive(Deserialize)]
struct RawDingTalk {
    app_key: String,
    app_secret: Secret,
    #[serde(default = "default_api_base")]
    api_base_url: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawIngress {
    mode: IngressMode,
    http: HttpIngress,
    stream: StreamIngress,
    metrics_listen: Option<String>,
}

fn default_api_base() -> String {
    "https://api.dingtalk.com".into()
}

/// The ingress settings of the manifest `text` read from `path` (interpolating `${VAR}` from the
/// environment).
pub fn parse(text: &str, path: &Path) -> Result<IngressSettings> {
    let text = interpolate_env(text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let raw: RawManifest = serde_yaml::from_str(&text)
        .with_context(|| format!("{}: dingtalk/ingress settings", path.display()))?;
    Ok(IngressSettings {
        app_key: raw.dingtalk.app_key,
        app_secret: raw.dingtalk.app_secret,
        api_base_url: raw.dingtalk.api_base_url.trim_end_matches('/').to_owned(),
        mode: raw.ingress.mode,
        http: raw.ingress.http,
        stream: raw.ingress.stream,
        metrics_listen: raw.ingress.metrics_listen.filter(|s| !s.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> Result<IngressSettings> {
        parse(text, Path::new("openclaw-skill.yaml"))
    }

    #[test]
    fn ingress_defaults_and_secret_redaction() {
        let m = file("name: x\ndingtalk:\n  app_key: k\n  app_secret: s3cret\n");
        let s = m.unwrap();
        assert_eq!(s.mode, IngressMode::Stream);
        assert_eq!(s.api_base_url, "https://api.dingtalk.com");
        assert_eq!(s.http.path, "/dingtalk/callback");
        assert_eq!(s.http.max_body_bytes, 1 << 20);
        assert_eq!(s.http.signature_window_secs, 3600);
        assert_eq!(s.http.read_timeout_ms, 10_000);
        assert_eq!(s.http.max_connections, 256);
        assert_eq!(s.stream.silence_timeout_ms, 90_000);
        assert_eq!(s.metrics_listen, None);
        assert_eq!(s.app_secret.expose(), "s3cret");
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn ingress_section_and_interpolation() {
        std::env::set_var("OPENCLAW_HOST_TEST_SECRET", "from-env");
        let m = file(
            "dingtalk:\n  app_key: k\n  app_secret: ${OPENCLAW_HOST_TEST_SECRET}\n  api_base_url: http://127.0.0.1:1/\n\
             ingress:\n  mode: http\n  http:\n    listen: 127.0.0.1:0\n    path: /cb\n    signature_window_secs: 300\n    read_timeout_ms: 1500\n    max_connections: 8\n  stream:\n    silence_timeout_ms: 5000\n  metrics_listen: 127.0.0.1:9464\n",
        );
        let s = m.unwrap();
        assert_eq!(s.app_secret.expose(), "from-env");
        assert_eq!(s.api_base_url, "http://127.0.0.1:1");
        assert_eq!(s.mode, IngressMode::Http);
        assert_eq!(
            (s.http.listen.as_str(), s.http.path.as_str()),
            ("127.0.0.1:0", "/cb")
        );
        assert_eq!(s.http.max_body_bytes, 1 << 20);
        assert_eq!(
            (
                s.http.signature_window_secs,
                s.http.read_timeout_ms,
                s.http.max_connections
            ),
            (300, 1500, 8)
        );
        assert_eq!(s.stream.silence_timeout_ms, 5000);
        assert_eq!(s.metrics_listen.as_deref(), Some("127.0.0.1:9464"));
    }
}
