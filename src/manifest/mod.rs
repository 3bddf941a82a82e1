//! The skill manifest, `openclaw-skill.yaml`: typed configuration with documented defaults.
//!
//! Loading = `${VAR}` interpolation (`openclaw_skill_abi::manifest_text`) → strict YAML
//! parsing (unknown keys and wrong types are errors with their line) → range and consistency
//! validation. Every problem of the file is reported in one go, each naming its key and line,
//! so that an operator fixes the manifest in one pass. Every key and default is listed in
//! `docs/manifest.md`.

mod apps;
mod model;
mod problems;
mod routes;
mod schedules;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use openclaw_skill_abi::manifest_text::interpolate_all;

pub use model::*;
pub use problems::{ManifestError, Problem};

/// How many keys the loader sets aside (unknown, wrong type) before it gives up on a file.
const MAX_SET_ASIDE: usize = 64;

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
        let (expanded, unresolved) = interpolate_all(text, lookup);
        let mut problems: Vec<Problem> = unresolved.into_iter().map(Problem::from).collect();
        let mut value: serde_yaml::Value = match serde_yaml::from_str(&expanded) {
            Ok(value) => value,
            Err(e) => {
                problems.push(Problem::yaml(&e));
                return Err(ManifestError { problems });
            }
        };
        // Keys already reported: later problems of the same key would repeat them.
        let mut reported: HashSet<String> = problems.iter().filter_map(|p| p.key.clone()).collect();
        let mut manifest = None;
        // Typed parsing goes through YAML text each time (not through `Value`), so that a
        // scalar such as `123456` is still read as a string where a string is expected.
        let mut document = expanded;
        for _ in 0..MAX_SET_ASIDE {
            let parsed = serde_path_to_error::deserialize::<_, Manifest>(
                serde_yaml::Deserializer::from_str(&document),
            );
            match parsed {
                Ok(m) => {
                    manifest = Some(m);
                    break;
                }
                Err(e) => {
                    let key = e.path().to_string();
                    let message = e.inner().to_string();
                    let set_aside = problems::set_aside(&mut value, &key, &message);
                    if reported.insert(key.clone()) {
                        problems.push(Problem::at(text, &key, message));
                    }
                    match serde_yaml::to_string(&value) {
                        Ok(rest) if set_aside => document = rest,
                        _ => break,
                    }
                }
            }
        }
        let Some(mut manifest) = manifest else {
            return Err(ManifestError { problems });
        };
        manifest.base_dir = dir.to_path_buf();
        for problem in manifest.validate(text) {
            if problem.key.as_ref().is_none_or(|k| !reported.contains(k)) {
                problems.push(problem);
            }
        }
        if problems.is_empty() {
            Ok(manifest)
        } else {
            Err(ManifestError { problems })
        }
    }

    /// `network.ca_file`, resolved against the manifest's directory.
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.network
            .ca_file
            .as_deref()
            .filter(|f| !f.is_empty())
            .map(|f| self.base_dir.join(f))
    }

    /// The directory for the in-flight card journal and session state.
    pub fn state_dir(&self) -> PathBuf {
        self.base_dir.join(&self.state_dir)
    }

    /// Range and consistency checks; every problem found, in the file's order of keys.
    fn validate(&mut self, text: &str) -> Vec<Problem> {
        let mut problems = apps::gather(self, text);
        let mut err = |key: &str, problem: &str| problems.push(Problem::at(text, key, problem));
        if self.name.trim().is_empty() {
            err("name", "must not be empty");
        }
        match reqwest::Url::parse(&self.gateway.endpoint) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                if let Some(problem) = endpoint_problem(&url) {
                    err("gateway.endpoint", &problem);
                }
            }
            _ => err("gateway.endpoint", "must be an http:// or https:// URL"),
        }
        if !valid_model(&self.gateway.model) {
            err(
                "gateway.model",
                "must name an OpenClaw agent target: `openclaw`, `openclaw/<agentId>` or `agent:<agentId>`",
            );
        }
        if self.streaming.card_max_chars.is_some() {
            err(
                "streaming.card_max_chars",
                "was replaced by streaming.card_max_bytes: DingTalk limits card values in UTF-8 bytes (a Chinese character takes 3), so remove card_max_chars and, if needed, set card_max_bytes (default 2800)",
            );
        }
        let ranges: [(&str, u64, u64, u64); 14] = [
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
                err(key, &format!("{value} is out of range ({min}..={max})"));
            }
        }
        if self.gateway.idle_timeout_ms > self.gateway.total_timeout_ms {
            err(
                "gateway.idle_timeout_ms",
                "must not exceed gateway.total_timeout_ms",
            );
        }
        if let Some(url) = &self.ingress.http.card_callback_url {
            match reqwest::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => err(
                    "ingress.http.card_callback_url",
                    "must be the public http:// or https:// URL at which DingTalk reaches ingress.http.path",
                ),
            }
        }
        self.validate_shared_state(&mut err);
        self.validate_addresses(&mut err);
        self.validate_access(&mut err);
        self.validate_attachments(&mut err);
        problems.extend(routes::problems(self, text));
        problems.extend(schedules::problems(self, text));
        problems
    }

    /// `shared_state:`: a Redis URL and sane numbers.
    fn validate_shared_state(&self, err: &mut impl FnMut(&str, &str)) {
        let Some(shared) = &self.shared_state else {
            return;
        };
        match reqwest::Url::parse(&shared.url) {
            Ok(url) if matches!(url.scheme(), "redis" | "rediss") && url.host().is_some() => {}
            _ => err(
                "shared_state.url",
                "must be a redis:// or rediss:// URL, e.g. redis://:${REDIS_PASSWORD}@10.0.0.5:6379/0",
            ),
        }
        if !(1..=64).contains(&shared.expected_hosts) {
            err(
                "shared_state.expected_hosts",
                &format!("{} is out of range (1..=64)", shared.expected_hosts),
            );
        }
        if !(1_000..=600_000).contains(&shared.lease_ms) {
            err(
                "shared_state.lease_ms",
                &format!("{} is out of range (1000..=600000)", shared.lease_ms),
            );
        }
        let prefix = &shared.key_prefix;
        if prefix.is_empty() || prefix.contains(char::is_whitespace) {
            err(
                "shared_state.key_prefix",
                "must be one word without spaces, e.g. openclaw-dingtalk",
            );
        }
    }

    /// Listen addresses the host will bind.
    fn validate_addresses(&self, err: &mut impl FnMut(&str, &str)) {
        if let Some(problem) = listen_problem(&self.ingress.http.listen) {
            err("ingress.http.listen", &problem);
        }
        if let Some(addr) = self
            .ingress
            .metrics_listen
            .as_deref()
            .filter(|a| !a.is_empty())
        {
            if let Some(problem) = listen_problem(addr) {
                err("ingress.metrics_listen", &problem);
            }
        }
        if !self.ingress.http.path.starts_with('/') {
            err("ingress.http.path", "must start with `/`");
        }
    }

    /// An allowlist that admits nobody is a mistake, not a policy.
    fn validate_access(&self, err: &mut impl FnMut(&str, &str)) {
        let access = &self.conversation.access;
        if access.policy == AccessPolicy::Allowlist
            && access.allowed_senders.is_empty()
            && access.allowed_groups.is_empty()
        {
            err(
                "conversation.access.policy",
                "allowlist with neither allowed_senders nor allowed_groups admits nobody: list who may talk to the robot, or use `policy: open`",
            );
        }
    }

    /// `attachments:` limits, each in its range, and a picture limit the download limit can
    /// reach.
    fn validate_attachments(&self, err: &mut impl FnMut(&str, &str)) {
        const MIB: u64 = 1024 * 1024;
        let a = &self.attachments;
        let ranges = [
            (
                "attachments.max_download_bytes",
                a.max_download_bytes,
                1024,
                100 * MIB,
            ),
            (
                "attachments.download_timeout_ms",
                a.download_timeout_ms,
                1_000,
                300_000,
            ),
            (
                "attachments.max_image_bytes",
                a.max_image_bytes,
                1024,
                20 * MIB,
            ),
            (
                "attachments.max_file_text_bytes",
                a.max_file_text_bytes,
                1024,
                MIB,
            ),
        ];
        for (key, value, min, max) in ranges {
            if value < min || value > max {
                err(key, &format!("{value} is out of range ({min}..={max})"));
            }
        }
        if a.max_image_bytes > a.max_download_bytes {
            err(
                "attachments.max_image_bytes",
                &format!(
                    "{} exceeds attachments.max_download_bytes ({}): no picture that large is ever downloaded",
                    a.max_image_bytes, a.max_download_bytes
                ),
            );
        }
    }

    /// Checks what `init` will need from the machine: that `state_dir` can be created and
    /// written. Creates the directory (as `init` would).
    pub fn check_environment(&self, text: &str) -> Vec<Problem> {
        let dir = self.state_dir();
        let probe = dir.join(".write-check");
        let result = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&probe, b"ok"))
            .and_then(|()| std::fs::remove_file(&probe));
        let mut problems = Vec::new();
        if let Err(e) = result {
            problems.push(Problem::at(
                text,
                "state_dir",
                format!("{} is not a writable directory: {e}", dir.display()),
            ));
        }
        if let Some(file) = self.ca_file() {
            if let Err(problem) = crate::network::read_ca_file(&file) {
                problems.push(Problem::at(text, "network.ca_file", problem));
            }
        }
        problems
    }

    /// The stop button the cards of `app` show: its `card_stop_button`, by default
    /// `msg_buttons` with the default template and `none` with any other; `none` in HTTP mode
    /// without `ingress.http.card_callback_url` (presses could not reach the plugin).
    pub fn stop_button_style(&self, app: &DingTalkConfig) -> StopButtonStyle {
        if self.ingress.mode == IngressMode::Http && self.ingress.http.card_callback_url.is_none() {
            return StopButtonStyle::None;
        }
        app.card_stop_button
            .unwrap_or(if app.card_template_id == DEFAULT_CARD_TEMPLATE_ID {
                StopButtonStyle::MsgButtons
            } else {
                StopButtonStyle::None
            })
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
            "apps": self.apps.iter().map(|app| serde_json::json!({
                "name": app.name,
                "app_key": app.app_key,
                "app_secret": redact(&app.app_secret),
                "robot_code": app.robot_code,
                "api_base_url": app.api_base_url,
                "oapi_base_url": app.oapi_base_url,
                "card_template_id": app.card_template_id,
                "card_content_key": app.card_content_key,
                "api_qps": app.api_qps,
                "app_qps": app.app_qps,
                "monthly_call_quota": app.monthly_call_quota,
                "card_flow_status": app.card_flow_status,
                "card_stop_button": self.stop_button_style(app),
            })).collect::<Vec<_>>(),
            "streaming": {
                "enabled": self.streaming.enabled,
                "card_update_interval_ms": self.streaming.card_update_interval_ms,
                "card_max_bytes": self.streaming.card_max_bytes,
                "card_create_timeout_ms": self.streaming.card_create_timeout_ms,
                "show_reasoning": self.streaming.show_reasoning,
                "upload_images": self.streaming.upload_images,
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
            "routes": self.routes.iter().map(|r| serde_json::json!({
                "name": r.name,
                "model": r.model.as_deref().unwrap_or(&self.gateway.model),
                "keyword": r.when.keyword,
                "chat": r.when.chat,
                "apps": r.when.apps.as_ref().map(Vec::len),
                "conversations": r.when.conversations.as_ref().map(Vec::len),
                "senders": r.when.senders.as_ref().map(Vec::len),
                "preamble": r.preamble.is_some(),
            })).collect::<Vec<_>>(),
            "schedules": self.schedules.iter().map(|s| serde_json::json!({
                "name": s.name,
                "cron": s.cron,
                "time_zone": s.time_zone,
                "groups": s.groups.len(),
                "users": s.users.len(),
                "route": s.route.as_deref().unwrap_or(crate::conversation::DEFAULT_ROUTE),
                "app": s.app.as_deref().unwrap_or(&self.apps[0].name),
                "collect_tag": s.collect.as_ref().map(|c| &c.tag),
            })).collect::<Vec<_>>(),
            "attachments": {
                "images": self.attachments.images,
                "files": self.attachments.files,
                "max_download_bytes": self.attachments.max_download_bytes,
                "download_timeout_ms": self.attachments.download_timeout_ms,
                "max_image_bytes": self.attachments.max_image_bytes,
                "max_file_text_bytes": self.attachments.max_file_text_bytes,
            },
            "ingress": {
                "mode": self.ingress.mode,
                "http_listen": self.ingress.http.listen,
                "http_path": self.ingress.http.path,
                "http_max_body_bytes": self.ingress.http.max_body_bytes,
                "http_signature_window_secs": self.ingress.http.signature_window_secs,
                "http_read_timeout_ms": self.ingress.http.read_timeout_ms,
                "http_max_connections": self.ingress.http.max_connections,
                "http_card_callback_url": self.ingress.http.card_callback_url,
                "stream_silence_timeout_ms": self.ingress.stream.silence_timeout_ms,
                "metrics_listen": self.ingress.metrics_listen,
            },
            "library": self.base_dir.join(self.library.as_deref().unwrap_or("libopenclaw_dingtalk.so")).display().to_string(),
            "network": {
                "ca_file": self.ca_file().map(|f| f.display().to_string()),
            },
            "state_dir": self.state_dir().display().to_string(),
            "shared_state": self.shared_state.as_ref().map(|s| serde_json::json!({
                "url": crate::shared::redacted_url(&s.url),
                "expected_hosts": s.expected_hosts,
                "key_prefix": s.key_prefix,
                "lease_ms": s.lease_ms,
            })),
        })
    }
}

