//! `test-manifest`: prints an `openclaw-skill.yaml` built by
//! [`TestManifest`](openclaw_dingtalk_emulator::manifest::TestManifest), for tests that are not
//! written in Rust (the Node adapter's `skill/openclaw/test/*.mjs` and `e2e.sh`).
//!
//! ```sh
//! test-manifest --dingtalk-url http://127.0.0.1:18801 --gateway-url http://127.0.0.1:18790 \
//!     --app-key K --json '{"ingress": {"mode": "http"}}' --raw 'dingtalk.app_secret="${SECRET}"'
//! ```
//! Order: the defaults, the flags, each `--json` overlay, each `--raw` key.
#![deny(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use openclaw_dingtalk_emulator::manifest::{TestManifest, Text};

#[derive(Debug, Parser)]
#[command(
    about = "Print a test manifest (openclaw-skill.yaml) for the DingTalk emulator and a gateway"
)]
struct Args {
    /// Base URL of the DingTalk emulator (`dingtalk.api_base_url` and `oapi_base_url`).
    #[arg(long)]
    dingtalk_url: String,
    /// Base URL of the gateway (`gateway.endpoint`).
    #[arg(long)]
    gateway_url: String,
    /// `dingtalk.app_key` (default: the emulator's default app key).
    #[arg(long)]
    app_key: Option<String>,
    /// `dingtalk.app_secret` as a literal string (default: the emulator's default secret).
    #[arg(long)]
    app_secret: Option<String>,
    /// `gateway.auth_token` as a literal string (default: the fake gateway's default token).
    #[arg(long)]
    gateway_token: Option<String>,
    /// A comment line at the top; repeatable.
    #[arg(long)]
    comment: Vec<String>,
    /// A JSON object merged over the manifest (a leaf sets its key, `null` removes it); repeatable.
    #[arg(long = "json", value_name = "OBJECT")]
    overlays: Vec<String>,
    /// `dotted.key=YAML`: the key's value written as it is (e.g. `dingtalk.app_secret="${S}"`);
    /// repeatable.
    #[arg(long = "raw", value_name = "KEY=YAML")]
    raw: Vec<String>,
}

fn build(args: Args) -> Result<String, String> {
    let mut m = TestManifest::new(&args.dingtalk_url, &args.gateway_url);
    if let Some(k) = args.app_key {
        m.dingtalk.app_key = Text::from(k);
    }
    if let Some(s) = args.app_secret {
        m.dingtalk.app_secret = Text::from(s);
    }
    if let Some(t) = args.gateway_token {
        m.gateway.auth_token = Some(Text::from(t));
    }
    for line in args.comment {
        m = m.comment(line);
    }
    for text in &args.overlays {
        let overlay: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("--json {text}: {e}"))?;
        if !overlay.is_object() {
            return Err(format!("--json {text}: not a JSON object"));
        }
        m = m.merge_json(&overlay);
    }
    for spec in &args.raw {
        let (key, yaml) = spec
            .split_once('=')
            .ok_or_else(|| format!("--raw {spec}: expected KEY=YAML"))?;
        m = m.set_raw(key, yaml);
    }
    Ok(m.to_yaml())
}

fn main() -> ExitCode {
    match build(Args::parse()) {
        Ok(yaml) => {
            print!("{yaml}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("test-manifest: {e}");
            ExitCode::from(2)
        }
    }
}
