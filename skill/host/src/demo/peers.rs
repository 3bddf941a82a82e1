//! The demo's peers and configuration: the DingTalk emulator and (unless `--gateway`) the fake
//! OpenClaw gateway on 127.0.0.1, and a temporary manifest that points the real plugin at them
//! (with the stand-up schedule on the demo group, [`super::standup`]).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use openclaw_dingtalk_emulator::dingtalk::{DingTalkEmulator, EmulatorConfig, DEFAULT_TEMPLATE_ID};
use openclaw_dingtalk_emulator::gateway::{FakeGateway, FakeGatewayConfig, ImageDescription};

/// The fake gateway's token (it is only ever on loopback).
const FAKE_GATEWAY_TOKEN: &str = "fake-gateway-token";
/// The template variable the emulator's default AI Card template streams into.
pub const CONTENT_KEY: &str = "content";

/// Which gateway the plugin talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayChoice {
    /// Base URL (`--gateway`), or `None` for the built-in fake.
    pub url: Option<String>,
    /// Its token (`--gateway-token`, else `$OPENCLAW_API_KEY`), for a real gateway.
    pub token: Option<String>,
    /// `gateway.model`.
    pub model: String,
}

/// How many records of each kind the peers keep in a long session.
#[derive(Debug, Clone, Copy)]
pub struct RecordLimits {
    /// The emulator's calls, cards, messages, Stream frames (each kind).
    pub dingtalk: usize,
    /// The fake gateway's requests (each with every token it sent) and turns per session.
    pub gateway: usize,
}

/// The running peers and the manifest that points at them.
pub struct Peers {
    /// The DingTalk emulator (OpenAPI and Stream mode).
    pub emulator: DingTalkEmulator,
    /// The fake gateway, unless a real one was given.
    pub fake_gateway: Option<FakeGateway>,
    /// The gateway's base URL.
    pub gateway_url: String,
    /// The manifest written for the plugin.
    pub manifest: PathBuf,
    /// The temporary directory holding the manifest and the plugin's `state_dir`, kept for its
    /// `Drop` (which removes it: drop the peers after the skill).
    _dir: TempDir,
}

impl Peers {
    /// Starts the emulator and the fake gateway (unless `gateway.url` is set) on 127.0.0.1 with
    /// ephemeral ports and writes the manifest (`card_update_interval_ms` = `interval_ms`, the
    /// stand-up schedule ticking by `standup_cron`). `limits` bound what both keep for a long
    /// session (unbounded when `None`).
    pub async fn start(
        gateway: &GatewayChoice,
        interval_ms: u64,
        standup_cron: &str,
        limits: Option<RecordLimits>,
    ) -> Result<Peers> {
        let emulator = DingTalkEmulator::start(EmulatorConfig {
            record_limit: limits.map(|l| l.dingtalk),
            ..EmulatorConfig::default()
        })
        .await
        .context("cannot start the DingTalk emulator on 127.0.0.1")?;
        let fake_gateway = match gateway.url {
            Some(_) => None,
            None => Some(
                FakeGateway::start(FakeGatewayConfig {
                    token: Some(FAKE_GATEWAY_TOKEN.into()),
                    record_limit: limits.map(|l| l.gateway),
                    // The demo's people write Chinese: say what was seen in pictures in Chinese.
                    image_description: ImageDescription::Chinese,
                    ..FakeGatewayConfig::default()
                })
                .await
                .context("cannot start the fake gateway on 127.0.0.1")?,
            ),
        };
        let (gateway_url, token) = match (&gateway.url, &fake_gateway) {
            (Some(url), _) => (url.clone(), gateway.token.clone().unwrap_or_default()),
            (None, Some(fake)) => (fake.base_url(), FAKE_GATEWAY_TOKEN.to_owned()),
            (None, None) => unreachable!("the fake gateway starts when no URL is given"),
        };
        let dir = TempDir::new()?;
        let cfg = emulator.config();
        let text = manifest_text(&ManifestValues {
            gateway_url: &gateway_url,
            gateway_token: &token,
            model: &gateway.model,
            app_key: &cfg.app_key,
            app_secret: &cfg.app_secret,
            dingtalk_url: &emulator.base_url(),
            interval_ms,
            state_dir: &dir.path().join("state"),
            schedules: super::standup::schedules(standup_cron, fake_gateway.is_some()),
        });
        let manifest = dir.path().join("openclaw-skill.yaml");
        write_private(&manifest, &text)?;
        Ok(Peers {
            emulator,
            fake_gateway,
            gateway_url,
            manifest,
            _dir: dir,
        })
    }
}