/// Whether `model` names an OpenClaw agent target (`openclaw`, `openclaw/<agentId>`,
/// `agent:<agentId>`).
fn valid_model(model: &str) -> bool {
    model.starts_with("openclaw") || model.starts_with("agent:")
}

/// Why a well-formed `gateway.endpoint` URL is still not the gateway's base URL.
fn endpoint_problem(url: &reqwest::Url) -> Option<String> {
    let host = url.host_str().unwrap_or_default();
    if host == "example.com" || host.ends_with(".example.com") || host.ends_with(".invalid") {
        return Some(format!(
            "`{host}` is the example's placeholder: set the URL of your OpenClaw gateway (e.g. http://127.0.0.1:18789)"
        ));
    }
    let path = url.path().trim_end_matches('/');
    for api in ["/v1/chat/completions", "/v1"] {
        if path.ends_with(api) {
            return Some(format!(
                "give the gateway's base URL without `{api}`: the plugin appends /v1/chat/completions itself"
            ));
        }
    }
    None
}

/// Why `addr` cannot be bound as `host:port`.
fn listen_problem(addr: &str) -> Option<String> {
    use std::net::ToSocketAddrs;
    match addr.to_socket_addrs().map(|mut addrs| addrs.next()) {
        Ok(Some(_)) => None,
        Ok(None) => Some(format!("`{addr}` resolves to no address")),
        Err(e) => Some(format!(
            "`{addr}` is not a listen address (host:port with a port of 0..=65535): {e}"
        )),
    }
}

#[cfg(test)]
mod tests;
