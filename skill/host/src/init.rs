//! `openclaw-skill init`: write a commented starter `openclaw-skill.yaml` and the template of
//! the environment file it reads, then say what to do next. Never overwrites without `--force`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use crate::host_manifest::ManifestFile;
use crate::plugin;

/// The manifest's file name.
pub const MANIFEST: &str = "openclaw-skill.yaml";
/// The environment file template's name: the copy with the real values drops `.example`, and
/// `.gitignore` ignores `*.env` but not `*.env.example`.
pub const ENV_TEMPLATE: &str = "openclaw-dingtalk.env.example";

/// How DingTalk delivers the robot's messages (`ingress.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Stream mode: an outbound WebSocket, no public address needed.
    Stream,
    /// HTTP callbacks to a public HTTPS URL (behind a TLS reverse proxy).
    Http,
}

/// `init` options.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// How DingTalk delivers messages; must match the robot's message receiving mode
    /// (消息接收模式) in the DingTalk developer console.
    #[arg(long, value_enum, default_value = "stream")]
    pub mode: Mode,
    /// Where to write the files (created if missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,
}

/// The header every manifest starts with: what it is and the variables it reads.
const HEADER: &str = "\
# openclaw-skill.yaml: a DingTalk robot answered by the OpenClaw gateway, streamed into AI Cards.
# Written by `openclaw-skill init`; every key is explained in docs/manifest.md.
# ${VAR} reads the environment, ${VAR:-default} with a default. Set these four before
# `openclaw-skill check` and `run` (openclaw-dingtalk.env.example lists them):
#   OPENCLAW_GATEWAY_URL  the OpenClaw gateway's base URL, e.g. http://127.0.0.1:18789
#   OPENCLAW_API_KEY      the gateway's token (gateway.auth.token in its config)
#   DINGTALK_APP_KEY      the DingTalk app's AppKey (Client ID)
#   DINGTALK_APP_SECRET   the DingTalk app's AppSecret (Client Secret)
# Optional: DINGTALK_ROBOT_CODE (defaults to the AppKey, the robot code of most apps).
name: dingtalk-bot
version: \"1.0\"
gateway:
  endpoint: \"${OPENCLAW_GATEWAY_URL}\"     # /v1/chat/completions is appended
  auth_token: \"${OPENCLAW_API_KEY}\"
  # model: openclaw/main                  # the agent target sent as `model`
dingtalk:
  app_key: \"${DINGTALK_APP_KEY}\"
  app_secret: \"${DINGTALK_APP_SECRET}\"
  robot_code: \"${DINGTALK_ROBOT_CODE:-}\"
  # card_template_id: …                   # your published AI Card template (docs/card-delivery.md)
streaming:
  enabled: true
  card_update_interval_ms: 300            # at most one update of a card per 300 ms
# attachments:                            # pictures and files users send (docs/manifest.md)
#   images: false                         # for a text-only model: a picture gets a polite reply
";

/// `ingress:` for Stream mode.
const STREAM_INGRESS: &str = "\
ingress:
  # Stream mode: the host opens an outbound WebSocket to DingTalk; no public address, no TLS
  # certificate. Console: the robot's 消息接收模式 (message receiving mode) is Stream模式.
  mode: stream
";

/// `ingress:` for HTTP callbacks.
const HTTP_INGRESS: &str = "\
ingress:
  # HTTP callbacks: DingTalk POSTs every message to your public HTTPS URL, signed with the app
  # secret. Console: 消息接收模式 HTTP模式, URL https://<your host>/dingtalk/callback. Put a TLS
  # reverse proxy (nginx, Caddy, …) in front of `listen`; keep this host's clock in sync (NTP).
  mode: http
  http:
    listen: \"127.0.0.1:8790\"
    path: /dingtalk/callback
    # The same public URL again, for the stop button on cards (DingTalk posts its presses
    # there; without it cards say to send /stop instead):
    # card_callback_url: https://<your host>/dingtalk/callback
";

/// The tail: where the state goes.
const FOOTER: &str = "\
# In-flight cards, sessions, learned DingTalk rates (relative to this file; must be writable).
state_dir: .openclaw-dingtalk
";

/// The environment file template.
const ENV_TEXT: &str = "\
# openclaw-dingtalk.env.example: the variables openclaw-skill.yaml reads (written by
# `openclaw-skill init`). Copy it to openclaw-dingtalk.env (git ignores *.env), fill it in and
# keep that copy private:
#   cp openclaw-dingtalk.env.example openclaw-dingtalk.env && chmod 600 openclaw-dingtalk.env
# Load it into a shell with `set -a; . ./openclaw-dingtalk.env; set +a`; systemd reads the same
# file with EnvironmentFile=, docker with --env-file. One VAR=value per line, no quotes.
OPENCLAW_GATEWAY_URL=http://127.0.0.1:18789
OPENCLAW_API_KEY=
DINGTALK_APP_KEY=
DINGTALK_APP_SECRET=
# DINGTALK_ROBOT_CODE=
";

