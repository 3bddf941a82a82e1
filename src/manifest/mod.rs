//! The skill manifest, `openclaw-skill.yaml`: typed configuration with documented defaults.
//!
//! Loading = `${VAR}` interpolation (shared with the host, see
//! `openclaw_skill_abi::manifest_text`) → strict YAML parsing (unknown keys and wrong types
//! are errors with their line) → range validation (errors name the key and its line).
//! Every key and default is listed in the README's manifest reference.

mod model;

use std::path::{Path, PathBuf};

use openclaw_skill_abi::manifest_text::{interpolate, line_of_key};

pub use model::*;

/// A manifest problem: which key, on which line, and what is wrong. Never contains secrets.
/// The file's name is not part of it: whoever read the file prefixes it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ManifestError {
    /// The complete one-line message (key, line, problem).
    pub message: String,
}

impl ManifestError {
    fn at(text: &str, key: &str, problem: impl std::fmt::Display) -> ManifestError {
        let message = match line_of_key(text, key) {
            Some(line) => format!("{key} (line {line}): {problem}"),
            None => format!("{key}: {problem}"),
        };
        ManifestError { message }
    }
}

impl Manifest {
    /// Parses and validates manifest text, reading `${VAR}` from the process environment.
    /// `dir` is the manifest's directory, against which relative paths resolve.
    pub fn load(text: &str, dir: &Path) -> Result<Manifest, ManifestError> {
        Manifest::load_with(text, dir, |name| std::env::var(name).ok())
    }