/// What goes into the demo manifest.
struct ManifestValues<'a> {
    gateway_url: &'a str,
    gateway_token: &'a str,
    model: &'a str,
    app_key: &'a str,
    app_secret: &'a str,
    dingtalk_url: &'a str,
    interval_ms: u64,
    state_dir: &'a Path,
    schedules: serde_json::Value,
}

/// The manifest: Stream-mode ingress against the emulator, cards from its default AI Card
/// template with a stop button, reasoning shown, the schedules.
fn manifest_text(v: &ManifestValues<'_>) -> String {
    openclaw_dingtalk_emulator::manifest::TestManifest::new(v.dingtalk_url, v.gateway_url)
        .comment("Written by `openclaw-skill demo` for this run only (removed at exit).")
        .with(|m| {
            m.name = "openclaw-demo".into();
            m.gateway.auth_token = Some(v.gateway_token.into());
            m.gateway.model = Some(v.model.into());
            m.dingtalk.app_key = v.app_key.into();
            m.dingtalk.app_secret = v.app_secret.into();
            m.dingtalk.card_template_id = Some(DEFAULT_TEMPLATE_ID.into());
            m.dingtalk.card_content_key = Some(CONTENT_KEY.into());
            // The stop button as the default AI Card template draws it (`msgButtons` inside
            // `sys_full_json_obj`); the emulator's template is not that one, so it is named.
            m.dingtalk.card_stop_button = Some("msg_buttons".into());
            m.streaming.show_reasoning = Some(true);
        })
        .interval_ms(v.interval_ms)
        .stream_ingress()
        .state_dir(v.state_dir)
        .set("schedules", &v.schedules)
        .to_yaml()
}

/// Writes a file only the owner can read (the manifest holds the gateway token).
fn write_private(path: &Path, text: &str) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The temporary directories that exist now, for [`remove_temp_dirs`].
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes every [`TempDir`] that still exists: for an exit that skips their `Drop` (the second
/// Ctrl-C exits at once).
pub fn remove_temp_dirs() {
    let dirs = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|p| p.into_inner()));
    for dir in dirs {
        remove(&dir);
    }
}

/// Removes `dir` and its contents. The plugin may still be writing into it (its `state_dir`)
/// when the second Ctrl-C arrives: a file created during the walk makes the last `rmdir` fail,
/// and the walk is repeated (a few times: the plugin creates no directories after start).
fn remove(dir: &Path) {
    let mut attempts = 0;
    while let Err(e) = std::fs::remove_dir_all(dir) {
        attempts += 1;
        if e.kind() == std::io::ErrorKind::NotFound {
            return;
        }
        if attempts == 5 {
            log::warn!("cannot remove {}: {e}", dir.display());
            return;
        }
    }
}

/// A private temporary directory, removed with its contents on drop (or by
/// [`remove_temp_dirs`]).
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `openclaw-skill-demo-<pid>-<nanos>` in the system's temporary directory.
    pub fn new() -> Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "openclaw-skill-demo-{}-{nanos}",
            std::process::id()
        ));
        let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        live.push(path.clone());
        Ok(TempDir(path))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        LIVE.lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|p| *p != self.0);
        remove(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_reads_back_as_written() {
        let text = manifest_text(&ManifestValues {
            gateway_url: "http://127.0.0.1:1",
            gateway_token: "t\"o:k#${EN}",
            model: "openclaw/main",
            app_key: "k",
            app_secret: "s",
            dingtalk_url: "http://127.0.0.1:2",
            interval_ms: 300,
            state_dir: Path::new("/tmp/x y/state"),
            schedules: crate::demo::standup::schedules("*/5 * * * * *", true),
        });
        let interpolated =
            openclaw_skill_abi::manifest_text::interpolate_env(&text).expect("interpolates");
        let v: serde_yaml::Value = serde_yaml::from_str(&interpolated).expect("YAML");
        assert_eq!(v["gateway"]["auth_token"].as_str(), Some("t\"o:k#${EN}"));
        assert_eq!(
            v["dingtalk"]["oapi_base_url"].as_str(),
            Some("http://127.0.0.1:2")
        );
        assert_eq!(
            v["streaming"]["card_update_interval_ms"].as_u64(),
            Some(300)
        );
        assert_eq!(v["state_dir"].as_str(), Some("/tmp/x y/state"));
        assert_eq!(v["ingress"]["mode"].as_str(), Some("stream"));
        assert_eq!(
            v["dingtalk"]["card_stop_button"].as_str(),
            Some("msg_buttons")
        );
        let standup = &v["schedules"][0];
        assert_eq!(standup["name"].as_str(), Some("standup"));
        assert_eq!(standup["cron"].as_str(), Some("*/5 * * * * *"));
        assert_eq!(standup["collect"]["tag"].as_str(), Some("#standup"));
        assert_eq!(standup["collect"]["when_empty"].as_str(), Some("skip"));
    }
}