/// The manifest for `mode`.
pub fn manifest_text(mode: Mode) -> String {
    let ingress = match mode {
        Mode::Stream => STREAM_INGRESS,
        Mode::Http => HTTP_INGRESS,
    };
    format!("{HEADER}{ingress}{FOOTER}")
}

/// The environment file template.
pub fn env_text() -> &'static str {
    ENV_TEXT
}

/// Writes the two files and prints the next steps.
pub fn init(args: &InitArgs) -> Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let shown = |name: &str| -> PathBuf {
        if args.dir == Path::new(".") {
            PathBuf::from(name)
        } else {
            args.dir.join(name)
        }
    };
    let files = [
        (shown(MANIFEST), manifest_text(args.mode)),
        (shown(ENV_TEMPLATE), env_text().to_owned()),
    ];
    if !args.force {
        let existing: Vec<String> = files
            .iter()
            .filter(|(path, _)| path.exists())
            .map(|(path, _)| path.display().to_string())
            .collect();
        anyhow::ensure!(
            existing.is_empty(),
            "{} already exist{}; nothing was written (--force overwrites)",
            existing.join(" and "),
            if existing.len() == 1 { "s" } else { "" }
        );
    }
    for (path, text) in &files {
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let (manifest, env_template) = (&files[0].0, &files[1].0);
    let env = env_template.with_extension("");
    println!(
        "wrote {} ({}) and {}",
        manifest.display(),
        match args.mode {
            Mode::Stream => "Stream mode",
            Mode::Http => "HTTP callbacks",
        },
        env_template.display()
    );
    println!();
    println!("Next:");
    println!(
        "  1. cp {} {} && chmod 600 {}",
        env_template.display(),
        env.display(),
        env.display()
    );
    println!(
        "     and fill in the four values there (git ignores *.env: keep it out of version control)"
    );
    println!("  2. set -a; . {}; set +a", sourced(&env).display());
    println!(
        "  3. openclaw-skill check {}    # lists every problem at once",
        manifest.display()
    );
    println!("  4. openclaw-skill run {}", manifest.display());
    match args.mode {
        Mode::Stream => println!(
            "In the DingTalk developer console, set the robot's message receiving mode \
             (消息接收模式) to Stream模式."
        ),
        Mode::Http => println!(
            "In the DingTalk developer console, set the robot's message receiving mode \
             (消息接收模式) to HTTP模式 with the URL https://<your host>/dingtalk/callback, \
             served by a TLS reverse proxy that forwards to 127.0.0.1:8790."
        ),
    }
    // Where the plugin would be loaded from, so a missing one shows up now, not at `check`.
    match ManifestFile::read(manifest).and_then(|m| plugin::locate(None, Some(&m))) {
        Ok(found) => println!("plugin: {} ({})", found.path.display(), found.how),
        Err(e) => println!("plugin: {e:#}"),
    }
    println!("Running as a service (systemd, Docker): docs/deploy.md.");
    Ok(())
}

/// `env` as `.` sources it: a bare file name needs `./`.
fn sourced(env: &Path) -> PathBuf {
    if env.components().count() == 1 {
        Path::new(".").join(env)
    } else {
        env.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variables a manifest reads with `${NAME}` (without a default), comments aside.
    fn required(text: &str) -> Vec<&str> {
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .flat_map(|line| {
                line.match_indices("${").filter_map(move |(i, _)| {
                    let rest = &line[i + 2..];
                    let name = &rest[..rest.find('}')?];
                    (!name.contains(":-")).then_some(name)
                })
            })
            .collect()
    }

    #[test]
    fn both_modes_read_the_four_variables_of_the_shipped_manifest() {
        let shipped = include_str!("../../../openclaw-skill.yaml");
        for mode in [Mode::Stream, Mode::Http] {
            let text = manifest_text(mode);
            assert_eq!(required(&text), required(shipped), "{mode:?}");
            assert!(text.contains("robot_code: \"${DINGTALK_ROBOT_CODE:-}\""));
            let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
            assert_eq!(
                yaml["ingress"]["mode"].as_str(),
                Some(format!("{mode:?}").to_lowercase().as_str())
            );
        }
        let http: serde_yaml::Value = serde_yaml::from_str(&manifest_text(Mode::Http)).unwrap();
        assert_eq!(
            http["ingress"]["http"]["path"].as_str(),
            Some("/dingtalk/callback")
        );
        assert_eq!(
            http["ingress"]["http"]["listen"].as_str(),
            Some("127.0.0.1:8790")
        );
    }

    #[test]
    fn the_env_template_sets_every_variable_the_manifest_reads() {
        let set: Vec<&str> = env_text()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            .collect();
        assert_eq!(set, required(&manifest_text(Mode::Stream)));
        assert!(env_text().contains("# DINGTALK_ROBOT_CODE="));
    }
}
