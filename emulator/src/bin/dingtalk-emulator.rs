//! `dingtalk-emulator`: the DingTalk OpenAPI emulator as a process (for benchmarks and Node tests).
//!
//! Prints `listening http://127.0.0.1:PORT` as its first stdout line, then serves until SIGINT/SIGTERM.
//! The control API (`/__emulator/*`) gives access to calls, cards, messages and fault injection.
#![deny(unsafe_code)]

mod shutdown;

use std::{net::SocketAddr, process::ExitCode, time::Duration};

use clap::{Parser, ValueEnum};
use openclaw_dingtalk_emulator::dingtalk::{DingTalkEmulator, EmulatorConfig, QpsScope, Template};

#[derive(Debug, Parser)]
#[command(about = "Local DingTalk OpenAPI emulator (loopback only)")]
struct Args {
    /// Address to listen on (a loopback address; port 0 = ephemeral).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The app's clientId (AppKey).
    #[arg(long)]
    app_key: Option<String>,
    /// The app's clientSecret (AppSecret).
    #[arg(long)]
    app_secret: Option<String>,
    /// Robot code (default: the app key).
    #[arg(long)]
    robot_code: Option<String>,
    /// Calls per second per budget; 0 = unlimited (default 20).
    #[arg(long)]
    qps: Option<u32>,
    /// What one QPS budget covers.
    #[arg(long, value_enum, default_value_t = Scope::PerApi)]
    qps_scope: Scope,
    /// Access-token lifetime in seconds (default 7200).
    #[arg(long)]
    token_ttl_secs: Option<u64>,
    /// A published card template `ID[=KEY,KEY…]` (markdown keys, default `content`); repeatable,
    /// replaces the default template.
    #[arg(long = "template")]
    templates: Vec<String>,
    /// An unpublished card template id; repeatable.
    #[arg(long = "unpublished-template")]
    unpublished: Vec<String>,
    /// A granted permission scope; repeatable, replaces the default scopes.
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Largest card variable value (streamed or in a cardParamMap), in UTF-8 bytes (default 3000).
    #[arg(long)]
    max_card_value_bytes: Option<usize>,
    /// Apply every Nth card call, then answer it 504 (an ambiguous timeout); 0 = never (the default).
    #[arg(long)]
    applied_timeout_every: Option<u32>,
    /// Calls allowed per app per calendar month; over it calls get `ApiCountLimitForOrg` / errcode
    /// 90020. Default: unmetered.
    #[arg(long)]
    monthly_call_quota: Option<u64>,
    /// Stream mode: interval of `SYSTEM` ping frames in ms; 0 = none (default 30000).
    #[arg(long)]
    stream_ping_interval_ms: Option<u64>,
    /// Stream mode: send each connection a `disconnect` frame this many ms after it opened;
    /// 0 = never (the default).
    #[arg(long)]
    stream_disconnect_every_ms: Option<u64>,
    /// Stream mode: ms between a `disconnect` frame and the server closing the connection
    /// (default 10000).
    #[arg(long)]
    stream_disconnect_grace_ms: Option<u64>,
    /// Stream mode: redeliver a robot message not ACKed within this many ms; 0 = never
    /// (default 60000).
    #[arg(long)]
    stream_redelivery_ms: Option<u64>,
    /// Stream mode: lifetime of a connection ticket in seconds (default 90).
    #[arg(long)]
    stream_ticket_ttl_secs: Option<u64>,
    /// Keep only the newest N calls, cards, messages, frames, … (see `EmulatorConfig::record_limit`).
    /// Default: keep everything.
    #[arg(long)]
    record_limit: Option<usize>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Scope {
    PerApi,
    App,
}

fn config(args: Args) -> EmulatorConfig {
    let mut c = EmulatorConfig::default();
    if let Some(k) = args.app_key {
        c.robot_code = k.clone();
        c.app_key = k;
    }
    if let Some(s) = args.app_secret {
        c.app_secret = s;
    }
    if let Some(r) = args.robot_code {
        c.robot_code = r;
    }
    if let Some(q) = args.qps {
        c.qps_limit = (q > 0).then_some(q);
    }
    c.qps_scope = match args.qps_scope {
        Scope::PerApi => QpsScope::PerApi,
        Scope::App => QpsScope::App,
    };
    if let Some(t) = args.token_ttl_secs {
        c.token_ttl = Duration::from_secs(t);
    }
    if !args.templates.is_empty() || !args.unpublished.is_empty() {
        c.templates = args
            .templates
            .iter()
            .map(|spec| match spec.split_once('=') {
                Some((id, keys)) => Template::published(
                    id,
                    &keys
                        .split(',')
                        .filter(|k| !k.is_empty())
                        .collect::<Vec<_>>(),
                ),
                None => Template::published(spec, &["content"]),
            })
            .chain(args.unpublished.iter().map(|id| Template {
                published: false,
                ..Template::published(id, &["content"])
            }))
            .collect();
    }
    if !args.scopes.is_empty() {
        c.granted_scopes = args.scopes;
    }
    if let Some(m) = args.max_card_value_bytes {
        c.max_card_value_bytes = m;
    }
    c.applied_timeout_every = args.applied_timeout_every.filter(|&n| n > 0);
    c.monthly_call_quota = args.monthly_call_quota;
    let optional_ms = |ms: u64| (ms > 0).then(|| Duration::from_millis(ms));
    if let Some(ms) = args.stream_ping_interval_ms {
        c.stream.ping_interval = optional_ms(ms);
    }
    if let Some(ms) = args.stream_disconnect_every_ms {
        c.stream.disconnect_every = optional_ms(ms);
    }
    if let Some(ms) = args.stream_disconnect_grace_ms {
        c.stream.disconnect_grace = Duration::from_millis(ms);
    }
    if let Some(ms) = args.stream_redelivery_ms {
        c.stream.redelivery_after = optional_ms(ms);
    }
    if let Some(s) = args.stream_ticket_ttl_secs {
        c.stream.ticket_ttl = Duration::from_secs(s);
    }
    c.record_limit = args.record_limit;
    c
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let listen = args.listen;
    let emulator = match DingTalkEmulator::start_on(listen, config(args)).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("dingtalk-emulator: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    shutdown::announce(&emulator.base_url());
    shutdown::signal().await;
    drop(emulator);
    ExitCode::SUCCESS
}
