//! The host settings the plugin resolved from the manifest (`host_settings` of the skill ABI):
//! the ingress mode and its limits, the Stream `connections/open` URL, `/metrics`, extra CAs.
//! The plugin owns the schema, the defaults and the validation; this is only the shape of its
//! answer, so nothing here has a default of its own.

use std::path::PathBuf;

use anyhow::{Context, Result};
use openclaw_skill_abi::Plugin;
use serde::Deserialize;

use super::ManifestFile;

/// Everything the host needs from the manifest to run the ingress.
#[derive(Debug, Clone, Deserialize)]
pub struct HostSettings {
    /// `ingress:`, resolved.
    pub ingress: IngressSettings,
    /// `network:`, resolved.
    pub network: NetworkSettings,
    /// The first app's `app_key` (the Stream client id, for log lines).
    pub app_key: String,
    /// Every DingTalk app, in the manifest's order (empty from a plugin that predates
    /// several apps: then the one app is `app_key` at `ingress.stream.open_url`).
    #[serde(default)]
    pub apps: Vec<AppSettings>,
}

/// One DingTalk app of the manifest (`apps[]` of the host settings).
#[derive(Debug, Clone, Deserialize)]
pub struct AppSettings {
    /// The app's name in the manifest.
    pub name: String,
    /// Its app key (the Stream client id; not a secret).
    pub app_key: String,
    /// Its Stream `connections/open` URL.
    pub open_url: String,
}

/// `ingress:`.
#[derive(Debug, Clone, Deserialize)]
pub struct IngressSettings {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IngressMode {
    /// DingTalk Stream mode (an outbound WebSocket; no public address needed).
    Stream,
    /// Signed HTTP callbacks (DingTalk POSTs to a public HTTPS URL that reaches this listener).
    Http,
}

/// `ingress.http`.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpIngress {
    /// Listen address (port 0 picks a free port; the log says which).
    pub listen: String,
    /// Callback path.
    pub path: String,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Deadline for reading a request's head and its body.
    pub read_timeout_ms: u64,
    /// Callbacks handled at once; more wait for a slot.
    pub max_connections: usize,
    /// How far a callback's timestamp may be from now (the plugin checks it; for the log line).
    pub signature_window_secs: u64,
}

/// `ingress.stream`.
#[derive(Debug, Clone, Deserialize)]
pub struct StreamIngress {
    /// `POST` here for a Stream endpoint and ticket (`connections/open`).
    pub open_url: String,
    /// A socket silent for longer than this is dead.
    pub silence_timeout_ms: u64,
}

/// `network:`.
#[derive(Debug, Clone, Deserialize)]
pub struct NetworkSettings {
    /// Extra CA certificates (PEM), trusted by the host's HTTPS and WSS clients too.
    pub ca_file: Option<PathBuf>,
}

impl ManifestFile {
    /// Asks `plugin` for the host settings of this manifest. A manifest problem reads exactly
    /// as the plugin words it (file, key, line).
    pub fn host_settings(&self, plugin: &Plugin) -> Result<HostSettings> {
        let json = plugin
            .host_settings(&self.text, &self.path)
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        serde_json::from_str(&json).context("the plugin's host settings")
    }
}
