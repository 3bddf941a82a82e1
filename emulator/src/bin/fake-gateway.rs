//! `fake-gateway`: the fake OpenClaw gateway (or fake upstream model) as a process.
//!
//! Prints `listening http://127.0.0.1:PORT` as its first stdout line, then serves until SIGINT/SIGTERM.
#![deny(unsafe_code)]

mod shutdown;

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use clap::{Parser, ValueEnum};
use openclaw_dingtalk_emulator::gateway::{
    FakeGateway, FakeGatewayConfig, GatewayMode, ImageDescription,
};

#[derive(Debug, Parser)]
#[command(about = "Fake OpenClaw gateway / fake upstream model (loopback only)")]
struct Args {
    /// Address to listen on (a loopback address; port 0 = ephemeral).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Which peer to play.
    #[arg(long, value_enum, default_value_t = Mode::Gateway)]
    mode: Mode,
    /// Required bearer token (default `fake-gateway-token`).
    #[arg(long, conflicts_with = "no_auth")]
    token: Option<String>,
    /// Accept requests without a bearer token.
    #[arg(long)]
    no_auth: bool,
    /// A known agent id (the first is the default); repeatable (default `main`).
    #[arg(long = "agent")]
    agents: Vec<String>,
    /// Pause before each token, in ms (default 20).
    #[arg(long)]
    token_interval_ms: Option<u64>,
    /// Gateway mode: silence before an in-stream upstream error, in ms (default 1000).
    #[arg(long)]
    failure_silence_ms: Option<u64>,
    /// Append every request as a JSON line to this file.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Gateway mode: how long a `FAIL401` disables the upstream key, in ms (default 60000; 0 = off).
    #[arg(long)]
    upstream_key_cooldown_ms: Option<u64>,
    /// Keep only the newest N requests and N turns per session (see `FakeGatewayConfig::record_limit`);
    /// the `--record` file still gets every request. Default: keep everything.
    #[arg(long)]
    record_limit: Option<usize>,
    /// The language of the sentence that describes a request's images before the answer.
    #[arg(long, value_enum, default_value_t = Language::En)]
    describe_images: Language,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Language {
    /// `I received 1 image: image/png, 12 345 bytes.`
    En,
    /// `我看到了 1 张图片：image/png，12.1 KB（sha256 前 8 位 …）。`
    Zh,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Gateway,
    Upstream,
}

fn config(args: Args) -> FakeGatewayConfig {
    let mut c = FakeGatewayConfig {
        mode: match args.mode {
            Mode::Gateway => GatewayMode::Gateway,
            Mode::Upstream => GatewayMode::Upstream,
        },
        record_path: args.record,
        record_limit: args.record_limit,
        image_description: match args.describe_images {
            Language::En => ImageDescription::English,
            Language::Zh => ImageDescription::Chinese,
        },
        ..FakeGatewayConfig::default()
    };
    if args.no_auth {
        c.token = None;
    } else if let Some(t) = args.token {
        c.token = Some(t);
    }
    if !args.agents.is_empty() {
        c.agents = args.agents;
    }
    if let Some(ms) = args.token_interval_ms {
        c.token_interval = Duration::from_millis(ms);
    }
    if let Some(ms) = args.failure_silence_ms {
        c.failure_silence = Duration::from_millis(ms);
    }
    if let Some(ms) = args.upstream_key_cooldown_ms {
        c.upstream_key_cooldown = Duration::from_millis(ms);
    }
    c
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let listen = args.listen;
    let gateway = match FakeGateway::start_on(listen, config(args)).await {
        Ok(g) => g,
        Err(e) => {
            eprintln!("fake-gateway: cannot start on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    shutdown::announce(&gateway.base_url());
    shutdown::signal().await;
    drop(gateway);
    ExitCode::SUCCESS
}