    /// As [`Manifest::load`], with an explicit variable lookup (for tests).
    pub fn load_with(
        text: &str,
        dir: &Path,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Manifest, ManifestError> {
        let expanded = interpolate(text, lookup).map_err(|e| ManifestError {
            message: e.to_string(),
        })?;
        let mut manifest: Manifest =
            serde_yaml::from_str(&expanded).map_err(|e| ManifestError {
                message: describe_yaml_error(&e),
            })?;
        manifest.validate(text)?;
        manifest.base_dir = dir.to_path_buf();
        Ok(manifest)
    }

    /// The directory for the in-flight card journal and session state.
    pub fn state_dir(&self) -> PathBuf {
        self.base_dir.join(&self.state_dir)
    }

    fn validate(&mut self, text: &str) -> Result<(), ManifestError> {
        let err = |key: &str, problem: &str| Err(ManifestError::at(text, key, problem));
        if self.name.trim().is_empty() {
            return err("name", "must not be empty");
        }
        match reqwest::Url::parse(&self.gateway.endpoint) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
            _ => return err("gateway.endpoint", "must be an http:// or https:// URL"),
        }
        if !self.gateway.model.starts_with("openclaw") && !self.gateway.model.starts_with("agent:")
        {
            return err(
                "gateway.model",
                "must name an OpenClaw agent target: `openclaw`, `openclaw/<agentId>` or `agent:<agentId>`",
            );
        }
        for (key, value) in [
            ("dingtalk.app_key", self.dingtalk.app_key.as_str()),
            ("dingtalk.app_secret", self.dingtalk.app_secret.expose()),
        ] {
            if value.trim().is_empty() {
                return err(key, "must not be empty");
            }
        }
        if self.dingtalk.robot_code.trim().is_empty() {
            self.dingtalk.robot_code = self.dingtalk.app_key.clone();
        }
        for (key, value) in [
            ("dingtalk.api_base_url", &self.dingtalk.api_base_url),
            ("dingtalk.oapi_base_url", &self.dingtalk.oapi_base_url),
        ] {
            match reqwest::Url::parse(value) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
                _ => return err(key, "must be an http:// or https:// URL"),
            }
        }
        if self.dingtalk.card_template_id.trim().is_empty() {
            return err("dingtalk.card_template_id", "must not be empty");
        }
        if self.dingtalk.card_content_key.trim().is_empty() {
            return err("dingtalk.card_content_key", "must not be empty");
        }
        if self.streaming.card_max_chars.is_some() {
            return err(
                "streaming.card_max_chars",
                "was replaced by streaming.card_max_bytes: DingTalk limits card values in UTF-8 bytes (a Chinese character takes 3), so remove card_max_chars and, if needed, set card_max_bytes (default 2800)",
            );
        }
        let ranges: [(&str, u64, u64, u64); 17] = [
            (
                "ingress.http.signature_window_secs",
                self.ingress.http.signature_window_secs,
                60,
                3600,
            ),
            (
                "ingress.http.read_timeout_ms",
                self.ingress.http.read_timeout_ms,
                1_000,
                120_000,
            ),
            (
                "ingress.http.max_connections",
                self.ingress.http.max_connections as u64,
                1,
                100_000,
            ),
            (
                "conversation.max_queued",
                self.conversation.max_queued as u64,
                0,
                1_000,
            ),
            (
                "conversation.sender_messages_per_minute",
                u64::from(self.conversation.sender_messages_per_minute),
                1,
                10_000,
            ),
            (
                "streaming.card_create_timeout_ms",
                self.streaming.card_create_timeout_ms,
                1_000,
                600_000,
            ),
            (
                "streaming.card_update_interval_ms",
                self.streaming.card_update_interval_ms,
                100,
                60_000,
            ),
            (
                "streaming.card_max_bytes",
                self.streaming.card_max_bytes as u64,
                600,
                20_000,
            ),
            ("dingtalk.api_qps", self.dingtalk.api_qps as u64, 1, 10_000),
            (
                "dingtalk.app_qps",
                self.dingtalk.app_qps.map_or(1, u64::from),
                1,
                100_000,
            ),
            (
                "dingtalk.monthly_call_quota",
                self.dingtalk.monthly_call_quota.unwrap_or(1),
                1,
                u64::MAX,
            ),
            (
                "gateway.connect_timeout_ms",
                self.gateway.connect_timeout_ms,
                100,
                600_000,
            ),
            (
                "gateway.first_byte_timeout_ms",
                self.gateway.first_byte_timeout_ms,
                100,
                3_600_000,
            ),
            (
                "gateway.idle_timeout_ms",
                self.gateway.idle_timeout_ms,
                1_000,
                3_600_000,
            ),
            (
                "gateway.total_timeout_ms",
                self.gateway.total_timeout_ms,
                1_000,
                24 * 3_600_000,
            ),
            ("gateway.retries", self.gateway.retries as u64, 0, 10),
            (
                "conversation.dedup_capacity",
                self.conversation.dedup_capacity as u64,
                1,
                10_000_000,
            ),
        ];
        for (key, value, min, max) in ranges {
            if value < min || value > max {
                return err(key, &format!("{value} is out of range ({min}..={max})"));
            }
        }
        if self.gateway.idle_timeout_ms > self.gateway.total_timeout_ms {
            return err(
                "gateway.idle_timeout_ms",
                "must not exceed gateway.total_timeout_ms",
            );
        }
        Ok(())
    }

    /// A JSON summary for `openclaw-skill check`: every setting, secrets redacted.
    pub fn summary(&self) -> serde_json::Value {
        let redact = |s: &crate::secret::Secret| if s.is_empty() { "(empty)" } else { "***" };
        serde_json::json!({
            "name": self.name,
            "version": self.version,
            "gateway": {
                "endpoint": self.gateway.endpoint,
                "auth_token": redact(&self.gateway.auth_token),
                "model": self.gateway.model,
                "include_usage": self.gateway.include_usage,
                "connect_timeout_ms": self.gateway.connect_timeout_ms,
                "first_byte_timeout_ms": self.gateway.first_byte_timeout_ms,
                "idle_timeout_ms": self.gateway.idle_timeout_ms,
                "total_timeout_ms": self.gateway.total_timeout_ms,
                "retries": self.gateway.retries,
            },
            "dingtalk": {
                "app_key": self.dingtalk.app_key,
                "app_secret": redact(&self.dingtalk.app_secret),
                "robot_code": self.dingtalk.robot_code,
                "api_base_url": self.dingtalk.api_base_url,
                "oapi_base_url": self.dingtalk.oapi_base_url,
                "card_template_id": self.dingtalk.card_template_id,
                "card_content_key": self.dingtalk.card_content_key,
                "api_qps": self.dingtalk.api_qps,
                "app_qps": self.dingtalk.app_qps,
                "monthly_call_quota": self.dingtalk.monthly_call_quota,
                "card_flow_status": self.dingtalk.card_flow_status,
            },
            "streaming": {
                "enabled": self.streaming.enabled,
                "card_update_interval_ms": self.streaming.card_update_interval_ms,
                "card_max_bytes": self.streaming.card_max_bytes,
                "card_create_timeout_ms": self.streaming.card_create_timeout_ms,
                "show_reasoning": self.streaming.show_reasoning,
            },
            "conversation": {
                "per_sender_sessions": self.conversation.per_sender_sessions,
                "preamble": !self.conversation.preamble.is_empty(),
                "access": self.conversation.access.policy,
                "allowed_senders": self.conversation.access.allowed_senders.len(),
                "allowed_groups": self.conversation.access.allowed_groups.len(),
                "dedup_ttl_secs": self.conversation.dedup_ttl_secs,
                "dedup_capacity": self.conversation.dedup_capacity,
                "max_queued": self.conversation.max_queued,
                "sender_messages_per_minute": self.conversation.sender_messages_per_minute,
            },
            "ingress": {
                "mode": self.ingress.mode,
                "http_listen": self.ingress.http.listen,
                "http_path": self.ingress.http.path,
                "http_max_body_bytes": self.ingress.http.max_body_bytes,
                "http_signature_window_secs": self.ingress.http.signature_window_secs,
                "http_read_timeout_ms": self.ingress.http.read_timeout_ms,
                "http_max_connections": self.ingress.http.max_connections,
                "stream_silence_timeout_ms": self.ingress.stream.silence_timeout_ms,
                "metrics_listen": self.ingress.metrics_listen,
            },
            "library": self.base_dir.join(self.library.as_deref().unwrap_or("libopenclaw_dingtalk.so")).display().to_string(),
            "state_dir": self.state_dir().display().to_string(),
        })
    }
}

fn describe_yaml_error(e: &serde_yaml::Error) -> String {
    let text = e.to_string();
    // serde_yaml reports "<path>: <problem> at line L column C"; keep it, but say "line L".
    match e.location() {
        Some(loc) if !text.contains("at line") => format!("{text} (line {})", loc.line()),
        _ => text,
    }
}

#[cfg(test)]
mod tests;
